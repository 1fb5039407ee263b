"""Loading the data sets the course and the benchmarks use."""

import os

import numpy as np


def _require_h5py(what):
    try:
        import h5py
    except ImportError:
        raise ImportError(f"{what} needs h5py, an optional dependency: pip install 'fastdnn[data]'") from None
    return h5py


def _read_h5(path, keys):
    h5py = _require_h5py("reading the course's .h5 files")
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with h5py.File(path, "r") as f:
            missing = [k for k in keys if k not in f]
            if missing:
                raise ValueError(f"{path} is not one of the course's data files: it has no {missing}")
            return [np.array(f[k][:]) for k in keys]
    except OSError as exc:
        raise OSError(f"cannot read {path} as HDF5: {exc}") from None


def load_catvnoncat(directory):
    """The course's cat/non-cat images.

    Parameters
    ----------
    directory : str or path
        Folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.

    Returns
    -------
    train_x_orig : ndarray of shape (209, 64, 64, 3), uint8
    train_y : ndarray of shape (1, 209), int64
    test_x_orig : ndarray of shape (50, 64, 64, 3), uint8
    test_y : ndarray of shape (1, 50), int64
    classes : ndarray of shape (2,), bytes
    """
    train_x, train_y = _read_h5(os.path.join(directory, "train_catvnoncat.h5"), ["train_set_x", "train_set_y"])
    test_x, test_y, classes = _read_h5(
        os.path.join(directory, "test_catvnoncat.h5"), ["test_set_x", "test_set_y", "list_classes"]
    )
    return train_x, train_y.reshape(1, -1), test_x, test_y.reshape(1, -1), classes
