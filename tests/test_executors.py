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


@needs_pinning
def test_threads_executor_owns_its_threads_and_gives_blas_back(rng, monkeypatch):
    net = Network([64, 96, 80, 16], output="softmax", strategy="threads", seed=0)
    m = 1024
    X = rng.standard_normal((64, m))
    Y = np.zeros((16, m))
    Y[rng.integers(0, 16, m), np.arange(m)] = 1.0
    before_threads, before_blas = _block_threads(), _blas_threads()
    plan = net.plan(m)
    assert plan.route == "threads" and plan.blocks >= 2
    ws = net.model_state.workspace(m)
    executor = executors.open_executor(plan, net.model_state)
    executor.gradient(executors.Batch(X, Y, 0, m), ws)
    assert len(_block_threads()) == len(before_threads) + plan.blocks - 1
    assert _blas_threads() == before_blas  # held at one thread only inside the pass

    def failing(*args, **kwargs):
        raise RuntimeError("a block failed")

    monkeypatch.setattr(passes, "gradient", failing)
    with pytest.raises(RuntimeError, match="a block failed"):
        executor.gradient(executors.Batch(X, Y, 0, m), ws)
    assert _blas_threads() == before_blas  # also after a block raised
    executor.close()
    assert _block_threads() == before_threads


@needs_pinning
def test_a_network_closes_its_executors_when_its_strategy_changes(rng):
    net = Network([64, 96, 80, 16], output="softmax", strategy="threads", seed=0)
    X = rng.standard_normal((64, 1024))
    y = rng.integers(0, 16, 1024)
    before = _block_threads()
    net.fit(X, y, epochs=1, progress=False)
    assert net.last_plan.route == "threads"
    assert len(_block_threads()) > len(before)  # kept for the next fit or step
    net.strategy = "plain"
    assert _block_threads() == before


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
