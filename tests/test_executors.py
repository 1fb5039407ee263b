"""The executors (fastdnn.executors): one protocol over every route, what each holds given back on close."""

import threading

import numpy as np
import pytest

from fastdnn import executors, passes, plan as plan_mod, threads
from fastdnn.network import Network
from fastdnn.optimizers import get_optimizer

needs_pinning = pytest.mark.skipif(not threads.can_pin_blas(),
                                   reason="worker and native blocks need threadpoolctl (the 'threads' extra)")


def _blas_threads():
    return [info["num_threads"] for info in threads.blas_info()]


def _block_threads():
    return sorted(t.name for t in threading.enumerate() if t.name.startswith("fastdnn-block-"))


def test_every_route_has_an_executor():
    assert set(executors.EXECUTORS) == set(plan_mod.ROUTES)
    for cls in executors.EXECUTORS.values():
        assert issubclass(cls, executors.Executor)


@pytest.mark.parametrize("strategy", ["plain", "threads", "native"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_executor_gradient_is_the_plain_pass(strategy, dtype, rng):
    """Every whole-batch executor's gradient and cost equal the one gradient pass on the calling thread."""
    if strategy != "plain" and not threads.can_pin_blas():
        pytest.skip("worker and native blocks need threadpoolctl (the 'threads' extra)")
    dims, m = [12, 24, 7, 3], 203  # odd widths and an odd batch
    net = Network(dims, output="softmax", dtype=dtype, strategy=strategy, seed=3)
    X = np.ascontiguousarray(rng.standard_normal((dims[0], m)), dtype=dtype)
    Y = np.zeros((dims[-1], m), dtype=dtype)
    Y[rng.integers(0, dims[-1], m), np.arange(m)] = 1.0
    state = net.model_state
    plan = net.plan(m)
    assert plan.strategy == strategy
    ws = state.workspace(m)
    with executors.open_executor(plan, state) as executor:
        cost = executor.gradient(executors.Batch(X, Y, 0, m), ws)
    grads = state.grads.copy()
    expected = passes.gradient(state, X, Y, ws, 1.0 / m)
    tol = 1e-12 if dtype == np.float64 else 2e-5
    assert cost == pytest.approx(expected, rel=tol)
    np.testing.assert_allclose(grads, state.grads, rtol=tol * 100, atol=tol)


def _softmax_problem(rng, dims, m, dtype=np.float64):
    X = np.ascontiguousarray(rng.standard_normal((dims[0], m)), dtype=dtype)
    Y = np.zeros((dims[-1], m), dtype=dtype)
    Y[rng.integers(0, dims[-1], m), np.arange(m)] = 1.0
    return X, Y


@needs_pinning
def test_threads_executor_gives_blas_back_also_when_a_block_raises(rng, monkeypatch):
    net = Network([64, 96, 80, 16], output="softmax", strategy="threads", seed=0)
    m = 1024
    X, Y = _softmax_problem(rng, [64, 96, 80, 16], m)
    before = _blas_threads()
    plan = net.plan(m)
    assert plan.route == "threads" and plan.blocks >= 2
    ws = net.model_state.workspace(m)
    executor = executors.open_executor(plan, net.model_state)
    executor.gradient(executors.Batch(X, Y, 0, m), ws)
    pool = executor.workers
    assert len(pool._threads) == plan.blocks - 1 and all(t.is_alive() for t in pool._threads)
    assert _blas_threads() == before  # held at one thread only inside the pass

    def failing(*args, **kwargs):
        raise RuntimeError("a block failed")

    monkeypatch.setattr(passes, "gradient", failing)
    with pytest.raises(RuntimeError, match="a block failed"):
        executor.gradient(executors.Batch(X, Y, 0, m), ws)
    assert _blas_threads() == before  # also after a block raised
    monkeypatch.undo()
    # The threads are the network's: one pool for every executor of the same number of blocks.
    other = executors.open_executor(net.plan(512), net.model_state)
    assert other.workers is pool


@needs_pinning
def test_the_worker_threads_end_with_their_network(rng):
    import gc

    net = Network([64, 96, 80, 16], output="softmax", strategy="threads", seed=0)
    X, Y = _softmax_problem(rng, [64, 96, 80, 16], 1024)
    net.fit(X, Y, epochs=1, progress=False)
    assert net.last_plan.route == "threads"
    started = [t for key, kept in net.model_state.executor_cache.items() if key[0] == "block-workers"
               for t in kept._threads]
    assert started and all(t.is_alive() for t in started)
    del net
    gc.collect()
    for t in started:
        t.join(timeout=10)
    assert not any(t.is_alive() for t in started)


@needs_pinning
def test_a_strategy_changed_by_a_callback_takes_effect_at_the_next_call(rng):
    """The running fit keeps its executors; the next call gets the new strategy's; no batch is kept."""
    import weakref

    from fastdnn import native_blocks

    dims = [16, 32, 4]
    X, Y = _softmax_problem(rng, dims, 600)
    net = Network(dims, output="softmax", seed=0)
    plan = net.plan(600)
    if plan.route != "native-whole-batch":
        pytest.skip(f"no native blocks for this step here: {plan.reason}")
    routes = []

    def flip(epoch, record):
        routes.append(net.last_plan.route)
        net.strategy = "plain"

    net.fit(X, Y, epochs=3, callback=flip, progress=False)
    assert routes == ["native-whole-batch"] * 3
    assert net.model_state.direct_session is None and native_blocks._attached is None
    net.fit(X, Y, epochs=1, progress=False)
    assert net.last_plan.route == "plain"
    # The caller's batch is not kept by any executor after a fit.
    net.strategy = "threads"
    X2, Y2 = _softmax_problem(rng, dims, 600)
    net.fit(X2, Y2, epochs=1, progress=False)
    assert net.last_plan.route == "threads"
    gone = weakref.ref(X2)
    del X2
    assert gone() is None


@needs_pinning
@pytest.mark.parametrize("batch_size", [None, 256])
def test_steps_whose_native_threads_are_busy_take_the_next_route_with_the_same_numbers(batch_size, rng):
    from fastdnn import native_blocks

    dims = [16, 32, 4]
    X, Y = _softmax_problem(rng, dims, 1024)
    free, busy = Network(dims, output="softmax", seed=0), Network(dims, output="softmax", seed=0)
    free.fit(X, Y, epochs=2, batch_size=batch_size, optimizer="adam", progress=False)
    if not free.last_plan.route.startswith("native"):
        pytest.skip(f"no native blocks for this step here: {free.last_plan.reason}")
    assert native_blocks._session_lock.acquire(blocking=False)  # another fit holds the native threads
    try:
        busy.fit(X, Y, epochs=2, batch_size=batch_size, optimizer="adam", progress=False)
        assert plan_mod.BUSY in busy.last_plan.reason
        assert not any(route.startswith("native") for route in busy.steps_by_route)
        cost = busy.train_step(X, Y, 0.01)
        assert plan_mod.BUSY in busy.last_plan.reason and np.isfinite(cost)
    finally:
        native_blocks._session_lock.release()
    np.testing.assert_allclose(busy.history["cost"][:2], free.history["cost"], rtol=1e-10)


@needs_pinning
def test_native_batches_hold_blas_and_the_lock_until_closed(rng):
    from fastdnn import native_blocks

    net = Network([16, 32, 4], output="softmax", seed=0)
    m, batch = 2048, 512
    X = rng.standard_normal((16, m))
    y = rng.integers(0, 4, m)
    plan = net.plan(batch, m=m, optimizer="adam")
    if plan.route != "native-update":
        pytest.skip(f"no native blocks on this machine: {plan.reason}")
    net.model_state.bind(get_optimizer("adam"))
    data = net.prepare(X, y)
    indices = np.arange(m, dtype=np.int64)
    before = _blas_threads()
    ws = net.model_state.workspace(batch)
    with executors.open_executor(plan, net.model_state, data=data, indices=indices, count=True) as executor:
        assert executor.gathers and executor.binds_data
        assert native_blocks._session_lock.locked()
        assert min(_blas_threads(), default=1) == 1  # NumPy's BLAS (a library loaded later is not pinned)
        # A second fit's executor cannot have the threads meanwhile.
        assert executors.open_executor(plan, Network([16, 32, 4], output="softmax").model_state, data=data,
                                       indices=indices) is None
        cost = executor.train(executor.take(data, indices, 0, batch, ws), ws, 0.01, 0.0, 1.0, True)
        assert np.isfinite(cost) and 0 <= ws.count[0] <= batch
    assert not native_blocks._session_lock.locked()
    assert _blas_threads() == before


def test_dual_executor_writes_the_first_layer_back_also_when_a_step_raises(rng, monkeypatch):
    dims, m = [40, 5, 1], 12  # fewer examples than features: the dual form
    net = Network(dims, seed=0)
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(np.float64)
    twin = Network(dims, seed=0, strategy="plain")
    plan = net.plan(m, course=True)
    assert plan.route == "dual"
    ws = net.model_state.workspace(m)
    batch = executors.Batch(X, Y, 0, m)
    executor = executors.open_executor(plan, net.model_state, X=X)
    for _ in range(3):
        executor.descend(batch, ws, 0.1)
        twin.train_step(X, Y, 0.1)
    with pytest.raises(NotImplementedError):
        executor.gradient(batch, ws)
    monkeypatch.setattr(passes, "gradient", lambda *a, **k: (_ for _ in ()).throw(KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        with executor:
            executor.descend(batch, ws, 0.1)
    np.testing.assert_allclose(net.params, twin.params, rtol=1e-10, atol=1e-12)
