"""Training in Python threads, and thread-count settings restored after an exception."""

import os
import subprocess
import sys
import threading

import numba
import numpy as np
import pytest

import fastdnn as dnn
from fastdnn import threads


def _job(seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, 300))
    y = rng.integers(0, 3, 300)
    net = dnn.Network([8, 32, 16, 3], output="softmax", seed=seed)
    return net, X, y


def _train(net, X, y):
    net.fit(X, y, epochs=4, batch_size=32, optimizer="adam", learning_rate=0.01, dropout=0.2, l2=0.01,
            progress=False)


def _run_in_threads(work, n):
    """Run ``work(k)`` for k < n on n threads started together; re-raise the first error."""
    errors = []
    start = threading.Barrier(n)

    def run(k):
        try:
            start.wait()
            work(k)
        except BaseException as exc:  # an exception in a thread would pass silently
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=120)
    assert not any(w.is_alive() for w in workers)
    if errors:
        raise errors[0]


@pytest.mark.parametrize("n_threads", [2, 3])
def test_networks_trained_in_threads_equal_sequential_training(n_threads):
    jobs = [_job(seed) for seed in range(n_threads)]
    sequential = []
    for net, X, y in jobs:
        _train(net, X, y)
        sequential.append(net.params.copy())

    jobs = [_job(seed) for seed in range(n_threads)]
    _run_in_threads(lambda k: _train(*jobs[k]), n_threads)
    for (net, _, _), expected in zip(jobs, sequential):
        assert np.array_equal(net.params, expected)


@pytest.mark.parametrize("how", ["fit", "train_step"])
def test_one_network_trained_from_two_threads_takes_turns(how):
    # Both threads make the same calls, so any order of whole calls ends
    # where two calls in a row end; interleaved steps sharing the network's
    # workspace would not.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((20, 512))
    Y = (rng.random((1, 512)) < 0.5).astype(np.float64)

    def train(net):
        if how == "fit":
            net.fit(X, Y, epochs=3, batch_size=64, optimizer="adam", learning_rate=0.01, shuffle=False,
                    progress=False)
        else:
            for _ in range(30):
                net.train_step(X, Y, 0.05)

    sequential = dnn.Network([20, 64, 32, 1], seed=4)
    train(sequential)
    train(sequential)
    shared = dnn.Network([20, 64, 32, 1], seed=4)
    _run_in_threads(lambda k: train(shared), 2)
    np.testing.assert_allclose(shared.params, sequential.params, rtol=1e-12, atol=1e-14)


def test_predictions_in_threads_equal_sequential():
    # One shared Network: its workspaces are shared, so predict/evaluate/fit
    # take the network's lock (the race returned wrong probabilities in
    # about 1 trial of 10 before).
    net, X, y = _job(7)
    _train(net, X, y)
    expected = net.predict_proba(X)
    for trial in range(20):  # the race shows in about 1 trial of 10
        results = [None] * 8

        def work(k):
            results[k] = net.predict_proba(X[:, k:])

        _run_in_threads(work, 8)
        for k, out in enumerate(results):
            assert np.array_equal(out, expected[:, k:]), f"trial {trial}, thread {k}"


class _Boom(Exception):
    pass


def test_limit_restores_numba_threads_after_an_exception():
    before = numba.get_num_threads()
    with pytest.raises(_Boom):
        with threads.limit(numba_threads=1):
            assert numba.get_num_threads() == 1
            raise _Boom()
    assert numba.get_num_threads() == before


def test_limit_restores_blas_threads_after_an_exception():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="BLAS limits need threadpoolctl (the threads extra)")
    numba_before = numba.get_num_threads()
    before = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    if not before:
        pytest.skip("threadpoolctl finds no BLAS library to limit")
    with pytest.raises(_Boom):
        with threads.limit(numba_threads=1, blas_threads=1):
            inside = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
            assert all(n == 1 for n in inside)
            raise _Boom()
    after = [(i["filepath"], i["num_threads"]) for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    assert after == before
    assert numba.get_num_threads() == numba_before


def test_limit_rejects_a_bad_count_and_changes_nothing():
    before = numba.get_num_threads()
    with pytest.raises(ValueError, match="numba_threads"):
        with threads.limit(numba_threads=numba.config.NUMBA_NUM_THREADS + 1):
            pass
    assert numba.get_num_threads() == before


def test_single_threaded_blas_restores_after_an_exception():
    threadpoolctl = pytest.importorskip("threadpoolctl", reason="BLAS limits need threadpoolctl (the threads extra)")
    before = [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]
    with pytest.raises(_Boom):
        with threads.single_threaded_blas():
            raise _Boom()
    assert [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"] == before


def test_blas_pins_on_two_threads_restore_the_count_in_any_order():
    # Thread A pins, thread B pins, A leaves, B leaves: BLAS stays at one
    # thread until the last pin ends, then gets its count back.
    if not threads.can_pin_blas():
        pytest.skip("BLAS limits need threadpoolctl (the threads extra)")

    def counts():  # of the libraries fastdnn pins (NumPy's BLAS)
        return [get() for get, _ in threads._blas_thread_switches()]

    before = counts()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = {}

    def a():
        with threads.single_threaded_blas():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def b():
        a_in.wait(5)
        with threads.single_threaded_blas():
            b_in.set()
            a_out.wait(5)
            seen["inside"] = counts()

    workers = [threading.Thread(target=a), threading.Thread(target=b)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(10)
    assert all(n == 1 for n in seen["inside"])
    assert counts() == before


FORK_SCRIPT = r"""
import multiprocessing, os, sys
import numpy as np
import fastdnn

def work():
    # Routes that start threads: column blocks on the wide net, native blocks
    # on the small one, the course's dual form, parallel elementwise kernels.
    rng = np.random.default_rng(0)
    X = rng.standard_normal((784, 4096))
    Y = (rng.random((1, 4096)) < 0.5).astype(np.float64)
    out = []
    for dims, batch in (([784, 256, 256, 1], 4096), ([64, 32, 32, 1], 4096)):
        net = fastdnn.Network(dims, seed=0)
        net.fit(X[: dims[0]], Y, epochs=2, batch_size=batch)
        out.append(net.predict_proba(X[: dims[0], :256]))
    params = fastdnn.L_layer_model(X[:300, :512], Y[:, :512], [300, 20, 7, 5, 1], num_iterations=3)
    out.append(params["W1"])
    out.append(fastdnn.relu(rng.standard_normal((1024, 2048)))[0])
    return np.concatenate([o.ravel() for o in out])

def compare(got, expected):
    return bool(got.shape == expected.shape and np.allclose(got, expected, rtol=1e-10, atol=1e-12))

if __name__ == "__main__":
    expected = work()  # the parent's threads run first, as after a user's fit
    pid = os.fork()
    if pid == 0:
        ok = compare(work(), expected)
        os._exit(0 if ok else 3)
    _, status = os.waitpid(pid, 0)
    print("os.fork", os.waitstatus_to_exitcode(status))
    with multiprocessing.get_context("fork").Pool(1) as pool:
        # A child that dies leaves apply() waiting: a timeout turns that into a failure.
        print("multiprocessing fork", 0 if compare(pool.apply_async(work).get(timeout=300), expected) else 3)
"""


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork exists on POSIX only")
def test_a_child_forked_after_fit_trains_and_predicts(tmp_path):
    # Before: GNU OpenMP ended the child at its first parallel kernel, and a
    # network's block threads (gone in the child) made fit wait forever.
    script = tmp_path / "fork_after_fit.py"
    script.write_text(FORK_SCRIPT)
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == ["os.fork 0", "multiprocessing fork 0"], result.stdout + result.stderr


@pytest.mark.parametrize("user_env, expected", [
    ({}, "['omp', 'tbb', 'workqueue']"),
    ({"NUMBA_THREADING_LAYER_PRIORITY": "workqueue omp tbb"}, "['workqueue', 'omp', 'tbb']"),
])
def test_the_threading_layer_is_chosen_on_purpose_unless_the_user_chose(user_env, expected):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_THREADING_LAYER")}
    env.update(user_env)
    code = "import fastdnn, numba; print(numba.config.THREADING_LAYER_PRIORITY)"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == expected


# ------------------------------------------------------------ the threads a parent allows


def _blocks_of_a_small_step():
    # A step the planner gives native blocks on two or more threads (it needs threadpoolctl to pin BLAS).
    return dnn.Network([64, 100, 10], output="softmax").plan(200, 1797, optimizer="adam").blocks


needs_pinning = pytest.mark.skipif(not threads.can_pin_blas(),
                                   reason="column blocks need threadpoolctl (the 'threads' extra) to pin BLAS")


@needs_pinning
def test_numbas_thread_count_bounds_the_blocks(monkeypatch):
    from fastdnn import config

    if config.cores_available() < 2 or config.BLOCK_WORKERS_SET:
        pytest.skip("needs two cores and no FASTDNN_BLOCK_WORKERS")
    assert config.block_workers() == min(config.BLOCK_WORKERS, numba.get_num_threads())
    with threads.limit(numba_threads=1):
        assert config.block_workers() == 1 and _blocks_of_a_small_step() <= 1
    monkeypatch.setenv("OMP_NUM_THREADS", "1,1")
    assert config.block_workers() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not a count: ignored
    assert config.block_workers() == min(config.BLOCK_WORKERS, numba.get_num_threads())
    monkeypatch.setattr(config, "BLOCK_WORKERS_SET", True)  # FASTDNN_BLOCK_WORKERS wins over the limits
    with threads.limit(numba_threads=1):
        assert config.block_workers() == config.BLOCK_WORKERS


@needs_pinning
def test_threadpool_limits_reach_numba_and_the_plan():
    from threadpoolctl import threadpool_info, threadpool_limits

    from fastdnn import config

    if config.cores_available() < 2 or config.BLOCK_WORKERS_SET:
        pytest.skip("needs two cores and no FASTDNN_BLOCK_WORKERS")
    before = numba.get_num_threads()
    assert any(info["user_api"] == "numba" for info in threadpool_info())
    blocks = _blocks_of_a_small_step()
    with threadpool_limits(limits=1):
        assert numba.get_num_threads() == 1
        assert _blocks_of_a_small_step() <= 1  # planned again under the limit, not taken from the cache
    assert numba.get_num_threads() == before and _blocks_of_a_small_step() == blocks


@needs_pinning
def test_joblib_workers_plan_for_the_threads_they_are_given():
    joblib = pytest.importorskip("joblib")
    from fastdnn import config

    if config.cores_available() < 2 or config.BLOCK_WORKERS_SET:
        pytest.skip("needs two cores and no FASTDNN_BLOCK_WORKERS")
    # loky gives each of two workers on two cores one thread (its NUMBA_NUM_THREADS, OMP_NUM_THREADS).
    results = joblib.Parallel(n_jobs=2, backend="loky")(joblib.delayed(_blocks_of_a_small_step)() for _ in range(2))
    assert all(blocks <= 1 for blocks in results)
    # The pool's threads left in this process never call BLAS: parking OpenBLAS's threads still runs.
    pool_threads = [t for t in threading.enumerate() if t.name in ("ExecutorManagerThread", "QueueFeederThread")]
    assert pool_threads and all(threads._never_in_blas(t) for t in pool_threads)
    user = threading.Thread(target=lambda: None, name="ExecutorManagerThread")  # a name alone proves nothing
    assert not threads._never_in_blas(user)


def test_leaving_an_options_block_keeps_block_workers_unset():
    from fastdnn import config

    if config.BLOCK_WORKERS_SET:
        pytest.skip("FASTDNN_BLOCK_WORKERS is set")
    with dnn.options(block_workers=1):
        assert config.block_workers() == 1
    assert not config.BLOCK_WORKERS_SET
    with threads.limit(numba_threads=1):
        assert config.block_workers() == 1  # Numba's limit counts again


def test_a_started_blas_server_is_parked_before_a_kernel_that_takes_every_core():
    """threads.park_spinning_blas: after a multi-threaded product OpenBLAS's workers exist; parked, they do not."""
    threads._blas_thread_switches()
    servers = threads._blas_servers
    if not servers:
        pytest.skip("no OpenBLAS with a thread server here (another BLAS, or no threadpoolctl)")
    a = np.ones((512, 512))
    a @ a
    if not any(server.value for server in servers):
        pytest.skip("OpenBLAS ran that product on one thread here: no workers to park")
    parked = threads.park_spinning_blas()
    if not parked:
        # Another thread of the process may be inside BLAS: then nothing is parked.
        assert any(server.value for server in servers)
        return
    assert not any(server.value for server in servers)
    assert threads.park_spinning_blas() is False  # nothing left to park: one read per library
    np.testing.assert_allclose(a @ a, 512.0)  # the next product starts them again and is right


def test_a_notebook_kernels_own_threads_do_not_keep_blas_from_parking():
    """ipykernel's service threads mark themselves; IPython's history and pyzmq's collector are known by class."""
    class HistorySavingThread(threading.Thread):
        pass

    service = [threading.Thread(name="IOPub"), HistorySavingThread()]
    service[0].is_pydev_daemon_thread = True
    for thread in service:
        assert threads._never_in_blas(thread)
    # A thread of the user's, which may be inside a product, still keeps the workers.
    assert not threads._never_in_blas(threading.Thread(name="Thread-7", target=np.dot))
