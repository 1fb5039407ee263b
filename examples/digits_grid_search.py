"""scikit-learn's habits: fastdnn's MLPClassifier in a Pipeline, tuned by GridSearchCV on the digits.

Run:  python examples/digits_grid_search.py [--max-iter 200] [--n-jobs 2]
Needs scikit-learn (pip install "fastdnn[sklearn]").
"""

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import GridSearchCV, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from fastdnn import MLPClassifier


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-iter", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    pipeline = make_pipeline(StandardScaler(), MLPClassifier(max_iter=args.max_iter, early_stopping=True,
                                                             random_state=0))
    grid = {"mlpclassifier__hidden_layer_sizes": [(64,), (128,)], "mlpclassifier__alpha": [1e-4, 1e-2]}
    search = GridSearchCV(pipeline, grid, cv=3, n_jobs=args.n_jobs)
    started = time.perf_counter()
    search.fit(X_train, y_train)
    print(f"best {search.best_params_} (cv accuracy {search.best_score_:.4f}) in "
          f"{time.perf_counter() - started:.2f} s")
    print(f"test accuracy: {search.score(X_test, y_test):.4f}")


if __name__ == "__main__":
    main()
