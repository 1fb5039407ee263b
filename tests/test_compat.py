"""Files written by an older fastdnn (tests/data, made by tests/data/make_landed_files.py at commit 9967f37,
before the model's memory moved into fastdnn/state.py) still load, and a checkpoint resumes bit for bit."""

import os
import pickle
import shutil
import sys

import numpy as np
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")
sys.path.insert(0, DATA)
import make_landed_files as landed  # noqa: E402  (the problem and settings the files were written with)

sys.path.remove(DATA)

# The files come from another machine's BLAS: equal to rounding, not bit for bit.
RTOL = 1e-10


@pytest.fixture(scope="module")
def uninterrupted():
    X, y = landed.problem()
    net = landed.network()
    net.fit(X, y, **landed.SETTINGS)
    return net


def test_landed_checkpoint_resumes_to_the_uninterrupted_run(tmp_path, uninterrupted):
    X, y = landed.problem()
    path = tmp_path / "checkpoint.npz"
    shutil.copyfile(os.path.join(DATA, "landed_checkpoint.npz"), path)
    net = landed.network()
    history = net.fit(X, y, checkpoint=path, checkpoint_every=4, resume=True, **landed.SETTINGS)
    # Resumed in the middle of the first epoch: three epoch records, the first one's sums carried over.
    assert len(history["cost"]) == 3
    # The checkpoint's moments were computed on the machine that wrote it: equal to its rounding here
    # (an AMD EPYC's kernels left one of Adam's moments 1 ulp apart); bit for bit on one machine is
    # test_checkpoint's test_sigkill_at_random_moments_then_resume_is_bit_identical.
    np.testing.assert_allclose(net.params, uninterrupted.params, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(net.state, uninterrupted.state, rtol=RTOL, atol=1e-13)
    np.testing.assert_allclose(net.params, np.load(os.path.join(DATA, "landed_final_params.npy")), rtol=RTOL,
                               atol=1e-13)
    assert net.history["cost"] == pytest.approx(uninterrupted.history["cost"], rel=1e-12)


def test_landed_pickle_loads_and_trains_on(uninterrupted):
    with open(os.path.join(DATA, "landed_network.pickle"), "rb") as f:
        old = pickle.load(f)
    np.testing.assert_allclose(old.params, np.load(os.path.join(DATA, "landed_final_params.npy")), rtol=0, atol=0)
    assert old.optimizer == uninterrupted.optimizer
    assert old.strategy == "plain" and old.history.keys() == uninterrupted.history.keys()
    np.testing.assert_allclose(old.state, uninterrupted.state, rtol=RTOL, atol=1e-13)
    # Its optimizer step count, shuffling generator and dropout stream carry on as the live network's do.
    X, y = landed.problem()
    live = pickle.loads(pickle.dumps(uninterrupted))
    old.params[...] = live.params
    old.state[...] = live.state
    old.fit(X, y, **landed.SETTINGS)
    live.fit(X, y, **landed.SETTINGS)
    assert np.array_equal(old.params, live.params)
