"""Column blocks on spinning threads (fastdnn.native_blocks) against the plain path.

A fit whose steps run as native column blocks must follow the plain path's
trajectory: the same costs, accuracies and parameters, up to the order of
the sums over a batch (block 0's part plus block 1's).  Every test checks
that the blocks really ran, so that none of them passes on the plain path.
"""

import os
import threading

import numpy as np
import pytest

from fastdnn import executors, native_blocks, threads
from fastdnn.network import Network

from conftest import rtol_for

pytestmark = pytest.mark.skipif(
    not threads.can_pin_blas() or native_blocks.plan_blocks([8, 8, 1], 512) == 0,
    reason="native column blocks need threadpoolctl (the 'threads' extra) and at least 2 cores",
)

BATCH = 256


def native_steps(*nets):
    """The steps ``nets`` ran as native blocks (as the networks count them)."""
    return sum(n for net in nets for route, n in net.steps_by_route.items() if route.startswith("native"))


def make_data(rng, dims, output, m, dtype, layout):
    X_rows = rng.standard_normal((m, dims[0])).astype(dtype)
    if layout == "rows":
        X = X_rows.T  # a row-per-example array seen transposed: gathered row by row
    elif layout == "columns":
        X = np.ascontiguousarray(X_rows.T)
    else:  # strided columns
        X = np.asfortranarray(np.concatenate([X_rows.T, X_rows.T], axis=0))[::2]
    if output == "softmax":
        Y = rng.integers(0, dims[-1], m)  # class labels: one-hot in the gather
    elif output == "sigmoid":
        Y = (rng.random((dims[-1], m)) > 0.5).astype(dtype)
    else:
        Y = rng.standard_normal((dims[-1], m)).astype(dtype)
    return X, Y


def fit_both(dims, X, Y, dtype=np.float64, hidden="relu", output="sigmoid", **fit_options):
    nets = {}
    for strategy in ("plain", "auto"):
        net = Network(dims, hidden=hidden, output=output, dtype=dtype, init="he", seed=3, strategy=strategy)
        history = net.fit(X, Y, progress=False, **fit_options)
        nets[strategy] = (net, history, native_steps(net))
    plain, blocked = nets["plain"], nets["auto"]
    assert plain[2] == 0 and plain[0].last_plan.strategy == "plain"
    assert blocked[2] > 0, "the native blocks did not run"
    assert blocked[0].last_plan.route == ("native-update" if fit_options.get("batch_size") else "native-whole-batch")
    return plain, blocked


@pytest.mark.parametrize("output", ["softmax", "sigmoid", "linear"])
@pytest.mark.parametrize("hidden", ["relu", "tanh", "leaky_relu", "sigmoid"])
def test_blocks_follow_the_plain_path(output, hidden, rng):
    dims = [12, 33, 17, 3]
    # 1,025 examples: the last batch has one column, so the second block is empty.
    X, Y = make_data(rng, dims, output, 4 * BATCH + 1, np.float64, "rows")
    plain, blocked = fit_both(dims, X, Y, hidden=hidden, output=output, epochs=3, batch_size=BATCH,
                              optimizer="adam", learning_rate=0.01, l2=0.05)
    assert blocked[2] == 3 * 5
    np.testing.assert_allclose(blocked[1]["cost"], plain[1]["cost"], rtol=1e-12)
    if "accuracy" in plain[1]:
        assert blocked[1]["accuracy"] == plain[1]["accuracy"]
    np.testing.assert_allclose(blocked[0].params, plain[0].params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("layout", ["rows", "columns", "strided"])
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_blocks_with_each_layout_dtype_and_optimizer(dtype, layout, optimizer, rng):
    dims = [20, 40, 5]
    X, Y = make_data(rng, dims, "softmax", 3 * BATCH + 77, dtype, layout)
    if layout != "rows":
        Y = np.eye(dims[-1], dtype=dtype)[:, Y]  # a one-hot matrix, gathered by columns
    plain, blocked = fit_both(dims, X, Y, dtype=dtype, output="softmax", epochs=2, batch_size=BATCH,
                              optimizer=optimizer, learning_rate=0.05)
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(blocked[1]["cost"], plain[1]["cost"], rtol=rtol)
    atol = rtol * np.abs(plain[0].params).max()
    np.testing.assert_allclose(blocked[0].params, plain[0].params, rtol=rtol, atol=atol)
    assert blocked[0].params.dtype == dtype


def test_blocks_are_deterministic(rng):
    dims = [16, 64, 4]
    X, Y = make_data(rng, dims, "softmax", 5 * BATCH, np.float64, "rows")
    runs = []
    for _ in range(2):
        net = Network(dims, output="softmax", init="he", seed=9)
        net.fit(X, Y, epochs=3, batch_size=BATCH, optimizer="adam", learning_rate=0.01, progress=False)
        runs.append(net.params.copy())
        assert native_steps(net) == 3 * 5
    assert np.array_equal(runs[0], runs[1])


@pytest.mark.parametrize("spin_limit, pause", [(3, 0.0), (2000, 0.02)])
def test_sleeping_workers_are_woken(spin_limit, pause, rng, monkeypatch):
    # A spin limit of a few pauses sends the workers to sleep between (and
    # inside) steps; a pause between epochs longer than the spin limit sends
    # them to sleep there.  The steps after go through the wake-up path.
    import time

    dims = [10, 24, 2]
    X, Y = make_data(rng, dims, "softmax", 4 * BATCH, np.float64, "rows")
    plain, _ = fit_both(dims, X, Y, output="softmax", epochs=3, batch_size=BATCH, optimizer="sgd",
                        learning_rate=0.1)
    monkeypatch.setattr(native_blocks, "SPIN_LIMIT", spin_limit)
    net = Network(dims, output="softmax", init="he", seed=3)
    history = net.fit(X, Y, epochs=3, batch_size=BATCH, optimizer="sgd", learning_rate=0.1, progress=False,
                      callback=lambda epoch, record: time.sleep(pause))
    np.testing.assert_allclose(history["cost"], plain[1]["cost"], rtol=1e-12)
    np.testing.assert_allclose(net.params, plain[0].params, rtol=1e-10, atol=1e-12)


def test_the_session_ends_with_the_fit(rng):
    # BLAS gets its threads back and the workers are free for the next fit,
    # also when the fit stops with an exception.
    dims = [10, 24, 2]
    X, Y = make_data(rng, dims, "softmax", 4 * BATCH, np.float64, "rows")
    before = [get() for get, _ in threads._blas_thread_switches()]
    net = Network(dims, output="softmax", seed=0)

    def stop(epoch, record):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, epochs=3, batch_size=BATCH, callback=stop, progress=False)
    assert native_steps(net) == 4
    assert [get() for get, _ in threads._blas_thread_switches()] == before
    assert not native_blocks._session_lock.locked()
    net.fit(X, Y, epochs=1, batch_size=BATCH, progress=False)
    assert native_steps(net) == 8


def test_divergence_is_caught_and_rolled_back(rng):
    dims = [10, 24, 1]
    X, Y = make_data(rng, dims, "linear", 4 * BATCH, np.float64, "rows")
    X *= 1e3
    net = Network(dims, output="linear", init="he", seed=0)
    with pytest.raises(FloatingPointError, match="training diverged") as info:
        net.fit(X, Y, epochs=50, batch_size=BATCH, optimizer="sgd", learning_rate=10.0, progress=False)
    assert native_steps(net) > 0
    assert np.isfinite(net.params).all(), str(info.value)


def test_two_fits_at_once_share_the_workers(rng):
    # One fit holds the workers; a fit started meanwhile on another thread
    # takes the plain path.  Both give their sequential results.
    dims = [16, 48, 4]
    X, Y = make_data(rng, dims, "softmax", 6 * BATCH, np.float64, "rows")

    def train(seed, out):
        net = Network(dims, output="softmax", init="he", seed=seed)
        net.fit(X, Y, epochs=4, batch_size=BATCH, optimizer="adam", learning_rate=0.01, progress=False)
        out[seed] = net.params.copy()

    expected = {}
    for seed in (1, 2):
        train(seed, expected)
    got = {}
    workers = [threading.Thread(target=train, args=(seed, got)) for seed in (1, 2)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    for seed in (1, 2):
        np.testing.assert_allclose(got[seed], expected[seed], rtol=1e-10, atol=1e-12)


def test_no_blocks_where_they_do_not_pay(rng):
    assert native_blocks.plan_blocks([64, 100, 10], 8) == 0  # blocks of 4 columns
    assert native_blocks.plan_blocks([64, 100, 10], 200) >= 2
    # Large steps whose chunk of 128 columns would not fit the cache budget: BLAS's own threads.
    assert native_blocks.plan_blocks([784, 1024, 1024, 1], 4096, np.float32) == 0
    assert native_blocks.plan_blocks([784, 256, 256, 10], 4096, np.float64) == 0
    # ... and those whose chunk fits run as native blocks.
    assert native_blocks.plan_blocks([784, 256, 256, 10], 4096, np.float32) >= 2


@pytest.mark.parametrize("direct", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_blocks_in_chunks_follow_the_plain_path(direct, dtype, rng, monkeypatch):
    # A budget of one byte makes every chunk the minimum of 16 columns: a block
    # of 128 columns goes through the network in 8 chunks, and the last batch
    # (77 columns, blocks of 40 and 37) in chunks of 16, 16 and 8 or 5.
    from fastdnn import config

    monkeypatch.setattr(config, "NATIVE_CHUNK_BYTES", 1)
    monkeypatch.setattr(config, "NATIVE_CHUNK_MIN_COLUMNS", 16)
    chunks = {"seen": set()}
    original = native_blocks.Session.__init__

    def recording(self, *args, **kwargs):
        original(self, *args, **kwargs)
        chunks["seen"].add(int(self.ctl[native_blocks._CHUNK]))

    monkeypatch.setattr(native_blocks.Session, "__init__", recording)
    dims = [20, 31, 9, 3]
    m = BATCH if direct else 3 * BATCH + 77
    X, Y = make_data(rng, dims, "softmax", m, dtype, "columns" if direct else "rows")
    if direct:
        Y = np.eye(dims[-1], dtype=dtype)[:, Y]
    plain, blocked = fit_both(dims, X, Y, dtype=dtype, output="softmax", epochs=3,
                              batch_size=None if direct else BATCH, optimizer="adam", learning_rate=0.05, l2=0.01)
    assert chunks["seen"] == {16}
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(blocked[1]["cost"], plain[1]["cost"], rtol=rtol)
    assert blocked[1]["accuracy"] == pytest.approx(plain[1]["accuracy"], abs=1.0 / m)
    atol = rtol * np.abs(plain[0].params).max()
    np.testing.assert_allclose(blocked[0].params, plain[0].params, rtol=rtol, atol=atol)


def test_a_fit_parks_openblas_spinning_threads(rng, monkeypatch):
    # OpenBLAS's threads spin for a while after a multi-threaded product; a
    # fit on native blocks stops them first (they would share the cores).
    parked = []
    threads._blas_thread_switches()
    monkeypatch.setattr(threads, "_blas_parkers", [lambda: parked.append(1)])
    dims = [10, 24, 2]
    X, Y = make_data(rng, dims, "softmax", 4 * BATCH, np.float64, "rows")
    net = Network(dims, output="softmax", init="he", seed=3)
    net.fit(X, Y, epochs=2, batch_size=BATCH, progress=False)
    assert native_steps(net) == 2 * 4
    assert parked == [1]  # once for the fit, not once a step
    # A progress bar's monitor thread does not stop it ...
    tqdm = pytest.importorskip("tqdm")
    with tqdm.tqdm(total=1, disable=False, file=open(os.devnull, "w")) as bar:
        bar.update(1)
        assert threads._park_blas_threads()
    assert parked == [1, 1]
    # ... but it never runs while another thread might be inside a product.
    stop = threading.Event()
    other = threading.Thread(target=stop.wait, name="user-thread")
    other.start()
    try:
        assert not threads._park_blas_threads()
    finally:
        stop.set()
        other.join()
    assert parked == [1, 1]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_block_step_allocates_nothing(dtype, rng):
    from test_network_alloc import assert_no_allocation
    from numba.core.runtime import _nrt_python, rtsys

    # Every buffer of a block at least 64 kB (the smallest: the output layer,
    # 64 rows x 256 columns of float32), so a temporary array of any of them
    # shows beside the few kB of Python objects of the hand-over.
    dims = [64, 128, 64]
    batch = 512
    m = 3 * batch
    X, y = make_data(rng, dims, "softmax", m, dtype, "rows")
    net = Network(dims, output="softmax", dtype=dtype, seed=0)
    net.fit(X, y, epochs=1, batch_size=batch, optimizer="adam", learning_rate=0.01, l2=0.01, progress=False)
    data = net.prepare(X, y)
    indices = np.random.default_rng(0).permutation(m)
    ws = net.model_state.workspace(batch)
    plan = net.plan(batch, m=m, optimizer="adam", l2=0.01)
    # (The fit's case also says its batches are gathered from rows: the same blocks and chunks.)
    ran = net.last_plan
    assert plan.route == ran.route == "native-update" and (plan.blocks, plan.chunk) == (ran.blocks, ran.chunk)
    executor = executors.open_executor(plan, net.model_state, data=data, indices=indices, count=True)
    assert executor is not None and executor.gathers
    was_enabled = _nrt_python.memsys_stats_enabled()
    _nrt_python.memsys_enable_stats()
    starts = iter(range(10 ** 6))
    try:
        def step():
            start = (next(starts) % 3) * batch
            cost = executor.train(executor.take(data, indices, start, batch, ws), ws, 0.01, 0.01, 1.0, True)
            assert np.isfinite(cost)

        smallest_block_buffer = dims[-1] * (batch // 2) * np.dtype(dtype).itemsize
        assert smallest_block_buffer >= 65536
        assert_no_allocation(step, smallest_block_buffer, rtsys.get_allocation_stats, python_budget=16384)
    finally:
        executor.close()
        if not was_enabled:
            _nrt_python.memsys_disable_stats()


def test_an_optimizer_of_its_own_steps_in_python(rng):
    # A subclass may step differently: the threads only run the gradient
    # pass, and the optimizer's own step follows on the calling thread.
    from fastdnn import optimizers

    class HalvedAdam(optimizers.Adam):
        def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
            super().step(params, grads, slots, learning_rate / 2, decay, n_decay, t, keep)

    dims = [12, 40, 3]
    X, Y = make_data(rng, dims, "softmax", 3 * BATCH + 5, np.float64, "rows")
    results = {}
    for blocks in (False, "auto"):
        net = Network(dims, output="softmax", init="he", seed=3)
        net.column_blocks = blocks
        results[blocks] = net.fit(X, Y, epochs=2, batch_size=BATCH, optimizer=HalvedAdam(), learning_rate=0.02,
                                  l2=0.01, progress=False), net.params.copy()
        assert net.steps_by_route.get("native-gradient", 0) == (2 * 4 if blocks else 0)
    np.testing.assert_allclose(results["auto"][0]["cost"], results[False][0]["cost"], rtol=1e-12)
    np.testing.assert_allclose(results["auto"][1], results[False][1], rtol=1e-10, atol=1e-12)
    adam = Network(dims, output="softmax", init="he", seed=3)
    adam.fit(X, Y, epochs=2, batch_size=BATCH, optimizer="adam", learning_rate=0.02, l2=0.01, progress=False)
    assert not np.allclose(adam.params, results["auto"][1])  # the subclass's own step did run


def test_six_blocks_cover_the_whole_batch(rng, monkeypatch):
    # As many blocks as the control array has room for (more workers than
    # this machine's cores: slower, and still the same sums).
    from fastdnn import config

    monkeypatch.setattr(config, "BLOCK_WORKERS", native_blocks._MAX_BLOCKS)
    monkeypatch.setattr(config, "BLOCK_WORKERS_SET", True)  # as FASTDNN_BLOCK_WORKERS=6 would
    assert native_blocks.plan_blocks([12, 20, 3], 200) == native_blocks._MAX_BLOCKS
    dims = [12, 20, 3]
    X, Y = make_data(rng, dims, "softmax", 3 * 200 + 50, np.float64, "rows")
    plain, blocked = fit_both(dims, X, Y, output="softmax", epochs=2, batch_size=200,
                              optimizer="adam", learning_rate=0.01)
    assert blocked[0].last_plan.blocks == native_blocks._MAX_BLOCKS
    np.testing.assert_allclose(blocked[1]["cost"], plain[1]["cost"], rtol=1e-12)
    assert blocked[1]["accuracy"] == plain[1]["accuracy"]
    np.testing.assert_allclose(blocked[0].params, plain[0].params, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("output", ["sigmoid", "softmax", "linear"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_whole_batches_run_as_blocks_read_in_place(output, dtype, rng):
    # train_step (and a full-batch fit) on a small network: the blocks read
    # their columns of X in place.
    dims = [16, 24, 12, 3]
    m = 1000
    X = rng.standard_normal((dims[0], m)).astype(dtype)
    if output == "softmax":
        Y = np.eye(3, dtype=dtype)[:, rng.integers(0, 3, m)]
    elif output == "sigmoid":
        Y = (rng.random((3, m)) > 0.5).astype(dtype)
    else:
        Y = rng.standard_normal((3, m)).astype(dtype)
    nets = {}
    for blocks in (False, "auto"):
        net = Network(dims, output=output, dtype=dtype, init="he", seed=5)
        net.column_blocks = blocks
        costs = [net.train_step(X, Y, 0.05) for _ in range(5)]
        history = net.fit(X, Y, epochs=3, optimizer="adam", learning_rate=0.01, l2=0.1, progress=False)
        nets[blocks] = (net, costs + history["cost"])
    assert native_steps(*(net for net, _ in nets.values())) == 8
    rtol = 1e-10 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(nets["auto"][1], nets[False][1], rtol=rtol)
    np.testing.assert_allclose(nets["auto"][0].params, nets[False][0].params, rtol=rtol,
                               atol=rtol * np.abs(nets[False][0].params).max())


def test_an_interrupted_step_still_finishes_its_update(rng, monkeypatch):
    # An interrupt while the main thread waits for the update: the step is
    # finished (all of the arena stepped, the step counted) before it
    # propagates, so the parameters are those of an uninterrupted run.
    dims = [10, 32, 3]
    X, Y = make_data(rng, dims, "softmax", 4 * BATCH, np.float64, "rows")
    options = dict(epochs=1, batch_size=BATCH, optimizer="adam", learning_rate=0.01, shuffle=False, progress=False)
    reference = Network(dims, output="softmax", init="he", seed=3)
    reference.fit(X[:, :3 * BATCH], Y[:3 * BATCH], **options)

    calls = {"n": 0}
    wait = native_blocks.Session._wait

    def interrupted(self, done):
        calls["n"] += 1
        if calls["n"] == 6:  # the update of the third step
            raise KeyboardInterrupt
        return wait(self, done)

    monkeypatch.setattr(native_blocks.Session, "_wait", interrupted)
    net = Network(dims, output="softmax", init="he", seed=3)
    with pytest.raises(KeyboardInterrupt):
        net.fit(X, Y, **options)
    assert net.model_state.t == reference.model_state.t == 3
    np.testing.assert_array_equal(net.params, reference.params)
    assert not native_blocks._session_lock.locked()


def test_a_full_batch_fit_lets_go_of_its_batch(rng):
    import gc
    import weakref

    dims = [16, 24, 1]
    X = rng.standard_normal((dims[0], 512))
    Y = (rng.random((1, 512)) > 0.5).astype(np.float64)
    net = Network(dims, seed=0)
    net.fit(X, Y, epochs=2, progress=False)
    assert net.model_state.direct_session is None
    watch = weakref.ref(X)
    del X
    gc.collect()
    assert watch() is None
