"""Cold start: a compile of fastdnn's kernels is said, counted, and left out of throughput; warmup does it ahead."""

import logging
import os
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from numba import njit

import fastdnn
from fastdnn import compiling


def probe_kernel(module="fastdnn.compile_probe"):
    """A fresh Numba kernel that counts as fastdnn's (its module is under fastdnn), never cached."""

    def add_one(x):
        return x + 1.0

    add_one.__module__ = module
    return njit(add_one)


def test_a_compile_is_counted_and_announced_once_it_lasts(monkeypatch, caplog):
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 0.0)
    monkeypatch.setattr(compiling, "GAP", 0.3)
    compiling.settle()  # a run of earlier tests' compiles ends here, not in this test
    caplog.clear()
    kernels, seconds = compiling.kernels(), compiling.seconds()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        assert probe_kernel()(1.0) == 2.0
        time.sleep(1.0)  # the notice and the end-of-run line come from short timers
    assert compiling.kernels() == kernels + 1 and compiling.seconds() > seconds
    assert compiling.compiled()[-1][0] == "fastdnn.compile_probe.probe_kernel.<locals>.add_one(float64,)"
    lines = [record.getMessage() for record in caplog.records if record.name == "fastdnn"]
    assert len(lines) == 2, lines
    assert lines[0].startswith("fastdnn: compiling kernels for this machine, first use only")
    assert lines[1].startswith("fastdnn: compiled 1 kernels in ")


def test_other_libraries_compiles_are_not_counted(monkeypatch, caplog):
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 0.0)
    compiling.settle()
    caplog.clear()
    kernels = compiling.kernels()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        assert probe_kernel("someone_else")(1.0) == 2.0
        time.sleep(0.2)
    assert compiling.kernels() == kernels
    assert not [r for r in caplog.records if r.name == "fastdnn"]


def test_a_short_compile_says_nothing(monkeypatch, caplog):
    # The notice waits NOTICE_AFTER (a second by default): a compile run shorter than that is quiet.
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 30.0)
    compiling.settle()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        probe_kernel()(1.0)
        time.sleep(compiling.GAP + 0.2)
    assert not [r for r in caplog.records if r.name == "fastdnn"]


def test_fit_records_leave_compile_time_out(monkeypatch, rng):
    net = fastdnn.Network([4, 3, 1])
    X = rng.standard_normal((4, 50))
    Y = (rng.random((1, 50)) > 0.5).astype(float)
    calls = []
    # Each call of compiling.seconds() reports 1000 s more: every epoch "compiled" for 1000 s,
    # more than it lasted, so its training time is floored at 0 ...
    monkeypatch.setattr(compiling, "seconds", lambda: 1000.0 * len(calls.append(1) or calls))
    assert net.fit(X, Y, epochs=2, progress=False)["seconds"] == [0.0, 0.0]
    # ... and with no compile, it is the epoch's time.
    monkeypatch.setattr(compiling, "seconds", lambda: 5.0)
    assert all(s > 0.0 for s in net.fit(X, Y, epochs=2, progress=False)["seconds"])


class _Dispatcher:
    """Stands in for a Numba dispatcher of fastdnn's in the events fed to a watch by hand."""

    def __init__(self):
        def kernel():
            pass

        kernel.__module__ = "fastdnn.fake"
        self.py_func = kernel


def _event(status, dispatcher, failed=False):
    from numba.core.event import Event, EventStatus

    details = (RuntimeError, RuntimeError("failed"), None) if failed else None
    return Event("numba:compile", getattr(EventStatus, status), data={"dispatcher": dispatcher, "args": ()},
                 exc_details=details)


def test_a_run_announced_after_its_last_compile_still_gets_its_closing_line(monkeypatch, caplog):
    # Compiles that end 0.05 s after they start, a notice due at 0.1 s: the notice comes between
    # compiles, and the closing line must follow it (a review found it lost).
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 0.1)
    monkeypatch.setattr(compiling, "GAP", 0.2)
    watch, kernel = compiling._Watch(), _Dispatcher()
    compiling.settle()  # the process's own run of compiles, if one is open, ends before this test
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        watch.on_start(_event("START", kernel))
        time.sleep(0.05)
        watch.on_end(_event("END", kernel))
        time.sleep(0.8)
    lines = [record.getMessage() for record in caplog.records if record.name == "fastdnn"]
    assert len(lines) == 2 and lines[1].startswith("fastdnn: compiled 1 kernels in "), lines


def test_nested_failed_and_unmatched_compiles_are_counted_right():
    watch, outer, inner = compiling._Watch(), _Dispatcher(), _Dispatcher()
    watch.on_start(_event("START", outer))
    watch.on_start(_event("START", inner))  # compiled inside the outer one
    watch.on_end(_event("END", inner))
    watch.on_end(_event("END", outer))
    watch.on_start(_event("START", inner))
    watch.on_end(_event("END", inner, failed=True))  # a compile that raised: no kernel
    watch.on_end(_event("END", outer))  # an end without its start
    assert watch.kernels == 1 and len(watch.log) == 1 and not watch.started
    watch.on_start(_event("START", inner))
    watch.on_end(_event("END", inner))
    assert watch.kernels == 2


def test_a_refusal_is_its_own_error_class(rng):
    from fastdnn.plan import StrategyRefused

    X = rng.standard_normal((4, 20))
    with pytest.raises(StrategyRefused, match="dual"):
        fastdnn.Network([4, 3, 1], strategy="dual").fit(X, np.ones((1, 20)), progress=False)


def _run(args, cache, **kwargs):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, *args], env=env, capture_output=True, text=True, timeout=900, **kwargs)


SPEC_STEPS = textwrap.dedent("""
    import numpy as np
    from fastdnn import bench, compiling
    for dims in bench.SPEC_SHAPES:
        m = bench.COURSE_M if tuple(dims) == tuple(bench.COURSE_SHAPE) else 2048
        X, Y = bench.make_batch(dims, m, np.float64)
        step = bench.fastdnn_step(dims, X, Y)
        step(); step()
    print("compiled", compiling.kernels(), [name for name, _ in compiling.compiled()])
""")


def test_after_warmup_no_spec_shape_compiles(tmp_path):
    # The slow part of this file: fastdnn warmup from an empty cache, then the SPEC shapes'
    # steps in a new process compile nothing.
    warm = _run(["-m", "fastdnn", "warmup", "--dtype", "float64"], tmp_path)
    assert warm.returncode == 0, warm.stderr
    assert "warmed the trainer's kernels for float64" in warm.stdout and "cache: " in warm.stdout
    assert "compiling fastdnn's kernels for this machine, float64" in warm.stderr  # it was not silent
    after = _run(["-c", SPEC_STEPS], tmp_path)
    assert after.returncode == 0, after.stderr
    assert after.stdout.strip().startswith("compiled 0 "), after.stdout
    assert "compiling kernels" not in after.stderr


def test_warmup_rejects_a_bad_dtype(capsys):
    from fastdnn.cli import main

    assert main(["warmup", "--dtype", "float16"]) == 2
    assert "--dtype takes float64 and/or float32" in capsys.readouterr().err


def test_a_listener_hears_when_a_run_of_compiles_is_announced_and_ends(monkeypatch):
    # What a progress bar shows: "compiling" from the notice to the closing line, nothing for short runs.
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 0.3)
    monkeypatch.setattr(compiling, "GAP", 0.1)
    watch, kernel = compiling._Watch(), _Dispatcher()
    compiling.settle()
    heard = []
    with compiling.listening(heard.append):
        watch.on_start(_event("START", kernel))
        time.sleep(0.5)
        assert heard == [True]
        watch.on_end(_event("END", kernel))
        time.sleep(0.4)
        assert heard == [True, False]
        watch.on_start(_event("START", kernel))  # a short one: over before its notice is due
        watch.on_end(_event("END", kernel))
        time.sleep(0.6)
    assert heard == [True, False]
    watch.on_start(_event("START", kernel))  # no listener any more
    time.sleep(0.5)
    watch.on_end(_event("END", kernel))
    compiling.settle()
    assert heard == [True, False]


def test_the_progress_bar_says_it_is_compiling(monkeypatch, capsys, rng):
    from fastdnn import loop as loop_mod

    monkeypatch.setattr(loop_mod, "_stream_is_terminal", lambda stream: True)
    original = loop_mod.TrainLoop.epochs

    def epochs(self, *args):
        compiling._tell(True)  # as the notice's timer does once a run of compiles has lasted a second
        compiling._tell(False)
        return original(self, *args)

    monkeypatch.setattr(loop_mod.TrainLoop, "epochs", epochs)
    fastdnn.Network([3, 2, 1]).fit(rng.standard_normal((3, 20)), rng.integers(0, 2, 20), epochs=1, progress=True)
    assert "compiling kernels for this machine" in capsys.readouterr().err


SHARED_COMPILE = textwrap.dedent("""
    import sys, time
    import numpy as np
    from fastdnn import caching, compiling
    from fastdnn.kernels import activation
    start = float(sys.argv[1])
    while time.time() < start:  # both processes miss the cache at the same moment
        time.sleep(0.001)
    A = np.ones((3, 4)); b = np.ones((3, 1))
    activation.bias_activation_serial(A, b, activation.RELU, 0.0, A, True)
    names = [name for name, _ in compiling.compiled() if "bias_activation_serial" in name]
    assert caching._lock.depth == 0 and caching._lock.handle is None
    print("compiled", len(names))
""")


def test_processes_starting_together_compile_a_kernel_once(tmp_path):
    # Two processes on one empty cache call the same kernel at once: one compiles it, the other waits for the
    # lock and loads it (joblib's workers, MPI ranks).
    start = str(time.time() + 8.0)  # after both have imported fastdnn
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    runs = [subprocess.Popen([sys.executable, "-c", SHARED_COMPILE, start], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    for run, (out, err) in zip(runs, outputs):
        assert run.returncode == 0, err
    counts = sorted(int(out.split()[-1]) for out, _ in outputs)
    assert counts == [0, 1], outputs
    waited = [err for _, err in outputs if "another process is compiling" in err]
    assert len(waited) <= 1


FAILED_COMPILE = textwrap.dedent("""
    import numpy as np
    from numba.core.errors import TypingError
    from fastdnn import caching
    from fastdnn.kernels import activation
    try:
        activation.bias_activation_serial("not an array", 1.0, 0, 0.0, None, True)
    except TypingError:
        pass
    assert caching._lock.depth == 0 and caching._lock.handle is None, (caching._lock.depth, caching._lock.handle)
    A = np.ones((3, 4)); b = np.ones((3, 1))
    activation.bias_activation_serial(A, b, activation.RELU, 0.0, A, True)
    assert caching._lock.depth == 0 and caching._lock.handle is None
    print("ok")
""")


def test_a_failed_compile_gives_the_lock_back(tmp_path):
    run = _run(["-c", FAILED_COMPILE], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "ok"


HOLD_LOCK = textwrap.dedent("""
    import time
    from fastdnn import caching
    from fastdnn.kernels import activation
    handle = caching._acquire(caching.lock_folder(activation.bias_activation_serial._cache))
    assert handle is not None
    print("locked", flush=True)
    time.sleep(3.0)
""")


def test_a_process_waits_for_the_lock_and_says_so(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        waiter = _run(["-c", SHARED_COMPILE, "0"], tmp_path)
    finally:
        holder.wait(timeout=60)
    assert waiter.returncode == 0, waiter.stderr
    assert "another process is compiling the same kernels" in waiter.stderr
    assert waiter.stdout.split()[-1] == "1"  # the holder saved nothing: the waiter compiled it itself


def test_one_lock_serves_every_folder_of_the_package():
    from fastdnn import caching, native_blocks
    from fastdnn.kernels import activation

    folders = {caching.lock_folder(kernel._cache) for kernel in (native_blocks._worker_loop,
                                                                 activation.bias_activation_serial)}
    assert len(folders) == 1 and None not in folders
    assert caching.lock_folder(probe_kernel()._cache) is None  # not a keyed package's kernel


@pytest.mark.parametrize("output", sorted(__import__("fastdnn.outputs", fromlist=["OUTPUTS"]).OUTPUTS))
def test_warmup_all_makes_targets_every_output_accepts(output):
    # fastdnn warmup --all fits every output; its made-up targets must be ones the output takes.
    from fastdnn import warmup
    from fastdnn.outputs import OUTPUTS

    rng = np.random.default_rng(0)
    Y = warmup._targets(rng, output, 3, 16, np.float64)
    if output == "softmax":
        Y = np.eye(3)[:, Y]
    OUTPUTS[output].check_targets("Y", Y)
