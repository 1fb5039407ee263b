"""Measure what docs/scaling.md's cost model needs: Allreduce time and step time.

    mpirun -n 2 python benchmarks/mpi_scaling.py            # 2 ranks
    mpirun -n 1 python benchmarks/mpi_scaling.py            # the one-process step time

For each SPEC section 3 shape and dtype: the median time of one in-place
``Allreduce`` of the gradient arena (and of the 16-byte cost/count one), and
the time of one ``fastdnn.distributed.fit`` step on a global batch of
``--batch`` examples, and the route each rank's steps took.  Rank 0 prints
one JSON line per case.
"""

import argparse
import json
import time

import numpy as np
from mpi4py import MPI

from fastdnn import distributed
from fastdnn.network import Network

SHAPES = [[12288, 20, 7, 5, 1], [784, 1024, 1024, 1], [784, 256, 256, 1], [64, 64, 64, 1]]


def allreduce_seconds(comm, n, dtype, repeats):
    buf = np.ones(n, dtype=dtype)
    for _ in range(3):
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    times = []
    for _ in range(repeats):
        comm.Barrier()
        t = time.perf_counter()
        comm.Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch", type=int, default=8192)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--shapes", default="all")
    args = parser.parse_args()
    comm = MPI.COMM_WORLD
    rank, size = comm.Get_rank(), comm.Get_size()
    shapes = SHAPES if args.shapes == "all" else [SHAPES[int(i)] for i in args.shapes.split(",")]
    rng = np.random.default_rng(0)
    for dtype in [np.dtype(d) for d in args.dtypes.split(",")]:
        for dims in shapes:
            net = Network(dims, dtype=dtype, seed=1)
            p = net.params.size
            reduce_s = allreduce_seconds(comm, p, dtype, 30) if size > 1 else 0.0
            scalar_s = allreduce_seconds(comm, 2, np.float64, 100) if size > 1 else 0.0
            m = args.batch * args.steps
            X = rng.standard_normal((m, dims[0])).astype(dtype).T  # row-per-example, read without a copy
            Y = (rng.random((1, m)) < 0.5).astype(dtype)
            # Warm-up: compiles the kernels and makes the workspaces.
            distributed.fit(net, X[:, : 2 * args.batch], Y[:, : 2 * args.batch], comm, batch_size=args.batch,
                            progress=False)
            comm.Barrier()
            t = time.perf_counter()
            distributed.fit(net, X, Y, comm, batch_size=args.batch, progress=False)
            comm.Barrier()
            step_s = (time.perf_counter() - t) / args.steps
            # What each rank's shards ran (engine step 5: the route its shard calls for).
            # (Before step 5 a rank ran the plain pass and reported no plan.)
            routes = comm.gather(getattr(net.last_plan, "route", "plain, unreported"), root=0)
            if rank == 0:
                print(json.dumps({"ranks": size, "shape": dims, "dtype": dtype.name, "parameters": p,
                                  "bytes": p * dtype.itemsize, "global_batch": args.batch,
                                  "allreduce_ms": reduce_s * 1e3, "scalar_allreduce_us": scalar_s * 1e6,
                                  "step_ms": step_s * 1e3, "routes": routes}), flush=True)


if __name__ == "__main__":
    main()
