"""Data-parallel training over MPI: every rank runs this same script on its shard of each batch.

Run:  mpirun -n 2 python examples/mpi_data_parallel.py [--epochs 5]
Needs the distributed extra (pip install "fastdnn[distributed]": mpi4py and MPICH from PyPI).
"""

import argparse

import numpy as np

import fastdnn
from fastdnn import distributed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()

    from mpi4py import MPI

    rng = np.random.default_rng(0)  # the same data on every rank (each reads its shards of it)
    X = rng.standard_normal((32, 8192))
    y = (X[:3].sum(axis=0) > 0).astype(np.float64)
    net = fastdnn.Network([32, 64, 1], init="he", seed=1)  # the same network on every rank (checked)
    history = distributed.fit(net, X, y, epochs=args.epochs, batch_size=512, optimizer="adam",
                              learning_rate=1e-3, progress=False)
    if MPI.COMM_WORLD.rank == 0:
        print(f"{MPI.COMM_WORLD.size} ranks; cost per epoch {np.round(history['cost'], 4).tolist()}")


if __name__ == "__main__":
    main()
