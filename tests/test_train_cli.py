"""``fastdnn train`` / ``predict`` / ``evaluate``: round trips, help, and one-line errors with exit status 2."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from fastdnn.cli import main
from fastdnn.network import Network


@pytest.fixture
def blobs(tmp_path, rng):
    """Three well separated classes with text labels, in an .npz."""
    centers = np.array([[3, 0, 0, 0], [0, 3, 0, 0], [0, 0, 3, 0]], dtype=float)
    labels = rng.integers(0, 3, 300)
    X = centers[labels] + rng.standard_normal((300, 4)) * 0.5
    names = np.array(["ant", "bee", "cat"])[labels]
    path = tmp_path / "blobs.npz"
    np.savez(path, X=X, y=names)
    return path, X, names


def run_cli(argv, capsys):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *fragments):
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_train_predict_evaluate_round_trip(blobs, tmp_path, capsys):
    path, X, names = blobs
    model = tmp_path / "model.npz"
    code, out, err = run_cli(["train", path, "--layers", "8", "--epochs", "20", "--batch-size", "32", "--lr", "0.01",
                              "--out", model, "--no-progress"], capsys)
    assert code == 0, err
    assert "saved" in out and "train accuracy" in out
    net = Network.load(model)
    assert net.layer_dims == [4, 8, 3] and net.output == "softmax" and net.dtype == np.float32
    assert net.metadata["classes"] == ["ant", "bee", "cat"]

    code, out, err = run_cli(["predict", model, path], capsys)
    assert code == 0, err
    predicted = out.split()
    assert len(predicted) == 300 and set(predicted) <= {"ant", "bee", "cat"}
    assert np.mean(np.array(predicted) == names) > 0.95

    code, out, err = run_cli(["evaluate", model, path, "--json"], capsys)
    assert code == 0, err
    scores = json.loads(out)
    assert scores["examples"] == 300 and scores["accuracy"] == np.mean(np.array(predicted) == names)

    code, out, _ = run_cli(["predict", model, path, "--proba", "--out", tmp_path / "p.npy"], capsys)
    assert code == 0
    P = np.load(tmp_path / "p.npy")
    assert P.shape == (300, 3)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=1e-5)


def test_train_with_full_batch_validation_and_binary_labels(tmp_path, rng, capsys):
    X = rng.standard_normal((200, 3))
    y = (X[:, 0] > 0).astype(int)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    model = tmp_path / "binary.npz"
    code, out, err = run_cli(["train", tmp_path / "X.npy", "--labels", tmp_path / "y.npy", "--layers", "4",
                              "--epochs", "50", "--batch-size", "full", "--optimizer", "adam", "--lr", "0.05",
                              "--validation-split", "0.2", "--dtype", "float64", "--out", model], capsys)
    assert code == 0, err
    assert "validation accuracy" in out
    net = Network.load(model)
    assert net.output == "sigmoid" and net.layer_dims == [3, 4, 1] and net.metadata["classes"] == [0, 1]
    code, out, err = run_cli(["evaluate", model, tmp_path / "X.npy", "--labels", tmp_path / "y.npy"], capsys)
    assert code == 0 and "accuracy: " in out
    assert float(out.split("accuracy: ")[1].split()[0]) > 0.9


def test_real_valued_labels_train_a_linear_model(tmp_path, rng, capsys):
    X = rng.standard_normal((150, 2))
    y = X @ np.array([1.5, -2.0]) + 0.3
    np.savez(tmp_path / "reg.npz", X=X, y=y)
    model = tmp_path / "reg_model.npz"
    code, out, err = run_cli(["train", tmp_path / "reg.npz", "--layers", "", "--epochs", "300", "--batch-size",
                              "full", "--optimizer", "adam", "--lr", "0.05", "--dtype", "float64", "--out", model],
                             capsys)
    assert code == 0, err
    net = Network.load(model)
    assert net.output == "linear" and net.metadata["classes"] is None
    np.testing.assert_allclose(net.parameters["W1"], [[1.5, -2.0]], atol=0.02)
    code, out, err = run_cli(["evaluate", model, tmp_path / "reg.npz"], capsys)
    assert code == 0 and "accuracy" not in out and "cost: " in out


def test_uint8_inputs_are_scaled_and_the_scale_is_saved(tmp_path, rng, capsys):
    images = rng.integers(0, 256, size=(60, 5, 5)).astype(np.uint8)
    labels = (images.reshape(60, -1).mean(axis=1) > 127).astype(np.uint8)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in images.shape)
    (tmp_path / "toy-images-idx3-ubyte.gz").write_bytes(gzip.compress(header + images.tobytes()))
    header = bytes([0, 0, 8, 1]) + int(60).to_bytes(4, "big")
    (tmp_path / "toy-labels-idx1-ubyte.gz").write_bytes(gzip.compress(header + labels.tobytes()))
    model = tmp_path / "toy.npz"
    code, _, err = run_cli(["train", tmp_path / "toy-images-idx3-ubyte.gz", "--layers", "3", "--epochs", "2",
                            "--out", model], capsys)
    assert code == 0, err
    net = Network.load(model)
    assert net.layer_dims[0] == 25 and net.metadata["input_scale"] == pytest.approx(1 / 255)
    code, out, _ = run_cli(["predict", model, tmp_path / "toy-images-idx3-ubyte.gz", "--proba"], capsys)
    expected = net.predict_proba((images.reshape(60, -1) * np.float32(1 / 255)).T)[0]
    np.testing.assert_allclose(np.loadtxt(out.splitlines())[:, 1], expected, rtol=1e-6)


def test_digits_from_the_shared_idx_files(data_dir, tmp_path, capsys):
    images = data_dir / "t10k-images-idx3-ubyte.gz"
    model = tmp_path / "digits.npz"
    code, out, err = run_cli(["train", images, "--layers", "64", "--epochs", "2", "--batch-size", "500",
                              "--out", model, "--no-progress"], capsys)
    assert code == 0, err
    code, out, err = run_cli(["evaluate", model, images], capsys)
    assert code == 0, err
    assert float(out.split("accuracy: ")[1].split()[0]) > 0.85


@pytest.mark.parametrize("command", ["train", "predict", "evaluate"])
def test_help_explains_the_command_and_the_formats(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "DATA formats" in text and ".npz" in text and "idx" in text and ".h5" in text
    assert f"fastdnn {command}" in text


def test_user_errors_are_one_line_with_status_2(blobs, tmp_path, rng, capsys):
    path, X, _ = blobs
    model = tmp_path / "model.npz"
    assert run_cli(["train", path, "--layers", "4", "--epochs", "1", "--out", model], capsys)[0] == 0

    code, _, err = run_cli(["train", tmp_path / "missing.npz", "--out", model], capsys)
    assert_one_line_error(code, err, "fastdnn train: error:", "missing.npz")
    code, _, err = run_cli(["predict", tmp_path / "nomodel.npz", path], capsys)
    assert_one_line_error(code, err, "no such model file", "nomodel.npz")
    code, _, err = run_cli(["predict", path, path], capsys)
    assert_one_line_error(code, err, "blobs.npz is not a fastdnn model file")

    np.savez(tmp_path / "wide.npz", X=rng.standard_normal((10, 7)), y=np.zeros(10))
    code, _, err = run_cli(["predict", model, tmp_path / "wide.npz"], capsys)
    assert_one_line_error(code, err, "wide.npz has 7 features per example but the model expects 4")
    code, _, err = run_cli(["evaluate", model, tmp_path / "wide.npz"], capsys)
    assert_one_line_error(code, err, "7 features")

    np.savez(tmp_path / "strange.npz", X=X, y=np.array(["ant", "dog"] * 150))
    code, _, err = run_cli(["evaluate", model, tmp_path / "strange.npz"], capsys)
    assert_one_line_error(code, err, "labels the model was not trained on", "dog")

    np.save(tmp_path / "X.npy", X)
    code, _, err = run_cli(["train", tmp_path / "X.npy", "--out", model], capsys)
    assert_one_line_error(code, err, "has no labels", "--labels")
    code, _, err = run_cli(["train", path, "--layers", "8,x", "--out", model], capsys)
    assert_one_line_error(code, err, "--layers")
    code, _, err = run_cli(["train", path, "--batch-size", "0", "--out", model], capsys)
    assert_one_line_error(code, err, "--batch-size")
    code, _, err = run_cli(["train", path, "--out", tmp_path / "nofolder" / "m.npz"], capsys)
    assert_one_line_error(code, err, "does not exist")
    code, _, err = run_cli(["train", tmp_path / "data.parquet", "--out", model], capsys)
    assert_one_line_error(code, err, "cannot tell the format of")
    code, _, err = run_cli(["train", path, "--lr", "-1", "--out", model], capsys)
    assert_one_line_error(code, err, "--lr must be a positive number")
    code, _, err = run_cli(["train", path, "--dropout", "1", "--out", model], capsys)
    assert_one_line_error(code, err, "--dropout")


def test_console_entry_point_exit_status():
    result = subprocess.run([sys.executable, "-m", "fastdnn", "evaluate", "no_model.npz", "no_data.npz"],
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert result.stderr.strip() == "fastdnn evaluate: error: no such model file: no_model.npz"


def test_one_hot_labels_and_layers_dims_are_interpreted_aloud(blobs, tmp_path, capsys):
    # The course's habits: one-hot label rows, and --layers listing the input and output sizes too.
    path, X, names = blobs
    one_hot = (names[:, None] == np.array(["ant", "bee", "cat"])).astype(np.float64)
    np.savez(tmp_path / "onehot.npz", X=X, y=one_hot)
    model = tmp_path / "onehot_model.npz"
    code, out, err = run_cli(["train", tmp_path / "onehot.npz", "--layers", "4,16,3", "--epochs", "30", "--out",
                              model, "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32"], capsys)
    assert code == 0, err
    assert "one-hot rows of 3 classes: training a softmax classifier" in err
    assert "taken as the whole network, hidden layers [16]" in err
    net = Network.load(model)
    assert net.layer_dims == [4, 16, 3] and net.output == "softmax"
    code, out, err = run_cli(["evaluate", model, tmp_path / "onehot.npz"], capsys)
    assert code == 0 and float(out.split("accuracy: ")[1].split()[0]) > 0.9
    # Only the input size repeated: taken as hidden layers, and said so.
    code, out, err = run_cli(["train", path, "--layers", "4,8", "--epochs", "1", "--out", tmp_path / "m2.npz"],
                             capsys)
    assert code == 0 and "is taken as such, so the network is [4, 4, 8, 3]" in err


def test_csv_train_predict_evaluate(blobs, tmp_path, capsys):
    _, X, names = blobs
    lines = ["a,b,c,d,animal"] + [",".join(f"{x:.6f}" for x in row) + f",{name}" for row, name in zip(X, names)]
    (tmp_path / "blobs.csv").write_text("\n".join(lines) + "\n")
    model = tmp_path / "csv_model.npz"
    code, out, err = run_cli(["train", tmp_path / "blobs.csv", "--label-column", "animal", "--layers", "8",
                              "--epochs", "40", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32",
                              "--out", model], capsys)
    assert code == 0, err
    code, out, err = run_cli(["evaluate", model, tmp_path / "blobs.csv", "--label-column", "animal"], capsys)
    assert code == 0 and float(out.split("accuracy: ")[1].split()[0]) > 0.9
    # Inputs only: the model's four columns, no labels.
    (tmp_path / "inputs.csv").write_text("\n".join(",".join(f"{x:.6f}" for x in row) for row in X[:3]) + "\n")
    code, out, err = run_cli(["predict", model, tmp_path / "inputs.csv"], capsys)
    assert code == 0, err
    assert out.split() == names[:3].tolist()


def test_cli_review_findings(blobs, tmp_path, capsys):
    _, X, names = blobs
    # The label column the model was trained with is the one predict and evaluate leave out.
    lines = ["animal,a,b,c,d"] + [f"{name}," + ",".join(f"{x:.6f}" for x in row) for row, name in zip(X, names)]
    (tmp_path / "first.csv").write_text("\n".join(lines) + "\n")
    model = tmp_path / "first_model.npz"
    code, _, err = run_cli(["train", tmp_path / "first.csv", "--label-column", "animal", "--layers", "8", "--epochs",
                            "30", "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32", "--out", model], capsys)
    assert code == 0, err
    code, out, err = run_cli(["predict", model, tmp_path / "first.csv"], capsys)
    assert code == 0, err
    assert np.mean(np.array(out.split()) == names) > 0.9
    # --output softmax takes one-hot rows only.
    np.savez(tmp_path / "real2.npz", X=X, y=np.random.default_rng(0).standard_normal((len(X), 2)))
    code, _, err = run_cli(["train", tmp_path / "real2.npz", "--output", "softmax", "--out", model], capsys)
    assert_one_line_error(code, err, "one-hot")
    # --exact-layers keeps a list that looks like the whole network as hidden layers.
    path = tmp_path / "blobs3.npz"
    np.savez(path, X=X[:, :3], y=names)
    code, _, err = run_cli(["train", path, "--layers", "3,16,3", "--exact-layers", "--epochs", "1", "--out",
                            tmp_path / "exact.npz"], capsys)
    assert code == 0 and Network.load(tmp_path / "exact.npz").layer_dims == [3, 3, 16, 3, 3]


def test_standardize_is_saved_and_applied(blobs, tmp_path, capsys):
    _, X, names = blobs
    shifted = X * np.array([1000.0, 0.001, 50.0, 1.0]) + np.array([5e4, -3.0, 7.0, 0.0])
    np.savez(tmp_path / "shifted.npz", X=shifted, y=names)
    model = tmp_path / "std_model.npz"
    code, _, err = run_cli(["train", tmp_path / "shifted.npz", "--standardize", "--layers", "8", "--epochs", "30",
                            "--optimizer", "adam", "--lr", "0.01", "--batch-size", "32", "--validation-split", "0.2",
                            "--out", model], capsys)
    assert code == 0, err
    net = Network.load(model)
    np.testing.assert_allclose(net.metadata["input_mean"], shifted.mean(axis=0))
    np.testing.assert_allclose(net.metadata["input_std"], shifted.std(axis=0))
    code, out, _ = run_cli(["evaluate", model, tmp_path / "shifted.npz"], capsys)
    assert code == 0 and float(out.split("accuracy: ")[1].split()[0]) > 0.9
    code, out, _ = run_cli(["predict", model, tmp_path / "shifted.npz"], capsys)
    assert code == 0 and np.mean(np.array(out.split()) == names) > 0.9


def test_adamw_clipping_and_early_stopping_from_the_command_line(blobs, tmp_path, capsys):
    path, X, names = blobs
    model = tmp_path / "model.npz"
    code, out, err = run_cli(["train", path, "--layers", "8", "--epochs", "200", "--batch-size", "32",
                              "--optimizer", "adamw", "--weight-decay", "0.05", "--clip-norm", "1.0",
                              "--clip-value", "0.5", "--early-stopping", "2", "--validation-split", "0.2", "--lr", "0.3",
                              "--out", model, "--no-progress"], capsys)
    assert code == 0, err
    assert "early stopping: val_cost did not improve for 2 epochs; kept epoch" in out
    assert int(out.split("epochs ")[1].split(";")[0]) < 200
    code, _, err = run_cli(["train", path, "--layers", "8", "--clip-norm", "0", "--out", model, "--no-progress"],
                           capsys)
    assert_one_line_error(code, err, "--clip-norm must be a positive number")
