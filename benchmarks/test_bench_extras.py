"""The course's week-2 and week-3 models end to end: fastdnn beside the NumPy reference.

* ``logistic.model`` on the cat/non-cat data, 2000 iterations at learning
  rate 0.005 (the course's run), and ``logistic.optimize`` for 200 of them;
* ``planar.nn_model`` with 4 hidden units on the flower, 10000 iterations
  (the course's run).

``fastdnn`` is :mod:`fastdnn.logistic` / :mod:`fastdnn.planar`, ``reference``
is ``fastdnn.reference.logistic`` / ``fastdnn.reference.planar``; both are
compiled (or loaded from Numba's cache) before the timing, and the returned
costs are checked against the course's figures so the timed work is the
right work.
"""

import os
from pathlib import Path

import numpy as np
import pytest

from fastdnn import logistic, planar, reference

DATA_DIR = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
IMPLEMENTATIONS = ("reference", "fastdnn")
MODULES = {
    "logistic": {"reference": reference.logistic, "fastdnn": logistic},
    "planar": {"reference": reference.planar, "fastdnn": planar},
}


@pytest.fixture(scope="module")
def cat_sets():
    """Train and test sets of the cat data, flattened and scaled as the course does."""
    for name in ("train_catvnoncat.h5", "test_catvnoncat.h5"):
        if not (DATA_DIR / name).exists():
            pytest.skip(f"the course's data is not there: {DATA_DIR / name} is missing")
    pytest.importorskip("h5py", reason="reading the course's .h5 files needs h5py (pip install 'fastdnn[data]')")
    from fastdnn import load_catvnoncat

    train_x_orig, train_y, test_x_orig, test_y, _ = load_catvnoncat(str(DATA_DIR))
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.0
    return train_x, train_y, test_x, test_y


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_logistic_model_cat_2000(benchmark, cat_sets, impl):
    train_x, train_y, test_x, test_y = cat_sets
    module = MODULES["logistic"][impl]
    module.model(train_x, train_y, test_x, test_y, num_iterations=1, learning_rate=0.005)  # compile
    benchmark.group = "course logistic model cat 2000 iterations float64"
    d = benchmark.pedantic(
        lambda: module.model(train_x, train_y, test_x, test_y, num_iterations=2000, learning_rate=0.005),
        rounds=2, iterations=1)
    np.testing.assert_allclose(d["costs"][0], 0.693147, atol=5e-7)
    np.testing.assert_allclose(d["costs"][19], 0.140872, atol=5e-7)
    assert 100 - np.mean(np.abs(d["Y_prediction_test"] - test_y)) * 100 == 70.0


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_logistic_optimize_cat_200(benchmark, cat_sets, impl):
    train_x, train_y, _, _ = cat_sets
    module = MODULES["logistic"][impl]
    w, b = np.zeros((train_x.shape[0], 1)), 0.0
    module.optimize(w, b, train_x, train_y, 1, 0.005)  # compile
    benchmark.group = "course logistic optimize cat 200 iterations float64"
    _, _, costs = benchmark.pedantic(lambda: module.optimize(w, b, train_x, train_y, 200, 0.005),
                                     rounds=3, iterations=1)
    np.testing.assert_allclose(costs[0], np.log(2), rtol=1e-12)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_planar_nn_model_10000(benchmark, impl):
    module = MODULES["planar"][impl]
    X, Y = module.load_planar_dataset()
    module.nn_model(X, Y, 4, num_iterations=1)  # compile
    benchmark.group = "course planar nn_model n_h=4 10000 iterations float64"
    _, costs = benchmark.pedantic(lambda: module.nn_model(X, Y, 4, num_iterations=10000, return_costs=True),
                                  rounds=3, iterations=1)
    np.testing.assert_allclose(costs[:3], [0.693048, 0.288083, 0.254385], atol=5e-7)
