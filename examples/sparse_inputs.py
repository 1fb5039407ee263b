"""Sparse inputs (a bag of words, say): scipy.sparse X trained on without densifying it.

Run:  python examples/sparse_inputs.py [--samples 20000] [--features 50000]
Needs scikit-learn (pip install "fastdnn[sklearn]"), which brings SciPy.
"""

import argparse
import time

import numpy as np
import scipy.sparse as sp

from fastdnn import MLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--features", type=int, default=50000)
    parser.add_argument("--max-iter", type=int, default=5)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    X = sp.random(args.samples, args.features, density=0.001, format="csr", dtype=np.float32, random_state=1)
    y = (X @ rng.standard_normal(args.features) > 0).astype(int)  # a linear rule on the words
    split = int(0.8 * args.samples)
    clf = MLPClassifier(hidden_layer_sizes=(100,), max_iter=args.max_iter, random_state=0)
    started = time.perf_counter()
    clf.fit(X[:split], y[:split])
    print(f"{X.nnz:,} nonzeros ({X.data.nbytes + X.indices.nbytes + X.indptr.nbytes:,} bytes), trained in "
          f"{time.perf_counter() - started:.2f} s; test accuracy {clf.score(X[split:], y[split:]):.4f}")


if __name__ == "__main__":
    main()
