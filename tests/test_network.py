"""The trainer's correctness: gradients, optimizers, the course trajectory, determinism, rollback.

Gradients are checked against central finite differences of the cost (the
network's own forward pass, float64); the fused optimizer kernels against
NumPy written here, step by step.
"""

import math

import numpy as np
import pytest

import fastdnn
from fastdnn import passes
from fastdnn import config
from fastdnn import executors
from fastdnn import reference as ref
from fastdnn.network import HIDDEN, OUTPUTS, Network, arena_layout
from fastdnn.optimizers import SGD, Adam, Momentum, Optimizer

from conftest import before_each_step

# ---------------------------------------------------------------- helpers


def make_targets(rng, output, k, m):
    if output == "sigmoid":
        return rng.integers(0, 2, size=(k, m)).astype(np.float64)
    if output == "softmax":
        return np.eye(k)[:, rng.integers(0, k, size=m)]
    return rng.standard_normal((k, m))


def cost_at(net, X, Y, l2=0.0, keep_prob=1.0, key=0):
    """The training cost of ``net`` on ``(X, Y)`` (with a fixed dropout mask), no update."""
    ws = net.model_state.workspace(X.shape[1])
    passes.forward(net.model_state, X, ws, keep_prob, key)
    cost = float(passes.output_and_cost(net.model_state, Y, ws, 1.0 / X.shape[1]))
    return net.model_state.regularized_cost(cost, ws, l2, X.shape[1])


def effective_gradient(net, X, Y, l2=0.0, keep_prob=1.0, key=0):
    """The gradient the update used: ``theta_before - theta_after`` for plain SGD with rate 1.

    This covers the L2 term, which is fused into the update kernel rather
    than written into the gradient arena.
    """
    net.model_state.bind(SGD())
    before = net.params.copy()
    ws = net.model_state.workspace(X.shape[1])
    passes.forward(net.model_state, X, ws, keep_prob, key)
    cost = net.model_state.regularized_cost(passes.output_and_cost(net.model_state, Y, ws, 1.0 / X.shape[1]), ws, l2, X.shape[1])
    assert math.isfinite(cost)
    passes.backward(net.model_state, X, ws, keep_prob)
    net.model_state.optimizer.step(net.params, net.grads, net.model_state.slots, 1.0, l2 / X.shape[1], net.n_weights, 1)
    grad = before - net.params
    net.params[...] = before
    return grad


def numerical_gradient(net, X, Y, l2=0.0, keep_prob=1.0, key=0, h=1e-6):
    grad = np.empty_like(net.params)
    for k in range(net.params.size):
        saved = net.params[k]
        net.params[k] = saved + h
        plus = cost_at(net, X, Y, l2, keep_prob, key)
        net.params[k] = saved - h
        minus = cost_at(net, X, Y, l2, keep_prob, key)
        net.params[k] = saved
        grad[k] = (plus - minus) / (2 * h)
    return grad


def relative_error(a, b):
    return np.linalg.norm(a - b) / (np.linalg.norm(a) + np.linalg.norm(b))


# ---------------------------------------------------------------- layout


def test_arena_layout_puts_weights_first_and_views_alias_the_arena():
    dims = [3, 4, 2]
    layout, total = arena_layout(dims)
    assert total == 3 * 4 + 4 + 4 * 2 + 2
    net = Network(dims)
    assert net.n_weights == 3 * 4 + 4 * 2
    params = net.parameters
    for name, arr in params.items():
        assert np.shares_memory(arr, net.params), name
    # Weights occupy the prefix [0, n_weights), biases the rest.
    assert params["W1"].__array_interface__["data"][0] == net.params.__array_interface__["data"][0]
    start_b1 = (params["b1"].__array_interface__["data"][0] - net.params.__array_interface__["data"][0]) // 8
    assert start_b1 == net.n_weights
    for name, arr in net.gradients.items():
        assert np.shares_memory(arr, net.grads), name


def test_initial_weights_match_the_course_initializer():
    dims = [5, 4, 3]
    net = Network(dims, init="scaled", seed=1)
    expected = fastdnn.initialize_parameters_deep(dims)
    for key, value in expected.items():
        np.testing.assert_array_equal(net.parameters[key], value)


# ---------------------------------------------------------------- gradients


@pytest.mark.parametrize("l2", [0.0, 0.7], ids=["no_l2", "l2"])
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("hidden", HIDDEN)
def test_gradient_matches_finite_differences(hidden, output, l2, rng):
    k = 1 if output == "sigmoid" else 3
    net = Network([4, 5, 3, k], hidden=hidden, output=output, init="xavier", seed=3)
    # Non-zero biases, so that every bias gradient is exercised away from 0.
    net.params[net.n_weights:] = rng.standard_normal(net.params.size - net.n_weights) * 0.3
    X = rng.standard_normal((4, 7))
    Y = make_targets(rng, output, k, 7)
    analytic = effective_gradient(net, X, Y, l2)
    numeric = numerical_gradient(net, X, Y, l2)
    assert relative_error(analytic, numeric) < 1e-6


@pytest.mark.parametrize("hidden", ["relu", "tanh", "sigmoid"])
def test_gradient_with_dropout_matches_finite_differences_of_the_same_mask(hidden, rng):
    # The mask is a function of the key, so the cost with a fixed key is a
    # smooth function of the parameters and its gradient can be checked.
    net = Network([4, 6, 5, 3], hidden=hidden, output="softmax", init="xavier", seed=4)
    X = rng.standard_normal((4, 9))
    Y = make_targets(rng, "softmax", 3, 9)
    key = 12345
    analytic = effective_gradient(net, X, Y, 0.3, keep_prob=0.7, key=key)
    numeric = numerical_gradient(net, X, Y, 0.3, keep_prob=0.7, key=key)
    assert relative_error(analytic, numeric) < 1e-6
    # Some units were really dropped, and not all.
    mask = net.model_state.workspace(9).masks[1]
    assert 0 < mask.sum() < mask.size


def test_dropout_keeps_the_expected_fraction_and_scales_by_its_inverse(rng):
    from fastdnn.kernels import regularization as reg

    A = np.ones((300, 500))
    mask = np.empty(A.shape, dtype=np.uint8)
    reg.dropout_forward(A, 99, 0.8, mask)
    kept = mask.astype(bool)
    assert abs(kept.mean() - 0.8) < 0.005
    np.testing.assert_array_equal(A[kept], 1.0 / 0.8)
    np.testing.assert_array_equal(A[~kept], 0.0)
    # Another key, another mask.
    other = np.empty_like(mask)
    reg.dropout_forward(np.ones_like(A), 100, 0.8, other)
    assert (other != mask).mean() > 0.2


# ---------------------------------------------------------------- the course's trajectory


def test_fit_reproduces_the_course_training_bit_for_bit(rng):
    dims = [20, 7, 5, 1]
    X = rng.standard_normal((20, 60))
    Y = (rng.random((1, 60)) > 0.5).astype(np.float64)
    params, costs = fastdnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=100, return_costs=True)

    net = Network(dims)
    stepped = Network(dims)
    history = net.fit(X, Y, epochs=100, learning_rate=0.05, progress=False)
    step_costs = [float(stepped.train_step(X, Y, 0.05)) for _ in range(100)]

    assert history["cost"] == step_costs
    assert [history["cost"][0], history["cost"][99]] == costs
    for key, value in params.items():
        np.testing.assert_array_equal(net.parameters[key], value)


def test_weights_stepping_inside_their_products_keep_fit_and_the_course_in_step(rng, monkeypatch):
    # A first layer of 300 x 256 weights takes its step inside the dW product
    # (fastdnn.blas); fit and L_layer_model take the same path, bit for bit,
    # and within rounding of the written-out update.
    dims = [300, 256, 1]
    X = rng.standard_normal((300, 600)) * 0.1
    Y = (rng.random((1, 600)) > 0.5).astype(np.float64)
    net = Network(dims, strategy="plain")
    assert net.plan(600).route == "plain-sgd-in-products"
    params, costs = fastdnn.L_layer_model(X, Y, dims, learning_rate=0.05, num_iterations=30, return_costs=True,
                                          dual=False)
    history = net.fit(X, Y, epochs=30, learning_rate=0.05, progress=False)
    assert [history["cost"][0], history["cost"][29]] == costs
    for key, value in params.items():
        np.testing.assert_array_equal(net.parameters[key], value)
    monkeypatch.setattr(config, "FUSED_UPDATE_MIN_WEIGHTS", 1 << 60)
    unfused = Network(dims)
    assert unfused.plan(600).route != "plain-sgd-in-products"
    written_out = unfused.fit(X, Y, epochs=30, learning_rate=0.05, progress=False)
    assert unfused.last_plan == unfused.plan(600)
    np.testing.assert_allclose(written_out["cost"], history["cost"], rtol=1e-12)
    np.testing.assert_allclose(unfused.params, net.params, rtol=1e-10, atol=1e-13)


def test_a_non_finite_batch_rolls_back_weights_stepped_inside_their_products(rng, monkeypatch):
    monkeypatch.setattr(config, "FUSED_UPDATE_MIN_WEIGHTS", 1)  # every layer steps inside its product
    X = rng.standard_normal((4, 60))
    y = rng.integers(0, 2, 60)
    net = Network([4, 6, 1], seed=2)
    assert all(net.model_state.fused_plan()[0])
    seen = []
    before_each_step(monkeypatch, lambda: seen.append(net.params.copy()), net)

    def poison(epoch, record):
        X[2, 37] = np.nan

    with pytest.raises(FloatingPointError, match=r"epoch 2 of 3, step 4 of 6.*examples \[37\]"):
        net.fit(X, y, epochs=3, batch_size=10, shuffle=False, learning_rate=0.1, callback=poison, progress=False)
    np.testing.assert_array_equal(net.params, seen[-1])


def test_fit_reproduces_the_course_costs_on_the_cat_data(data_dir):
    train_x, train_y, _, _, _ = fastdnn.load_catvnoncat(str(data_dir))
    X = train_x.reshape(train_x.shape[0], -1).T / 255.0
    # fit takes the direct path: bit for bit the L_layer_model of the direct
    # path, and within rounding of its default dual form (fastdnn.dual).
    params, costs = fastdnn.L_layer_model(X, train_y, [12288, 20, 7, 5, 1], num_iterations=101,
                                          return_costs=True, dual=False)
    _, dual_costs = fastdnn.L_layer_model(X, train_y, [12288, 20, 7, 5, 1], num_iterations=101,
                                          return_costs=True)
    net = Network([12288, 20, 7, 5, 1])
    history = net.fit(X, train_y, epochs=101, learning_rate=0.0075, progress=False)
    assert [history["cost"][0], history["cost"][100]] == costs
    np.testing.assert_allclose(dual_costs, costs, rtol=1e-12)
    # The course's published figures.
    assert history["cost"][0] == pytest.approx(0.7717493284237686, rel=1e-6)
    assert history["cost"][100] == pytest.approx(0.6720534400822914, rel=1e-6)
    for key, value in params.items():
        np.testing.assert_array_equal(net.parameters[key], value)


# ---------------------------------------------------------------- optimizers


def numpy_forward_backward(net, X, Y):
    """Gradient of the course's sigmoid network in plain NumPy (the reference implementation)."""
    params = {k: np.array(v, dtype=np.float64) for k, v in net.parameters.items()}
    AL, caches = ref.L_model_forward(X, params)
    grads = ref.L_model_backward(AL, Y, caches)
    return params, grads


@pytest.mark.parametrize("l2", [0.0, 0.5])
@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_momentum_and_adam_equal_numpy_step_by_step(name, l2, rng):
    dims = [6, 5, 4, 1]
    X = rng.standard_normal((6, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(np.float64)
    lr = 0.01
    optimizer = Momentum(beta=0.8) if name == "momentum" else Adam(beta1=0.85, beta2=0.99, eps=1e-7)
    net = Network(dims, seed=2)
    m = X.shape[1]
    state = None
    for t in range(1, 8):
        params, grads = numpy_forward_backward(net, X, Y)
        net.fit(X, Y, epochs=1, optimizer=optimizer, learning_rate=lr, l2=l2, progress=False)
        if state is None:
            state = {k: (np.zeros_like(p), np.zeros_like(p)) for k, p in params.items()}
        for l in range(1, len(dims)):
            for key, gkey, decays in ((f"W{l}", f"dW{l}", True), (f"b{l}", f"db{l}", False)):
                p = params[key]
                g = grads[gkey] + (l2 / m) * p * decays
                v, s = state[key]
                if name == "momentum":
                    v[...] = 0.8 * v + 0.2 * g
                    expected = p - lr * v
                else:
                    v[...] = 0.85 * v + 0.15 * g
                    s[...] = 0.99 * s + 0.01 * g ** 2
                    v_hat = v / (1 - 0.85 ** t)
                    s_hat = s / (1 - 0.99 ** t)
                    expected = p - lr * v_hat / (np.sqrt(s_hat) + 1e-7)
                np.testing.assert_allclose(net.parameters[key], expected, rtol=1e-10, atol=1e-13,
                                           err_msg=f"{name} step {t} {key}")
    assert net.model_state.t == 7


def test_nesterov_momentum_equals_numpy(rng):
    p = rng.standard_normal(50)
    g = rng.standard_normal(50)
    v = rng.standard_normal(50)
    out = p.copy()
    vel = v.copy()
    Momentum(beta=0.9, nesterov=True).step(out, g, (vel,), 0.1, 0.0, 0, 1)
    v_new = 0.9 * v + 0.1 * g
    np.testing.assert_allclose(vel, v_new, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(out, p - 0.1 * (0.9 * v_new + 0.1 * g), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fused_updates_decay_only_the_weight_prefix(parallel, dtype, rng, monkeypatch):
    from fastdnn.kernels import update

    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1 if parallel else 1 << 40)
    n, n_decay = 1001, 600
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    rtol = 1e-12 if dtype == np.float64 else 1e-5
    decay = np.where(np.arange(n) < n_decay, 0.3, 0.0)

    out = p.copy()
    update.sgd_l2(out, g, 0.1, 0.3, n_decay)
    np.testing.assert_allclose(out, p - 0.1 * (g + decay * p), rtol=rtol)

    vel = np.zeros_like(p)
    out = p.copy()
    update.momentum(out, g, vel, 0.1, 0.9, False, 0.3, n_decay)
    np.testing.assert_allclose(vel, 0.1 * (g + decay * p), rtol=rtol)
    np.testing.assert_allclose(out, p - 0.1 * vel, rtol=rtol)

    first, second = np.zeros_like(p), np.zeros_like(p)
    out = p.copy()
    update.adam(out, g, first, second, 0.1, 0.9, 0.999, 1e-8, 1, 0.3, n_decay)
    gd = g + decay * p
    np.testing.assert_allclose(first, 0.1 * gd, rtol=rtol)
    np.testing.assert_allclose(second, 0.001 * gd ** 2, rtol=rtol)
    np.testing.assert_allclose(out, p - 0.1 * gd / (np.abs(gd) + 1e-8), rtol=rtol)


@pytest.mark.parametrize("parallel", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam"])
def test_fused_updates_keep_the_old_state_and_change_nothing_else(name, parallel, dtype, rng, monkeypatch):
    # keep= writes the parameters and slots as they were, and the update's
    # bits are those of the same update without it.
    monkeypatch.setattr(config, "PARALLEL_MIN_ELEMENTS", 1 if parallel else 1 << 40)
    n, n_decay = 1001, 600
    optimizer = fastdnn.optimizers.get_optimizer(name)
    p = rng.standard_normal(n).astype(dtype)
    g = rng.standard_normal(n).astype(dtype)
    state = rng.random(optimizer.n_slots * n).astype(dtype)
    slots = tuple(state[k * n:(k + 1) * n] for k in range(optimizer.n_slots))
    plain_p, plain_state = p.copy(), state.copy()
    plain_slots = tuple(plain_state[k * n:(k + 1) * n] for k in range(optimizer.n_slots))
    optimizer.step(plain_p, g, plain_slots, 0.1, 0.3, n_decay, 2)
    keep = np.full((1 + optimizer.n_slots) * n, np.nan, dtype=dtype)
    old_p, old_state = p.copy(), state.copy()
    optimizer.step(p, g, slots, 0.1, 0.3, n_decay, 2, keep=keep)
    np.testing.assert_array_equal(p, plain_p)
    np.testing.assert_array_equal(state, plain_state)
    np.testing.assert_array_equal(keep[:n], old_p)
    np.testing.assert_array_equal(keep[n:], old_state)


def test_optimizer_objects_validate_and_compare():
    assert Adam() == Adam() and Adam() != Adam(beta1=0.5) and Adam() != Momentum()
    assert fastdnn.optimizers.get_optimizer("adam") == Adam()
    with pytest.raises(ValueError, match="beta1"):
        Adam(beta1=1.0)
    with pytest.raises(ValueError, match="optimizer"):
        fastdnn.optimizers.get_optimizer("rmsprop")
    with pytest.raises(TypeError, match="optimizer"):
        fastdnn.optimizers.get_optimizer(3)


def test_optimizer_state_carries_over_between_fit_calls(rng):
    X = rng.standard_normal((5, 64))
    y = rng.integers(0, 3, 64)
    once = Network([5, 8, 3], output="softmax", seed=5)
    twice = Network([5, 8, 3], output="softmax", seed=5)
    once.fit(X, y, epochs=4, batch_size=16, optimizer="adam", learning_rate=0.01, dropout=0.2, progress=False)
    for _ in range(2):
        twice.fit(X, y, epochs=2, batch_size=16, optimizer="adam", learning_rate=0.01, dropout=0.2, progress=False)
    np.testing.assert_array_equal(once.params, twice.params)
    np.testing.assert_array_equal(once.state, twice.state)
    assert len(twice.history["cost"]) == 4 and twice.history["epoch"] == [1, 2, 3, 4]
    # A different optimizer starts from a fresh state.
    twice.fit(X, y, epochs=1, optimizer=Momentum(), progress=False)
    assert twice.state.size == twice.params.size and twice.model_state.t == 1


# ---------------------------------------------------------------- determinism


def test_same_seed_gives_bit_identical_training_with_parallel_layer_passes(rng, monkeypatch):
    # The per-layer passes of a step have their own, higher cut-over; lower it
    # so that their parallel twins (bias+activation, its gradient, dropout,
    # the bias sums) run on every layer.
    monkeypatch.setattr(config, "STEP_PARALLEL_MIN_ELEMENTS", 0)
    dims = [20, 60, 30, 3]
    X = rng.standard_normal((20, 300))
    y = rng.integers(0, 3, 300)

    def train(seed):
        net = Network(dims, output="softmax", init="he", seed=seed)
        net.fit(X, y, epochs=2, batch_size=64, optimizer="adam", learning_rate=1e-3, l2=0.1, dropout=0.3,
                progress=False)
        return net.params.copy()

    first, second = train(7), train(7)
    np.testing.assert_array_equal(first, second)
    monkeypatch.setattr(config, "STEP_PARALLEL_MIN_ELEMENTS", 1 << 62)
    np.testing.assert_allclose(train(7), first, rtol=1e-10, atol=1e-12)


def test_same_seed_gives_bit_identical_training_with_parallel_kernels(rng):
    dims = [20, 600, 300, 3]
    batch = 256
    # The hidden activations and the arena are above the parallel cut-over,
    # so the parallel twins of the kernels run.
    assert dims[1] * batch >= config.PARALLEL_MIN_ELEMENTS
    assert Network(dims).params.size >= config.PARALLEL_MIN_ELEMENTS
    X = rng.standard_normal((20, 700)).astype(np.float32)
    y = rng.integers(0, 3, 700)

    def train(seed):
        net = Network(dims, output="softmax", dtype=np.float32, init="he", seed=seed)
        net.fit(X, y, epochs=2, batch_size=batch, optimizer="adam", learning_rate=1e-3, l2=0.1, dropout=0.3,
                progress=False)
        return net.params.copy()

    first, second, other = train(7), train(7), train(8)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


# ---------------------------------------------------------------- data paths


def test_layouts_dtypes_and_label_forms_train_identically(rng, tmp_path):
    X = rng.standard_normal((6, 90))
    y = rng.integers(0, 4, 90)
    onehot = np.eye(4)[:, y]

    def train(X_in, Y_in, blocks="auto"):
        net = Network([6, 7, 4], output="softmax", seed=1)
        net.column_blocks = blocks
        net.fit(X_in, Y_in, epochs=3, batch_size=32, optimizer="momentum", learning_rate=0.1, progress=False)
        return net.params

    base = train(X, y)
    np.testing.assert_array_equal(train(X, onehot), base)
    # A row-per-example array seen transposed is gathered row by row and its
    # batches are multiplied in the other storage order: equal to rounding.
    np.testing.assert_allclose(train(np.ascontiguousarray(X.T).T, y), base, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(train(X, y.astype(np.int32)), base)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    # A map's batches are gathered page by page, then split into native
    # column blocks read in place: equal to rounding.
    np.testing.assert_allclose(train(mapped, y), base, rtol=1e-12, atol=1e-14)
    # Without blocks the sums over a batch are one piece: equal to rounding.
    plain = train(X, y, blocks=False)
    np.testing.assert_array_equal(train(mapped, y, blocks=False), plain)
    np.testing.assert_array_equal(train(X, onehot, blocks=False), plain)
    np.testing.assert_allclose(plain, base, rtol=1e-12, atol=1e-14)


def test_rows_gather_with_more_features_than_examples_per_batch(rng):
    X_rows = rng.standard_normal((30, 50))
    y = rng.integers(0, 3, 30)
    a = Network([50, 4, 3], output="softmax", seed=2)
    b = Network([50, 4, 3], output="softmax", seed=2)
    a.fit(X_rows.T, y, epochs=2, batch_size=8, optimizer="adam", learning_rate=0.01, progress=False)
    b.fit(np.ascontiguousarray(X_rows.T), y, epochs=2, batch_size=8, optimizer="adam", learning_rate=0.01,
          progress=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.predict_proba(X_rows.T.astype(np.float32)), a.predict_proba(X_rows.T), rtol=1e-6)


def test_strided_inputs_are_gathered_like_their_copy(rng):
    wide = rng.standard_normal((5, 120))
    X = wide[:, ::2]  # neither C- nor F-contiguous
    y = rng.integers(0, 3, 60)
    a = Network([5, 4, 3], output="softmax", seed=1)
    b = Network([5, 4, 3], output="softmax", seed=1)
    a.fit(X, y, epochs=2, batch_size=16, learning_rate=0.1, progress=False)
    b.fit(np.ascontiguousarray(X), y, epochs=2, batch_size=16, learning_rate=0.1, progress=False)
    np.testing.assert_array_equal(a.params, b.params)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(np.ascontiguousarray(X)))


def test_full_batch_reads_the_callers_array_without_a_copy(rng, monkeypatch):
    from fastdnn.kernels import gather as gather_mod

    X = rng.standard_normal((5, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(np.float64)
    calls = []
    real = gather_mod.gather
    monkeypatch.setattr(gather_mod, "gather", lambda *a: calls.append(a) or real(*a))
    Network([5, 3, 1]).fit(X, Y, epochs=3, progress=False)
    assert calls == []
    Network([5, 3, 1]).fit(X.astype(np.float32), Y, epochs=3, progress=False)  # other dtype: one copy, once
    assert len(calls) == 1


def test_uint8_inputs_train_like_their_float_values(rng):
    X = rng.integers(0, 256, size=(8, 50)).astype(np.uint8)
    y = rng.integers(0, 2, 50)
    a = Network([8, 4, 1], seed=3)
    b = Network([8, 4, 1], seed=3)
    a.fit(X, y, epochs=2, batch_size=20, learning_rate=1e-4, progress=False)
    b.fit(X.astype(np.float64), y, epochs=2, batch_size=20, learning_rate=1e-4, progress=False)
    np.testing.assert_array_equal(a.params, b.params)


def test_mini_batches_cover_every_example_once_per_epoch(rng, monkeypatch):
    from fastdnn.loop import TrainLoop

    X = rng.standard_normal((3, 50))
    Y = rng.standard_normal((2, 50))
    net = Network([3, 4, 2], output="linear", seed=0)
    seen = []
    real = TrainLoop.step

    def spy(loop, executor, start, b, *rest):  # every route's step, the executor's gather or its own
        if executor.gathers:  # the native blocks read the loop's order in place
            assert executor.session.indices is loop.indices
        seen.append(loop.indices[start:start + b].copy())
        return real(loop, executor, start, b, *rest)

    monkeypatch.setattr(TrainLoop, "step", spy)
    history = net.fit(X, Y, epochs=2, batch_size=16, learning_rate=0.01, progress=False)
    assert [len(s) for s in seen] == [16, 16, 16, 2] * 2
    for epoch in range(2):
        np.testing.assert_array_equal(np.sort(np.concatenate(seen[4 * epoch:4 * epoch + 4])), np.arange(50))
    assert not np.array_equal(np.concatenate(seen[:4]), np.arange(50))  # shuffled
    assert "accuracy" not in history and len(history["cost"]) == 2


# ---------------------------------------------------------------- history, validation, hooks


def test_history_validation_schedule_and_callback(rng):
    X = rng.standard_normal((4, 120))
    y = (X[0] + X[1] > 0).astype(int)
    net = Network([4, 6, 2], output="softmax", seed=0)
    rates = []

    def schedule(epoch):
        rates.append(epoch)
        return 2.0 / (1 + epoch)

    records = []

    def callback(epoch, record):
        records.append(record)
        return epoch == 3  # stop after the fourth epoch

    history = net.fit(X, y, epochs=10, batch_size=30, optimizer="sgd", validation=(X[:, :40], y[:40]),
                      schedule=schedule, callback=callback, progress=False)
    assert rates == [0, 1, 2, 3]
    assert history["learning_rate"] == [2.0, 1.0, 2.0 / 3, 0.5]
    assert len(history["val_cost"]) == 4 and len(records) == 4
    assert records[-1]["val_accuracy"] == history["val_accuracy"][-1]
    scores = net.evaluate(X[:, :40], y[:40])
    assert scores["cost"] == pytest.approx(history["val_cost"][-1], rel=1e-12)
    assert scores["accuracy"] == history["val_accuracy"][-1]
    assert history["cost"][-1] < history["cost"][0]
    assert history["accuracy"][-1] > 0.8


def test_evaluate_and_predict_agree_with_numpy(rng):
    net = Network([5, 7, 3], hidden="tanh", output="softmax", seed=2)
    X = rng.standard_normal((5, 33))
    y = rng.integers(0, 3, 33)
    P = net.predict_proba(X)
    W1, b1, W2, b2 = (net.parameters[k] for k in ("W1", "b1", "W2", "b2"))
    Z = W2 @ np.tanh(W1 @ X + b1) + b2
    expected = np.exp(Z - Z.max(0)) / np.exp(Z - Z.max(0)).sum(0)
    np.testing.assert_allclose(P, expected, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X), np.argmax(expected, 0))
    scores = net.evaluate(X, y)
    assert scores["cost"] == pytest.approx(-np.mean(np.log(expected[y, np.arange(33)])), rel=1e-12)
    assert scores["accuracy"] == np.mean(np.argmax(expected, 0) == y)


def test_predict_in_chunks_equals_one_pass(rng, monkeypatch):
    from fastdnn import inference

    net = Network([6, 9, 1], seed=1)
    X = rng.standard_normal((6, 1000))
    whole = net.predict_proba(X)
    monkeypatch.setattr(inference, "CHUNK_ELEMENTS", 9 * 300)  # 300-example chunks, a last one of 100
    fresh = Network([6, 9, 1], seed=1)
    np.testing.assert_allclose(fresh.predict_proba(X), whole, rtol=1e-14)
    assert fresh.predict(X).shape == (1, 1000)


def test_progress_bar_only_on_a_terminal(rng, capsys, monkeypatch):
    from fastdnn import loop as loop_mod

    X = rng.standard_normal((3, 20))
    y = rng.integers(0, 2, 20)
    Network([3, 2, 1]).fit(X, y, epochs=2, progress=True)
    assert capsys.readouterr().err == ""  # pytest's stderr is not a terminal
    monkeypatch.setattr(loop_mod, "_stream_is_terminal", lambda stream: True)
    Network([3, 2, 1]).fit(X, y, epochs=2, batch_size=5, progress=True)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "ex/s" in err and "loss" in err
    Network([3, 2, 1]).fit(X, y, epochs=2, progress=False)
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------- divergence


def test_non_finite_cost_stops_and_rolls_back_to_the_last_finite_state(rng):
    X = rng.standard_normal((4, 32)) * 10
    Y = rng.standard_normal((1, 32)) * 10
    net = Network([4, 16, 16, 1], output="linear", seed=0)
    replay = Network([4, 16, 16, 1], output="linear", seed=0)
    with pytest.raises(FloatingPointError, match=r"epoch \d+ of 500, step 1 of 1.*rolled back"):
        net.fit(X, Y, epochs=500, learning_rate=5.0, progress=False)
    assert np.all(np.isfinite(net.params))
    # Replay by hand: the rolled-back parameters are those of the last finite cost.
    ws = replay.model_state.workspace(32)
    last_finite = None
    with executors.open_executor(replay.plan(32), replay.model_state) as step:
        for _ in range(500):
            before = replay.params.copy()
            cost = step.train(executors.Batch(X, Y, 0, 32), ws, 5.0)
            if not math.isfinite(cost):
                break
            last_finite = before
    np.testing.assert_array_equal(net.params, last_finite)
    assert math.isfinite(cost_at(net, X, Y))


class _Poison(Optimizer):
    """Plain SGD that writes a NaN into the parameters at update ``at``; remembers the parameters before each."""

    name = "poison"

    def __init__(self, at):
        self.at = at
        self.before = {}

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        self.before[t] = params.copy()
        SGD().step(params, grads, slots, learning_rate, decay, n_decay, t)
        if t == self.at:
            params[0] = np.nan


def test_nan_from_an_update_is_caught_at_the_next_step_and_rolled_back(rng):
    X = rng.standard_normal((3, 40))
    y = rng.integers(0, 2, 40)
    net = Network([3, 4, 1], seed=0)
    poison = _Poison(at=3)
    with pytest.raises(FloatingPointError, match=r"epoch 1 of 1, step 4 of 5.*rolled back"):
        net.fit(X, y, epochs=1, batch_size=8, optimizer=poison, learning_rate=0.1, progress=False)
    # Back to the parameters that gave the last finite cost: those before update 3.
    np.testing.assert_array_equal(net.params, poison.before[3])
    assert net.model_state.t == 2


def test_nan_from_the_very_last_update_is_rolled_back(rng):
    X = rng.standard_normal((3, 10))
    y = rng.integers(0, 2, 10)
    net = Network([3, 4, 1], seed=0)
    start = net.params.copy()
    with pytest.raises(FloatingPointError, match="last update"):
        net.fit(X, y, epochs=1, optimizer=_Poison(at=1), progress=False)
    np.testing.assert_array_equal(net.params, start)


# ---------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"epochs": 0}, ValueError, "epochs"),
        ({"batch_size": 0}, ValueError, "batch_size"),
        ({"dropout": 1.0}, ValueError, "dropout"),
        ({"l2": -1.0}, ValueError, "l2"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
        ({"schedule": 0.1}, TypeError, "schedule"),
        ({"validation": (1, 2, 3)}, TypeError, "validation"),
    ],
)
def test_fit_rejects_bad_arguments(kwargs, error, match, rng):
    X = rng.standard_normal((3, 10))
    y = rng.integers(0, 3, 10)
    with pytest.raises(error, match=match):
        Network([3, 4, 3], output="softmax").fit(X, y, progress=False, **kwargs)


def test_fit_rejects_bad_data_with_clear_messages(rng):
    net = Network([3, 4, 3], output="softmax")
    X = rng.standard_normal((3, 10))
    with pytest.raises(ValueError, match=r"X has 4 rows .* expects 3"):
        net.fit(rng.standard_normal((4, 10)), np.zeros(10, int))
    with pytest.raises(ValueError, match=r"class labels in \[0, 3\).*from 0 to 3"):
        net.fit(X, np.arange(10) % 4)
    with pytest.raises(ValueError, match="integer class labels"):
        net.fit(X, np.full(10, 0.5))
    with pytest.raises(ValueError, match="9 labels but X has 10"):
        net.fit(X, np.zeros(9, int))
    with pytest.raises(ValueError, match=r"Y must have shape \(3, 10\)"):
        net.fit(X, np.zeros((2, 10)))
    bad = X.copy()
    bad[1, 2] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        net.fit(bad, np.zeros(10, int))
    with pytest.raises(ValueError, match=r"labels in \{0, 1\}"):
        Network([3, 2, 1]).fit(X, np.full(10, 2))
    with pytest.raises(ValueError, match="no examples"):
        net.predict(np.zeros((3, 0)))
    with pytest.raises(ValueError, match="softmax output needs at least 2 units"):
        Network([3, 1], output="softmax")
    with pytest.raises(TypeError, match="dtype"):
        Network([3, 1], dtype=np.int32)


# ---------------------------------------------------------------- the NumPy baseline and a real task


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_reference_epoch_does_the_same_work(dtype, rng):
    # The benchmark's baseline must compute what fit computes: same batches
    # (no shuffling), same softmax cost, same Adam; equal to rounding.
    X = rng.standard_normal((300, 12)).astype(dtype)
    y = rng.integers(0, 4, 300)
    net = Network([12, 10, 8, 4], output="softmax", dtype=dtype, init="he", seed=3)
    params = {k: v.copy() for k, v in net.parameters.items()}
    state = {"v": {k: np.zeros_like(v) for k, v in params.items()},
             "s": {k: np.zeros_like(v) for k, v in params.items()}}
    cost, t = ref.minibatch_epoch(X, y, params, state, np.arange(300), 64, 0.01)
    history = net.fit(X.T, y, epochs=1, batch_size=64, optimizer="adam", learning_rate=0.01, shuffle=False,
                      progress=False)
    rtol = 1e-12 if dtype == np.float64 else 2e-5
    assert t == net.model_state.t == 5
    assert cost == pytest.approx(history["cost"][0], rel=rtol)
    for key, value in params.items():
        np.testing.assert_allclose(net.parameters[key], value, rtol=rtol, atol=rtol * 0.1, err_msg=key)


def test_softmax_network_learns_the_8x8_digits():
    datasets = pytest.importorskip("sklearn.datasets", reason="the 8x8 digits ship with scikit-learn")
    X, y = datasets.load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1347], order[1347:]
    net = Network([64, 100, 10], output="softmax", init="he", seed=0)
    net.fit(X[train].T / 16.0, y[train], epochs=100, batch_size=64, optimizer="adam", learning_rate=1e-3,
            l2=1e-4, progress=False)
    assert net.evaluate(X[test].T / 16.0, y[test])["accuracy"] >= 0.97


@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.uint8])
@pytest.mark.parametrize("b", [3, 1 << 12])  # the serial and the parallel gather
def test_gathers_report_a_non_finite_value_they_copy(rng, layout, dtype, b):
    from fastdnn.kernels import gather as gather_mod

    n, m = 37, 2 * b + 5
    X = (rng.standard_normal((n, m)) * 10).astype(dtype)
    indices = rng.permutation(m)
    out = np.empty((n, b), dtype=np.float32)

    def run(source, start):
        if layout == "rows":
            rows = np.ascontiguousarray(source.T)
            out_rows = np.empty((b, n), dtype=np.float32)
            bad = gather_mod.gather_rows(rows, indices, start, out_rows)
            np.copyto(out, out_rows.T)
            return bad
        return gather_mod.gather_columns(np.ascontiguousarray(source), indices, start, out)

    assert run(X, b) is False
    np.testing.assert_array_equal(out, X[:, indices[b:2 * b]].astype(np.float32))
    if dtype == np.uint8:
        return  # integers have no NaN to find
    for value in (np.nan, np.inf, -np.inf):
        bad = X.copy()
        bad[n // 2, indices[b + b // 2]] = value
        assert run(bad, b) is True
        # A bad value outside the batch is not the batch's.
        assert run(bad, 0) is False


@pytest.mark.parametrize("column_blocks", ["auto", False])
@pytest.mark.parametrize("layout", ["rows", "columns"])
@pytest.mark.parametrize("optimizer", ["adam", "momentum", "sgd"])
def test_mini_batch_fit_with_a_late_non_finite_input_leaves_the_network_as_it_was(rng, column_blocks, layout,
                                                                                  optimizer):
    # fit finds NaN and inf in X as its first epoch gathers the batches; by
    # then earlier batches have stepped, and the call must undo them.
    dims, m, b = [300, 64, 48, 4], 1500, 256
    X_rows = rng.standard_normal((m, dims[0])).astype(np.float32)
    y = rng.integers(0, dims[-1], m)

    def network():
        net = Network(dims, output="softmax", dtype=np.float32, init="he", seed=3)
        net.column_blocks = column_blocks
        net.fit(X_rows.T, y, epochs=1, batch_size=b, optimizer="adam", progress=False)
        return net

    net, twin = network(), network()
    before = (net.params.copy(), net.state.copy(), net.model_state.t, net.model_state.n_steps, net.model_state.rng.bit_generator.state,
              {k: list(v) for k, v in net.history.items()})
    bad_rows = X_rows.copy()
    bad_rows[m - 7, 11] = np.inf
    X_bad = bad_rows.T if layout == "rows" else np.ascontiguousarray(bad_rows.T)
    where = (m - 7, 11) if layout == "rows" else (11, m - 7)
    with pytest.raises(ValueError, match=rf"X contains 1 non-finite value\(s\).*index \({where[0]}, {where[1]}\)"):
        net.fit(X_bad, y, epochs=2, batch_size=b, optimizer=optimizer, learning_rate=1e-3, progress=False)
    np.testing.assert_array_equal(net.params, before[0])
    np.testing.assert_array_equal(net.state, before[1])
    assert (net.model_state.t, net.model_state.n_steps, net.model_state.rng.bit_generator.state) == before[2:5]
    assert net.history == before[5]
    # And it trains on exactly as the twin that never met the bad data.
    for each in (net, twin):
        each.fit(X_rows.T, y, epochs=2, batch_size=b, optimizer="adam", learning_rate=1e-3, progress=False)
    np.testing.assert_array_equal(net.params, twin.params)


def test_fit_course_takes_what_the_course_loop_takes(rng):
    """The course's loop runs any rate and any iteration count range() takes; it reports every 100 and the last."""
    X = rng.standard_normal((5, 40))
    Y = (rng.random((1, 40)) > 0.5).astype(np.float64)
    net = Network([5, 3, 1], seed=0, strategy="plain")
    before = net.params.copy()
    assert net.fit_course(X, Y, num_iterations=0) == [] and net.fit_course(X, Y, num_iterations=-3) == []
    np.testing.assert_array_equal(net.params, before)
    with pytest.raises(TypeError):
        net.fit_course(X, Y, num_iterations=2.5)
    # Gradient ascent is a formula the course's loop runs: so does fit_course, step for step.
    costs = net.fit_course(X, Y, learning_rate=-0.01, num_iterations=201)
    twin = Network([5, 3, 1], seed=0, strategy="plain")
    by_hand = [twin.train_step(X, Y, -0.01) for _ in range(201)]
    assert costs == [by_hand[0], by_hand[100], by_hand[200]]
    np.testing.assert_array_equal(net.params, twin.params)
    assert net.history == {}


def test_from_architecture_copies_the_record(rng):
    net = Network([3, 4, 2], output="softmax", seed=5)
    net.metadata["classes"] = ["a", "b"]
    twin = Network.from_architecture(net.architecture)
    assert twin.layer_dims == net.layer_dims and twin.output == "softmax" and twin.metadata == net.metadata
    twin.metadata["classes"] = ["c"]
    assert net.metadata["classes"] == ["a", "b"]
    assert not np.any(twin.params)  # not initialized: load fills it
