"""Injected faults: unwritable or full destinations, damaged files, non-finite data mid-training.

Each fault must end in a clear error that names what went wrong, and lose
nothing: a previous file stays intact and loadable, the parameters stay at
their last finite state.
"""

import errno
import os

import numpy as np
import pytest

import fastdnn as dnn
from fastdnn import checkpoint as ckpt

from conftest import before_each_step

FIT = dict(epochs=3, batch_size=10, optimizer="adam", learning_rate=0.01, dropout=0.1, progress=False)


def _data(m=60, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((4, m))
    Y = (X[:1] > 0).astype(np.float64)
    return X, Y


def _trained(epochs=1):
    X, Y = _data()
    net = dnn.Network([4, 6, 1], seed=2)
    net.fit(X, Y, **dict(FIT, epochs=epochs))
    return net


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


# ------------------------------------------------------------ unwritable destination


def test_save_under_a_regular_file_names_the_file(tmp_path):
    # A parent that is a regular file: unwritable even for root (which ignores permission bits).
    blocker = tmp_path / "not_a_folder"
    blocker.write_text("x")
    target = blocker / "model.npz"
    with pytest.raises(OSError, match="model.npz") as info:
        _trained().save(target)
    assert info.value.errno == errno.ENOTDIR


def test_checkpoint_under_a_regular_file_fails_before_training_is_lost(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    X, Y = _data()
    with pytest.raises(OSError, match="run.ckpt"):
        dnn.Network([4, 6, 1]).fit(X, Y, checkpoint=blocker / "run.ckpt", **FIT)


@pytest.mark.parametrize("code", [errno.EROFS, errno.EACCES])
def test_rename_refused_keeps_the_previous_model(tmp_path, monkeypatch, code):
    path = tmp_path / "model.npz"
    old = _trained(1)
    old.save(path)
    new = _trained(3)

    def refuse(src, dst):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(OSError, match="model.npz") as info:
        new.save(path)
    assert info.value.errno == code
    monkeypatch.undo()
    assert np.array_equal(dnn.Network.load(path).params, old.params)
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------ full disk


def _disk_full_after(monkeypatch, n_bytes):
    """Make ``np.savez`` write ``n_bytes`` of the file and then fail as a full disk does."""
    real_savez = np.savez

    def savez(file, *args, **kwargs):
        import io

        buffer = io.BytesIO()
        real_savez(buffer, *args, **kwargs)
        file.write(buffer.getvalue()[:n_bytes])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(np, "savez", savez)


@pytest.mark.parametrize("n_bytes", [0, 100, 1000])
def test_full_disk_on_save_keeps_the_previous_model(tmp_path, monkeypatch, n_bytes):
    path = tmp_path / "model.npz"
    old = _trained(1)
    old.save(path, include_optimizer=True)
    _disk_full_after(monkeypatch, n_bytes)
    with pytest.raises(OSError, match="model.npz") as info:
        _trained(3).save(path)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    loaded = dnn.Network.load(path)
    assert np.array_equal(loaded.params, old.params)
    assert np.array_equal(loaded.state, old.state)
    assert _leftovers(tmp_path) == []


def test_full_disk_at_fsync_keeps_the_previous_model(tmp_path, monkeypatch):
    path = tmp_path / "model.npz"
    old = _trained(1)
    old.save(path)

    def fsync(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError, match="model.npz"):
        _trained(3).save(path)
    monkeypatch.undo()
    assert np.array_equal(dnn.Network.load(path).params, old.params)
    assert _leftovers(tmp_path) == []


def test_full_disk_during_training_loses_nothing(tmp_path, monkeypatch):
    """The disk fills at the 4th checkpoint: fit stops with an OSError, the 3rd checkpoint resumes bit-identically."""
    X, Y = _data()
    reference = dnn.Network([4, 6, 1], seed=2)
    reference.fit(X, Y, **FIT)

    path = tmp_path / "run.ckpt"
    real_save = ckpt.save
    calls = [0]

    def save(*args):
        calls[0] += 1
        if calls[0] == 4:
            _disk_full_after(monkeypatch, 300)
        return real_save(*args)

    monkeypatch.setattr(ckpt, "save", save)
    net = dnn.Network([4, 6, 1], seed=2)
    with pytest.raises(OSError, match="run.ckpt") as info:
        net.fit(X, Y, checkpoint=path, checkpoint_every=2, **FIT)
    assert info.value.errno == errno.ENOSPC
    monkeypatch.undo()
    # Saves 1-3 were after steps 2, 4, 6; the 4th (end of epoch 1) hit the full disk.
    assert ckpt.load(path)["n_steps"] == 6
    resumed = dnn.Network([4, 6, 1], seed=2)
    resumed.fit(X, Y, checkpoint=path, checkpoint_every=2, resume=True, **FIT)
    assert np.array_equal(resumed.params, reference.params)
    assert _leftovers(tmp_path) == []


# ------------------------------------------------------------ damaged or foreign files


def _damaged_files(folder, good):
    data = good.read_bytes()
    files = {
        "empty": b"",
        "truncated_half": data[: len(data) // 2],
        "truncated_tail": data[:-10],
        "text": b"hello, this is not a model\n",
        "random": np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes(),
    }
    paths = {}
    for name, content in files.items():
        p = folder / f"{name}.npz"
        p.write_bytes(content)
        paths[name] = p
    np.save(folder / "array.npy", np.zeros(3))
    paths["npy"] = folder / "array.npy"
    np.savez(folder / "foreign.npz", X=np.zeros((2, 2)))
    paths["foreign_npz"] = folder / "foreign.npz"
    return paths


@pytest.mark.parametrize("kind", ["empty", "truncated_half", "truncated_tail", "text", "random", "npy",
                                  "foreign_npz"])
def test_damaged_model_file_names_the_file(tmp_path, kind):
    good = tmp_path / "good.npz"
    _trained().save(good)
    path = _damaged_files(tmp_path, good)[kind]
    with pytest.raises(ValueError, match=str(path.name)):
        dnn.Network.load(path)


@pytest.mark.parametrize("kind", ["empty", "truncated_half", "truncated_tail", "text", "random", "npy",
                                  "foreign_npz", "model"])
def test_damaged_checkpoint_names_the_file(tmp_path, kind):
    X, Y = _data()
    good = tmp_path / "good.ckpt"
    dnn.Network([4, 6, 1]).fit(X, Y, checkpoint=good, **FIT)
    paths = _damaged_files(tmp_path, good)
    if kind == "model":
        paths["model"] = tmp_path / "model.npz"
        _trained().save(paths["model"])  # a model is not a checkpoint
    path = paths[kind]
    with pytest.raises(ValueError, match=str(path.name)):
        ckpt.load(path)
    with pytest.raises(ValueError, match=str(path.name)):
        dnn.Network([4, 6, 1]).fit(X, Y, checkpoint=path, resume=True, **FIT)


def test_checkpoint_is_not_a_model(tmp_path):
    X, Y = _data()
    path = tmp_path / "c.npz"
    dnn.Network([4, 6, 1]).fit(X, Y, checkpoint=path, **FIT)
    with pytest.raises(ValueError, match="c.npz"):
        dnn.Network.load(path)


def test_missing_files_are_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.npz"):
        dnn.Network.load(tmp_path / "nope.npz")
    with pytest.raises(FileNotFoundError, match="nope.ckpt"):
        ckpt.load(tmp_path / "nope.ckpt")


# ------------------------------------------------------------ NaN or inf in a batch


def _record_before_each_batch(monkeypatch, net):
    """Keep a copy of the parameters and optimizer state as they are before each batch."""
    seen = []
    before_each_step(monkeypatch, lambda: seen.append((net.params.copy(), net.state.copy())), net)
    return seen


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("example, step", [(37, 4), (3, 1)])
def test_non_finite_example_mid_training_names_epoch_step_and_example(bad_value, example, step, monkeypatch):
    X, Y = _data()
    net = dnn.Network([4, 6, 1], seed=2)
    seen = _record_before_each_batch(monkeypatch, net)

    def poison(epoch, record):
        # The data changes under the trainer after its first epoch (a memory map written by another process).
        X[2, example] = bad_value

    with pytest.raises(FloatingPointError) as info:
        net.fit(X, Y, callback=poison, shuffle=False, **dict(FIT, epochs=3))
    message = str(info.value)
    assert f"epoch 2 of 3, step {step} of 6" in message
    assert f"examples [{example}]" in message
    first = (step - 1) * 10
    assert "[" + ", ".join(str(i) for i in range(first, first + 10)) + "]" in message
    # Nothing lost: the parameters and state of the last finite state, the one before the bad batch.
    assert len(seen) == 6 + step
    params, state = seen[-1]
    assert np.array_equal(net.params, params)
    assert np.array_equal(net.state, state)
    assert np.isfinite(net.params).all()


def test_non_finite_example_with_shuffle_names_the_example():
    X, Y = _data()
    net = dnn.Network([4, 6, 1], seed=2)

    def poison(epoch, record):
        X[0, 11] = np.nan

    with pytest.raises(FloatingPointError, match=r"epoch 2 of 3, step \d of 6.*examples \[11\]"):
        net.fit(X, Y, callback=poison, **FIT)
    assert np.isfinite(net.params).all()


def test_overflowing_example_rolls_back_to_the_last_finite_state(monkeypatch):
    """A finite but huge example (1e300) blows the update up: the next cost is NaN, the update is undone."""
    X, Y = _data()
    X[:, 5] = 1e300
    net = dnn.Network([4, 6, 1], seed=2)
    seen = _record_before_each_batch(monkeypatch, net)
    with pytest.raises(FloatingPointError, match=r"epoch 1 of 1, step \d of 6.*examples \[\d+, .*rolled back"):
        net.fit(X, Y, shuffle=False, **dict(FIT, epochs=1))
    # The failing batch is seen[-1]; the update before it made the parameters non-finite or huge, and is undone.
    assert len(seen) >= 2
    assert np.array_equal(net.params, seen[-2][0])
    assert np.array_equal(net.state, seen[-2][1])
    assert np.isfinite(net.params).all()


def test_divergence_rolls_back_and_names_the_batch():
    X, Y = _data()
    X *= 1e3
    net = dnn.Network([4, 64, 64, 1], seed=2, init="small")
    states = []

    def keep(epoch, record):
        states.append(net.params.copy())

    with pytest.raises(FloatingPointError) as info:
        net.fit(X, Y, epochs=200, batch_size=10, optimizer="sgd", learning_rate=1e6, callback=keep, progress=False)
    assert "examples [" in str(info.value) and "rolled back" in str(info.value)
    assert np.isfinite(net.params).all()
