"""The week-4 application's ``dnn_app_utils_v3``: everything its notebook imports, on fastdnn's helpers.

The deep-network functions are :mod:`fastdnn.course`'s (same names,
arguments and numbers); ``initialize_parameters_deep`` is the application's
(seed 1, ``randn / sqrt(n_prev)``); ``load_data`` reads the course's
``datasets`` folder; ``predict`` returns the course's float 0/1 array and prints
its accuracy line; ``print_mislabeled_images`` draws with pyplot as the course
does.
"""

import numpy as np

from .. import validation as v
from ..plots import pyplot
from ..course import (
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    predict,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    update_parameters,
)
from . import _cat_files

__all__ = [
    "sigmoid",
    "relu",
    "relu_backward",
    "sigmoid_backward",
    "load_data",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "predict",
    "print_mislabeled_images",
]


def load_data(directory=_cat_files.COURSE_FOLDER):
    """The cat images: ``train_x_orig, train_y, test_x_orig, test_y, classes``.

    See :func:`fastdnn.helpers.lr_utils.load_dataset` (the same file, the same five arrays).
    """
    return _cat_files.load(directory)


def _class_name(classes, k):
    name = classes[int(k)]
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)


def print_mislabeled_images(classes, X, y, p, image_shape=(64, 64, 3)):
    """Draw the images whose prediction ``p`` differs from the label ``y``, into pyplot's current figure.

    As the course: the figure size is set to 40 x 40 inches (``rcParams``),
    the images go in the top row of a 2-row grid, each titled with its
    prediction and its class.

    Parameters
    ----------
    classes : ndarray of shape (2,)
        The class names (bytes, as the h5 file holds them, or str).
    X : array_like of shape (n, m)
        The flattened images, one per column.
    y, p : array_like of shape (1, m)
        Labels and predictions (0 or 1).
    image_shape : tuple, default (64, 64, 3)
    """
    plt = pyplot()
    X = v.as_array("X", X, ndim=2)
    y = v.as_array("y", y).reshape(1, -1)
    p = v.as_array("p", p).reshape(1, -1)
    if y.shape[1] != X.shape[1] or p.shape[1] != X.shape[1]:
        raise ValueError(f"y {y.shape} and p {p.shape} must hold one value per column of X {X.shape}")
    wrong = np.flatnonzero((p + y)[0] == 1)  # one of the two is 1, the other 0
    plt.rcParams["figure.figsize"] = (40.0, 40.0)
    for k, index in enumerate(wrong):
        plt.subplot(2, len(wrong), k + 1)
        plt.imshow(X[:, index].reshape(image_shape), interpolation="nearest")
        plt.axis("off")
        plt.title(f"Prediction: {_class_name(classes, p[0, index])} \n Class: {_class_name(classes, y[0, index])}")
