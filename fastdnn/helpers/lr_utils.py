"""Week 2's ``lr_utils``: the cat images."""

from . import _cat_files

__all__ = ["load_dataset"]


def load_dataset(directory=_cat_files.COURSE_FOLDER):
    """The course's cat/non-cat images, as week 2 loads them.

    Parameters
    ----------
    directory : str or path-like, default ``"datasets"``
        The folder of ``train_catvnoncat.h5`` and ``test_catvnoncat.h5`` (the
        course's, relative to the notebook); ``$FASTDNN_DATA`` is tried next.

    Returns
    -------
    train_set_x_orig : ndarray of shape (209, 64, 64, 3), uint8
    train_set_y : ndarray of shape (1, 209)
    test_set_x_orig : ndarray of shape (50, 64, 64, 3), uint8
    test_set_y : ndarray of shape (1, 50)
    classes : ndarray of shape (2,), bytes
    """
    return _cat_files.load(directory)
