"""Each course helper against the reference, one call at a time, from the test-case sizes to m = 8192.

Run ``python benchmarks/helper_sweep.py [--out docs/course_helpers.md]``.
For every helper, layer shape and batch size it builds the inputs the
course would pass (float64; the input layer's ``X`` F-ordered, as the
course's ``reshape(m, -1).T / 255`` makes it), then times fastdnn's helper
and :mod:`fastdnn.reference`'s in turns -- a sample of each, five rounds --
and prints the ratio of the medians (reference / fastdnn: above 1, fastdnn
is faster).  One table row per helper and shape, one column per batch size.
"""

import argparse
import statistics
import sys
import time

import numpy as np

import fastdnn
from fastdnn import bench
from fastdnn import reference as ref

#: (n_prev, n): the course's test cases, week 3's layers, hidden layers, the cat input layer.
SHAPES = [(3, 1), (5, 4), (20, 7), (256, 256), (784, 256), (12288, 20)]
BATCHES = [2, 64, 512, 8192]
#: Cases whose input would exceed this many elements are left out (12288 x 8192 is 800 MB).
MAX_ELEMENTS = 1 << 24
ROUNDS = 5
SAMPLE_SECONDS = 0.01


def _inputs(rng, n_prev, n, m):
    images = rng.integers(0, 256, size=(m, n_prev)).astype(np.float64)
    X = images.T / 255.0 if n_prev >= 1000 else rng.standard_normal((n_prev, m))  # the input layer F-ordered
    W = rng.standard_normal((n, n_prev)) / np.sqrt(n_prev)
    b = rng.standard_normal((n, 1)) * 0.1
    dA = rng.standard_normal((n, m))
    Y = (rng.random((1, m)) < 0.5).astype(np.int64)
    return X, W, b, dA, Y


def cases(n_prev, n, m, rng):
    """name -> (fastdnn call, reference call) for one layer shape and batch size."""
    X, W, b, dA, Y = _inputs(rng, n_prev, n, m)
    out = {}
    for impl, h in (("fastdnn", fastdnn), ("reference", ref)):
        _, linear_cache = h.linear_forward(X, W, b)
        _, relu_cache = h.linear_activation_forward(X, W, b, "relu")
        _, sigmoid_cache = h.linear_activation_forward(X, W, b, "sigmoid")
        Z = relu_cache[1]
        params = {"W1": W, "b1": b}
        grads = {"dW1": W * 0.01, "db1": b * 0.01}
        AL = 1 / (1 + np.exp(-rng.standard_normal((1, m))))
        calls = {
            "linear_forward": lambda h=h: h.linear_forward(X, W, b),
            "linear_activation_forward relu": lambda h=h: h.linear_activation_forward(X, W, b, "relu"),
            "linear_activation_forward sigmoid": lambda h=h: h.linear_activation_forward(X, W, b, "sigmoid"),
            "linear_backward": lambda h=h, c=linear_cache: h.linear_backward(dA, c),
            "linear_activation_backward relu": lambda h=h, c=relu_cache: h.linear_activation_backward(dA, c, "relu"),
            "linear_activation_backward sigmoid": lambda h=h, c=sigmoid_cache: h.linear_activation_backward(
                dA, c, "sigmoid"),
            "relu": lambda h=h: h.relu(Z),
            "sigmoid": lambda h=h: h.sigmoid(Z),
            "relu_backward": lambda h=h: h.relu_backward(dA, Z),
            "sigmoid_backward": lambda h=h: h.sigmoid_backward(dA, Z),
            "update_parameters": lambda h=h: h.update_parameters(params, grads, 0.0075),
        }
        if n == 1:
            calls["compute_cost"] = lambda h=h: h.compute_cost(AL, Y)
            calls["L_model_forward + L_model_backward"] = lambda h=h: _model_step(h, X, params, Y)
        for name, call in calls.items():
            out.setdefault(name, {})[impl] = call
    return out


def _model_step(h, X, params, Y):
    AL, caches = h.L_model_forward(X, params)
    return h.L_model_backward(AL, Y, caches)


def time_pair(calls):
    """Median seconds per call of ``calls["fastdnn"]`` and ``calls["reference"]``, timed in turns."""
    for call in calls.values():
        call()
    start = time.perf_counter()
    calls["reference"]()
    number = max(1, int(SAMPLE_SECONDS / max(time.perf_counter() - start, 1e-7)))
    samples = {name: [] for name in calls}
    for _ in range(ROUNDS):
        for name, call in calls.items():
            start = time.perf_counter()
            for _ in range(number):
                call()
            samples[name].append((time.perf_counter() - start) / number)
    return {name: statistics.median(s) for name, s in samples.items()}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None, help="also write the table (Markdown) to this file")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    ratios = {}
    slowest = None
    for n_prev, n in SHAPES:
        for m in BATCHES:
            if n_prev * m > MAX_ELEMENTS:
                continue
            print(f"timing {n_prev} -> {n}, m = {m} ...", file=sys.stderr, flush=True)
            for name, calls in cases(n_prev, n, m, rng).items():
                t = time_pair(calls)
                ratio = t["reference"] / t["fastdnn"]
                ratios[(name, n_prev, n, m)] = (ratio, t["reference"], t["fastdnn"])
                if slowest is None or ratio < slowest[0]:
                    slowest = (ratio, name, n_prev, n, m)
    names = list(dict.fromkeys(key[0] for key in ratios))
    lines = [bench.machine_line(bench.machine_info()), "",
             "reference / fastdnn, median of 5 interleaved samples per cell (above 1: fastdnn is faster); "
             "float64; the 12288-row input F-ordered as the course makes it", "",
             "| helper | n_prev -> n | " + " | ".join(f"m = {m}" for m in BATCHES) + " |",
             "|---|---|" + "---|" * len(BATCHES)]
    for name in names:
        for n_prev, n in SHAPES:
            cells = []
            for m in BATCHES:
                entry = ratios.get((name, n_prev, n, m))
                cells.append("-" if entry is None else f"{entry[0]:.2f}")
            if any(c != "-" for c in cells):
                lines.append(f"| {name} | {n_prev} -> {n} | " + " | ".join(cells) + " |")
    lines += ["", f"slowest cell: {slowest[1]} at {slowest[2]} -> {slowest[3]}, m = {slowest[4]}: "
                  f"{slowest[0]:.2f}x"]
    text = "\n".join(lines)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
