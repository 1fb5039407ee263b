"""ONNX export: the files onnxruntime runs predict what fastdnn predicts."""

import numpy as np
import pytest

from fastdnn import Network

onnx = pytest.importorskip("onnx", reason="ONNX export needs the onnx package (the 'onnx' extra)")
ort = pytest.importorskip("onnxruntime", reason="the exported files are checked with onnxruntime")

HIDDEN = ["relu", "tanh", "sigmoid", "leaky_relu", "linear"]
OUTPUTS = [("sigmoid", 1), ("sigmoid", 3), ("softmax", 4), ("linear", 2), ("poisson", 2)]


def _run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"X": X})[0]


@pytest.mark.parametrize("hidden", HIDDEN)
@pytest.mark.parametrize("output,n_out", OUTPUTS)
def test_network_files_predict_as_the_network(tmp_path, rng, hidden, output, n_out):
    net = Network([7, 9, 5, n_out], hidden=hidden, output=output, dtype=np.float32, seed=3)
    net.params[...] = rng.standard_normal(net.params.size).astype(np.float32) * 0.5
    X = rng.standard_normal((11, 7)).astype(np.float32)
    model = net.to_onnx(tmp_path / "net.onnx")
    assert [node.op_type for node in model.graph.node][:2] == ["Gemm", {
        "relu": "Relu", "tanh": "Tanh", "sigmoid": "Sigmoid", "leaky_relu": "LeakyRelu", "linear": "Identity"}[hidden]]
    expected = net.predict_proba(X.T).T
    got = _run(tmp_path / "net.onnx", X)
    assert got.shape == (11, n_out) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_one_activation_per_hidden_layer_goes_into_the_graph(tmp_path, rng):
    net = Network([7, 9, 8, 5, 2], hidden=["tanh", "linear", "leaky_relu"], output="softmax", dtype=np.float32,
                  seed=3)
    X = rng.standard_normal((11, 7)).astype(np.float32)
    model = net.to_onnx(tmp_path / "net.onnx")
    kinds = [node.op_type for node in model.graph.node if node.op_type != "Gemm"]
    assert kinds == ["Tanh", "Identity", "LeakyRelu", "Softmax"]
    np.testing.assert_allclose(_run(tmp_path / "net.onnx", X), net.predict_proba(X.T).T, rtol=1e-5, atol=1e-6)


def test_float64_files_and_m_equal_one(tmp_path, rng):
    net = Network([3, 4, 2], output="softmax", dtype=np.float64, seed=1)
    net.to_onnx(tmp_path / "net64.onnx", dtype=np.float64)
    X = rng.standard_normal((1, 3))
    np.testing.assert_allclose(_run(tmp_path / "net64.onnx", X), net.predict_proba(X.T).T, rtol=1e-12)


def test_estimators_export_predict_proba_and_values(tmp_path):
    pytest.importorskip("sklearn", reason="the estimators' tests use scikit-learn's data")
    from sklearn.datasets import load_iris, make_regression

    from fastdnn import MLPClassifier, MLPRegressor

    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    for labels in (y, (y == 2).astype(int)):  # three classes, then two (one sigmoid unit, two columns out)
        clf = MLPClassifier(hidden_layer_sizes=(8,), max_iter=20, random_state=0).fit(X, labels)
        clf.to_onnx(tmp_path / "clf.onnx")
        np.testing.assert_allclose(_run(tmp_path / "clf.onnx", X), clf.predict_proba(X), rtol=1e-5, atol=1e-6)
    Xr, yr = make_regression(n_samples=50, n_features=4, n_targets=2, random_state=0)
    reg = MLPRegressor(hidden_layer_sizes=(6,), max_iter=20, random_state=0).fit(Xr.astype(np.float32), yr)
    reg.to_onnx(tmp_path / "reg.onnx")
    np.testing.assert_allclose(_run(tmp_path / "reg.onnx", Xr.astype(np.float32)), reg.predict(Xr), rtol=1e-4,
                               atol=1e-4)


def test_cli_export_keeps_the_input_scaling(tmp_path, rng, capsys):
    from fastdnn.cli import main

    X = rng.integers(0, 256, size=(120, 6), dtype=np.uint8)
    y = (X[:, 0] > X[:, 1]).astype(int)
    np.savez(tmp_path / "bytes.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "bytes.npz"), "--layers", "5", "--epochs", "3", "--out", str(model)]) == 0
    assert main(["export", str(model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    assert "wrote" in capsys.readouterr().err
    assert main(["predict", str(model), str(tmp_path / "bytes.npz"), "--proba"]) == 0
    printed = np.array([[float(x) for x in line.split()] for line in capsys.readouterr().out.splitlines()])
    got = _run(tmp_path / "m.onnx", X.astype(np.float32))
    np.testing.assert_allclose(got[:, 0], printed[:, 1], rtol=1e-4, atol=1e-5)


def test_cli_export_keeps_the_standardization(tmp_path, rng, capsys):
    from fastdnn.cli import main

    X = rng.standard_normal((100, 3)) * np.array([100.0, 0.01, 1.0]) + 40.0
    y = (X[:, 0] > 40.0).astype(int)
    np.savez(tmp_path / "d.npz", X=X, y=y)
    model = tmp_path / "m.npz"
    assert main(["train", str(tmp_path / "d.npz"), "--standardize", "--layers", "4", "--epochs", "2", "--out",
                 str(model)]) == 0
    assert main(["export", str(model), "--onnx", str(tmp_path / "m.onnx")]) == 0
    capsys.readouterr()
    assert main(["predict", str(model), str(tmp_path / "d.npz"), "--proba"]) == 0
    printed = np.array([[float(x) for x in line.split()] for line in capsys.readouterr().out.splitlines()])
    got = _run(tmp_path / "m.onnx", X.astype(np.float32))
    # The graph centres float32 inputs of about 40 (1e-6 of them lost to float32); fastdnn predict centres the
    # file's float64 values first.
    np.testing.assert_allclose(got[:, 0], printed[:, 1], rtol=1e-4, atol=2e-4)

