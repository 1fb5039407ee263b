"""Where the course's cat images are: its ``datasets`` folder, or fastdnn's data folders."""

import os

from ..data import load_catvnoncat

#: The course's folder, relative to the notebook.
COURSE_FOLDER = "datasets"


def load(directory):
    """The five arrays of :func:`fastdnn.load_catvnoncat` from ``directory``, else from ``$FASTDNN_DATA``."""
    tried = [os.fspath(directory)]
    if os.environ.get("FASTDNN_DATA"):
        tried.append(os.environ["FASTDNN_DATA"])
    for folder in tried:
        if os.path.exists(os.path.join(folder, "train_catvnoncat.h5")):
            return load_catvnoncat(folder)
    raise FileNotFoundError(
        f"train_catvnoncat.h5 not found in {' or '.join(tried)}: put the course's datasets folder beside the "
        f"notebook, pass its path (load_data('path/to/folder')) or set FASTDNN_DATA")
