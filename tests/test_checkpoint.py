"""Checkpoint and resume: a killed run, resumed, ends bit-identical to one that never stopped."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import fastdnn as dnn
from fastdnn import checkpoint as ckpt
from fastdnn.cli import main as cli_main

from conftest import before_each_step

SETTINGS = dict(epochs=6, batch_size=10, optimizer="adam", learning_rate=0.01, dropout=0.2, progress=False)


def _data(m=103, n_x=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_x, m))
    Y = (X[:1] + 0.3 * X[1:2] > 0).astype(np.float64)
    return X, Y


def _net(dtype=np.float64):
    return dnn.Network([5, 8, 6, 1], seed=3, dtype=dtype)


class _Crash(Exception):
    pass


def _crash_after(monkeypatch, net, n_batches):
    """Make ``net`` raise in the middle of fit after ``n_batches`` batches (a simulated crash)."""
    calls = [0]

    def count():
        calls[0] += 1
        if calls[0] > n_batches:
            raise _Crash()

    before_each_step(monkeypatch, count, net)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("crash_at", [4, 7, 11, 23, 44])
def test_resume_mid_epoch_is_bit_identical(tmp_path, monkeypatch, dtype, crash_at):
    X, Y = _data()
    reference = _net(dtype)
    reference.fit(X, Y, **SETTINGS)

    path = tmp_path / "run.ckpt"
    crashed = _net(dtype)
    _crash_after(monkeypatch, crashed, crash_at)
    with pytest.raises(_Crash):
        crashed.fit(X, Y, checkpoint=path, checkpoint_every=3, **SETTINGS)
    position = ckpt.load(path)["position"]
    assert (position["epoch"], position["step"]) != (0, 0)

    resumed = _net(dtype)
    history = resumed.fit(X, Y, checkpoint=path, checkpoint_every=3, resume=True, **SETTINGS)
    assert np.array_equal(resumed.params, reference.params)
    assert np.array_equal(resumed.state, reference.state)
    assert resumed.history["cost"] == reference.history["cost"]
    assert history["cost"] == reference.history["cost"]
    assert resumed.history["accuracy"] == reference.history["accuracy"]


def test_resume_full_batch_and_momentum(tmp_path, monkeypatch):
    X, Y = _data()
    settings = dict(epochs=9, optimizer="momentum", learning_rate=0.05, l2=0.1, progress=False)
    reference = _net()
    reference.fit(X, Y, **settings)
    path = tmp_path / "full.ckpt"
    crashed = _net()
    _crash_after(monkeypatch, crashed, 5)
    with pytest.raises(_Crash):
        crashed.fit(X, Y, checkpoint=path, checkpoint_every=2, **settings)
    resumed = _net()
    resumed.fit(X, Y, checkpoint=path, resume=True, **settings)
    assert np.array_equal(resumed.params, reference.params)
    assert resumed.history["cost"] == reference.history["cost"]


def test_resume_finished_run_trains_nothing_and_more_epochs_continue(tmp_path):
    X, Y = _data()
    path = tmp_path / "done.ckpt"
    net = _net()
    net.fit(X, Y, checkpoint=path, **SETTINGS)
    again = _net()
    assert again.fit(X, Y, checkpoint=path, resume=True, **SETTINGS)["cost"] == net.history["cost"]
    assert np.array_equal(again.params, net.params)

    longer = dict(SETTINGS, epochs=9)
    reference = _net()
    reference.fit(X, Y, **longer)
    extended = _net()
    extended.fit(X, Y, checkpoint=path, resume=True, **longer)
    assert np.array_equal(extended.params, reference.params)


def test_resume_without_a_file_starts_from_scratch(tmp_path):
    X, Y = _data()
    reference = _net()
    reference.fit(X, Y, **SETTINGS)
    net = _net()
    net.fit(X, Y, checkpoint=tmp_path / "new.ckpt", resume=True, **SETTINGS)
    assert np.array_equal(net.params, reference.params)
    assert (tmp_path / "new.ckpt").exists()


@pytest.mark.parametrize("change", [dict(batch_size=12), dict(optimizer="sgd"), dict(dropout=0.1),
                                    dict(learning_rate=0.02), dict(shuffle=False)])
def test_resume_with_other_settings_is_refused(tmp_path, change):
    X, Y = _data()
    path = tmp_path / "a.ckpt"
    _net().fit(X, Y, checkpoint=path, **dict(SETTINGS, epochs=1))
    with pytest.raises(ValueError, match="other settings"):
        _net().fit(X, Y, checkpoint=path, resume=True, **dict(SETTINGS, **change))


def test_resume_with_other_data_or_architecture_is_refused(tmp_path):
    X, Y = _data()
    path = tmp_path / "a.ckpt"
    _net().fit(X, Y, checkpoint=path, **dict(SETTINGS, epochs=1))
    X2, Y2 = _data(m=90)
    with pytest.raises(ValueError, match="other settings"):
        _net().fit(X2, Y2, checkpoint=path, resume=True, **SETTINGS)
    with pytest.raises(ValueError, match=r"a\.ckpt.*layer_dims"):
        dnn.Network([5, 7, 1]).fit(X, Y, checkpoint=path, resume=True, **SETTINGS)


def test_checkpoint_argument_errors(tmp_path):
    X, Y = _data()
    with pytest.raises(ValueError, match="resume"):
        _net().fit(X, Y, resume=True)
    with pytest.raises(ValueError, match="checkpoint_every"):
        _net().fit(X, Y, checkpoint_every=2)
    with pytest.raises(ValueError, match="checkpoint_every"):
        _net().fit(X, Y, checkpoint=tmp_path / "c", checkpoint_every=0)


# ------------------------------------------------------------------ SIGKILL

CHILD = """
import sys
import numpy as np
import fastdnn as dnn

path, out = sys.argv[1], sys.argv[2]
rng = np.random.default_rng(7)
X = rng.standard_normal((6, 240))
Y = (np.sin(X[0]) + X[1] * X[2] > 0).astype(np.float64).reshape(1, -1)
net = dnn.Network([6, 16, 8, 1], seed=11)
print("training", flush=True)
net.fit(X, Y, epochs=50, batch_size=16, optimizer="adam", learning_rate=0.005, dropout=0.25, progress=False,
        checkpoint=path, checkpoint_every=1, resume=True)
np.save(out, net.params)
print("done", flush=True)
"""


def _reference_params():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((6, 240))
    Y = (np.sin(X[0]) + X[1] * X[2] > 0).astype(np.float64).reshape(1, -1)
    net = dnn.Network([6, 16, 8, 1], seed=11)
    net.fit(X, Y, epochs=50, batch_size=16, optimizer="adam", learning_rate=0.005, dropout=0.25, progress=False)
    return net.params


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except FileNotFoundError:
        return None


def test_sigkill_at_random_moments_then_resume_is_bit_identical(tmp_path):
    """Kill a training process with SIGKILL at random moments (at least 3 kills), resume each time."""
    script = tmp_path / "child.py"
    script.write_text(textwrap.dedent(CHILD))
    path = tmp_path / "run.ckpt"
    out = tmp_path / "params.npy"
    seed = int(time.time_ns() % 2**32)
    rng = np.random.default_rng(seed)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [os.getcwd(), os.environ.get("PYTHONPATH")])))
    kills, positions, runs = 0, [], 0
    while True:
        runs += 1
        assert runs < 30, "the child never finished"
        before = _mtime(path)
        child = subprocess.Popen([sys.executable, str(script), str(path), str(out)], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True, env=env)
        if kills < 3:
            assert child.stdout.readline().strip() == "training"
            # Wait until this run has trained (written a checkpoint), then kill at a random moment of the
            # training: 750 steps of about 2 ms, each ending with a checkpoint write.
            deadline = time.monotonic() + 60
            while _mtime(path) == before and child.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            time.sleep(rng.uniform(0.0, 0.3))
            child.send_signal(signal.SIGKILL)
            child.wait(timeout=60)
            if child.returncode == -signal.SIGKILL:
                kills += 1
                position = ckpt.load(path)["position"]  # never torn: it loads after every kill
                positions.append((position["epoch"], position["step"]))
                continue
            if child.returncode == 0:
                # Finished before the kill: start a new chain from scratch to get 3 kills in one chain.
                path.unlink()
                kills, positions = 0, []
                continue
        stdout, stderr = child.communicate(timeout=120)
        assert child.returncode == 0, stderr
        break
    assert kills >= 3
    # Each kill landed after the previous one's checkpoint: training moved on between kills.
    assert positions == sorted(positions) and len(set(positions)) == len(positions), positions
    print(f"seed {seed}: {kills} kills in {runs} runs; checkpoint (epoch, step) after each kill: {positions}")
    assert np.array_equal(np.load(out), _reference_params())


def test_cli_checkpoint_and_resume(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((120, 4)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    data = tmp_path / "train.npz"
    np.savez(data, X=X, y=y)
    common = [str(data), "--layers", "6", "--epochs", "3", "--batch-size", "16", "--dropout", "0.2",
              "--no-progress"]
    assert cli_main(["train", *common, "--out", str(tmp_path / "plain.npz")]) == 0
    path = tmp_path / "cli.ckpt"
    _crash_after(monkeypatch, None, 13)  # in epoch 2 of 3 (8 batches per epoch)
    with pytest.raises(_Crash):
        cli_main(["train", *common, "--checkpoint", str(path), "--checkpoint-every", "5",
                  "--out", str(tmp_path / "first.npz")])
    monkeypatch.undo()
    assert ckpt.load(path)["position"]["epoch"] == 1
    assert cli_main(["train", *common, "--checkpoint", str(path), "--checkpoint-every", "5", "--resume",
                     "--out", str(tmp_path / "resumed.npz")]) == 0
    plain = dnn.Network.load(tmp_path / "plain.npz").params
    assert np.array_equal(dnn.Network.load(tmp_path / "resumed.npz").params, plain)
    capsys.readouterr()
    assert cli_main(["train", *common, "--resume", "--out", str(tmp_path / "x.npz")]) == 2
    assert "--resume needs --checkpoint" in capsys.readouterr().err
