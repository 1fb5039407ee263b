"""Shared set-up of the benchmark suite (run it with ``python -m pytest benchmarks --benchmark-only``).

The suite lives outside ``tests/`` (pyproject's ``testpaths``), so a plain
``python -m pytest`` never runs it.  Every group puts fastdnn next to the
plain-NumPy reference, and next to PyTorch and the matrix-product bound when
they apply, so pytest-benchmark's table compares them directly.

``FASTDNN_BENCH_FULL=1`` adds the m=65536 training steps (a reference step of
``[784, 1024, 1024, 1]`` at that size takes many seconds).
"""

import os
from pathlib import Path

import numpy as np
import pytest

# Timed steps are the compiled routes', also on a cold cache (not a first use's NumPy steps, fastdnn.plan.first_use).
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

from fastdnn import bench

FULL = os.environ.get("FASTDNN_BENCH_FULL") == "1"
DTYPES = ("float64", "float32")
DATA_DIR = Path(os.environ.get("FASTDNN_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data")
TORCH_REASON = "PyTorch is not installed (pip install 'fastdnn[torch]' adds the PyTorch peer)"


def pytest_report_header(config):
    lines = [bench.machine_line(bench.machine_info()),
             f"FASTDNN_BENCH_FULL={'1 (m=65536 steps included)' if FULL else 'unset (m=65536 steps left out)'}"]
    warning = bench.slow_blas_warning()
    if warning:
        lines.append(warning)
    return lines


def pytest_benchmark_update_machine_info(config, machine_info):
    # Saved runs (--benchmark-autosave / --benchmark-json) then say which BLAS
    # and which thread set-up produced them.
    machine_info["fastdnn"] = bench.machine_info()


def require_torch():
    """Skip the calling benchmark when PyTorch is missing."""
    return pytest.importorskip("torch", reason=TORCH_REASON)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(scope="session")
def cat_data():
    """The course's cat/non-cat training set, flattened and scaled as the course does."""
    for name in ("train_catvnoncat.h5", "test_catvnoncat.h5"):
        if not (DATA_DIR / name).exists():
            pytest.skip(f"the course's data is not there: {DATA_DIR / name} is missing")
    pytest.importorskip("h5py", reason="reading the course's .h5 files needs h5py (pip install 'fastdnn[data]')")
    import fastdnn

    train_x_orig, train_y, _, _, _ = fastdnn.load_catvnoncat(str(DATA_DIR))
    train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.0
    return train_x, train_y
