"""bfloat16 products (issue 16): the rounding, MKL's product, the bf16 gradient pass, the plan.

The gradient pass is compared with a NumPy emulation of the same math
(:func:`emulated_gradient`): every product's operands rounded to bfloat16
and summed in float64, everything else in float32 as the pass does.  The
steps that need MKL's product skip, saying why, where it is not installed
(the test extra installs it on x86-64).
"""

import math
import warnings

import numpy as np
import pytest

import fastdnn
from fastdnn import Network, precision
from fastdnn.kernels import bfloat16
from fastdnn.state import Workspace

needs_mkl = pytest.mark.skipif(not precision.available(),
                               reason="no bfloat16 product installed (pip install \"fastdnn[mkl]\"; MKL is x86-64 only)")


def nearest_even_reference(x):
    """bfloat16 bits of float32 ``x`` by integer arithmetic in int64, NaNs made quiet."""
    x = np.asarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.int64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    nan = np.isnan(x)
    return np.where(nan, (u >> 16) | 0x40, rounded).astype(np.uint16)


# ---------------------------------------------------------------- rounding


def test_rounding_ties_to_even_and_specials():
    one_ulp = 2.0 ** -7
    values = np.array([1.0, 1.0 + one_ulp / 2, 1.0 + 3 * one_ulp / 2, -(1.0 + one_ulp / 2), np.inf, -np.inf,
                       np.nan, -np.nan, 3.4e38, -3.4e38, 1e-45, -1e-45, 0.0, -0.0, 1.17e-38], dtype=np.float32)
    bits = bfloat16.rounded(values)
    decoded = precision.decode(bits)
    assert decoded[0] == 1.0 and decoded[1] == 1.0  # a tie goes to the even neighbour
    assert decoded[2] == 1.0 + 2 * one_ulp and decoded[3] == -1.0
    assert decoded[4] == np.inf and decoded[5] == -np.inf
    assert np.isnan(decoded[6]) and np.isnan(decoded[7])
    assert decoded[8] == np.inf and decoded[9] == -np.inf  # past bfloat16's largest finite value
    assert np.signbit(decoded[13]) and decoded[13] == 0.0
    np.testing.assert_array_equal(bits[~np.isnan(values)], nearest_even_reference(values)[~np.isnan(values)])


@pytest.mark.parametrize("shape", [(1, 1), (7, 13), (300, 257), (5000,)])
def test_rounding_matches_the_reference(shape):
    rng = np.random.default_rng(4)
    x = (rng.standard_normal(shape) * 10.0 ** rng.integers(-30, 30, size=shape)).astype(np.float32)
    out = np.empty(shape, dtype=np.uint16)
    bfloat16.round_into(x, out)
    np.testing.assert_array_equal(out, nearest_even_reference(x))
    # Rounding is within half a bfloat16 ulp (2^-8 relative).
    assert np.all(np.abs(precision.decode(out) - x) <= np.abs(x) * 2.0 ** -8)


def test_rounding_says_what_is_wrong():
    with pytest.raises(TypeError, match="float32"):
        bfloat16.round_into(np.zeros((2, 2)), np.zeros((2, 2), np.uint16))
    with pytest.raises(ValueError, match="C-contiguous"):
        bfloat16.round_into(np.zeros((3, 2), np.float32).T, np.zeros((2, 3), np.uint16))


# ---------------------------------------------------------------- the product


@needs_mkl
@pytest.mark.parametrize("layout", ["NN", "TN", "NT", "TT"])
@pytest.mark.parametrize("n,k,p", [(1, 1, 1), (3, 5, 7), (64, 130, 33), (257, 511, 129)])
def test_product_against_float64_of_the_rounded_operands(layout, n, k, p):
    rng = np.random.default_rng(n * 1000 + k)
    A = rng.standard_normal((n, k)).astype(np.float32)
    B = rng.standard_normal((k, p)).astype(np.float32)
    A16 = bfloat16.rounded(A.T).T if layout[0] == "T" else bfloat16.rounded(A)
    B16 = bfloat16.rounded(B.T).T if layout[1] == "T" else bfloat16.rounded(B)
    C = rng.standard_normal((n, p)).astype(np.float32)
    start = C.astype(np.float64)
    precision.product(A16, B16, C, alpha=0.5, beta=2.0)
    expected = 0.5 * precision.product_reference(A16, B16) + 2.0 * start
    # float32 sums of k terms: a few float32 ulps of the sum of magnitudes.
    bound = 0.5 * precision.decode(A16).astype(np.float64).__abs__() @ np.abs(precision.decode(B16)) + 2 * np.abs(start)
    assert np.all(np.abs(C - expected) <= (k + 4) * 2.0 ** -23 * bound + 1e-30)


@needs_mkl
def test_product_says_what_is_wrong():
    A = np.zeros((2, 3), np.uint16)
    with pytest.raises(TypeError, match="uint16"):
        precision.product(np.zeros((2, 3), np.float32), np.zeros((3, 4), np.uint16), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="shapes"):
        precision.product(A, np.zeros((4, 4), np.uint16), np.zeros((2, 4), np.float32))
    with pytest.raises(ValueError, match="contiguous"):
        precision.product(A, np.zeros((3, 8), np.uint16)[:, ::2], np.zeros((2, 4), np.float32))


def test_missing_provider_names_the_extra(monkeypatch):
    monkeypatch.setattr(precision, "_library", {})
    monkeypatch.setattr(precision, "_candidates", lambda: [])
    with pytest.raises(ImportError, match=r"fastdnn\[mkl\]"):
        precision.mkl()
    with pytest.raises(ImportError, match=r"fastdnn\[mkl\]"):
        Network([4, 3, 1], dtype=np.float32, precision="bf16")
    assert precision.choose("auto", np.float32)[0] == "float"
    # A model saved with bf16 still loads (and predicts) where MKL is missing.
    net = Network.from_architecture(dict(Network([4, 3, 1], dtype=np.float32).architecture, precision="bf16"))
    assert net.precision == "bf16"


# ---------------------------------------------------------------- the gradient pass


def _activate(z, name, slope):
    if name == "relu":
        return np.maximum(z, 0)
    if name == "leaky_relu":
        return np.where(z > 0, z, slope * z)
    if name == "tanh":
        return np.tanh(z)
    return 1 / (1 + np.exp(-z))


def _derivative(a, name, slope):
    if name == "relu":
        return (a > 0).astype(a.dtype)
    if name == "leaky_relu":
        return np.where(a > 0, 1.0, slope).astype(a.dtype)
    if name == "tanh":
        return 1 - a * a
    return a * (1 - a)


def _bf16_product(A, B):
    # Operands rounded to bfloat16 (from their float32 values), summed in float64, stored in float32.
    return (precision.product_reference(bfloat16.rounded(A), bfloat16.rounded(B))).astype(np.float32)


def emulated_gradient(net, X, Y):
    """The gradient of one step with bfloat16 products, in NumPy: ``[(dW, db) per layer]`` and the cost."""
    state = net.model_state
    L = state.n_layers
    names = net.hidden_layers
    A = [X.astype(np.float32)]
    for l in range(1, L + 1):
        W, b = state.layers[l - 1]
        Z = _bf16_product(W, A[-1]) + b
        A.append(Z if l == L else _activate(Z, names[l - 1], net.leaky_slope).astype(np.float32))
    ZL = np.ascontiguousarray(A[L])
    dZ = np.empty_like(ZL)
    ws = Workspace(net.layer_dims, X.shape[1], np.float32)
    cost = state.head.cost_and_gradient(ZL, np.ascontiguousarray(Y, np.float32), 1.0 / X.shape[1], dZ, ws)
    grads = [None] * L
    for l in range(L, 0, -1):
        W = state.layers[l - 1][0]
        dW = _bf16_product(dZ, A[l - 1].T)
        db = dZ.sum(axis=1, dtype=np.float64, keepdims=True).astype(np.float32)
        grads[l - 1] = (dW, db)
        if l > 1:
            dA = _bf16_product(W.T, dZ)
            dZ = (dA * _derivative(A[l - 1], names[l - 2], net.leaky_slope)).astype(np.float32)
    return grads, cost


def _data(output, n_x, k, m, rng):
    X = rng.standard_normal((n_x, m)).astype(np.float32)
    if output == "softmax":
        Y = np.eye(k, dtype=np.float32)[:, rng.integers(0, k, m)]
    elif output == "sigmoid":
        Y = (rng.random((k, m)) < 0.5).astype(np.float32)
    elif output == "poisson":
        Y = rng.poisson(2.0, (k, m)).astype(np.float32)
    else:
        Y = rng.standard_normal((k, m)).astype(np.float32)
    return X, Y


def _close(actual, expected, scale_of):
    # A product's float32 sums and the odd operand that rounds the other way near a tie: far below
    # bfloat16's own 2^-8, far above what a wrong operand, layer or transpose would leave.
    scale = max(float(np.abs(scale_of).max()), 1e-30)
    assert float(np.abs(actual - expected).max()) <= 5e-4 * scale


@needs_mkl
@pytest.mark.parametrize("output,k", [("sigmoid", 1), ("softmax", 3), ("linear", 2), ("poisson", 1)])
@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid", "leaky_relu", ["tanh", "relu"]])
@pytest.mark.parametrize("m", [1, 37, 600])
def test_gradient_pass_matches_the_emulation(output, k, hidden, m):
    rng = np.random.default_rng(m + k)
    dims = [23, 17, 9, k]
    net = Network(dims, hidden=hidden, output=output, dtype=np.float32, precision="bf16", seed=5)
    X, Y = _data(output, dims[0], k, m, rng)
    expected, expected_cost = emulated_gradient(net, X, Y)
    plan = net.plan(m)
    assert plan.precision == "bf16" and "MKL" in plan.blas
    cost = net.train_step(X, Y, 0.0)
    assert net.last_plan.precision == "bf16"
    assert cost == pytest.approx(expected_cost, rel=1e-4, abs=1e-6)
    for l, (dW, db) in enumerate(expected):
        got_dW, got_db = net.model_state.grad_layers[l]
        _close(got_dW, dW, dW)
        _close(got_db, db, db)


@needs_mkl
@pytest.mark.parametrize("layout", ["C", "F", "float64", "strided"])
@pytest.mark.parametrize("n_x,m", [(11, 40), (50, 7)])
def test_inputs_in_any_layout_give_one_gradient(layout, n_x, m):
    rng = np.random.default_rng(1)
    X, Y = _data("sigmoid", n_x, 1, m, rng)
    other = {"C": X, "F": np.asfortranarray(X), "float64": X.astype(np.float64),
             "strided": np.repeat(X, 2, axis=1)[:, ::2]}[layout]
    grads = []
    for given in (X, other):
        net = Network([n_x, 6, 1], dtype=np.float32, precision="bf16", seed=2)
        net.train_step(given, Y, 0.0)
        grads.append(net.grads.copy())
    np.testing.assert_array_equal(grads[0], grads[1])


@needs_mkl
def test_estimator_takes_the_precision():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((300, 30)).astype(np.float32)  # more features than a last batch has examples
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    from fastdnn import MLPClassifier

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (whether 100 iterations converge is not what is tested)
        model = MLPClassifier((16,), max_iter=100, batch_size=64, random_state=0, precision="bf16").fit(X, y)
    assert model.network_.precision == "bf16" and model.network_.dtype == np.float32
    assert model.network_.last_plan.precision == "bf16"
    assert model.score(X, y) > 0.95
    assert model.get_params()["precision"] == "bf16"


@needs_mkl
def test_bf16_training_learns_and_keeps_float32_state():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 2000)).astype(np.float32)
    w = rng.standard_normal(20)
    Y = (w @ X > 0).astype(np.float32)[None, :]
    net = Network([20, 32, 16, 1], dtype=np.float32, precision="bf16", seed=1)
    net.fit(X, Y, epochs=30, batch_size=256, optimizer="adam", learning_rate=0.01)
    accuracy = float(np.mean(net.predict(X) == Y))
    assert accuracy > 0.95
    assert net.params.dtype == np.float32 and net.state.dtype == np.float32
    assert net.last_plan.precision == "bf16" and net.last_plan.route == "plain"
    assert all(math.isfinite(c) for c in net.history["cost"])


@needs_mkl
def test_finite_differences_with_bf16_tolerances():
    # The directional derivative of the cost along the bf16 gradient, against central differences of
    # the float64 cost: bfloat16 operands bend the gradient by about 2^-8, so they agree to a few percent.
    rng = np.random.default_rng(3)
    X, Y = _data("sigmoid", 8, 1, 64, rng)
    net = Network([8, 5, 1], hidden="tanh", dtype=np.float32, precision="bf16", seed=4)
    net.train_step(X, Y, 0.0)
    g = net.grads.astype(np.float64)
    ref = Network([8, 5, 1], hidden="tanh", dtype=np.float64, seed=4)
    base = ref.params.copy()
    h = 1e-4
    direction = g / np.linalg.norm(g)
    costs = []
    for sign in (1, -1):
        ref.params[...] = base + sign * h * direction
        costs.append(ref.train_step(X.astype(np.float64), Y.astype(np.float64), 0.0))
    numeric = (costs[0] - costs[1]) / (2 * h)
    assert numeric == pytest.approx(np.linalg.norm(g), rel=0.03)


@needs_mkl
def test_plan_of_bf16_steps():
    net = Network([30, 20, 1], dtype=np.float32, precision="bf16")
    for plan in (net.plan(512), net.plan(64, m=4096), net.plan(100, course=True)):
        assert plan.route == "plain" and plan.precision == "bf16"
        assert "bf16" in plan.reason
    assert net.plan(64, m=4096, dropout=0.2).precision == "bf16"
    net.strategy = "native"
    with pytest.raises(ValueError, match="plain route"):
        net.plan(512)
    net.strategy = "auto"
    net.precision = "float"
    assert net.plan(512).precision == "float"


@needs_mkl
def test_auto_keeps_small_networks_in_float():
    chosen, why = precision.choose("auto", np.float32)
    small = Network([64, 64, 64, 1], dtype=np.float32, precision="auto").plan(8192)
    large = Network([784, 256, 256, 1], dtype=np.float32, precision="auto").plan(8192)
    assert small.precision == "float"
    assert large.precision == chosen and why in large.reason
    if chosen == "bf16":
        assert "too small for bf16" in small.reason
    with fastdnn.options(bf16_min_flops=1e3):
        again = Network([64, 64, 64, 1], dtype=np.float32, precision="auto").plan(8192)
        assert again.precision == chosen


def test_precision_arguments():
    with pytest.raises(ValueError, match="precision"):
        Network([4, 3, 1], dtype=np.float32, precision="half")
    if precision.available():
        with pytest.raises(ValueError, match="float32"):
            Network([4, 3, 1], dtype=np.float64, precision="bf16")
    net = Network([4, 3, 1], dtype=np.float64, precision="auto")
    plan = net.plan(10)
    assert plan.precision == "float" and plan.case.precision_why.startswith("auto")


@needs_mkl
def test_precision_survives_save_and_load(tmp_path):
    net = Network([6, 4, 1], dtype=np.float32, precision="bf16")
    net.save(tmp_path / "m.npz")
    again = Network.load(tmp_path / "m.npz")
    assert again.precision == "bf16"
    X = np.ones((6, 3), np.float32)
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))


@needs_mkl
def test_the_command_line_trains_in_bf16(tmp_path, capsys):
    from fastdnn.cli import main

    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 6))
    y = np.where(X[:, 0] - X[:, 1] > 0, "yes", "no")
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    code = main(["train", str(tmp_path / "d.npz"), "--layers", "16", "--epochs", "30", "--precision", "bf16",
                 "--out", str(model), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 0, err
    net = Network.load(model)
    assert net.precision == "bf16" and net.last_plan is None
    code = main(["train", str(tmp_path / "d.npz"), "--precision", "bf16", "--dtype", "float64", "--out",
                 str(model), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--dtype float32" in err and "Traceback" not in err


@needs_mkl
def test_plan_says_when_bf16_is_emulated(monkeypatch):
    # On a CPU without AMX or AVX512_BF16 MKL still multiplies bf16 operands (emulated); "auto" stays in float.
    monkeypatch.setattr(precision, "hardware", lambda: "")
    plan = Network([30, 20, 1], dtype=np.float32, precision="bf16").plan(256)
    assert plan.precision == "bf16" and "emulated" in plan.reason
    auto = Network([784, 256, 1], dtype=np.float32, precision="auto").plan(256)
    assert auto.precision == "float" and "no bfloat16 instructions" in auto.case.precision_why


@needs_mkl
def test_auto_is_a_preference_and_never_refuses():
    chosen, _ = precision.choose("auto", np.float32)
    for strategy in ("threads", "native", "dual"):
        net = Network([784, 512, 512, 1], dtype=np.float32, precision="auto", strategy=strategy)
        plan = net.plan(4096, course=strategy == "dual")
        assert plan.precision == "float"
        if chosen == "bf16":
            assert "auto: " in plan.reason
    net = Network([784, 512, 512, 1], dtype=np.float32, precision="auto")
    assert net.plan(100, course=True).precision == chosen
    with pytest.raises(ValueError, match="plain route"):
        Network([784, 512, 512, 1], dtype=np.float32, precision="bf16", strategy="threads").plan(4096)


@needs_mkl
def test_estimator_warm_start_takes_a_new_precision():
    from fastdnn import MLPClassifier

    rng = np.random.default_rng(2)
    X = rng.standard_normal((200, 8)).astype(np.float32)
    y = (X[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((8,), max_iter=3, random_state=0).fit(X, y)
        model.set_params(precision="bf16", warm_start=True).fit(X, y)
    assert model.network_.precision == "bf16" and model.network_.last_plan.precision == "bf16"
    with pytest.raises(ValueError, match="float32"):
        MLPClassifier((8,), dtype=np.float64, precision="bf16").fit(X, y)
    with pytest.raises(ValueError, match="float32"):
        Network([4, 3, 1], dtype=np.float64).precision = "bf16"


@pytest.mark.parametrize("size", [1, 4095, 4096, 3 * 4096 + 17, 100_003])
def test_long_vectors_round_in_rows(size):
    x = np.random.default_rng(size).standard_normal(size).astype(np.float32)
    out = np.empty(size, np.uint16)
    bfloat16.round_into(x, out)
    np.testing.assert_array_equal(out, nearest_even_reference(x))
