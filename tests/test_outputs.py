"""The output registry and the optimizers' native forms: one piece of math each, whichever route runs it."""

import numpy as np
import pytest

from fastdnn import Network, optimizers
from fastdnn.kernels import loss
from fastdnn.outputs import OUTPUTS
from fastdnn.state import Workspace

TOLERANCE = {np.float64: 1e-12, np.float32: 2e-5}


@pytest.fixture
def rng():
    return np.random.default_rng(31)


def targets(rng, name, k, m, dtype):
    if name == "sigmoid":
        return (rng.random((k, m)) > 0.5).astype(dtype)
    if name == "softmax":
        return np.eye(k, dtype=dtype)[:, rng.integers(0, k, m)]
    if name == "poisson":
        return rng.poisson(2.0, (k, m)).astype(dtype)  # counts, zeros among them
    return rng.standard_normal((k, m)).astype(dtype)


def plain_numpy(name, Z, Y, scale):
    """The output, cost and gradient written out in float64 NumPy."""
    Z, Y = Z.astype(np.float64), Y.astype(np.float64)
    m = Z.shape[1]
    if name == "sigmoid":
        A = 1.0 / (1.0 + np.exp(-Z))
        cost = -np.sum(Y * np.log(A) + (1 - Y) * np.log(1 - A)) / m
    elif name == "softmax":
        E = np.exp(Z - Z.max(axis=0))
        A = E / E.sum(axis=0)
        cost = -np.sum(Y * np.log(A)) / m
    elif name == "poisson":
        A = np.exp(Z)
        y_log_y = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0)
        cost = np.sum(y_log_y - Y * Z - Y + A) / m
    else:
        A = Z
        cost = 0.5 * np.sum((Z - Y) ** 2) / m
    return A, cost, scale * (A - Y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 7, 300])
@pytest.mark.parametrize("name", list(OUTPUTS))
def test_each_output_against_plain_numpy_and_its_native_code(name, m, dtype, rng):
    head = OUTPUTS[name]
    k = 1 if name == "sigmoid" and m == 7 else 3
    Z = rng.standard_normal((k, m)).astype(dtype) * 3
    Y = targets(rng, name, k, m, dtype)
    ws = Workspace([4, k], m, dtype)
    A, dZ = Z.copy(), np.empty_like(Z)
    cost = head.cost_and_gradient(A, Y, 1.0 / m, dZ, ws)
    want_A, want_cost, want_dZ = plain_numpy(name, Z, Y, 1.0 / m)
    tol = TOLERANCE[dtype]
    np.testing.assert_allclose(A, want_A, rtol=tol, atol=tol)
    np.testing.assert_allclose(dZ, want_dZ, rtol=tol, atol=tol)
    assert cost == pytest.approx(want_cost, rel=tol)
    # The native blocks' kernel for this output code gives the same numbers on one thread.
    A_native, dZ_native, out = Z.copy(), np.empty_like(Z), np.zeros(1)
    scratch = np.zeros(2 * m)
    loss.output_serial(head.code, A_native, Y, 1.0 / m, dZ_native, out, scratch[:m], scratch[m:])
    np.testing.assert_allclose(A_native, A, rtol=tol, atol=0)
    np.testing.assert_allclose(dZ_native, dZ, rtol=tol, atol=0)
    assert out[0] == pytest.approx(cost, rel=tol)


@pytest.mark.parametrize("name", list(OUTPUTS))
def test_predictions_come_from_the_registry(name, rng):
    k = 1 if name == "sigmoid" else 3
    net = Network([4, 5, k], output=name, seed=3)
    X = rng.standard_normal((4, 11))
    P = net.predict_proba(X)
    labels = net.predict(X)
    if name == "sigmoid":
        assert np.array_equal(labels, (P > 0.5).astype(np.float64))
    elif name == "softmax":
        np.testing.assert_allclose(P.sum(axis=0), 1.0, rtol=1e-12)
        assert np.array_equal(labels, P.argmax(axis=0))
    elif name == "poisson":
        assert np.all(P > 0) and np.array_equal(labels, P)
    else:
        assert np.array_equal(labels, P)
    scores = net.evaluate(X, targets(rng, name, k, 11, np.float64))
    assert ("accuracy" in scores) == (name in ("sigmoid", "softmax")) == OUTPUTS[name].counts


class StepsItsOwnWay(optimizers.Momentum):
    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        super().step(params, grads, slots, 2 * learning_rate, decay, n_decay, t, keep)


class KeepsTheStep(optimizers.Momentum):
    pass


def test_native_forms():
    assert optimizers.SGD().native_form().code == optimizers.SGD_CODE
    adam = optimizers.Adam(beta1=0.8, beta2=0.99, eps=1e-7).native_form()
    assert (adam.code, adam.beta1, adam.beta2, adam.eps) == (optimizers.ADAM_CODE, 0.8, 0.99, 1e-7)
    assert optimizers.Momentum(beta=0.5, nesterov=True).native_form() == \
        optimizers.NativeForm(optimizers.MOMENTUM_CODE, beta1=0.5, nesterov=True)
    assert KeepsTheStep(beta=0.5).native_form().code == optimizers.MOMENTUM_CODE
    assert StepsItsOwnWay().native_form() is None


def test_an_optimizer_without_native_form_steps_in_python_and_the_plan_says_so(rng):
    X = rng.standard_normal((6, 600))
    y = rng.integers(0, 3, 600)
    plan = Network([6, 8, 3], output="softmax").plan(100, m=600, optimizer=StepsItsOwnWay())
    if plan.route.startswith("native"):
        assert plan.route == "native-gradient" and "no native form" in plan.reason
    # Its own step ran: twice the learning rate of plain momentum, the same parameters.
    own = Network([6, 8, 3], output="softmax", seed=1, strategy="plain")
    own.fit(X, y, epochs=2, batch_size=100, optimizer=StepsItsOwnWay(beta=0.9), learning_rate=0.05, progress=False)
    momentum = Network([6, 8, 3], output="softmax", seed=1, strategy="plain")
    momentum.fit(X, y, epochs=2, batch_size=100, optimizer=optimizers.Momentum(beta=0.9), learning_rate=0.1,
                 progress=False)
    np.testing.assert_allclose(own.params, momentum.params, rtol=1e-12, atol=1e-14)
    # And on the native route the blocks sum its gradients, the step is still its own.
    auto = Network([6, 8, 3], output="softmax", seed=1)
    auto.fit(X, y, epochs=2, batch_size=100, optimizer=StepsItsOwnWay(beta=0.9), learning_rate=0.05, progress=False)
    np.testing.assert_allclose(auto.params, momentum.params, rtol=1e-9, atol=1e-12)


class SGDOfItsOwn(optimizers.SGD):
    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        super().step(params, grads, slots, learning_rate, decay, n_decay, t, keep)


class NamedSGD(optimizers.SGD):
    pass


def test_only_plain_sgd_steps_inside_the_products():
    from fastdnn import plan as plan_mod

    cat = [12288, 20, 7, 5, 1]
    machine = plan_mod.machine(np.dtype(np.float64))
    routes = {}
    for optimizer in (optimizers.SGD(), NamedSGD(), SGDOfItsOwn()):
        case = plan_mod.Case("whole", 209, False, plan_mod.optimizer_kind(optimizer))
        routes[type(optimizer).__name__] = plan_mod.decide(cat, np.dtype(np.float64), "plain", case, machine).route
    assert routes == {"SGD": "plain-sgd-in-products", "NamedSGD": "plain-sgd-in-products", "SGDOfItsOwn": "plain"}
