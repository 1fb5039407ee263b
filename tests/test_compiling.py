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
    compiling.end_run()  # a run of earlier tests' compiles ends here, not in this test
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
    compiling.end_run()
    kernels = compiling.kernels()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        assert probe_kernel("someone_else")(1.0) == 2.0
        time.sleep(0.2)
    assert compiling.kernels() == kernels
    assert not [r for r in caplog.records if r.name == "fastdnn"]


def test_a_short_compile_says_nothing(monkeypatch, caplog):
    # The notice waits NOTICE_AFTER (a second by default): a compile run shorter than that is quiet.
    monkeypatch.setattr(compiling, "NOTICE_AFTER", 30.0)
    compiling.end_run()
    with caplog.at_level(logging.WARNING, logger="fastdnn"):
        probe_kernel()(1.0)
        time.sleep(compiling.GAP + 0.2)
    assert not [r for r in caplog.records if r.name == "fastdnn"]


def test_fit_records_leave_compile_time_out(monkeypatch, rng):
    # Pretend that all of the time is spent compiling: the epoch's training time is then ~0.
    start = time.perf_counter()
    monkeypatch.setattr(compiling, "seconds", lambda: time.perf_counter() - start)
    net = fastdnn.Network([4, 3, 1])
    X = rng.standard_normal((4, 50))
    Y = (rng.random((1, 50)) > 0.5).astype(float)
    history = net.fit(X, Y, epochs=2, progress=False)
    assert all(abs(s) < 0.01 for s in history["seconds"]), history["seconds"]


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
