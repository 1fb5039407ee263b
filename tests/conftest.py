"""Shared fixtures and helpers of the fastdnn test suite.

Tolerances are per dtype: float64 results must match the reference to a
relative 1e-12, float32 results to 1e-5.  Where values can be close to zero
(or come out of a sum with cancellation), the absolute tolerance is the
relative one times the largest magnitude involved, so a tiny entry of a
large array is judged on the array's scale, not its own.
"""

import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

#: The real data: $FASTDNN_DATA, else the shared folder beside the project (never inside it).
DATA_DIR = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}

# The routes fastdnn measures once a machine (fastdnn.machine_choices) keep their defaults here, so
# that the tests take the same routes on every CPU; tests/test_machine_choices.py tests the measuring.
os.environ.setdefault("FASTDNN_MACHINE_CHOICES", "off")
# Nor do the steps of a fit take the numpy route while the cache is cold (fastdnn.plan.first_use): a clean
# CI run would otherwise plan its first fits differently from the next ones; tests/test_first_use.py turns it on.
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

# Numba compiles on the first call of each signature, so a deadline per
# example would fail the example that happens to compile.
settings.register_profile(
    "fastdnn",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# A deeper search for a quiet machine: pytest --hypothesis-profile=fastdnn-thorough
settings.register_profile("fastdnn-thorough", parent=settings.get_profile("fastdnn"), max_examples=600)
settings.load_profile("fastdnn")


def rtol_for(dtype):
    """The relative tolerance of results of ``dtype``."""
    return RTOL[np.dtype(dtype)]


def assert_close(actual, expected, dtype=None, rtol=None, scale=None, err_msg=""):
    """``actual`` equals ``expected`` to the tolerance of ``dtype``.

    ``atol`` is ``rtol`` times ``scale`` (default: the largest magnitude of
    ``expected``), so entries near zero are compared on the array's scale.
    """
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if dtype is None:
        dtype = actual.dtype if actual.dtype in RTOL else np.float64
    if rtol is None:
        rtol = rtol_for(dtype)
    if scale is None:
        finite = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(0)
        scale = float(finite.max()) if finite.size else 0.0
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}. {err_msg}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale + 1e-300, err_msg=err_msg)


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: every test is reproducible alone."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder; skips when it or h5py is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not available: {DATA_DIR} does not exist")
    pytest.importorskip("h5py", reason="h5py (the 'data' extra) is needed to read the course's .h5 files")
    return DATA_DIR


def cost_per_column(output, Z, Y):
    """The loss of each example (column) of the output logits ``Z``, for ``output`` sigmoid, softmax or linear."""
    if output == "sigmoid":
        return np.sum(np.maximum(Z, 0) - Z * Y + np.log1p(np.exp(-np.abs(Z))), axis=0)
    if output == "softmax":
        top = Z.max(axis=0)
        lse = top + np.log(np.sum(np.exp(Z - top), axis=0))
        return -np.sum(Y * (Z - lse), axis=0)
    return 0.5 * np.sum((Z - Y) ** 2, axis=0)


def _output_activation(output, Z):
    if output == "sigmoid":
        return 1.0 / (1.0 + np.exp(-Z))
    if output == "softmax":
        e = np.exp(Z - Z.max(axis=0))
        return e / e.sum(axis=0)
    return Z


#: Hidden activations and their derivatives (of the pre-activation), for :func:`reference_gradients`.
HIDDEN_REFERENCE = {
    "relu": (lambda Z: np.maximum(Z, 0), lambda Z: (Z > 0).astype(float)),
    "tanh": (np.tanh, lambda Z: 1.0 - np.tanh(Z) ** 2),
    "sigmoid": (lambda Z: 1.0 / (1.0 + np.exp(-Z)), lambda Z: np.exp(-Z) / (1.0 + np.exp(-Z)) ** 2),
    "leaky_relu": (lambda Z: np.where(Z > 0, Z, 0.01 * Z), lambda Z: np.where(Z > 0, 1.0, 0.01)),
    "linear": (lambda Z: Z, lambda Z: np.ones_like(Z)),
}


def reference_gradients(params, X, Y, output, w=None, l2=0.0, hidden="relu"):
    """Gradient and cost of a relu network on a batch, in plain float64 NumPy: ``(grads by parameter name, cost)``.

    The cost is the (``w``-weighted) mean of the examples' losses plus
    :math:`\\frac{\\lambda}{2 S} \\sum W^2`, ``S`` the batch's size or sum
    of weights; ``grads`` has the keys of ``params`` (``W1``, ``b1``...).
    ``hidden``: the hidden layers' activation, or a list of one per layer.
    """
    w = np.ones(X.shape[1]) if w is None else w
    L = len(params) // 2
    kinds = [hidden] * (L - 1) if isinstance(hidden, str) else list(hidden)
    A, Zs = [X], [None]
    for l in range(1, L + 1):
        Z = params[f"W{l}"] @ A[-1] + params[f"b{l}"]
        Zs.append(Z)
        A.append(HIDDEN_REFERENCE[kinds[l - 1]][0](Z) if l < L else Z)
    S = w.sum()
    squares = sum(np.sum(params[f"W{l}"] ** 2) for l in range(1, L + 1))
    cost = np.sum(w * cost_per_column(output, A[L], Y)) / S + l2 / (2 * S) * squares
    dZ = (_output_activation(output, A[L]) - Y) * w / S
    grads = {}
    for l in range(L, 0, -1):
        W = params[f"W{l}"]
        grads[f"W{l}"] = dZ @ A[l - 1].T + l2 / S * W
        grads[f"b{l}"] = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dZ = (W.T @ dZ) * HIDDEN_REFERENCE[kinds[l - 2]][1](Zs[l - 1])
    return grads, cost


def before_each_step(monkeypatch, hook, net=None):
    """Call ``hook()`` ahead of every training step of a fit (of ``net``'s fits only, when given).

    Patches :meth:`fastdnn.loop.TrainLoop.step`, the one place every fit's
    step passes through, for the rest of the test (or until ``monkeypatch.undo()``).
    """
    from fastdnn.loop import TrainLoop

    original = TrainLoop.step

    def step(loop, *args):
        if net is None or loop.net is net:
            hook()
        return original(loop, *args)

    monkeypatch.setattr(TrainLoop, "step", step)
