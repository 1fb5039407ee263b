"""The scripts in examples/ run, at a small size, as a user would run them."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DATA_DIR

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run(name, *args, cwd, launcher=()):
    result = subprocess.run([*launcher, sys.executable, str(EXAMPLES / name), *map(str, args)], cwd=cwd,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_cat_application(tmp_path):
    if not (DATA_DIR / "train_catvnoncat.h5").exists():
        pytest.skip(f"real data not available: {DATA_DIR} has no train_catvnoncat.h5")
    pytest.importorskip("h5py", reason="the course's .h5 files need h5py (the 'data' extra)")
    out = run("cat_application.py", "--iterations", "101", "--data", DATA_DIR, cwd=tmp_path)
    assert "Cost after iteration 100: 0.672053440082" in out and "test accuracy" in out


def test_digits_grid_search(tmp_path):
    pytest.importorskip("sklearn", reason="the example is scikit-learn's habits")
    out = run("digits_grid_search.py", "--max-iter", "5", "--n-jobs", "2", cwd=tmp_path)
    assert "best {" in out and "test accuracy" in out


def test_regression(tmp_path):
    pytest.importorskip("sklearn", reason="the example compares with scikit-learn")
    out = run("regression.py", "--samples", "600", "--max-iter", "5", cwd=tmp_path)
    assert "fastdnn: R^2" in out and "scikit-learn: R^2" in out


def test_digits_trainer_checkpoints_resume(tmp_path):
    if not (DATA_DIR / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real data not available: {DATA_DIR} has no t10k-images-idx3-ubyte.gz")
    first = run("digits_trainer_checkpoints.py", "--epochs", "1", "--limit", "1000", "--data", DATA_DIR,
                cwd=tmp_path)
    assert "epochs so far: 1" in first and (tmp_path / "digits.ckpt.npz").exists()
    again = run("digits_trainer_checkpoints.py", "--epochs", "2", "--limit", "1000", "--data", DATA_DIR,
                cwd=tmp_path)
    assert "resuming from digits.ckpt.npz" in again and "epochs so far: 2" in again


def test_pytorch_habits(tmp_path):
    out = run("pytorch_habits.py", "--epochs", "3", cwd=tmp_path)
    assert "nn.Sequential keys: 0.weight (64, 20)" in out and "validation accuracy" in out


def test_onnx_export(tmp_path):
    pytest.importorskip("onnx", reason="ONNX export needs the onnx package (the 'onnx' extra)")
    out = run("onnx_export.py", "--out", tmp_path / "m.onnx", cwd=tmp_path)
    assert "saved" in out and (tmp_path / "m.onnx").exists()


def test_sparse_inputs(tmp_path):
    pytest.importorskip("sklearn", reason="the example uses scikit-learn's estimator face")
    out = run("sparse_inputs.py", "--samples", "500", "--features", "2000", "--max-iter", "2", cwd=tmp_path)
    assert "nonzeros" in out and "test accuracy" in out


def test_mpi_data_parallel(tmp_path):
    pytest.importorskip("mpi4py", reason="MPI needs the 'distributed' extra")
    mpirun = shutil.which("mpirun", path=str(Path(sys.executable).parent)) or shutil.which("mpirun")
    if mpirun is None:
        pytest.skip("no mpirun on the PATH or beside this Python")
    out = run("mpi_data_parallel.py", "--epochs", "2", cwd=tmp_path, launcher=(mpirun, "-n", "2"))
    assert out.startswith("2 ranks; cost per epoch")


def test_bfloat16(tmp_path):
    pytest.importorskip("sklearn", reason="the example's data come from scikit-learn")
    from fastdnn import precision

    try:
        precision.choose("bf16", "float32")
    except ImportError as missing:
        pytest.skip(f"no bf16 product here: {missing}")
    out = run("bfloat16.py", "--max-iter", "3", cwd=tmp_path)
    assert out.count("test accuracy") == 2 and "bf16 products" in out
