"""Accuracy of bf16 training against float32 (issue 16's quality criteria), mean of seeds.

* scikit-learn's digits (1,797 8x8 images; 1,437 train / 360 test),
* the 10,000 handwritten digits in ``$FASTDNN_DATA`` (default ../shared/data):
  8,000 train / 2,000 test,
* the course's cat network ([12288, 20, 7, 5, 1], 2,500 iterations of
  gradient descent at 0.0075) on the cat data: its test accuracy.

    python benchmarks/bf16_quality.py [--seeds 5] [--skip cat]
"""

import argparse
import os
import time

import numpy as np

# Timed steps are the compiled routes', also on a cold cache (not a first use's NumPy steps, fastdnn.plan.first_use).
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

from fastdnn import MLPClassifier, Network
from fastdnn import data as data_mod

DATA = os.environ.get("FASTDNN_DATA", os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data"))


def digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    return train_test_split(X, y, test_size=0.2, random_state=0)


def handwritten():
    images = np.asarray(data_mod.load_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"), mmap=False))
    labels = np.asarray(data_mod.load_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz"), mmap=False))
    X = (images.reshape(len(images), -1) / 255.0).astype(np.float32)
    return X[:8000], X[8000:], labels[:8000], labels[8000:]


def accuracy(split, precision, seed, hidden, max_iter):
    X_train, X_test, y_train, y_test = split
    model = MLPClassifier(hidden, max_iter=max_iter, random_state=seed, precision=precision, dtype=np.float32)
    model.fit(X_train, y_train)
    return float(np.mean(model.predict(X_test) == y_test))


def cat(precision):
    train_x, train_y, test_x, test_y, _ = data_mod.load_catvnoncat(DATA)
    flat = lambda x: (x.reshape(x.shape[0], -1).T / 255.0).astype(np.float32)  # noqa: E731
    X, Xt = flat(train_x), flat(test_x)
    Y, Yt = train_y.reshape(1, -1).astype(np.float32), test_y.reshape(1, -1).astype(np.float32)
    net = Network([12288, 20, 7, 5, 1], dtype=np.float32, precision=precision)
    net.fit_course(X, Y, learning_rate=0.0075, num_iterations=2500)
    return float(np.mean(net.predict(X) == Y)), float(np.mean(net.predict(Xt) == Yt))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip", default="")
    args = parser.parse_args(argv)
    skip = set(args.skip.split(","))
    for name, load, hidden, max_iter in (("digits", digits, (100,), 200), ("handwritten 10k", handwritten, (256, 128), 30)):
        if name.split()[0] in skip:
            continue
        split = load()
        row = {}
        for precision in ("float", "bf16"):
            start = time.perf_counter()
            scores = [accuracy(split, precision, seed, hidden, max_iter) for seed in range(args.seeds)]
            row[precision] = (np.mean(scores), time.perf_counter() - start)
        print(f"{name}: float32 {100 * row['float'][0]:.2f}% ({row['float'][1]:.1f} s), "
              f"bf16 {100 * row['bf16'][0]:.2f}% ({row['bf16'][1]:.1f} s), "
              f"difference {100 * (row['bf16'][0] - row['float'][0]):+.2f} points (mean of {args.seeds} seeds)",
              flush=True)
    if "cat" not in skip:
        for precision in ("float", "bf16"):
            train, test = cat(precision)
            print(f"cat network {precision}: train {train:.3f}, test {test:.3f}", flush=True)


if __name__ == "__main__":
    main()
