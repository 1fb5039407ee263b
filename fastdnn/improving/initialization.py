"""The course's "Initialization" assignment: zeros, random and He starts of a three-layer network.

``from fastdnn.improving.initialization import *`` stands for the
assignment's ``from init_utils import ...`` and its own functions: same
names, arguments, returns and printed lines, run on fastdnn's kernels (see
:mod:`fastdnn.improving`).  The network is relu, relu, sigmoid
(``[n_x, 10, 5, 1]`` in :func:`model`); the gradients' keys are lower case
(``dz3``, ``da2``) and their ``1/m`` is applied to ``dz`` of the output, as
in the course's helper file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from .. import validation as v
from ..plots import plot_decision_boundary
from . import _common, _core, _models

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

__all__ = [
    "sigmoid",
    "relu",
    "forward_propagation",
    "backward_propagation",
    "update_parameters",
    "compute_loss",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "load_dataset",
    "initialize_parameters_zeros",
    "initialize_parameters_random",
    "initialize_parameters_he",
    "model",
]

CONVENTION = _core.Convention(scale_first=True, lower_case=True)
#: How :func:`model` starts, by the course's names.
INITIALIZATIONS = ("zeros", "random", "he")

sigmoid = _common.sigmoid
relu = _common.relu
update_parameters = _common.update_parameters
predict = _common.predict
predict_dec = _common.predict_dec


def forward_propagation(X: ArrayLike, parameters: dict[str, Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
    """LINEAR -> RELU -> ... -> LINEAR -> SIGMOID over every layer of ``parameters``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1, b1, ..., WL, bL`` (the course's three layers, or any number).

    Returns
    -------
    a3 : ndarray of shape (n_y, m)
        The output's probabilities.
    cache : tuple
        ``(z1, a1, W1, b1, z2, a2, W2, b2, z3, a3, W3, b3)``, one group of four per layer.
    """
    return _common.forward_propagation(X, parameters)


def backward_propagation(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any]) -> dict[str, np.ndarray]:
    """Gradients of :func:`compute_loss` from the forward pass's cache.

    Returns
    -------
    dict
        ``dz3, dW3, db3, da2, dz2, dW2, db2, da1, dz1, dW1, db1`` (for three layers).

    Notes
    -----
    .. math:: dz^{[L]} = \\frac{1}{m}(a^{[L]} - Y),\\quad dW^{[l]} = dz^{[l]} a^{[l-1]T},\\quad
              db^{[l]} = \\sum_j dz^{[l]}_{:,j},\\quad dz^{[l-1]} = W^{[l]T} dz^{[l]} \\odot 1[a^{[l-1]} > 0]
    """
    return _common.backward_propagation(X, Y, cache, CONVENTION)


def compute_loss(a3: ArrayLike, Y: ArrayLike) -> np.float64:
    """The mean cross-entropy, terms ``0 * log 0`` left out (the course's ``np.nansum``).

    Returns
    -------
    numpy.float64

    Notes
    -----
    .. math:: \\frac{1}{m} \\sum_j -y_j \\log a_j - (1 - y_j) \\log(1 - a_j)
    """
    total, m = _common.log_loss_sum(a3, Y, True)
    return 1. / m * total


def initialize_parameters_zeros(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """Every weight and bias zero (the course's example of a network that cannot break symmetry)."""
    return _common.initialize(layers_dims, None, seed=None)


def initialize_parameters_random(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """``W = randn * 10`` after ``np.random.seed(3)``, zero biases (the course's too-large start)."""
    return _common.initialize(layers_dims, lambda n: 10)


def initialize_parameters_he(layers_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """He initialization: ``W = randn * sqrt(2 / n_prev)`` after ``np.random.seed(3)``, zero biases."""
    return _common.initialize(layers_dims, lambda n: np.sqrt(2. / n))


_STARTS = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
           "he": initialize_parameters_he}


def load_dataset(plot: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's circles: 300 training and 100 test points of scikit-learn's ``make_circles``.

    Drawn as the course draws them (``np.random.seed(1)`` then
    ``make_circles(n_samples=300, noise=.05)``, ``np.random.seed(2)`` then
    100 test points), so the points are the course's.  Needs scikit-learn
    (``pip install "fastdnn[sklearn]"``).

    Parameters
    ----------
    plot : bool, default False
        Scatter the training set into matplotlib's current axes, as the course does.

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    test_X : ndarray of shape (2, 100)
    test_Y : ndarray of shape (1, 100)
    """
    make_circles = _models.sklearn_datasets().make_circles
    np.random.seed(1)
    train_X, train_Y = make_circles(n_samples=300, noise=.05)
    np.random.seed(2)
    test_X, test_Y = make_circles(n_samples=100, noise=.05)
    if plot:
        _models.scatter(train_X.T, train_Y)
    return train_X.T, train_Y.reshape(1, -1), test_X.T, test_Y.reshape(1, -1)


def model(X: ArrayLike, Y: ArrayLike, learning_rate: float = 0.01, num_iterations: int = 15000, print_cost: bool = True,
          initialization: str = "he", *, return_costs: bool = False) -> Any:
    """The assignment's three-layer model ``[n_x, 10, 5, 1]``, trained by full-batch gradient descent.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    learning_rate : float, default 0.01
    num_iterations : int, default 15000
    print_cost : bool, default True
        Print ``Cost after iteration i: cost`` every 1000 iterations.
    initialization : {"he", "zeros", "random"}
    return_costs : bool, default False
        Also return the costs of iterations 0, 1000, 2000, ...

    Returns
    -------
    parameters : dict
    costs : list of numpy.float64, only when ``return_costs``

    Notes
    -----
    The iterations run in compiled loops over buffers allocated once; the
    costs are :func:`compute_loss`'s.  Like the course, the run goes on when
    the cost is not finite (the random start's first cost is ``inf``).
    """
    v.choice("initialization", initialization, INITIALIZATIONS)
    X_arr, Y_arr = _core.check_data(X, Y)
    parameters = _STARTS[initialization]([X_arr.shape[0], 10, 5, 1])
    parameters, costs = _models.full_batch(X_arr, Y_arr, parameters, learning_rate, num_iterations, CONVENTION,
                                           print_cost=print_cost, print_every=1000, record_every=1000)
    return (parameters, costs) if return_costs else parameters
