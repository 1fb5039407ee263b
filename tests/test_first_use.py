"""The route ``numpy`` (fastdnn.executors.numpy_route) and the first use that takes it (fastdnn.plan.first_use).

Its pass, output costs and optimizer steps are compared with the compiled
kernels they stand in for; its fits with the plain route's; the decision
with the compile probe (fastdnn.caching.compiled_for) faked either way;
and a fresh process on an empty cache, which must fit without compiling a
route.
"""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import fastdnn
from fastdnn import caching, passes, schedule as schedule_mod
from fastdnn import plan as plan_mod
from fastdnn.executors import numpy_route
from fastdnn.kernels import activation as act
from fastdnn.kernels import update
from fastdnn.network import Network
from fastdnn.optimizers import SGD, Adam, AdamW, Momentum
from fastdnn.outputs import OUTPUTS

TOL = {np.float64: 1e-10, np.float32: 2e-4}


def _problem(rng, dims, m, output, dtype):
    X = np.ascontiguousarray(rng.standard_normal((dims[0], m)), dtype=dtype)
    k = dims[-1]
    if output == "softmax":
        Y = np.zeros((k, m), dtype=dtype)
        Y[rng.integers(0, k, m), np.arange(m)] = 1.0
    elif output == "sigmoid":
        Y = (rng.random((k, m)) < 0.5).astype(dtype)
    elif output == "poisson":
        Y = rng.poisson(1.5, (k, m)).astype(dtype)
    else:
        Y = rng.standard_normal((k, m)).astype(dtype)
    return X, Y


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("hidden", sorted(act.CODES))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("m", [1, 37])
@pytest.mark.parametrize("weighted", [False, True])
def test_the_numpy_pass_is_the_compiled_pass(output, hidden, dtype, m, weighted, rng):
    dims = [9, 13, 6, 3]  # odd widths
    net = Network(dims, hidden=hidden, output=output, dtype=dtype, seed=4)
    state = net.model_state
    X, Y = _problem(rng, dims, m, output, dtype)
    weights = None
    if weighted:
        weights = rng.random(m) + 0.1
        weights /= weights.mean()
    ws = state.workspace(m)
    expected_cost = passes.gradient(state, X, Y, ws, 1.0 / m, count=True, weights=weights)
    expected_grads, expected_out, expected_count = state.grads.copy(), ws.A[-1].copy(), ws.count[0]
    state.grads[...] = np.nan  # every entry must be written
    ws.count[0] = -1
    cost = numpy_route.gradient(state, X, Y, ws, 1.0 / m, count=True, weights=weights)
    tol = TOL[dtype]
    assert cost == pytest.approx(expected_cost, rel=tol, abs=tol)
    np.testing.assert_allclose(state.grads, expected_grads, rtol=tol, atol=tol * np.abs(expected_grads).max())
    np.testing.assert_allclose(ws.A[-1], expected_out, rtol=tol, atol=tol)
    if state.head.counts:
        assert ws.count[0] == expected_count


def test_the_numpy_pass_reads_mixed_activations_and_f_ordered_inputs(rng):
    dims = [8, 11, 7, 5, 2]
    net = Network(dims, hidden=["tanh", "leaky_relu", "sigmoid"], output="sigmoid", seed=2)
    state = net.model_state
    X, Y = _problem(rng, dims, 21, "sigmoid", np.float64)
    ws = state.workspace(21)
    expected = passes.gradient(state, X, Y, ws, 1 / 21)
    grads = state.grads.copy()
    assert numpy_route.gradient(state, np.asfortranarray(X), Y, ws, 1 / 21) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(state.grads, grads, rtol=1e-10, atol=1e-14)


def test_a_non_finite_cost_skips_the_backward_pass(rng):
    net = Network([4, 5, 1], output="linear", seed=0)
    state = net.model_state
    X, Y = _problem(rng, [4, 5, 1], 6, "linear", np.float64)
    X[0, 2] = np.inf
    state.grads[...] = 7.0
    cost = numpy_route.gradient(state, X, Y, state.workspace(6), 1 / 6)
    assert not np.isfinite(cost)
    assert np.all(state.grads == 7.0)


OPTIMIZERS = [SGD(), Momentum(0.8), Momentum(0.9, nesterov=True), Adam(0.85, 0.99, 1e-7), AdamW(weight_decay=0.1),
              AdamW(weight_decay=0.05, decay_biases=True)]


@pytest.mark.parametrize("optimizer", OPTIMIZERS, ids=repr)
@pytest.mark.parametrize("decay", [0.0, 0.03])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_each_numpy_step_is_its_kernel(optimizer, decay, dtype, rng):
    p, n_decay = 301, 200
    params = rng.standard_normal(p).astype(dtype)
    slots = [np.abs(rng.standard_normal(p)).astype(dtype) for _ in range(optimizer.n_slots)]
    grads = rng.standard_normal(p).astype(dtype)
    expected, expected_slots = params.copy(), [s.copy() for s in slots]
    assert optimizer.numpy_form()
    # With a rollback copy, as a fit steps (AdamW's decay then reads the weights the step started from).
    keep = np.empty((1 + optimizer.n_slots) * p, dtype=dtype)
    optimizer.step(expected, grads, expected_slots, 0.01, decay, n_decay, 3, keep=keep)
    optimizer.numpy_step(params, grads, slots, 0.01, decay, n_decay, 3)
    tol = TOL[dtype]
    np.testing.assert_allclose(params, expected, rtol=tol, atol=tol)
    for got, want in zip(slots, expected_slots):
        np.testing.assert_allclose(got, want, rtol=tol, atol=tol)


def test_a_subclass_that_changes_step_has_no_numpy_step():
    class Halved(Adam):
        def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
            super().step(params, grads, slots, learning_rate / 2, decay, n_decay, t, keep)

    assert not Halved().numpy_form()
    net = Network([3, 4, 1], strategy="numpy")
    X, Y = np.ones((3, 8)), np.ones((1, 8))
    with pytest.raises(ValueError, match="no NumPy step"):
        net.fit(X, Y, optimizer=Halved(), progress=False)


@pytest.mark.parametrize("clip", [(0.0, 0.5), (0.01, 0.0), (0.02, 0.3)])
def test_numpy_clipping_is_the_kernel(clip, rng):
    grad = rng.standard_normal(500) * 0.05
    expected = grad.copy()
    norm = update.clip_gradient(expected, *clip)
    assert numpy_route.clip_gradient(grad, *clip) == pytest.approx(norm, rel=1e-12)
    np.testing.assert_allclose(grad, expected, rtol=1e-12, atol=1e-15)


def _fit_both(rng, dtype=np.float64, **options):
    dims = [10, 16, 9, 4]
    X, Y = _problem(rng, dims, 150, "softmax", dtype)
    weights = options.pop("weights", False)
    if weights:
        options["sample_weight"] = rng.random(150) + 0.5
    nets = []
    for strategy in ("plain", "numpy"):
        net = Network(dims, output="softmax", dtype=dtype, seed=7, strategy=strategy)
        net.fit(X, Y, epochs=4, batch_size=32, progress=False, **options)
        nets.append(net)
    return nets


@pytest.mark.parametrize("options", [
    {"optimizer": "adam", "learning_rate": 1e-2},
    {"optimizer": "momentum", "learning_rate": 0.05, "l2": 0.1},
    {"optimizer": "sgd", "learning_rate": 0.1, "clip_norm": 0.5},
    {"optimizer": "adamw", "learning_rate": 1e-2, "weights": True},
    {"optimizer": AdamW(weight_decay=0.5), "learning_rate": 1e-2, "l2": 1.0},
    {"optimizer": "sgd", "learning_rate": 0.1, "l2": 0.2, "batch_size": None},
], ids=lambda o: ",".join(f"{k}={v}" if k == "optimizer" else k for k, v in o.items()))
def test_a_fit_on_the_numpy_route_is_the_plain_routes(options, rng):
    if options.get("batch_size", 1) is None:
        options = {k: v for k, v in options.items() if k != "batch_size"}
        plain, numpy_net = [Network([10, 16, 9, 4], output="softmax", seed=7, strategy=s) for s in ("plain", "numpy")]
        X, Y = _problem(rng, [10, 16, 9, 4], 150, "softmax", np.float64)
        for net in (plain, numpy_net):
            net.fit(X, Y, epochs=5, progress=False, **options)
    else:
        plain, numpy_net = _fit_both(rng, **options)
    assert set(numpy_net.steps_by_route) == {"numpy"}
    assert "numpy" not in plain.steps_by_route
    np.testing.assert_allclose(numpy_net.model_state.params, plain.model_state.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(numpy_net.history["cost"], plain.history["cost"], rtol=1e-9)
    assert numpy_net.history["accuracy"] == plain.history["accuracy"]


def test_a_float32_fit_on_the_numpy_route_is_close(rng):
    plain, numpy_net = _fit_both(rng, np.float32, optimizer="adam", learning_rate=1e-2)
    np.testing.assert_allclose(numpy_net.model_state.params, plain.model_state.params, rtol=1e-3, atol=1e-4)


def test_a_diverging_numpy_fit_rolls_back_and_says_so(rng):
    net = Network([4, 8, 1], output="linear", strategy="numpy", seed=0)
    X, Y = _problem(rng, [4, 8, 1], 40, "linear", np.float64)
    Y *= 1e200
    with pytest.raises(FloatingPointError, match="diverged"):
        net.fit(X, Y, epochs=3, learning_rate=10.0, progress=False)
    assert np.all(np.isfinite(net.model_state.params))


@pytest.mark.parametrize("kwargs, why", [
    ({"dropout": 0.2}, "no dropout"),
])
def test_the_numpy_strategy_refuses_what_it_cannot_run(kwargs, why, rng):
    net = Network([4, 6, 1], strategy="numpy")
    X, Y = _problem(rng, [4, 6, 1], 20, "sigmoid", np.float64)
    with pytest.raises(plan_mod.StrategyRefused, match=why):
        net.fit(X, Y, progress=False, **kwargs)


def test_the_numpy_strategy_runs_train_step(rng):
    nets = [Network([5, 7, 2], output="sigmoid", seed=1, strategy=s) for s in ("plain", "numpy")]
    X, Y = _problem(rng, [5, 7, 2], 30, "sigmoid", np.float64)
    costs = [[net.train_step(X, Y, 0.3) for _ in range(3)] for net in nets]
    np.testing.assert_allclose(costs[1], costs[0], rtol=1e-12)
    np.testing.assert_allclose(nets[1].model_state.params, nets[0].model_state.params, rtol=1e-12, atol=1e-15)
    assert nets[1].last_plan.route == "numpy"


# ---------------------------------------------------------------- the first use


@pytest.fixture
def cold(monkeypatch):
    """No route compiled (as in a new environment), the first use on, the process's NumPy time at 0."""
    monkeypatch.setattr(schedule_mod, "route_compiled", lambda strategy, dtype: False)
    monkeypatch.setattr(schedule_mod, "_first_use_spent", [0.0])
    with fastdnn.options(first_use_seconds=5.0):
        yield


def test_a_short_fit_on_a_cold_cache_takes_the_numpy_route(cold, rng, caplog):
    net = Network([10, 16, 4], output="softmax", seed=0)
    X, Y = _problem(rng, [10, 16, 4], 100, "softmax", np.float64)
    with caplog.at_level("WARNING", logger="fastdnn"):
        net.fit(X, Y, epochs=2, batch_size=25, progress=False)
        net.fit(X, Y, epochs=2, batch_size=25, progress=False)
    assert set(net.steps_by_route) == {"numpy"}
    assert net.last_plan.reason.startswith("first use: the ")
    assert "not compiled" in net.last_plan.reason
    # Said once a process, with the way out.
    said = [r.getMessage() for r in caplog.records if "not compiled for this machine yet" in r.getMessage()]
    assert len(said) == 1 and "fastdnn warmup" in said[0]


def test_a_warm_cache_keeps_the_compiled_route(monkeypatch, rng):
    monkeypatch.setattr(schedule_mod, "route_compiled", lambda strategy, dtype: True)
    with fastdnn.options(first_use_seconds=5.0):
        net = Network([10, 16, 4], output="softmax", seed=0)
        X, Y = _problem(rng, [10, 16, 4], 100, "softmax", np.float64)
        net.fit(X, Y, epochs=2, batch_size=25, progress=False)
    assert "numpy" not in net.steps_by_route


def test_a_long_fit_compiles_rather_than_run_in_numpy(cold, rng):
    net = Network([300, 512, 512, 10], output="softmax", seed=0)
    X, Y = _problem(rng, [300, 512, 512, 10], 64, "softmax", np.float64)
    steps = 100_000
    assert plan_mod.numpy_seconds(net.layer_dims, 64, steps) > 5.0
    net.fit(X, Y, epochs=steps, batch_size=64, progress=False, callback=lambda epoch, record: True)
    assert "numpy" not in net.steps_by_route


def test_the_process_spends_its_numpy_time_once(cold, monkeypatch, rng):
    """Steps asked one call at a time (train_step in a loop) leave the numpy route when the budget is spent."""
    monkeypatch.setattr(plan_mod, "NUMPY_SECONDS_A_STEP", 2.0)  # each step "costs" 2 s of the 5
    net = Network([6, 5, 1], seed=0)
    X, Y = _problem(rng, [6, 5, 1], 12, "sigmoid", np.float64)
    routes = []
    for _ in range(4):
        net.train_step(X, Y, 0.1)
        routes.append(net.last_plan.route)
    assert routes[:2] == ["numpy", "numpy"]
    assert "numpy" not in routes[2:]


@pytest.mark.parametrize("kwargs", [{"dropout": 0.1}, {"optimizer": "custom"}])
def test_the_first_use_leaves_what_numpy_cannot_run_to_the_compiled_routes(cold, kwargs, rng):
    if kwargs.get("optimizer") == "custom":
        class Doubled(SGD):
            def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
                super().step(params, grads, slots, 2 * learning_rate, decay, n_decay, t, keep)

        kwargs = {"optimizer": Doubled()}
    net = Network([6, 8, 1], seed=0)
    X, Y = _problem(rng, [6, 8, 1], 40, "sigmoid", np.float64)
    net.fit(X, Y, epochs=2, batch_size=10, progress=False, **kwargs)
    assert "numpy" not in net.steps_by_route


def test_an_explicit_strategy_is_never_replaced(cold, rng):
    net = Network([6, 8, 1], seed=0, strategy="plain")
    X, Y = _problem(rng, [6, 8, 1], 40, "sigmoid", np.float64)
    net.fit(X, Y, epochs=2, batch_size=10, progress=False)
    assert set(net.steps_by_route) == {"plain"}


@pytest.mark.filterwarnings("ignore:Stochastic Optimizer")
def test_the_estimator_fits_on_the_numpy_route_when_cold(monkeypatch, rng):
    X = rng.standard_normal((120, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    fits = {}
    for compiled in (True, False):
        monkeypatch.setattr(schedule_mod, "route_compiled", lambda strategy, dtype: compiled)
        monkeypatch.setattr(schedule_mod, "_first_use_spent", [0.0])
        with fastdnn.options(first_use_seconds=5.0):
            fits[compiled] = fastdnn.MLPClassifier(hidden_layer_sizes=(7,), max_iter=30, batch_size=40,
                                                   random_state=0).fit(X, y)
    assert set(fits[False].network_.steps_by_route) == {"numpy"}
    assert "numpy" not in fits[True].network_.steps_by_route
    np.testing.assert_allclose(fits[False].loss_curve_, fits[True].loss_curve_, rtol=1e-10)
    np.testing.assert_allclose(fits[False].coefs_[0], fits[True].coefs_[0], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("output", sorted(OUTPUTS))
def test_inference_on_a_cold_cache_is_the_compiled_inference(output, monkeypatch, rng):
    dims = [7, 9, 3]
    net = Network(dims, output=output, seed=5)
    X, Y = _problem(rng, dims, 300, output, np.float64)
    expected = net.predict_proba(X), net.evaluate(X, Y)
    monkeypatch.setattr(schedule_mod, "route_compiled", lambda strategy, dtype: False)
    with fastdnn.options(first_use_seconds=5.0):
        got = net.predict_proba(X), net.evaluate(X, Y)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12, atol=1e-15)
    assert got[1].keys() == expected[1].keys()
    for key in got[1]:
        assert got[1][key] == pytest.approx(expected[1][key], rel=1e-12)


@pytest.mark.parametrize("strategy", ["auto", "numpy"])
def test_a_streamed_fit_with_a_custom_optimizer_never_takes_its_parents_numpy_step(cold, strategy, rng):
    class Doubled(SGD):
        def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
            super().step(params, grads, slots, 2 * learning_rate, decay, n_decay, t, keep)

    X, Y = _problem(rng, [6, 8, 1], 40, "sigmoid", np.float64)
    batches = [(X[:, k:k + 10], Y[:, k:k + 10]) for k in range(0, 40, 10)]
    net = Network([6, 8, 1], seed=0, strategy=strategy)
    if strategy == "numpy":
        with pytest.raises(plan_mod.StrategyRefused, match="no NumPy step"):
            net.fit(batches, epochs=1, optimizer=Doubled(), progress=False)
        return
    net.fit(batches, epochs=1, optimizer=Doubled(), progress=False)
    assert "numpy" not in net.steps_by_route


def test_sparse_inference_on_a_cold_cache_keeps_the_sparse_products(monkeypatch, rng):
    sparse = pytest.importorskip("scipy.sparse")
    net = Network([30, 8, 1], seed=0)
    X = sparse.random(30, 50, density=0.2, format="csc", random_state=0)
    expected = net.predict_proba(X)
    monkeypatch.setattr(schedule_mod, "route_compiled", lambda strategy, dtype: False)
    with fastdnn.options(first_use_seconds=5.0):
        np.testing.assert_allclose(net.predict_proba(X), expected, rtol=1e-12)


def test_either_twin_of_a_kernel_counts_as_the_route_compiled(monkeypatch):
    from fastdnn.kernels import activation

    compiled = {activation._bias_activation_parallel, activation.activation_backward_serial}
    monkeypatch.setattr(caching, "compiled_for", lambda kernel, dtype: kernel in compiled)
    monkeypatch.setattr(schedule_mod, "_compiled_routes", set())
    monkeypatch.setattr(schedule_mod, "_not_compiled", {})
    assert schedule_mod.route_compiled("plain", np.float64)
    compiled.discard(activation.activation_backward_serial)
    monkeypatch.setattr(schedule_mod, "_compiled_routes", set())
    assert not schedule_mod.route_compiled("plain", np.float64)


# ---------------------------------------------------------------- the compile probe


def test_the_probe_sees_a_compile_of_this_process():
    from numba import njit

    @njit
    def doubled(x):
        return 2 * x

    assert not caching.compiled_for(doubled, np.float64)
    doubled(np.ones(3))
    assert caching.compiled_for(doubled, np.float64)
    assert not caching.compiled_for(doubled, np.float32)
    doubled(np.ones(3, dtype=np.float32))
    assert caching.compiled_for(doubled, np.float32)


def _run(code, cache, tmp_path, **env):
    environment = dict(os.environ, NUMBA_CACHE_DIR=str(cache), PYTHONPATH=os.pathsep.join(
        [str(tmp_path), os.path.dirname(os.path.dirname(os.path.abspath(fastdnn.__file__)))]), **env)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=environment, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_probe_reads_the_cache_of_another_process(tmp_path):
    (tmp_path / "probed.py").write_text(textwrap.dedent("""
        from numba import njit

        @njit(cache=True)
        def tripled(x):
            return 3 * x
    """))
    cache = tmp_path / "cache"
    probe = """
        import json, sys
        import numpy as np
        from fastdnn import caching
        import probed
        before = [caching.compiled_for(probed.tripled, t) for t in (np.float64, np.float32)]
        if sys.argv[-1:] != ["look"]:
            probed.tripled(np.ones(2))
        print(json.dumps(before))
    """
    assert _run(probe, cache, tmp_path) == [False, False]  # an empty cache
    assert _run(probe, cache, tmp_path) == [True, False]  # float64 in the cache the first process filled


def test_a_first_fit_in_a_new_environment_compiles_no_route(tmp_path):
    """A fresh process on an empty cache: the estimator's fit and score run in NumPy, the route kernels untouched."""
    result = _run("""
        import json
        import numpy as np
        import fastdnn
        from fastdnn import compiling
        rng = np.random.default_rng(0)
        X = rng.standard_normal((300, 12))
        y = (X[:, :3].sum(axis=1) > 0).astype(int)
        clf = fastdnn.MLPClassifier(max_iter=15, random_state=0).fit(X, y)
        clf.score(X, y)
        print(json.dumps({"routes": sorted(clf.network_.steps_by_route),
                          "kernels": sorted({name.split("(")[0] for name, _ in compiling.compiled()})}))
    """, tmp_path / "cache", tmp_path, FASTDNN_FIRST_USE_SECONDS="5")
    assert result["routes"] == ["numpy"]
    compiled = result["kernels"]
    assert not [name for name in compiled if "native_blocks._worker_loop" in name or "kernels.activation" in name
                or "loss." in name or "update." in name or "metrics." in name], compiled
