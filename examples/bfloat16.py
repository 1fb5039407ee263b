"""bfloat16 products: the same classifier trained in float32 and with bf16 products, side by side.

Run:  python examples/bfloat16.py [--max-iter 200]
Needs MKL's bf16 product (pip install "fastdnn[mkl]", x86-64) and scikit-learn for the data. On a CPU
with AMX or AVX512_BF16 the products run on them; elsewhere MKL emulates them (the plan says so).
"""

import argparse
import time
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from fastdnn import MLPClassifier, precision


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=200)
    args = parser.parse_args()
    try:
        precision.choose("bf16", "float32")
    except ImportError as missing:
        raise SystemExit(f"this example needs MKL's bf16 product: {missing}")

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X / 16.0, y, random_state=0)
    warnings.simplefilter("ignore", ConvergenceWarning)
    for products in ("float", "bf16"):
        model = MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=args.max_iter, random_state=0,
                              precision=products)
        started = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - started
        print(f"{products:>5} products: test accuracy {model.score(X_test, y_test):.4f} in {seconds:.2f} s")
        print(f"       what ran: {model.network_.last_plan}")


if __name__ == "__main__":
    main()
