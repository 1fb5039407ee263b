"""The package's annotations check with mypy (configured in pyproject.toml), and ship with it (py.typed)."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_the_package_is_marked_typed():
    assert (ROOT / "fastdnn" / "py.typed").exists()
    assert '"py.typed"' in (ROOT / "pyproject.toml").read_text()


def test_mypy_finds_no_error_in_the_package():
    pytest.importorskip("mypy", reason="mypy comes with the test extra (pip install -e '.[test]')")
    done = subprocess.run([sys.executable, "-m", "mypy", "--no-incremental"], cwd=ROOT, capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
