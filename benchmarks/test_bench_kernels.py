"""Each fused kernel against the reference's NumPy expression for the same math, m = 65536.

One group per kernel and dtype.  The elementwise kernels run on ``n = 256``
rows (a hidden layer); the output-layer kernels on one row (binary output)
or ten (softmax classes).  ``fastdnn`` is the kernel on preallocated
buffers; ``fastdnn-api`` (where there is one) the public, validating course
function; ``reference`` is what :mod:`fastdnn.reference` computes, allocating
as it does.
"""

import numpy as np
import pytest

import fastdnn
from fastdnn import reference
from fastdnn.kernels import activation as act
from fastdnn.kernels import loss
from fastdnn.kernels import update

from conftest import DTYPES

M = 65536
N = 256
CLASSES = 10
LEARNING_RATE = 0.01


def _forward(code, reference_activation):
    def build(dtype, rng):
        Z0 = rng.standard_normal((N, M)).astype(dtype)
        b = rng.standard_normal((N, 1)).astype(dtype)
        Z = np.empty_like(Z0)
        A = np.empty_like(Z0)

        def fast():
            act.bias_activation_forward(Z, b, code, 0.0, A)

        def ref():
            return reference_activation(Z0 + b)

        # The kernel adds the bias to Z in place: every round starts again from
        # the product's output, as in a real step (the copy is not timed).
        return {"fastdnn": (fast, lambda: np.copyto(Z, Z0)), "reference": (ref, None)}

    return build


def _backward(code, reference_backward):
    def build(dtype, rng):
        dA = rng.standard_normal((N, M)).astype(dtype)
        Z = rng.standard_normal((N, M)).astype(dtype)
        dZ = np.empty_like(dA)
        db = np.empty((N, 1), dtype=dtype)

        def fast():
            act.activation_backward(dA, Z, True, code, 0.0, 1.0 / M, dZ, db)

        def ref():
            out = reference_backward(dA, Z)
            return out, 1.0 / M * np.sum(out, axis=1, keepdims=True)

        return {"fastdnn": (fast, None), "reference": (ref, None)}

    return build


def _sigmoid_cross_entropy(dtype, rng):
    Z = (2.0 * rng.standard_normal((1, M))).astype(dtype)
    Y = rng.integers(0, 2, size=(1, M)).astype(dtype)
    A = np.empty_like(Z)
    dZ = np.empty_like(Z)
    out = np.empty(1, dtype=np.float64)

    def fast():
        loss.sigmoid_cross_entropy(Z, Y, 1.0 / M, A, dZ, out)

    def ref():
        # The course's output layer: sigmoid, cost, dAL, then back through the sigmoid.
        AL, _ = reference.sigmoid(Z)
        cost = reference.compute_cost(AL, Y)
        dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))
        return cost, reference.sigmoid_backward(dAL, Z)

    return {"fastdnn": (fast, None), "reference": (ref, None)}


def _compute_cost(dtype, rng):
    AL = reference.sigmoid(2.0 * rng.standard_normal((1, M)))[0].astype(dtype)
    Y = rng.integers(0, 2, size=(1, M)).astype(dtype)
    out = np.empty(1, dtype=np.float64)

    def fast():
        loss.binary_cross_entropy(AL, Y, out)

    return {
        "fastdnn": (fast, None),
        "fastdnn-api": (lambda: fastdnn.compute_cost(AL, Y), None),
        "reference": (lambda: reference.compute_cost(AL, Y), None),
    }


def _softmax(dtype, rng):
    # The course's softmax works on rows: one row per example here.
    X = (3.0 * rng.standard_normal((M, CLASSES))).astype(dtype)
    out = np.empty_like(X)

    def fast():
        loss.softmax_rows(X, out)

    return {
        "fastdnn": (fast, None),
        "fastdnn-api": (lambda: fastdnn.softmax(X), None),
        "reference": (lambda: reference.softmax(X), None),
    }


def _softmax_cross_entropy(dtype, rng):
    Z = (3.0 * rng.standard_normal((CLASSES, M))).astype(dtype)
    Y = np.eye(CLASSES, dtype=dtype)[:, rng.integers(0, CLASSES, size=M)]
    P = np.empty_like(Z)
    dZ = np.empty_like(Z)
    out = np.empty(1, dtype=np.float64)
    shift = np.empty(M)
    norm = np.empty(M)

    def fast():
        loss.softmax_cross_entropy(Z, Y, 1.0 / M, P, dZ, out, shift, norm)

    def numpy_expression():
        # The reference has no softmax output; this is the plain-NumPy way.
        shifted = Z - Z.max(axis=0, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        log_p = shifted - log_norm
        cost = -np.sum(Y * log_p) / M
        return cost, (np.exp(log_p) - Y) / M

    return {"fastdnn": (fast, None), "reference": (numpy_expression, None)}


def _sgd(dtype, rng):
    # One layer of N x M weights: the update of as many parameters.
    W = rng.standard_normal((N, M)).astype(dtype)
    b = rng.standard_normal((N, 1)).astype(dtype)
    dW = rng.standard_normal((N, M)).astype(dtype)
    db = rng.standard_normal((N, 1)).astype(dtype)
    params = np.concatenate([W.ravel(), b.ravel()])
    grads = np.concatenate([dW.ravel(), db.ravel()])
    parameters = {"W1": W, "b1": b}
    gradients = {"dW1": dW, "db1": db}

    def fast():
        update.sgd(params, grads, LEARNING_RATE, params)

    return {
        "fastdnn": (fast, None),
        "reference": (lambda: reference.update_parameters(parameters, gradients, LEARNING_RATE), None),
    }


KERNELS = {
    "bias_relu_forward": _forward(act.RELU, reference.relu),
    "bias_sigmoid_forward": _forward(act.SIGMOID, reference.sigmoid),
    "bias_tanh_forward": _forward(act.TANH, reference.tanh),
    "relu_backward_db": _backward(act.RELU, reference.relu_backward),
    "sigmoid_backward_db": _backward(act.SIGMOID, reference.sigmoid_backward),
    "tanh_backward_db": _backward(act.TANH, reference.tanh_backward),
    "sigmoid_cross_entropy": _sigmoid_cross_entropy,
    "compute_cost": _compute_cost,
    "softmax": _softmax,
    "softmax_cross_entropy": _softmax_cross_entropy,
    "sgd_update": _sgd,
}
SHAPES = {
    "sigmoid_cross_entropy": (1, M), "compute_cost": (1, M), "softmax": (M, CLASSES),
    "softmax_cross_entropy": (CLASSES, M),
}
CASES = [(kernel, impl) for kernel in KERNELS for impl in ("reference", "fastdnn", "fastdnn-api")
         if impl != "fastdnn-api" or kernel in ("compute_cost", "softmax")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel, impl", CASES, ids=[f"{k}-{i}" for k, i in CASES])
def test_kernel(benchmark, kernel, impl, dtype, rng):
    shape = SHAPES.get(kernel, (N, M))
    benchmark.group = f"kernel {kernel} {dtype} shape={shape[0]}x{shape[1]}"
    fn, setup = KERNELS[kernel](np.dtype(dtype), rng)[impl]
    if setup is None:
        fn()  # compile (fastdnn) or fault the pages in (reference) before timing
        benchmark(fn)
    else:
        benchmark.pedantic(fn, setup=setup, rounds=15, iterations=1, warmup_rounds=1)
