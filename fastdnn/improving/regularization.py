"""The course's "Regularization" assignment: L2 decay and inverted dropout on a three-layer network.

``from fastdnn.improving.regularization import *`` stands for the
assignment's ``from reg_utils import ...`` and its own functions: same names,
arguments, returns and printed lines, on fastdnn's kernels (see
:mod:`fastdnn.improving`).  The gradients' keys are upper case (``dZ3``,
``dA2``) and their ``1/m`` is applied to ``dW`` and ``db``, as in the
course's helper file.  The course's 2-D "football" data is not distributed
with fastdnn: :func:`load_2D_dataset` reads a user's copy.
"""

from __future__ import annotations

import os
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
    "initialize_parameters",
    "forward_propagation",
    "backward_propagation",
    "update_parameters",
    "compute_cost",
    "compute_cost_with_regularization",
    "backward_propagation_with_regularization",
    "forward_propagation_with_dropout",
    "backward_propagation_with_dropout",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "load_2D_dataset",
    "model",
]

CONVENTION = _core.Convention(scale_first=False, lower_case=False)

sigmoid = _common.sigmoid
relu = _common.relu
update_parameters = _common.update_parameters
predict = _common.predict
predict_dec = _common.predict_dec


def initialize_parameters(layer_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """``W = randn / sqrt(n_prev)`` after ``np.random.seed(3)``, zero biases (the helper file's start)."""
    return _common.initialize(layer_dims, lambda n: 1 / np.sqrt(n), name="layer_dims")


def forward_propagation(X: ArrayLike, parameters: dict[str, Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
    """LINEAR -> RELU -> ... -> LINEAR -> SIGMOID: ``(A3, cache)``, cache ``(Z1, A1, W1, b1, ...)``."""
    return _common.forward_propagation(X, parameters)


def backward_propagation(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any]) -> dict[str, np.ndarray]:
    """Gradients of :func:`compute_cost`: ``dZ3, dW3, db3, dA2, dZ2, ...`` (``1/m`` on ``dW``, ``db``)."""
    return _common.backward_propagation(X, Y, cache, CONVENTION)


def compute_cost(a3: ArrayLike, Y: ArrayLike) -> np.float64:
    """The mean cross-entropy, terms ``0 * log 0`` left out (the course's ``np.nansum``); a numpy.float64."""
    total, m = _common.log_loss_sum(a3, Y, True)
    return 1. / m * total


def compute_cost_with_regularization(A3: ArrayLike, Y: ArrayLike, parameters: dict[str, Any],
                                     lambd: float) -> np.float64:
    """:func:`compute_cost` plus the L2 term of every weight matrix.

    Notes
    -----
    .. math:: J = \\frac{1}{m} \\sum_j \\mathcal{L}(a_j, y_j)
              + \\frac{\\lambda}{2m} \\sum_l \\lVert W^{[l]} \\rVert_F^2
    """
    lambd = _core.check_lambd(lambd)
    total, m = _common.log_loss_sum(A3, Y, True, a_name="A3")
    layers = _core.check_parameters(parameters)
    dtype = v.float_dtype(*[W for W, _ in layers])
    Ws = tuple(_core.prepared(dtype, [(f"W{l}", W) for l, (W, _) in enumerate(layers, start=1)]))
    return 1. / m * total + (1. / m * lambd / 2) * _core.sum_of_squares(Ws)


def backward_propagation_with_regularization(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any],
                                             lambd: float) -> dict[str, np.ndarray]:
    """:func:`backward_propagation` with the L2 term's gradient ``lambd / m * W`` added to each ``dW``."""
    return _common.backward_propagation(X, Y, cache, CONVENTION, lambd=_core.check_lambd(lambd))


def forward_propagation_with_dropout(X: ArrayLike, parameters: dict[str, Any],
                                     keep_prob: float = 0.5) -> tuple[np.ndarray, tuple[Any, ...]]:
    """The forward pass with inverted dropout on every hidden layer.

    As the course: ``np.random.seed(1)``, then for each hidden layer the mask
    ``D = np.random.rand(n, m) < keep_prob`` and ``A = A * D / keep_prob``.

    Returns
    -------
    A3 : ndarray of shape (n_y, m)
    cache : tuple
        ``(Z1, D1, A1, W1, b1, Z2, D2, A2, W2, b2, Z3, A3, W3, b3)``: ``D`` (int
        0/1) after each hidden ``Z``, ``A`` after the dropout.
    """
    keep_prob = _core.check_keep_prob(keep_prob)
    X_arr, _ = _core.check_data(X)
    layers = _core.check_parameters(parameters, n_x=X_arr.shape[0])
    np.random.seed(1)
    masks = [D.astype(int) for D in _core.dropout_masks([(W.shape[0], X_arr.shape[1]) for W, _ in layers[:-1]],
                                                          keep_prob)]
    return _common.forward_propagation(X_arr, parameters, masks, keep_prob)


def backward_propagation_with_dropout(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any],
                                      keep_prob: float) -> dict[str, np.ndarray]:
    """:func:`backward_propagation` through the dropout masks of the cache: ``dA = dA * D / keep_prob``."""
    keep_prob = _core.check_keep_prob(keep_prob)
    return _common.backward_propagation(X, Y, cache, CONVENTION, keep_prob=keep_prob, with_masks=True)


def load_2D_dataset(path: str | os.PathLike = os.path.join("datasets", "data.mat"),
                    plot: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The course's 2-D "football" data from a user's copy of its file.

    Parameters
    ----------
    path : str or path-like, default ``datasets/data.mat``
        A MATLAB file (read with SciPy) or an ``.npz`` with the arrays ``X``
        (m, 2), ``y`` (m, 1), ``Xval`` and ``yval``, as the course's file holds them.
    plot : bool, default False
        Scatter the training set into matplotlib's current axes.

    Returns
    -------
    train_X : ndarray of shape (2, m)
    train_Y : ndarray of shape (1, m)
    test_X : ndarray of shape (2, m_test)
    test_Y : ndarray of shape (1, m_test)
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{path} not found: the course's football data is not distributed with fastdnn; "
                                f"pass the path of your copy of data.mat (or an .npz with X, y, Xval, yval)")
    if path.endswith(".npz"):
        with np.load(path) as f:
            data = {k: f[k] for k in f.files}
    else:
        try:
            from scipy.io import loadmat
        except ImportError:
            raise ImportError("reading a .mat file needs SciPy: pip install scipy (or save the arrays as .npz)") \
                from None
        data = loadmat(path)
    missing = [k for k in ("X", "y", "Xval", "yval") if k not in data]
    if missing:
        held = sorted(k for k in data if not k.startswith("__"))
        raise ValueError(f"{path} lacks the array(s) {missing}; it holds {held}")
    train_X, train_Y = np.asarray(data["X"]).T, np.asarray(data["y"]).reshape(1, -1)
    test_X, test_Y = np.asarray(data["Xval"]).T, np.asarray(data["yval"]).reshape(1, -1)
    if plot:
        _models.scatter(train_X.T, train_Y.ravel())
    return train_X, train_Y, test_X, test_Y


def model(X: ArrayLike, Y: ArrayLike, learning_rate: float = 0.3, num_iterations: int = 30000, print_cost: bool = True,
          lambd: float = 0, keep_prob: float = 1, *, return_costs: bool = False) -> Any:
    """The assignment's model ``[n_x, 20, 3, 1]``: full-batch gradient descent, with L2 and/or dropout.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    learning_rate : float, default 0.3
    num_iterations : int, default 30000
    print_cost : bool, default True
        Print ``Cost after iteration i: cost`` every 10000 iterations.
    lambd : float, default 0
        L2 strength (0: none).
    keep_prob : float, default 1
        Dropout's probability of keeping a hidden unit (1: none).
    return_costs : bool, default False
        Also return the costs of iterations 0, 1000, 2000, ...

    Returns
    -------
    parameters : dict
    costs : list of numpy.float64, only when ``return_costs``

    Notes
    -----
    The course's dropout re-seeds NumPy's generator with 1 at every forward
    pass, so every iteration drops the same units: the masks are drawn once,
    as that forward pass draws them, and the compiled loop reuses them.  The
    course asserts that L2 and dropout are not combined; here they may be
    (the cost then has the L2 term and the gradients go through both).
    """
    lambd = _core.check_lambd(lambd)
    keep_prob = _core.check_keep_prob(keep_prob)
    X_arr, Y_arr = _core.check_data(X, Y)
    layers_dims = [X_arr.shape[0], 20, 3, 1]
    parameters = initialize_parameters(layers_dims)
    masks = None
    if keep_prob < 1 and v.non_negative_int("num_iterations", num_iterations):
        np.random.seed(1)
        masks = _core.dropout_masks([(n, X_arr.shape[1]) for n in layers_dims[1:-1]], keep_prob)
    parameters, costs = _models.full_batch(X_arr, Y_arr, parameters, learning_rate, num_iterations, CONVENTION,
                                           lambd=lambd, keep_prob=keep_prob, masks=masks, print_cost=print_cost,
                                           print_every=10000, record_every=1000)
    return (parameters, costs) if return_costs else parameters
