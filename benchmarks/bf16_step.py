"""bf16 training steps against float32 and PyTorch's autocast, side by side (issue 16).

For each shape: one step of plain SGD (relu hidden layers, sigmoid or
softmax output) of fastdnn in float32, fastdnn with ``precision="bf16"``,
PyTorch in float32 and under ``torch.autocast(bfloat16)``, and the bf16
products alone (the bound).  The five run in turn, round after round, so
that the machine's noise falls on all of them; medians are printed.

    python benchmarks/bf16_step.py [--rounds 7] [--shapes all|quick]

Unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE first where the machine sets
them (they slow NumPy's BLAS).
"""

import argparse
import os
import statistics
import time

import numpy as np

# Timed steps are the compiled routes', also on a cold cache (not a first use's NumPy steps, fastdnn.plan.first_use).
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

from fastdnn import Network, peers, precision
from fastdnn.machine_choices import cpu_model

SHAPES = [([784, 1024, 1024, 1], 8192, "sigmoid"), ([784, 256, 256, 1], 8192, "sigmoid"),
          ([784, 256, 256, 10], 4096, "softmax"), ([64, 64, 64, 1], 65536, "sigmoid")]


def fastdnn_step(dims, m, output, prec):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((dims[0], m)).astype(np.float32)
    if output == "softmax":
        Y = np.eye(dims[-1], dtype=np.float32)[:, rng.integers(0, dims[-1], m)]
    else:
        Y = rng.integers(0, 2, (dims[-1], m)).astype(np.float32)
    net = Network(dims, output=output, dtype=np.float32, precision=prec, seed=0)
    step = lambda: net.train_step(X, Y, 0.01)  # noqa: E731
    step.net = net
    return step


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--shapes", choices=("all", "quick"), default="all")
    args = parser.parse_args(argv)
    print(f"CPU: {cpu_model()}; bf16 instructions: {precision.hardware() or 'none'}")
    shapes = SHAPES if args.shapes == "all" else SHAPES[1:3]
    header = "| shape | m | fastdnn f32 | fastdnn bf16 | bf16/f32 | torch f32 | torch bf16 | bf16/torch bf16 | bound |"
    print(header)
    print("|" + "---|" * 9)
    for dims, m, output in shapes:
        runs = {
            "f32": fastdnn_step(dims, m, output, "float"),
            "bf16": fastdnn_step(dims, m, output, "bf16"),
            "torch f32": peers.torch_step(dims, m, np.float32, output),
            "torch bf16": peers.torch_step(dims, m, np.float32, output, autocast=True),
            "bound": peers.bf16_bound_step(dims, m),
        }
        times = {name: [] for name in runs}
        for step in runs.values():
            step()
            step()
        for _ in range(args.rounds):
            for name, step in runs.items():
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
        ms = {name: 1e3 * statistics.median(t) for name, t in times.items()}
        print(f"| {dims} | {m} | {ms['f32']:.1f} | {ms['bf16']:.1f} | {ms['bf16'] / ms['f32']:.2f} | "
              f"{ms['torch f32']:.1f} | {ms['torch bf16']:.1f} | {ms['bf16'] / ms['torch bf16']:.2f} | "
              f"{ms['bound']:.1f} |", flush=True)


if __name__ == "__main__":
    main()
