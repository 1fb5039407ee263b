"""One training step allocates nothing after warm-up.

Two witnesses:

* ``tracemalloc``: NumPy reports every array buffer it allocates to
  ``tracemalloc`` in its own domain.  Over 20 steps, no NumPy buffer may
  survive (snapshot difference) and the traced peak may not rise by more than
  a few Python objects, far below the size of the smallest buffer the step
  uses, so no temporary array was made either.
* Numba's runtime statistics (``rtsys.get_allocation_stats``): every
  allocation made by a kernel is freed again.  Numba wraps each array
  argument of a call in a small header (a ``MemInfo`` pointing at the NumPy
  buffer, no data) that it frees when the call returns; those are the only
  allocations and they balance, so the deltas of ``alloc`` and ``free`` are
  equal.
"""

import tracemalloc

import numpy as np
import pytest

from fastdnn import compiling
from fastdnn import precision
from fastdnn import executors
from fastdnn.network import Network

STEPS = 20


@pytest.fixture
def numba_stats():
    from numba.core.runtime import _nrt_python, rtsys

    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    yield rtsys.get_allocation_stats
    if not was_enabled:
        _nrt_python.memsys_disable_stats()


def run_steps(step):
    for _ in range(STEPS):
        step()


def assert_no_allocation(step, smallest_buffer_bytes, numba_stats, python_budget=8192):
    for _ in range(3):  # warm-up: compilation, workspace, lazily made buffers
        step()
    # A first call that compiled has left the compile notice's timers running: they would log
    # (and allocate) in the middle of the measurement.
    compiling.settle()

    numba_before = numba_stats()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        tracemalloc.reset_peak()
        current_before, _ = tracemalloc.get_traced_memory()
        run_steps(step)
        current_after, peak = tracemalloc.get_traced_memory()
        after = tracemalloc.take_snapshot()
        # A leak grows with the steps: a second round must not add anything.
        run_steps(step)
        current_twice, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    numba_after = numba_stats()

    numpy_domain = tracemalloc.DomainFilter(True, np.lib.tracemalloc_domain)
    grown = [d for d in after.filter_traces([numpy_domain]).compare_to(
        before.filter_traces([numpy_domain]), "traceback") if d.size_diff > 0]
    assert grown == [], f"NumPy buffers left behind by {STEPS} steps: {grown[:3]}"
    # No temporary array: the peak stays far below any buffer of the step.
    assert peak - current_before < min(python_budget, smallest_buffer_bytes // 4), (peak - current_before)
    assert current_after - current_before < 4096 + (python_budget - 8192)
    assert current_twice - current_after < 1024, (current_twice - current_after)

    allocs = numba_after.alloc - numba_before.alloc
    frees = numba_after.free - numba_before.free
    assert allocs == frees, (numba_before, numba_after)
    assert numba_after.mi_alloc - numba_before.mi_alloc == numba_after.mi_free - numba_before.mi_free


def mini_batch_step(net, rng, optimizer, l2, dropout, batch=512):
    """A step of a fit's mini-batches on ``net``'s plan after one epoch (which binds and sizes everything)."""
    m = 3 * batch
    X = rng.standard_normal((m, net.layer_dims[0])).astype(net.dtype).T  # a row-per-example array seen transposed
    y = rng.integers(0, net.layer_dims[-1], m)
    net.fit(X, y, epochs=1, batch_size=batch, optimizer=optimizer, learning_rate=0.01, l2=l2, dropout=dropout,
            progress=False)
    plan = net.last_plan
    assert plan.route == "plain"
    data = net.prepare(X, y)
    indices = np.random.default_rng(0).permutation(m)
    ws = net.model_state.workspace(batch)
    executor = executors.open_executor(plan, net.model_state)
    starts = iter(range(10 ** 6))

    def step():
        start = (next(starts) % 3) * batch
        cost = executor.train(executor.take(data, indices, start, batch, ws), ws, 0.01, l2, 1.0 - dropout, True)
        assert np.isfinite(cost)

    return step, plan


@pytest.mark.parametrize(
    "optimizer, l2, dropout",
    [("sgd", 0.0, 0.0), ("sgd", 0.01, 0.0), ("momentum", 0.01, 0.2), ("adam", 0.01, 0.2)],
)
def test_mini_batch_step_allocates_nothing(optimizer, l2, dropout, rng, numba_stats):
    net = Network([40, 64, 48, 10], output="softmax", seed=0)
    net.column_blocks = False  # the blocked step has its own test below
    step, _ = mini_batch_step(net, rng, optimizer, l2, dropout)
    assert_no_allocation(step, 10 * 512 * 8, numba_stats)


@pytest.mark.skipif(not precision.available(), reason="no bfloat16 product installed (pip install \"fastdnn[mkl]\")")
@pytest.mark.parametrize("optimizer, dropout", [("sgd", 0.0), ("adam", 0.2)])
def test_bf16_step_allocates_nothing(optimizer, dropout, rng, numba_stats):
    net = Network([40, 64, 48, 10], output="softmax", dtype=np.float32, precision="bf16", seed=0)
    step, plan = mini_batch_step(net, rng, optimizer, 0.0, dropout)
    assert plan.precision == "bf16"
    assert_no_allocation(step, 10 * 512 * 2, numba_stats)


@pytest.mark.parametrize("output", ["sigmoid", "linear"])
def test_full_batch_step_allocates_nothing(output, rng, numba_stats):
    dims = [30, 40, 20, 1]
    m = 600
    net = Network(dims, output=output, seed=0)
    net.column_blocks = False
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((1, m)) > 0.5).astype(np.float64)
    net.fit(X, Y, epochs=1, optimizer="adam", learning_rate=0.01, l2=0.1, progress=False)
    plan = net.last_plan
    assert plan.route == "plain" and plan == net.plan(m, optimizer="adam", l2=0.1)
    ws = net.model_state.workspace(m)
    executor = executors.open_executor(plan, net.model_state)
    whole = executors.Batch(X, Y, 0, m)

    def step():
        cost = executor.train(whole, ws, 0.01, 0.1, 1.0, output != "linear")
        assert np.isfinite(cost)

    assert_no_allocation(step, dims[-1] * m * 8, numba_stats)


def test_sgd_step_inside_the_products_allocates_nothing(rng, numba_stats):
    # Plain SGD on a layer of 76,800 weights: its step runs inside the dW
    # product (fastdnn.blas), after the copy kept for a rollback.  The BLAS
    # call's ctypes arguments are a few hundred bytes of Python objects.
    dims = [300, 256, 8]
    m = 600
    net = Network(dims, seed=0)
    net.column_blocks = False
    X = rng.standard_normal((dims[0], m))
    Y = (rng.random((dims[-1], m)) > 0.5).astype(np.float64)
    net.fit(X, Y, epochs=1, learning_rate=0.01, progress=False)
    plan = net.last_plan
    assert plan.route == "plain-sgd-in-products"
    ws = net.model_state.workspace(m)
    executor = executors.open_executor(plan, net.model_state)
    whole = executors.Batch(X, Y, 0, m)

    def step():
        cost = executor.train(whole, ws, 0.01, 0.0, 1.0, True)
        assert np.isfinite(cost)

    # ctypes keeps a few small objects of its own after the first calls
    # (measured: flat from ~200 calls on); start from there.
    for _ in range(300):
        step()
    assert_no_allocation(step, dims[-1] * m * 8, numba_stats)
    assert_no_allocation(lambda: net.train_step(X, Y, 0.01), dims[-1] * m * 8, numba_stats)


@pytest.mark.parametrize("dropout", [0.0, 0.2])
def test_column_block_step_allocates_nothing(dropout, rng, numba_stats):
    # The step split over worker threads.  Their Python frames and the
    # hand-over add a few kB of short-lived Python objects, so the peak
    # allowance is 16 kB -- with every buffer of a block at least 64 kB, a
    # temporary array of any of them would still show.
    from fastdnn import threads

    if not threads.can_pin_blas():
        pytest.skip("column blocks need threadpoolctl (the 'threads' extra)")
    dims = [64, 96, 80, 16]
    batch = 1024
    m = 2 * batch
    net = Network(dims, output="softmax", seed=0)
    net.column_blocks = True
    X = rng.standard_normal((m, dims[0])).T
    y = rng.integers(0, dims[-1], m)
    net.fit(X, y, epochs=1, batch_size=batch, optimizer="adam", learning_rate=0.01, dropout=dropout, progress=False)
    plan = net.last_plan
    assert plan.route == "threads" and plan.blocks >= 2
    data = net.prepare(X, y)
    indices = np.random.default_rng(0).permutation(m)
    ws = net.model_state.workspace(batch)
    executor = executors.open_executor(plan, net.model_state)
    starts = iter(range(10 ** 6))

    def step():
        start = (next(starts) % 2) * batch
        cost = executor.train(executor.take(data, indices, start, batch, ws), ws, 0.01, 0.0, 1.0 - dropout, True)
        assert np.isfinite(cost)

    smallest_block_buffer = dims[-1] * (batch // 2) * 8
    assert smallest_block_buffer >= 65536
    with executor:
        assert_no_allocation(step, smallest_block_buffer, numba_stats, python_budget=16384)


def test_the_witness_sees_an_allocating_step(rng, numba_stats):
    # The test above must be able to fail:
    # a temporary as large as the smallest buffer, or a buffer kept, is caught.
    X = rng.standard_normal((30, 600))
    kept = []

    def wasteful_step():
        np.multiply(X[:10], 2.0)

    def leaking_step():
        kept.append(np.empty(64))

    with pytest.raises(AssertionError, match="peak|<"):
        assert_no_allocation(wasteful_step, 10 * 600 * 8, numba_stats)
    with pytest.raises(AssertionError, match="NumPy buffers left behind"):
        assert_no_allocation(leaking_step, 10 * 600 * 8, numba_stats)
