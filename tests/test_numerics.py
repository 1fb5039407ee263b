"""Extreme values through the trainer: huge logits give finite costs and gradients, huge inputs never NaN."""

import warnings

import numpy as np
import pytest

import fastdnn as dnn

DTYPES = [np.float64, np.float32]
RTOL = {np.float64: 1e-12, np.float32: 1e-5}


def _one_sgd_step(net, X, Y):
    """Cost before the step and the gradient arena of one full-batch SGD step with a negligible rate."""
    history = net.fit(X, Y, epochs=1, optimizer="sgd", learning_rate=1e-30, progress=False)
    return history["cost"][0], net.grads.copy()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("logit", [1e4, -1e4])
def test_sigmoid_output_with_huge_logits(dtype, logit):
    # One linear unit: logits are W * x = +-1e4 for x = +-1.
    net = dnn.Network([1, 1], output="sigmoid", dtype=dtype)
    net.parameters["W1"][...] = logit
    X = np.array([[1.0, -1.0, 1.0, -1.0]], dtype=dtype)
    wrong = (X * logit < 0).astype(dtype)  # every prediction wrong: the largest losses
    cost, grads = _one_sgd_step(net, X, wrong)
    assert np.isfinite(cost) and np.isfinite(grads).all()
    # Loss of a wrong logit z is softplus(|z|) = |z| (to rounding); dZ = sigmoid(z) - y = +-1.
    np.testing.assert_allclose(cost, 1e4, rtol=RTOL[dtype])
    dZ = np.where(X[0] * logit > 0, 1.0, -1.0) / X.shape[1]
    np.testing.assert_allclose(grads, [dZ @ X[0], dZ.sum()], rtol=RTOL[dtype], atol=1e-7)
    right = 1 - wrong
    cost, grads = _one_sgd_step(net, X, right)
    assert np.isfinite(cost) and 0 <= cost < 1e-6
    assert np.isfinite(grads).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_output_with_huge_logits(dtype):
    net = dnn.Network([1, 3], output="softmax", dtype=dtype)
    net.parameters["W1"][...] = np.array([[1e4], [-1e4], [0.0]])
    X = np.array([[1.0, -1.0]], dtype=dtype)
    # Logits (1e4, -1e4, 0) and (-1e4, 1e4, 0); the labels name the smallest logit: loss 2e4 each.
    wrong = np.array([1, 0])
    cost, grads = _one_sgd_step(net, X, wrong)
    assert np.isfinite(cost) and np.isfinite(grads).all()
    np.testing.assert_allclose(cost, 2e4, rtol=RTOL[dtype])
    right = np.array([0, 1])
    cost, grads = _one_sgd_step(net, X, right)
    assert np.isfinite(cost) and 0 <= cost < 1e-6
    assert np.isfinite(grads).all()
    P = net.predict_proba(np.array([[1e4, -1e4]], dtype=dtype))
    assert np.isfinite(P).all()
    np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=RTOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
@pytest.mark.parametrize("magnitude", [1e30, -1e30, 1e-30])
def test_huge_inputs_give_a_clear_error_or_finite_results(dtype, output, magnitude):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((3, 20)) * magnitude
    k = 3 if output == "softmax" else 1
    if output == "softmax":
        Y = rng.integers(0, k, 20)
    elif output == "sigmoid":
        Y = (rng.random((1, 20)) > 0.5).astype(np.float64)
    else:
        Y = rng.standard_normal((1, 20))
    net = dnn.Network([3, 4, k], output=output, dtype=dtype, seed=1)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        try:
            history = net.fit(X, Y, epochs=2, batch_size=5, optimizer="adam", progress=False)
        except (FloatingPointError, ValueError) as exc:
            assert str(exc)
        else:
            assert np.isfinite(history["cost"]).all()
        assert np.isfinite(net.params).all(), "parameters must stay finite (rolled back on divergence)"
        try:
            out = net.predict_proba(X) if output != "linear" else net.predict(X)
        except (FloatingPointError, ValueError) as exc:
            assert str(exc)
        else:
            assert not np.isnan(out).any(), f"predict gave NaN for inputs of magnitude {magnitude}"


def test_course_linear_forward_overflow_is_not_a_silent_nan():
    A = np.array([[1.2573022e29], [-1.3210486e29]], dtype=np.float32)
    W = np.array([[1.2573022e29, -1.3210486e29], [6.4042263e29, 1.0490012e29]], dtype=np.float32)
    b = np.zeros((2, 1), dtype=np.float32)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        with pytest.raises(FloatingPointError, match="overflowed"):
            dnn.linear_forward(A, W, b)
