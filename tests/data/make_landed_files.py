"""Write the files that tests/test_compat.py reads back: a checkpoint (taken in the middle of an epoch),
a pickled network and the parameters the uninterrupted fit ends with.

They were written once by the tree before the model state moved into fastdnn/state.py (commit 9967f37),
so that the test proves files of an older fastdnn still load and resume.  Run from the repository root:
``python tests/data/make_landed_files.py``.
"""

import os
import pickle
import shutil
import subprocess

import numpy as np

from fastdnn import Network
from fastdnn import checkpoint as checkpoint_mod

HERE = os.path.dirname(os.path.abspath(__file__))
SETTINGS = dict(epochs=3, batch_size=8, optimizer="adam", learning_rate=0.01, l2=0.3, dropout=0.2,
                progress=False)


def problem():
    rng = np.random.default_rng(30)
    X = rng.standard_normal((6, 44))
    y = rng.integers(0, 3, 44)
    return X, y


def network():
    return Network([6, 5, 4, 3], output="softmax", seed=7, strategy="plain")


def main():
    X, y = problem()
    full = network()
    full.fit(X, y, **SETTINGS)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()

    # The first checkpoint written in the middle of an epoch, kept aside as the file a crash would leave.
    kept = os.path.join(HERE, "landed_checkpoint.npz")
    original_save = checkpoint_mod.save

    def save(path, net, position, indices):
        original_save(path, net, position, indices)
        if position["step"] and not os.path.exists(kept):
            shutil.copyfile(path, kept)

    checkpoint_mod.save = save
    try:
        scratch = os.path.join(HERE, "scratch_checkpoint.npz")
        network().fit(X, y, checkpoint=scratch, checkpoint_every=4, **SETTINGS)
        os.remove(scratch)
    finally:
        checkpoint_mod.save = original_save
    np.save(os.path.join(HERE, "landed_final_params.npy"), full.params)
    with open(os.path.join(HERE, "landed_network.pickle"), "wb") as f:
        pickle.dump(full, f)
    print("written by", commit)


if __name__ == "__main__":
    main()
