"""The trainer's PyTorch habits: AdamW, gradient clipping, per-step schedules, early stopping.

Each is checked against the same steps computed in plain NumPy
(:func:`conftest.reference_gradients`), on every route a fit can take.
"""

import math

import numpy as np
import pytest

import fastdnn
from conftest import reference_gradients
from fastdnn import learning_rates, threads
from fastdnn.kernels import update
from fastdnn.network import Network
from fastdnn.optimizers import AdamW

TOL = {np.float64: 1e-10, np.float32: 2e-4}


def _strategies():
    return ["plain"] + (["threads", "native"] if threads.can_pin_blas() else [])


def _problem(rng, m=150, n_x=6, k=3):
    X = rng.standard_normal((n_x, m))
    Y = np.eye(k)[:, rng.integers(0, k, m)]
    return X, Y


def _params(net):
    return {name: value.astype(np.float64) for name, value in net.parameters.items()}


def _clip(grads, value, norm):
    """PyTorch's clip_grad_value_ then clip_grad_norm_ over a dict of gradients."""
    if value:
        grads = {k: np.clip(g, -value, value) for k, g in grads.items()}
    if norm:
        total = math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values()))
        coef = norm / (total + 1e-6)
        if coef < 1.0:
            grads = {k: g * coef for k, g in grads.items()}
    return grads


class NumpyAdam:
    """Adam, and AdamW's decoupled decay, step by step in NumPy (PyTorch's update order)."""

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, decay_biases=False):
        self.beta1, self.beta2, self.eps = beta1, beta2, eps
        self.weight_decay, self.decay_biases = weight_decay, decay_biases
        self.v, self.s, self.t = {}, {}, 0

    def step(self, params, grads, lr):
        self.t += 1
        out = {}
        for name, p in params.items():
            g = grads[name]
            v = self.v[name] = self.beta1 * self.v.get(name, 0.0) + (1 - self.beta1) * g
            s = self.s[name] = self.beta2 * self.s.get(name, 0.0) + (1 - self.beta2) * g * g
            decays = name.startswith("W") or self.decay_biases
            p = p - lr * self.weight_decay * p if decays else p
            out[name] = p - lr * (v / (1 - self.beta1 ** self.t)) / (np.sqrt(s / (1 - self.beta2 ** self.t))
                                                                     + self.eps)
        return out


def _run_reference(net, X, Y, dtype, epochs, batch_size, step, lr_of=lambda count: 0.05):
    """The NumPy steps of an unshuffled fit: ``step(params, grads, lr) -> params``; returns params and costs."""
    params = _params(net)
    Xr, Yr = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
    m = X.shape[1]
    b = m if batch_size is None else batch_size
    costs, count = [], 0
    for _ in range(epochs):
        total = 0.0
        for start in range(0, m, b):
            cols = slice(start, min(m, start + b))
            grads, cost = reference_gradients(params, Xr[:, cols], Yr[:, cols], "softmax")
            params = step(params, grads, lr_of(count))
            count += 1
            total += cost * (cols.stop - cols.start) / m
        costs.append(total)
    return params, costs


def _assert_same(net, history, params, costs, dtype):
    np.testing.assert_allclose(history["cost"], costs, rtol=TOL[dtype] * 10)
    for name, value in net.parameters.items():
        np.testing.assert_allclose(value, params[name], rtol=TOL[dtype] * 10, atol=TOL[dtype], err_msg=name)


# ------------------------------------------------------------ AdamW


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 40])
@pytest.mark.parametrize("decay_biases", [False, True])
def test_adamw_takes_the_numpy_steps_on_every_route(strategy, dtype, batch_size, decay_biases, rng):
    X, Y = _problem(rng)
    net = Network([6, 11, 7, 3], output="softmax", dtype=dtype, strategy=strategy, seed=4)
    reference = NumpyAdam(0.85, 0.99, 1e-7, weight_decay=0.3, decay_biases=decay_biases)
    params, costs = _run_reference(net, X, Y, dtype, 3, batch_size, reference.step)
    optimizer = AdamW(beta1=0.85, beta2=0.99, eps=1e-7, weight_decay=0.3, decay_biases=decay_biases)
    history = net.fit(X, Y, epochs=3, batch_size=batch_size, optimizer=optimizer, learning_rate=0.05,
                      shuffle=False, progress=False)
    assert net.last_plan.strategy == strategy
    _assert_same(net, history, params, costs, dtype)


def test_adamw_without_decay_is_adam_and_the_rollback_copy_is_the_old_state(rng):
    p = rng.standard_normal(300)
    g = rng.standard_normal(300)
    a, b, c = p.copy(), p.copy(), p.copy()
    slots = [(np.zeros(300), np.zeros(300)) for _ in range(3)]
    keep = np.empty(900)
    fastdnn.Adam().step(a, g, slots[0], 0.1, 0.0, 200, 1)
    AdamW(weight_decay=0.0).step(b, g, slots[1], 0.1, 0.0, 200, 1)
    np.testing.assert_array_equal(a, b)
    # With and without the rollback copy: the same step, and the copy holds the parameters before it.
    AdamW(weight_decay=0.5).step(c, g, slots[2], 0.1, 0.0, 200, 1, keep=keep)
    d = p.copy()
    AdamW(weight_decay=0.5).step(d, g, (np.zeros(300), np.zeros(300)), 0.1, 0.0, 200, 1)
    np.testing.assert_allclose(c, d, rtol=1e-12, atol=1e-16)  # decay before or after: rounding apart
    np.testing.assert_array_equal(keep[:300], p)
    np.testing.assert_allclose(c[:200], b[:200] - 0.1 * 0.5 * p[:200], rtol=1e-14)
    np.testing.assert_array_equal(c[200:], b[200:])


def test_adamw_by_name_in_fit_in_checkpoints_and_in_the_cli_choices(tmp_path, rng):
    X, Y = _problem(rng, m=40)
    net = Network([6, 5, 3], output="softmax", seed=1)
    net.fit(X, Y, optimizer="adamw", epochs=2, progress=False, checkpoint=tmp_path / "c.npz")
    assert net.optimizer == AdamW()
    assert repr(AdamW(weight_decay=0.1)).startswith("AdamW(beta1=0.9")
    with pytest.raises(ValueError, match="weight_decay"):
        AdamW(weight_decay=-1.0)
    # Resumable: the checkpoint rebuilds the same optimizer.
    again = Network([6, 5, 3], output="softmax", seed=1)
    again.fit(X, Y, optimizer="adamw", epochs=2, progress=False, checkpoint=tmp_path / "c.npz", resume=True)
    np.testing.assert_array_equal(again.params, net.params)


# ------------------------------------------------------------ clipping


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_clip_kernel_is_pytorchs(dtype, rng):
    g = (rng.standard_normal(1001) * 3).astype(dtype)
    for value, norm in [(0.0, 2.0), (1.5, 0.0), (1.5, 2.0), (0.0, 1e6)]:
        out = g.copy()
        total = update.clip_gradient(out, value, norm)
        expected = _clip({"g": g.astype(np.float64)}, value, norm)["g"]
        clipped_first = np.clip(g.astype(np.float64), -value, value) if value else g.astype(np.float64)
        assert total == pytest.approx(np.linalg.norm(clipped_first), rel=1e-6)
        np.testing.assert_allclose(out, expected, rtol=TOL[dtype])


@pytest.mark.parametrize("strategy", _strategies())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 40])
@pytest.mark.parametrize("clip", [(None, 0.3), (0.02, None), (0.05, 0.2)])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_clipped_fit_takes_the_numpy_steps_on_every_route(strategy, dtype, batch_size, clip, optimizer, rng):
    X, Y = _problem(rng)
    X *= 5.0  # gradients long enough for the clip to bite
    value, norm = clip
    net = Network([6, 11, 7, 3], output="softmax", dtype=dtype, strategy=strategy, seed=4)
    adam = NumpyAdam()
    seen = []

    def step(params, grads, lr):
        seen.append(math.sqrt(sum(float(np.sum(g ** 2)) for g in grads.values())))
        grads = _clip(grads, value, norm)
        if optimizer == "adam":
            return adam.step(params, grads, lr)
        return {k: p - lr * grads[k] for k, p in params.items()}

    params, costs = _run_reference(net, X, Y, dtype, 3, batch_size, step)
    history = net.fit(X, Y, epochs=3, batch_size=batch_size, optimizer=optimizer, learning_rate=0.05,
                      shuffle=False, progress=False, clip_norm=norm, clip_value=value)
    assert net.last_plan.strategy == strategy
    if norm:
        assert max(seen) > norm  # the test means something: the clip bit
    _assert_same(net, history, params, costs, dtype)
    assert net.model_state.clip is None  # the clip lasts for its fit only


def test_clipped_fits_plan_the_optimizer_after_the_whole_gradient():
    net = Network([64, 256, 10], output="softmax")
    for optimizer in ("sgd", "adam"):
        # Mini-batches: the blocks that would step themselves leave the step to Python.
        free, clipped = (net.plan(512, 65536, optimizer=optimizer, clip=c) for c in (False, True))
        if free.route == "native-update":
            assert clipped.route == "native-gradient" and "clipped" in clipped.reason
    # Full batch: no update inside the products, which would step before the gradient is whole.
    plain = Network([784, 1024, 1], strategy="plain")
    assert plain.plan(8192).route == "plain-sgd-in-products"
    assert plain.plan(8192, clip=True).route == "plain"


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"clip_norm": 0.0}, ValueError, "clip_norm must be > 0"),
    ({"clip_value": -1.0}, ValueError, "clip_value"),
    ({"clip_norm": "big"}, TypeError, "clip_norm"),
    ({"step_schedule": 3}, TypeError, "step_schedule"),
    ({"step_schedule": lambda s: 0.1, "schedule": lambda e: 0.1}, ValueError, "not both"),
    ({"step_schedule": lambda s: -0.1}, ValueError, "returned by step_schedule"),
    ({"early_stopping": 0}, ValueError, "patience"),
    ({"early_stopping": "yes"}, TypeError, "early_stopping"),
    ({"early_stopping": fastdnn.EarlyStopping(monitor="val_cost")}, ValueError, "needs validation data"),
    ({"early_stopping": fastdnn.EarlyStopping(monitor="val_r2"), "validation": "same"}, ValueError,
     "do not hold"),
])
def test_bad_trainer_options_are_named(kwargs, error, pattern, rng):
    X, Y = _problem(rng, m=30)
    if kwargs.get("validation") == "same":
        kwargs["validation"] = (X, Y)
    net = Network([6, 5, 3], output="softmax", seed=1)
    before = net.params.copy()
    with pytest.raises(error, match=pattern):
        net.fit(X, Y, epochs=2, progress=False, **kwargs)
    np.testing.assert_array_equal(net.params, before)


# ------------------------------------------------------------ per-step schedules


@pytest.mark.parametrize("strategy", _strategies())
def test_step_schedule_sets_each_steps_rate(strategy, rng):
    X, Y = _problem(rng)
    net = Network([6, 11, 7, 3], output="softmax", strategy=strategy, seed=4)
    schedule = learning_rates.warmup(learning_rates.cosine(0.2, steps=12), steps=4, start=0.01)

    def sgd(params, grads, lr):
        return {k: p - lr * grads[k] for k, p in params.items()}

    params, costs = _run_reference(net, X, Y, np.float64, 3, 40, sgd, schedule)
    history = net.fit(X, Y, epochs=3, batch_size=40, learning_rate=99.0, shuffle=False, progress=False,
                      step_schedule=schedule)
    _assert_same(net, history, params, costs, np.float64)
    assert history["learning_rate"] == [schedule(3), schedule(7), schedule(11)]  # each epoch's last step's


def test_built_in_schedules_follow_their_formulas():
    s = learning_rates.step_decay(0.1, every=3, gamma=0.5)
    assert [s(c) for c in range(7)] == [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]
    c = learning_rates.cosine(1.0, steps=10, final=0.1)
    assert c(0) == 1.0 and c(10) == pytest.approx(0.1) and c(25) == pytest.approx(0.1)
    assert c(5) == pytest.approx(0.55)
    w = learning_rates.warmup(0.4, steps=4)
    assert [w(k) for k in range(6)] == [0.0, 0.1, 0.2, 0.30000000000000004, 0.4, 0.4]
    assert "cosine(rate=1.0" in repr(c)
    with pytest.raises(ValueError, match="gamma"):
        learning_rates.step_decay(0.1, every=2, gamma=1.5)
    with pytest.raises(TypeError, match="steps"):
        learning_rates.cosine(0.1, steps=2.5)


# ------------------------------------------------------------ early stopping


def _epoch_by_epoch(X, Y, Xv, Yv, epochs, **kwargs):
    """The reference: one epoch per call, keeping each epoch's parameters and validation cost."""
    net = Network([6, 11, 7, 3], output="softmax", seed=4)
    kept, scores = [], []
    for _ in range(epochs):
        record = net.fit(X, Y, epochs=1, validation=(Xv, Yv), progress=False, **kwargs)
        kept.append(net.params.copy())
        scores.append(record["val_cost"][0])
    return kept, scores


@pytest.mark.parametrize("restore_best", [True, False])
def test_early_stopping_stops_after_patience_and_restores_the_best_epoch(restore_best, rng):
    X, Y = _problem(rng, m=120)
    Xv, Yv = _problem(rng, m=60)
    # A rate that overshoots: the validation cost stops improving within a few epochs.
    kw = dict(batch_size=20, optimizer="adam", learning_rate=0.08, shuffle=False)
    kept, scores = _epoch_by_epoch(X, Y, Xv, Yv, 40, **kw)
    best, patience = None, 3
    for epoch, score in enumerate(scores):
        if best is None or score < scores[best]:
            best = epoch
        elif epoch - best >= patience:
            stop = epoch
            break
    else:
        pytest.fail("the reference never stopped improving: the test would not test anything")
    stopper = fastdnn.EarlyStopping(patience=patience, restore_best=restore_best)
    net = Network([6, 11, 7, 3], output="softmax", seed=4)
    history = net.fit(X, Y, epochs=40, validation=(Xv, Yv), progress=False, early_stopping=stopper, **kw)
    assert len(history["epoch"]) == stop + 1
    assert (stopper.best_epoch, stopper.stopped_epoch) == (best + 1, stop + 1)
    assert stopper.best == scores[best] and stopper.restored == restore_best
    np.testing.assert_array_equal(net.params, kept[best] if restore_best else kept[stop])


def test_early_stopping_by_patience_watches_the_training_cost_and_accuracy_rises(rng):
    X, Y = _problem(rng, m=90)
    net = Network([6, 5, 3], output="softmax", seed=1)
    history = net.fit(X, Y, epochs=500, learning_rate=0.5, progress=False, early_stopping=2)
    assert len(history["cost"]) < 500  # full-batch gradient descent slows to a halt, then stops
    watch = fastdnn.EarlyStopping(patience=1, monitor="accuracy", min_delta=0.5)
    net.fit(X, Y, epochs=5, learning_rate=0.5, progress=False, early_stopping=watch)
    # An accuracy can never rise by 0.5 after its first epoch: stopped at the second.
    assert (watch.best_epoch, watch.stopped_epoch) == (len(history["cost"]) + 1, len(history["cost"]) + 2)


def test_a_fit_inside_a_clipped_fits_callback_leaves_the_clip_in_force(rng):
    X, Y = _problem(rng, m=40)
    net = Network([6, 5, 3], output="softmax", seed=1)
    seen = []

    def callback(epoch, record):
        if epoch == 0:
            net.fit(X, Y, epochs=1, progress=False)
        seen.append(net.model_state.clip)

    net.fit(X, Y, epochs=3, clip_norm=1e-3, callback=callback, progress=False)
    assert seen == [(0.0, 1e-3)] * 3 and net.model_state.clip is None


# ------------------------------------------------------------ one activation per hidden layer


MIXED = ["tanh", "relu", "leaky_relu"]


@pytest.mark.parametrize("strategy", ["auto", "plain"] + (["threads"] if threads.can_pin_blas() else []))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 40])
def test_one_activation_per_hidden_layer_takes_the_numpy_steps(strategy, dtype, batch_size, rng):
    X, Y = _problem(rng)
    net = Network([6, 11, 7, 5, 3], hidden=MIXED, output="softmax", dtype=dtype, strategy=strategy, seed=4)
    params = _params(net)
    Xr, Yr = X.astype(dtype).astype(np.float64), Y.astype(dtype).astype(np.float64)
    m = X.shape[1]
    b = m if batch_size is None else batch_size
    for _ in range(2):
        for start in range(0, m, b):
            cols = slice(start, start + b)
            grads, _ = reference_gradients(params, Xr[:, cols], Yr[:, cols], "softmax", hidden=MIXED)
            params = {k: p - 0.05 * grads[k] for k, p in params.items()}
    net.fit(X, Y, epochs=2, batch_size=batch_size, learning_rate=0.05, shuffle=False, progress=False)
    assert "native" not in net.last_plan.route
    for name, value in net.parameters.items():
        np.testing.assert_allclose(value, params[name], rtol=TOL[dtype] * 10, atol=TOL[dtype], err_msg=name)


def test_a_list_of_activations_is_checked_saved_and_planned(tmp_path, rng):
    assert Network([4, 5, 5, 1], hidden=["tanh", "tanh"]).hidden == "tanh"  # one name repeated is that name
    with pytest.raises(ValueError, match="hidden lists 1 activations but the network has 2 hidden layers"):
        Network([4, 5, 5, 1], hidden=["relu"])
    with pytest.raises(ValueError, match=r"hidden\[1\]"):
        Network([4, 5, 5, 1], hidden=["relu", "swish"])
    net = Network([4, 5, 5, 1], hidden=["relu", "sigmoid"], seed=3)
    assert net.hidden_layers == ["relu", "sigmoid"]
    with pytest.raises(ValueError, match="different activations"):
        Network([4, 5, 5, 1], hidden=["relu", "sigmoid"], strategy="native").fit(
            rng.standard_normal((4, 64)), rng.integers(0, 2, 64), batch_size=32, progress=False)
    net.save(tmp_path / "m.npz")
    again = Network.load(tmp_path / "m.npz")
    X = rng.standard_normal((4, 9))
    assert again.hidden == ["relu", "sigmoid"]
    np.testing.assert_array_equal(again.predict_proba(X), net.predict_proba(X))
