"""Saving and loading a Network: one .npz, atomic, identical predictions, clear errors."""

import os
import pickle
import zipfile

import numpy as np
import pytest

from fastdnn.network import Network


@pytest.fixture
def trained(rng):
    net = Network([6, 8, 5, 3], hidden="leaky_relu", output="softmax", dtype=np.float32, init="he", seed=4)
    X = rng.standard_normal((6, 80)).astype(np.float32)
    y = rng.integers(0, 3, 80)
    net.fit(X, y, epochs=3, batch_size=32, optimizer="adam", learning_rate=0.01, progress=False)
    net.metadata = {"classes": ["a", "b", "c"], "input_scale": 1.0}
    return net, X, y


def test_save_load_round_trip_gives_identical_predictions(trained, tmp_path):
    net, X, y = trained
    path = tmp_path / "model.npz"
    net.save(path)
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]  # no temporary file left behind
    loaded = Network.load(path)
    assert (loaded.layer_dims, loaded.hidden, loaded.output, loaded.dtype, loaded.leaky_slope) == \
        (net.layer_dims, net.hidden, net.output, net.dtype, net.leaky_slope)
    np.testing.assert_array_equal(loaded.params, net.params)
    np.testing.assert_array_equal(loaded.predict_proba(X), net.predict_proba(X))
    assert loaded.metadata == net.metadata
    for name, arr in loaded.parameters.items():
        assert np.shares_memory(arr, loaded.params), name
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["fastdnn_architecture.npy", "params.npy"]


def test_save_with_optimizer_resumes_training_exactly(trained, tmp_path, rng):
    net, X, y = trained
    path = tmp_path / "resume.npz"
    net.save(path, include_optimizer=True)
    loaded = Network.load(path)
    assert loaded.optimizer == net.optimizer and loaded.model_state.t == net.model_state.t
    np.testing.assert_array_equal(loaded.state, net.state)
    # Full batch (no shuffling), so the continuation depends only on the saved state.
    net.fit(X, y, epochs=2, optimizer="adam", learning_rate=0.01, progress=False)
    loaded.fit(X, y, epochs=2, optimizer="adam", learning_rate=0.01, progress=False)
    np.testing.assert_array_equal(loaded.params, net.params)


def test_save_replaces_an_existing_file_atomically(trained, tmp_path, monkeypatch):
    net, X, _ = trained
    path = tmp_path / "model.npz"
    path.write_bytes(b"old content")
    fsynced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: fsynced.append(fd) or real_fsync(fd))
    net.save(path)
    assert fsynced, "the new file was not flushed to disk before the rename"
    np.testing.assert_array_equal(Network.load(path).predict(X), net.predict(X))


def test_a_failed_save_leaves_the_old_file_and_no_temporary(trained, tmp_path, monkeypatch):
    net, _, _ = trained
    path = tmp_path / "model.npz"
    path.write_bytes(b"old content")

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        net.save(path)
    assert path.read_bytes() == b"old content"
    assert sorted(os.listdir(tmp_path)) == ["model.npz"]


def test_load_errors_name_the_file(trained, tmp_path):
    net, _, _ = trained
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        Network.load(tmp_path / "missing.npz")

    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not a zip archive at all" * 10)
    with pytest.raises(ValueError, match="garbage.npz is not a readable fastdnn model"):
        Network.load(garbage)

    other = tmp_path / "other.npz"
    np.savez(other, X=np.zeros(3))
    with pytest.raises(ValueError, match="other.npz is not a fastdnn model file: it has no architecture record"):
        Network.load(other)

    single = tmp_path / "single.npy"
    np.save(single, np.zeros(3))
    with pytest.raises(ValueError, match="single.npy is not a fastdnn model file"):
        Network.load(single)

    good = tmp_path / "good.npz"
    net.save(good)
    data = good.read_bytes()
    for cut in (len(data) // 2, len(data) - 30):
        truncated = tmp_path / f"truncated{cut}.npz"
        truncated.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=f"truncated{cut}.npz"):
            Network.load(truncated)


def test_load_rejects_a_damaged_arena(trained, tmp_path):
    net, _, _ = trained
    path = tmp_path / "damaged.npz"
    net.save(path)
    with np.load(path) as archive:
        record = archive["fastdnn_architecture"]
    np.savez(path, fastdnn_architecture=record, params=np.zeros(5, dtype=np.float32))
    with pytest.raises(ValueError, match=r"damaged.npz is damaged: its parameter arena has shape \(5,\)"):
        Network.load(path)


def test_metadata_must_be_json(trained, tmp_path):
    net, _, _ = trained
    net.metadata = {"bad": object()}
    with pytest.raises(TypeError, match="metadata"):
        net.save(tmp_path / "m.npz")
    assert os.listdir(tmp_path) == []


def test_pickle_keeps_views_into_the_arena(trained):
    net, X, y = trained
    copy = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(copy.predict_proba(X), net.predict_proba(X))
    for name, arr in copy.parameters.items():
        assert np.shares_memory(arr, copy.params), name
    # Training continues the same way (same optimizer state and shuffling generator).
    net.fit(X, y, epochs=1, batch_size=16, optimizer="adam", learning_rate=0.01, progress=False)
    copy.fit(X, y, epochs=1, batch_size=16, optimizer="adam", learning_rate=0.01, progress=False)
    np.testing.assert_array_equal(copy.params, net.params)
