"""fastdnn's MLPRegressor beside scikit-learn's on make_friedman1: the same R^2, sooner.

Run:  python examples/regression.py [--samples 20000]
Needs scikit-learn (pip install "fastdnn[sklearn]").
"""

import argparse
import time
import warnings

from sklearn.datasets import make_friedman1
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as ScikitLearnMLPRegressor
from sklearn.preprocessing import StandardScaler

from fastdnn import MLPRegressor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20000)
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()

    X, y = make_friedman1(n_samples=args.samples, n_features=20, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for name, cls in (("fastdnn", MLPRegressor), ("scikit-learn", ScikitLearnMLPRegressor)):
        model = cls(max_iter=args.max_iter, random_state=0)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        print(f"{name:>12}: R^2 {model.score(X_test, y_test):.5f} in {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main()
