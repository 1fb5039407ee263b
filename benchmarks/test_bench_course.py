"""The course's cat/non-cat ``L_layer_model`` end to end, on the real data.

``[12288, 20, 7, 5, 1]``, learning rate 0.0075, float64, full-batch gradient
descent: 2500 iterations (the course's run, one round) and a 100-iteration
variant.  ``fastdnn`` and ``reference`` are the two ``L_layer_model``
functions; ``torch`` and ``bound`` run as many steps of the PyTorch network
and of the step's matrix products alone.  The costs the two course
functions return are checked against the course's published figures, so the
timed work is the right work.
"""

import numpy as np
import pytest

import fastdnn
from fastdnn import bench, peers, reference

from conftest import require_torch

LAYERS = list(bench.COURSE_SHAPE)
LEARNING_RATE = 0.0075
# The course's published costs (SPEC section 1).
COST_FIRST = 0.7717493284237686
COST_LAST = 0.088439943441702
# "fastdnn" picks the dual form here (209 examples < 12288 features);
# "fastdnn-direct" is the same training with it turned off.
IMPLEMENTATIONS = ("reference", "fastdnn", "fastdnn-direct", "torch", "bound")


def _runner(impl, X, Y, iterations):
    if impl == "reference":
        return lambda: reference.L_layer_model(X, Y, LAYERS, LEARNING_RATE, iterations, return_costs=True)[1]
    if impl.startswith("fastdnn"):
        dual = "auto" if impl == "fastdnn" else False
        fastdnn.L_layer_model(X, Y, LAYERS, LEARNING_RATE, 1, dual=dual)  # compile (or load the cache) first
        return lambda: fastdnn.L_layer_model(X, Y, LAYERS, LEARNING_RATE, iterations, return_costs=True,
                                             dual=dual)[1]
    if impl == "torch":
        require_torch()
        step = peers.torch_step(LAYERS, X.shape[1], np.float64, "sigmoid", X=X, Y=Y, learning_rate=LEARNING_RATE)
    else:
        step = peers.matmul_bound_step(LAYERS, X.shape[1], np.float64)
    step()

    def loop():
        for _ in range(iterations):
            step()

    return loop


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_cat_L_layer_model_2500(benchmark, cat_data, impl):
    X, Y = cat_data
    benchmark.group = "course cat L_layer_model 2500 iterations float64"
    costs = benchmark.pedantic(_runner(impl, X, Y, 2500), rounds=1, iterations=1)
    if impl in ("reference", "fastdnn", "fastdnn-direct"):
        np.testing.assert_allclose(costs[0], COST_FIRST, rtol=1e-6)
        np.testing.assert_allclose(costs[-1], COST_LAST, rtol=1e-6)


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
def test_cat_L_layer_model_100(benchmark, cat_data, impl):
    X, Y = cat_data
    benchmark.group = "course cat L_layer_model 100 iterations float64"
    costs = benchmark.pedantic(_runner(impl, X, Y, 100), rounds=3, iterations=1)
    if impl in ("reference", "fastdnn", "fastdnn-direct"):
        np.testing.assert_allclose(costs[0], COST_FIRST, rtol=1e-6)
