"""The route of a training step: decided by fastdnn.plan, reported by net.plan, and every route right.

Every strategy is run on every output, hidden activation, dtype and
optimizer (m = 1 and odd widths included) and compared with the plain-NumPy
step of :mod:`fastdnn.reference`; the route that ran is read from
``net.last_plan`` and must be the one ``net.plan`` announced.  A forced
strategy that cannot serve a case must refuse it with the reason ``plan``
gives, before any step.
"""

import pickle
import re

import numpy as np
import pytest

import fastdnn
from fastdnn import config
from fastdnn import optimizers
from fastdnn import plan as plan_mod
from fastdnn import reference as ref
from fastdnn.network import HIDDEN, OUTPUTS, Network

TWO_CORES = plan_mod.Machine(workers=2, can_pin_blas=True, gemm=True, blas="openblas", blas_threads=2, cores=2)
LEARNING_RATE = 0.02
# Float32 against a float64 reference after a few steps of the optimizer.
TOLERANCE = {np.float64: dict(rtol=1e-9, atol=1e-11), np.float32: dict(rtol=2e-3, atol=2e-4)}


class SubclassedAdam(optimizers.Adam):
    """An Adam with its own step (the parent's here, but the native blocks cannot know it): it steps in Python."""

    def step(self, *args, **kwargs):
        super().step(*args, **kwargs)


class RenamedAdam(optimizers.Adam):
    """A subclass that keeps Adam's step: Adam's native form still holds."""


def make_problem(rng, dims, output, m, dtype):
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    k = dims[-1]
    if output == "sigmoid":
        Y = (rng.random((k, m)) > 0.5).astype(dtype)
    elif output == "softmax":
        Y = np.eye(k, dtype=dtype)[:, rng.integers(0, k, m)]
    elif output == "poisson":
        Y = rng.poisson(1.5, (k, m)).astype(dtype)
    else:
        Y = rng.standard_normal((k, m)).astype(dtype)
    return X, Y


def reference_training(parameters, X, Y, hidden, output, optimizer, batches, epochs, leaky_slope=0.01):
    """The parameters after ``epochs`` passes over ``batches`` (column slices, in order) in plain NumPy."""
    params = {key: value.astype(np.float64) for key, value in parameters.items()}
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    state, t = {}, 0
    for _ in range(epochs):
        for columns in batches:
            _, grads = ref.network_cost_and_gradients(params, X[:, columns], Y[:, columns], hidden, output,
                                                      leaky_slope)
            t += 1
            params = ref.optimizer_step(params, grads, state, optimizer, LEARNING_RATE, t)
    return params


def assert_parameters(net, expected, dtype, message):
    for key, value in expected.items():
        np.testing.assert_allclose(net.parameters[key], value, **TOLERANCE[dtype], err_msg=f"{message}: {key}")


def _cases():
    # One parametrized set: strategy x output x hidden x dtype x optimizer, each run on the
    # three kinds of step (m = 1 whole, odd widths whole, odd widths in mini-batches).
    for strategy in plan_mod.STRATEGIES:
        for output in OUTPUTS:
            for hidden in HIDDEN:
                for dtype in (np.float64, np.float32):
                    for optimizer in ("sgd", "momentum", "adam"):
                        yield pytest.param(strategy, output, hidden, dtype, optimizer,
                                           id=f"{strategy}-{output}-{hidden}-{np.dtype(dtype).name}-{optimizer}")


@pytest.mark.parametrize("strategy, output, hidden, dtype, optimizer", list(_cases()))
def test_every_route_trains_like_the_reference(strategy, output, hidden, dtype, optimizer, rng):
    k = 3 if output == "softmax" else 1
    # (m = 50 in batches of 16 ends with a batch of 2.)
    for dims, m, batch in (([5, 3, k], 1, None), ([7, 9, 5, k], 37, None), ([7, 9, 5, k], 50, 16)):
        what = f"dims {dims}, m {m}, batch {batch}"
        X, Y = make_problem(rng, dims, output, m, dtype)
        net = Network(dims, hidden=hidden, output=output, dtype=dtype, init="he", seed=5, strategy=strategy)
        start = {key: value.copy() for key, value in net.parameters.items()}
        try:
            plan = net.plan(batch or m, m=m, optimizer=optimizer)
        except ValueError as refusal:
            # Only these cannot be served: fit in dual form, native blocks on one column.
            assert strategy == "dual" or (strategy == "native" and m == 1), f"{strategy} refused {what}: {refusal}"
            with pytest.raises(ValueError, match=re.escape(str(refusal))):
                net.fit(X, Y, epochs=2, batch_size=batch, optimizer=optimizer, learning_rate=LEARNING_RATE,
                        shuffle=False, progress=False)
            for key, value in start.items():
                np.testing.assert_array_equal(net.parameters[key], value, err_msg=f"refused, yet trained: {what}")
            continue
        assert strategy in ("auto", plan.strategy), what
        net.fit(X, Y, epochs=2, batch_size=batch, optimizer=optimizer, learning_rate=LEARNING_RATE, shuffle=False,
                progress=False)
        ran = net.last_plan
        assert (ran.strategy, ran.route, ran.blocks) == (plan.strategy, plan.route, plan.blocks), what
        step = batch or m
        batches = [slice(s, s + step) for s in range(0, m, step)]
        expected = reference_training(start, X, Y, hidden, output, optimizer, batches, epochs=2)
        assert_parameters(net, expected, dtype, f"{strategy} ({ran.route}), {what}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("strategy", plan_mod.STRATEGIES)
def test_every_route_runs_the_course_descent_like_the_reference(strategy, hidden, dtype, rng):
    # fit_course: m = 3 < n_x = 6 (the dual form's case under "auto") and m = 40 > n_x.
    for m in (3, 40):
        dims = [6, 5, 4, 1]
        X, Y = make_problem(rng, dims, "sigmoid", m, dtype)
        net = Network(dims, hidden=hidden, dtype=dtype, init="he", seed=2, strategy=strategy)
        start = {key: value.copy() for key, value in net.parameters.items()}
        try:
            plan = net.plan(m, course=True)
        except ValueError as refusal:
            assert strategy != "auto"
            with pytest.raises(ValueError, match=re.escape(str(refusal))):
                net.fit_course(X, Y, learning_rate=LEARNING_RATE, num_iterations=4)
            continue
        net.fit_course(X, Y, learning_rate=LEARNING_RATE, num_iterations=4)
        assert net.last_plan.route == plan.route
        if strategy == "auto" and m < dims[0]:
            assert plan.route == "dual"
        expected = reference_training(start, X, Y, hidden, "sigmoid", "sgd", [slice(0, m)], epochs=4)
        assert_parameters(net, expected, dtype, f"{strategy} ({plan.route}), m {m}")


# ---------------------------------------------------------------- the table of routes

#: The cases the issue names, on a 2-core machine with a BLAS fastdnn can hold at one thread.
ROUTE_TABLE = [
    # name, layer_dims, dtype, batch, m, optimizer, dropout, course, route
    ("cat train_step", [12288, 20, 7, 5, 1], np.float64, 209, None, "sgd", 0.0, False, "plain-sgd-in-products"),
    ("cat full batch Adam", [12288, 20, 7, 5, 1], np.float64, 209, None, "adam", 0.0, False, "native-whole-batch"),
    ("digits batch 200 Adam", [64, 100, 10], np.float64, 200, 1797, "adam", 0.0, False, "native-update"),
    ("digits, an Adam subclass", [64, 100, 10], np.float64, 200, 1797, SubclassedAdam(), 0.0, False,
     "native-gradient"),
    ("digits, an Adam subclass keeping its step", [64, 100, 10], np.float64, 200, 1797, RenamedAdam(), 0.0, False,
     "native-update"),
    ("digits with dropout", [64, 100, 10], np.float64, 200, 1797, "adam", 0.2, False, "plain"),
    ("784-256-256-10 batch 4096", [784, 256, 256, 10], np.float32, 4096, 60000, "adam", 0.0, False, "native-update"),
    ("784-256-256-10 batch 128", [784, 256, 256, 10], np.float32, 128, 60000, "adam", 0.0, False, "native-update"),
    ("784-256-256-10 batch 4096, dropout", [784, 256, 256, 10], np.float32, 4096, 60000, "adam", 0.1, False,
     "threads"),
    ("fit_course on the cat data", [12288, 20, 7, 5, 1], np.float64, 209, None, "sgd", 0.0, True, "dual"),
    ("fit_course, more examples than features", [20, 7, 5, 1], np.float64, 2000, None, "sgd", 0.0, True,
     "native-whole-batch"),
]


def _case(batch, m, optimizer, dropout, course):
    kind = plan_mod.optimizer_kind(optimizers.get_optimizer(optimizer))
    if course:
        return plan_mod.Case("course", batch)
    if m is not None and m > batch:
        return plan_mod.Case("mini-batches", batch, dropout > 0, kind)
    return plan_mod.Case("whole", batch, dropout > 0, kind)


@pytest.mark.parametrize("name, dims, dtype, batch, m, optimizer, dropout, course, route", ROUTE_TABLE,
                         ids=[row[0] for row in ROUTE_TABLE])
def test_the_table_of_routes(name, dims, dtype, batch, m, optimizer, dropout, course, route):
    plan = plan_mod.decide(dims, np.dtype(dtype), "auto", _case(batch, m, optimizer, dropout, course), TWO_CORES)
    assert plan.route == route, f"{name}: {plan}"
    assert plan.reason and plan.batch == batch
    assert (plan.blocks > 1) == (route in ("threads", "native-update", "native-gradient", "native-whole-batch"))


@pytest.mark.parametrize("name, dims, dtype, batch, m, optimizer, dropout, course, route", ROUTE_TABLE,
                         ids=[row[0] for row in ROUTE_TABLE])
def test_net_plan_reports_the_table_on_this_machine(name, dims, dtype, batch, m, optimizer, dropout, course, route):
    facts = plan_mod.machine(dtype)
    net = Network(dims, dtype=dtype, output="softmax" if dims[-1] > 1 else "sigmoid")
    plan = net.plan(batch, m=m, optimizer=optimizer, dropout=dropout, course=course)
    assert plan == plan_mod.decide(dims, np.dtype(dtype), "auto", _case(batch, m, optimizer, dropout, course), facts)
    if facts.workers >= 2 and facts.can_pin_blas and facts.gemm:
        assert plan.route == route, f"{name}: {plan}"


@pytest.mark.skipif(plan_mod.machine(np.float64).workers < 2, reason="the blocked routes need 2 cores")
@pytest.mark.parametrize("row", [0, 1, 3, 4, 8], ids=lambda i: ROUTE_TABLE[i][0])
def test_the_steps_of_the_table_take_the_planned_route(row, rng):
    # The cat-sized rows run for real (a step or two each): what ran is what plan said.
    name, dims, dtype, batch, m, optimizer, dropout, course, route = ROUTE_TABLE[row]
    m = m or batch
    net = Network(dims, dtype=dtype, output="softmax" if dims[-1] > 1 else "sigmoid")
    X, Y = make_problem(rng, dims, net.output, m, dtype)
    plan = net.plan(batch, m=m, optimizer=optimizer, dropout=dropout, course=course)
    if course:
        net.fit_course(X, Y, num_iterations=2)
    elif name == "cat train_step":
        net.train_step(X, Y, 0.01)
    else:
        net.fit(X, Y, epochs=1, batch_size=None if m == batch else batch, optimizer=optimizer, dropout=dropout,
                progress=False)
    # (The last step of the digits rows is the last, smaller batch: its plan has its own batch size.)
    ran = net.last_plan
    assert (ran.strategy, ran.route) == (plan.strategy, plan.route) and plan.route == route, \
        f"{name}: planned {plan}, ran {ran}"


# ---------------------------------------------------------------- the plan's other promises


def test_without_a_pinnable_blas_the_plan_says_why():
    no_pin = TWO_CORES._replace(can_pin_blas=False)
    plan = plan_mod.decide([64, 100, 10], np.dtype(np.float64), "auto",
                           plan_mod.Case("mini-batches", 200, optimizer="native"), no_pin)
    assert plan.route == "plain" and "threadpoolctl" in plan.reason
    for strategy in ("native", "threads"):
        with pytest.raises(ValueError, match="threadpoolctl"):
            plan_mod.decide([64, 100, 10], np.dtype(np.float64), strategy,
                            plan_mod.Case("mini-batches", 200, optimizer="native"), no_pin)


def test_a_plain_install_has_what_the_fast_routes_need():
    # threadpoolctl is a core dependency: a "pip install fastdnn" reaches the blocked routes.
    import importlib.metadata

    requires = importlib.metadata.requires("fastdnn") or []
    core = [r for r in requires if "extra ==" not in r]
    assert any(r.startswith("threadpoolctl") for r in core), core


@pytest.mark.parametrize("strategy, refusal", [
    ("native", "dropout"),
    ("dual", "fit_course"),
])
def test_a_forced_strategy_that_cannot_serve_says_why(strategy, refusal, rng):
    net = Network([8, 6, 1], strategy=strategy)
    X, Y = make_problem(rng, [8, 6, 1], "sigmoid", 64, np.float64)
    with pytest.raises(ValueError, match=f"strategy='{strategy}' cannot run this step: .*{refusal}"):
        net.fit(X, Y, batch_size=32, dropout=0.5, progress=False)


def test_fit_course_dual_false_refuses_the_dual_strategy(rng):
    X, Y = make_problem(rng, [8, 6, 1], "sigmoid", 4, np.float64)
    with pytest.raises(ValueError, match="dual=False"):
        Network([8, 6, 1], strategy="dual").fit_course(X, Y, num_iterations=1, dual=False)


def test_changing_the_strategy_changes_the_plan_of_the_same_batch(rng):
    # The old plan cache was keyed by the batch size alone: after a fit,
    # column_blocks = False still got the blocked plan.
    X, Y = make_problem(rng, [64, 100, 10], "softmax", 400, np.float64)
    net = Network([64, 100, 10], output="softmax")
    net.fit(X, Y, batch_size=200, optimizer="adam", progress=False)
    net.column_blocks = False
    assert net.strategy == "plain"
    net.fit(X, Y, batch_size=200, optimizer="adam", progress=False)
    assert net.last_plan.route == "plain"
    net.column_blocks = True
    assert net.strategy == "threads" and net.column_blocks is True
    assert net.plan(200, m=400, optimizer="adam").route == "threads"


def test_the_strategy_is_validated_saved_and_pickled(tmp_path):
    with pytest.raises(ValueError, match="strategy"):
        Network([4, 3, 1], strategy="fast")
    with pytest.raises(ValueError, match="column_blocks"):
        Network([4, 3, 1]).column_blocks = "yes"
    net = Network([4, 3, 1], strategy="plain")
    assert pickle.loads(pickle.dumps(net)).strategy == "plain"
    net.save(tmp_path / "net.npz")
    assert Network.load(tmp_path / "net.npz").strategy == "plain"
    assert Network.load(tmp_path / "net.npz").plan(64).strategy == "plain"


def test_the_route_is_where_users_look(rng, capsys, caplog):
    X, Y = make_problem(rng, [8, 6, 1], "sigmoid", 64, np.float64)
    net = Network([8, 6, 1])
    with caplog.at_level("DEBUG", logger="fastdnn"):
        net.fit(X, Y, batch_size=32, progress=False, verbose=True)
    line = capsys.readouterr().out
    assert line.startswith("fastdnn: ") and net.last_plan.route in line and net.last_plan.reason in line
    assert any(str(net.last_plan) in record.getMessage() for record in caplog.records)


def test_plan_is_pure_and_cached(monkeypatch):
    net = Network([64, 100, 10], output="softmax")
    first = net.plan(200, m=1797, optimizer="adam")
    assert net.plan(200, m=1797, optimizer="adam") is first
    assert not net._schedule.open_executors and net.last_plan is None  # nothing started, nothing ran
    monkeypatch.setattr(config, "NATIVE_BLOCK_MIN_COLUMNS", 1 << 20)
    assert net.plan(200, m=1797, optimizer="adam") is first  # kept until the strategy changes
    net.strategy = "plain"
    net.strategy = "auto"
    assert net.plan(200, m=1797, optimizer="adam").route != "native-update"


def test_the_bench_table_has_a_route_column():
    from fastdnn import bench

    row = bench.run_case([16, 8, 1], 64, np.float64, repeats=1, with_torch=False, sample_seconds=0.0)
    assert row["route"] == Network([16, 8, 1]).plan(64).route
    assert "route" in bench.table_columns(False)
    assert row["route"] in bench.table_cells(row, False)


@pytest.mark.parametrize("n_blocks", [2, 3, 4])
def test_column_blocks_are_never_empty(n_blocks):
    # Forced threads on a batch of a few columns gave an empty block (edges on multiples of 8), whose 0/0
    # cost stopped training with a NaN.
    from fastdnn import workers

    for m in range(n_blocks, 80):
        ranges = workers.split_columns(m, n_blocks)
        assert ranges[0][0] == 0 and ranges[-1][1] == m
        assert all(j1 > j0 for j0, j1 in ranges), (m, ranges)
        assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:]))


# Two epochs of 200 examples on [12, 16, 3] (a small step: native blocks where the data allow).
# A full batch of row-per-example data runs plain (native blocks read C-ordered columns in
# place); data the session cannot gather itself are gathered per batch into C order (native
# blocks per batch), and the last batch of 8 columns is too small for two blocks.
ROUTES_BY_LAYOUT = {
    ("columns", None): {"native-whole-batch": 2}, ("columns", 64): {"native-update": 8},
    ("rows", None): {"plain": 2}, ("rows", 64): {"native-update": 8},
    ("fortran", None): {"plain": 2}, ("fortran", 64): {"native-update": 8},
    ("float32 data", None): {"native-whole-batch": 2}, ("float32 data", 64): {"native-whole-batch": 6, "plain": 2},
    ("memory map", None): {"native-whole-batch": 2}, ("memory map", 64): {"native-whole-batch": 6, "plain": 2},
    ("strided", None): {"native-whole-batch": 2}, ("strided", 64): {"native-update": 8},
}


@pytest.mark.parametrize("layout", ["columns", "rows", "fortran", "float32 data", "memory map", "strided"])
@pytest.mark.parametrize("batch", [None, 64])
def test_what_ran_is_what_plan_said_for_every_layout(layout, batch, rng, tmp_path):
    # The data's layout decides whether native blocks read it in place: the plan the fit
    # reports, and the route its steps counted, follow it.
    dims, m = [12, 16, 3], 200
    X = rng.standard_normal((dims[0], m))
    y = rng.integers(0, 3, m)
    if layout == "rows":
        X = np.ascontiguousarray(X.T).T
    elif layout == "fortran":
        X = np.asfortranarray(X)
    elif layout == "float32 data":
        X = X.astype(np.float32)
    elif layout == "memory map":
        mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=np.float64, shape=X.shape)
        mapped[...] = X
        X = mapped
    elif layout == "strided":
        X = np.concatenate([X, X])[::2]
    net = Network(dims, output="softmax", seed=4)
    net.fit(X, y, epochs=2, batch_size=batch, optimizer="adam", progress=False)
    assert sum(net.steps_by_route.values()) == 2 * (1 if batch is None else -(-m // batch))
    facts = plan_mod.machine(np.float64)
    if facts.workers >= 2 and facts.can_pin_blas and facts.gemm:
        assert net.steps_by_route == ROUTES_BY_LAYOUT[layout, batch]
    ran = net.last_plan
    plain = Network(dims, output="softmax", seed=4, strategy="plain")
    plain.fit(X, y, epochs=2, batch_size=batch, optimizer="adam", progress=False)
    np.testing.assert_allclose(net.params, plain.params, rtol=1e-9, atol=1e-12, err_msg=f"{layout}: {ran}")


def test_a_refused_fit_leaves_the_optimizer_and_its_state(rng):
    X, Y = make_problem(rng, [8, 6, 1], "sigmoid", 64, np.float64)
    net = Network([8, 6, 1])
    net.fit(X, Y, epochs=3, optimizer="adam", progress=False)
    state, optimizer, t = net.state.copy(), net.model_state.optimizer, net.model_state.t
    net.strategy = "native"
    with pytest.raises(ValueError, match="dropout"):
        net.fit(X, Y, optimizer="momentum", dropout=0.5, progress=False)
    assert net.model_state.optimizer is optimizer and net.model_state.t == t
    np.testing.assert_array_equal(net.state, state)


def test_column_blocks_true_runs_the_small_last_batch_too(rng):
    # The deprecated alias used to run a batch smaller than the threads unsplit; "threads" now
    # gives it as many blocks as it has columns.
    X, Y = make_problem(rng, [8, 6, 1], "sigmoid", 65, np.float64)
    net = Network([8, 6, 1])
    net.column_blocks = True
    history = net.fit(X, Y, epochs=2, batch_size=32, progress=False)
    assert net.last_plan.route == "threads" and net.last_plan.blocks == 1
    plain = Network([8, 6, 1], strategy="plain")
    np.testing.assert_allclose(plain.fit(X, Y, epochs=2, batch_size=32, progress=False)["cost"], history["cost"],
                               rtol=1e-12)
    one = np.ascontiguousarray(X[:, :1]), Y[:, :1]
    assert net.train_step(*one, 0.01) == pytest.approx(plain.train_step(*one, 0.01), rel=1e-12)
    assert net.last_plan.route == "threads" and net.last_plan.blocks == 1


@pytest.mark.parametrize("strategy, dual, route", [
    ("plain", "auto", "dual"), ("threads", "auto", "threads"), ("native", True, "dual"), ("auto", False, "plain"),
])
def test_fit_course_keeps_the_dual_form_as_before(strategy, dual, route, rng):
    # column_blocks = False (now "plain") kept the dual form where it pays, and dual=True always ran it.
    X, Y = make_problem(rng, [50, 4, 1], "sigmoid", 10, np.float64)
    net = Network([50, 4, 1], strategy=strategy)
    net.fit_course(X, Y, num_iterations=2, dual=dual)
    assert net.last_plan.route == route


def test_a_step_whose_native_threads_are_busy_takes_the_next_best_route():
    # [784, 256, 256, 10] at 4096 in float32 would run native; busy, "auto" gives it the worker
    # threads (as a large step), a network held to "native" runs plain rather than wait.
    dims, dtype = [784, 256, 256, 10], np.dtype(np.float32)
    case = plan_mod.Case("mini-batches", 4096, optimizer="native")
    assert plan_mod.decide(dims, dtype, "auto", case, TWO_CORES).route == "native-update"
    busy = plan_mod.when_busy(dims, dtype, "auto", case, TWO_CORES)
    assert busy.route == "threads" and plan_mod.BUSY in busy.reason and busy.case == case
    assert plan_mod.when_busy(dims, dtype, "native", case, TWO_CORES).route == "plain"
    small = plan_mod.Case("whole", 200, optimizer="native")
    assert plan_mod.when_busy([64, 100, 10], np.dtype(np.float64), "auto", small, TWO_CORES).route == "plain"
    # A plain-SGD step already under way without its in-product update stays plain.
    cat = plan_mod.Case("whole", 209)
    assert plan_mod.when_busy([12288, 20, 7, 5, 1], np.dtype(np.float64), "auto", cat, TWO_CORES).route == "plain"
