"""The first layer in dual form (fastdnn.dual) against the direct path.

The dual form is the same full-batch gradient descent written in the span of
the examples; these tests hold it to the direct path step by step.
"""

import numpy as np
import pytest

from fastdnn import reference
from fastdnn.dual import DualFirstLayer
from fastdnn.network import Network


def problem(rng, n_x, m, n_out=1):
    X = rng.standard_normal((n_x, m))
    Y = (rng.random((n_out, m)) > 0.5).astype(np.float64)
    return X, Y


@pytest.mark.parametrize("dims", [[300, 8, 5, 1], [120, 6, 1], [90, 1]], ids=["L3", "L2", "L1"])
def test_fit_course_dual_equals_direct(dims, rng):
    X, Y = problem(rng, dims[0], 40)
    direct, dual = Network(dims, seed=3), Network(dims, seed=3)
    costs_direct = direct.fit_course(X, Y, learning_rate=0.05, num_iterations=400, dual=False)
    costs_dual = dual.fit_course(X, Y, learning_rate=0.05, num_iterations=400, dual=True)
    np.testing.assert_allclose(costs_dual, costs_direct, rtol=1e-9)
    np.testing.assert_allclose(dual.params, direct.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(dual.predict(X), direct.predict(X))


def test_auto_picks_dual_only_with_fewer_examples_than_features(rng):
    wide, _ = problem(rng, 50, 20)
    tall, _ = problem(rng, 10, 60)
    runs = [(Network([50, 4, 1]), wide, 20, "auto"), (Network([10, 4, 1]), tall, 60, "auto"),
            (Network([50, 4, 1]), wide, 20, False)]
    for net, X, m, dual in runs:
        net.fit_course(X, np.ones((1, m)), num_iterations=2, dual=dual)
    assert [net.steps_by_route.get("dual", 0) for net, _, _, _ in runs] == [2, 0, 0]
    assert [net.plan(m, course=True).route == "dual" for net, _, m, _ in runs[:2]] == [True, False]


def test_dual_with_the_reference_course_model(rng):
    # L_layer_model (dual by default here: 30 examples of 200 features)
    # against the plain-NumPy course code.
    X, Y = problem(rng, 200, 30)
    from fastdnn import course

    params, costs = course.L_layer_model(X, Y, [200, 7, 5, 1], learning_rate=0.01, num_iterations=300,
                                         return_costs=True)
    ref_params, ref_costs = reference.L_layer_model(X, Y, [200, 7, 5, 1], learning_rate=0.01, num_iterations=300,
                                                    return_costs=True)
    np.testing.assert_allclose(costs, ref_costs, rtol=1e-10)
    for key in ref_params:
        np.testing.assert_allclose(params[key], ref_params[key], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("momentum, decay", [(False, 0.0), (False, 0.03), (True, 0.0), (True, 0.03)])
def test_dual_coefficients_follow_explicit_updates(momentum, decay, rng):
    # DualFirstLayer.step against the weight updates written out: with
    # dW = dZ X^T + decay W, plain descent W -= lr dW, or momentum
    # V = beta V + (1 - beta) dW, W -= lr V.
    n1, n_x, m, lr, beta = 4, 25, 9, 0.1, 0.8
    W0 = rng.standard_normal((n1, n_x))
    X = rng.standard_normal((n_x, m))
    form = DualFirstLayer(W0, X, momentum=momentum)
    W, V = W0.copy(), np.zeros_like(W0)
    b = np.zeros((n1, 1))
    A = np.empty((n1, m))
    for _ in range(12):
        form.forward(b, 0, 0.0, A)  # code 0, linear: A is the pre-activation W X
        np.testing.assert_allclose(A, W @ X, rtol=1e-12, atol=1e-12)
        assert form.weight_square_sum() == pytest.approx(np.sum(W * W), rel=1e-12)
        dZ = rng.standard_normal((n1, m))
        grad = dZ @ X.T + decay * W
        if momentum:
            V = beta * V + (1 - beta) * grad
            W = W - lr * V
        else:
            W = W - lr * grad
        form.step(dZ, lr, decay, beta)
    materialized, velocity = W0.copy(), np.zeros_like(W0)
    form.materialize(materialized, velocity)
    np.testing.assert_allclose(materialized, W, rtol=1e-12, atol=1e-12)
    if momentum:
        np.testing.assert_allclose(velocity, V, rtol=1e-12, atol=1e-12)
