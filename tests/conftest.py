"""Shared fixtures and helpers of the fastdnn test suite.

Tolerances are per dtype: float64 results must match the reference to a
relative 1e-12, float32 results to 1e-5.  Where values can be close to zero
(or come out of a sum with cancellation), the absolute tolerance is the
relative one times the largest magnitude involved, so a tiny entry of a
large array is judged on the array's scale, not its own.
"""

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

#: The shared data folder, beside the project (never inside it).
DATA_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data"

RTOL = {np.dtype(np.float64): 1e-12, np.dtype(np.float32): 1e-5}

# Numba compiles on the first call of each signature, so a deadline per
# example would fail the example that happens to compile.
settings.register_profile(
    "fastdnn",
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
# A deeper search for a quiet machine: pytest --hypothesis-profile=fastdnn-thorough
settings.register_profile("fastdnn-thorough", parent=settings.get_profile("fastdnn"), max_examples=600)
settings.load_profile("fastdnn")


def rtol_for(dtype):
    """The relative tolerance of results of ``dtype``."""
    return RTOL[np.dtype(dtype)]


def assert_close(actual, expected, dtype=None, rtol=None, scale=None, err_msg=""):
    """``actual`` equals ``expected`` to the tolerance of ``dtype``.

    ``atol`` is ``rtol`` times ``scale`` (default: the largest magnitude of
    ``expected``), so entries near zero are compared on the array's scale.
    """
    expected = np.asarray(expected)
    actual = np.asarray(actual)
    if dtype is None:
        dtype = actual.dtype if actual.dtype in RTOL else np.float64
    if rtol is None:
        rtol = rtol_for(dtype)
    if scale is None:
        finite = np.abs(expected[np.isfinite(expected)]) if expected.size else np.zeros(0)
        scale = float(finite.max()) if finite.size else 0.0
    assert actual.shape == expected.shape, f"shape {actual.shape} != expected {expected.shape}. {err_msg}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol * scale + 1e-300, err_msg=err_msg)


@pytest.fixture
def rng():
    """A fresh, seeded generator per test: every test is reproducible alone."""
    return np.random.default_rng(20240601)


@pytest.fixture(scope="session")
def data_dir():
    """The shared data folder; skips when it or h5py is absent."""
    if not DATA_DIR.is_dir():
        pytest.skip(f"real data not available: {DATA_DIR} does not exist")
    pytest.importorskip("h5py", reason="h5py (the 'data' extra) is needed to read the course's .h5 files")
    return DATA_DIR


def before_each_step(monkeypatch, hook, net=None):
    """Call ``hook()`` ahead of every training step of a fit (of ``net``'s fits only, when given).

    Patches :meth:`fastdnn.loop.TrainLoop.step`, the one place every fit's
    step passes through, for the rest of the test (or until ``monkeypatch.undo()``).
    """
    from fastdnn.loop import TrainLoop

    original = TrainLoop.step

    def step(loop, *args):
        if net is None or loop.net is net:
            hook()
        return original(loop, *args)

    monkeypatch.setattr(TrainLoop, "step", step)
