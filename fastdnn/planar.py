"""The course's week 3: one hidden tanh layer on the two-class "flower" data.

``from fastdnn.planar import *`` replaces a week-3 notebook's own functions:
same names, arguments, returns and printed lines.  The names clash with the
deep-network functions of :mod:`fastdnn.course` (``initialize_parameters``
seeds 2 here, ``predict`` takes ``(parameters, X)``), hence a module of
their own; :func:`layer_sizes`, :func:`nn_model` and
:func:`load_planar_dataset` are also exported by ``fastdnn`` itself.

The step functions (:func:`forward_propagation`, :func:`backward_propagation`)
run on the layer code the deep network uses (:mod:`fastdnn.layers`).
:func:`nn_model` runs its iterations inside one compiled loop
(:func:`_train`) that chains the same kernels -- the bias-and-activation,
activation-derivative, row-sum and update passes of
:mod:`fastdnn.kernels` and the stable sigmoid cross-entropy of
:mod:`fastdnn.kernels.loss` -- because the planar matrices are tiny
(``4 x 2`` and ``1 x 4`` with ``m = 400``): a dozen Python-level calls per
iteration cost more than their arithmetic.  Only the matrix products are
written here, as plain loops (:func:`_product` and friends), since a BLAS
call from compiled code needs SciPy, which fastdnn does not require.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numba import njit

from . import config
from . import course
from . import layers
from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import small
from .kernels import update
from .state import arena_views

if TYPE_CHECKING:
    from collections.abc import Iterable

    from numpy.typing import ArrayLike

    #: A data set in scikit-learn's layout, ``(X, y)``.
    _XY = tuple[np.ndarray, np.ndarray]

__all__ = [
    "load_planar_dataset",
    "load_extra_datasets",
    "layer_sizes",
    "initialize_parameters",
    "forward_propagation",
    "compute_cost",
    "backward_propagation",
    "update_parameters",
    "nn_model",
    "predict",
    "accuracy",
    "hidden_layer_sweep",
]

#: The course's learning rate for the planar model.
LEARNING_RATE = 1.2
#: The hidden-layer sizes of the course's sweep.
HIDDEN_SIZES = (1, 2, 3, 4, 5, 20, 50)
#: ``nn_model`` records (and prints) the cost every this many iterations.
RECORD_EVERY = 1000


# ---------------------------------------------------------------- data


def load_planar_dataset(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """The course's two-class "flower": 400 points on the petals of a rose curve.

    Parameters
    ----------
    seed : int, default 1
        Passed to ``np.random.seed`` first, as the course does (the global
        NumPy generator is re-seeded).

    Returns
    -------
    X : ndarray of shape (2, 400), float64
    Y : ndarray of shape (1, 400), uint8
        200 points of class 0, then 200 of class 1.

    Notes
    -----
    Class ``j`` has angles :math:`t` spaced evenly on
    :math:`[3.12 j, 3.12 (j + 1)]` plus noise, radii
    :math:`r = 4 \\sin 4t` plus noise, and points
    :math:`(r \\sin t, r \\cos t)`; both noises are normal with standard
    deviation 0.2, drawn angle noise first, class 0 first.
    """
    np.random.seed(v.non_negative_int("seed", seed))
    per_class = 200
    X = np.empty((2, 2 * per_class))
    Y = np.empty((1, 2 * per_class), dtype=np.uint8)
    for j in range(2):
        t = np.linspace(j * 3.12, (j + 1) * 3.12, per_class) + np.random.randn(per_class) * 0.2
        r = 4 * np.sin(4 * t) + np.random.randn(per_class) * 0.2
        cols = slice(j * per_class, (j + 1) * per_class)
        X[0, cols] = r * np.sin(t)
        X[1, cols] = r * np.cos(t)
        Y[0, cols] = j
    return X, Y


def load_extra_datasets(n_samples: int = 200) -> tuple[_XY, _XY, _XY, _XY, _XY]:
    """The course's other planar data sets, made with scikit-learn.

    Parameters
    ----------
    n_samples : int, default 200

    Returns
    -------
    noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure : tuple
        Each a pair ``(X, y)`` in scikit-learn's layout: ``X`` of shape
        ``(n_samples, 2)``, ``y`` of shape ``(n_samples,)``.  The course
        transposes them (``X.T``, ``y.reshape(1, -1)``) and takes
        ``y % 2`` for the six blobs.

    Notes
    -----
    Drawn from NumPy's global generator (the blobs from ``random_state=5``),
    as the course does; scikit-learn is the optional ``sklearn`` extra.
    """
    try:
        import sklearn.datasets as datasets
    except ImportError:
        raise ImportError(
            "load_extra_datasets needs scikit-learn, an optional dependency: pip install 'fastdnn[sklearn]'"
        ) from None
    n = v.positive_int("n_samples", n_samples)
    noisy_circles = datasets.make_circles(n_samples=n, factor=0.5, noise=0.3)
    noisy_moons = datasets.make_moons(n_samples=n, noise=0.2)
    blobs = datasets.make_blobs(n_samples=n, random_state=5, n_features=2, centers=6)
    gaussian_quantiles = datasets.make_gaussian_quantiles(mean=None, cov=0.5, n_samples=n, n_features=2,
                                                          n_classes=2, shuffle=True, random_state=None)
    no_structure = np.random.rand(n, 2), np.random.rand(n, 2)
    return noisy_circles, noisy_moons, blobs, gaussian_quantiles, no_structure


# ---------------------------------------------------------------- validation


def _check_data(X, Y=None):
    """``X`` (and ``Y``) validated; the dtype is ``X``'s (labels never choose it)."""
    X_arr = v.as_array("X", X, ndim=2)
    if X_arr.shape[1] == 0:
        raise ValueError(f"X has no examples: shape {X_arr.shape}")
    dtype = v.float_dtype(X_arr)
    if Y is None:
        return X_arr, None, dtype
    Y_arr = v.as_array("Y", Y)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(1, -1)
    if Y_arr.ndim != 2 or Y_arr.shape[1] != X_arr.shape[1]:
        raise ValueError(
            f"Y must have shape (n_y, {X_arr.shape[1]}), one column per column of X {X_arr.shape}; got {Y_arr.shape}"
        )
    # Any finite Y, as the course's formulas take it (its test cases draw Y = randn); a warning when not 0/1.
    v.check_label_values("Y", Y_arr, dtype)
    return X_arr, Y_arr, dtype


def _check_parameters(parameters, n_x=None):
    """``W1, b1, W2, b2`` as arrays of consistent shapes (not copied)."""
    if not isinstance(parameters, dict):
        raise TypeError(f"parameters must be a dict with keys 'W1', 'b1', 'W2', 'b2'; got {type(parameters).__name__}")
    missing = [k for k in ("W1", "b1", "W2", "b2") if k not in parameters]
    if missing:
        raise ValueError(f"parameters is missing {missing}; got keys {sorted(parameters)}")
    W1 = v.as_array("W1", parameters["W1"], ndim=2)
    b1 = v.as_array("b1", parameters["b1"], ndim=2)
    W2 = v.as_array("W2", parameters["W2"], ndim=2)
    b2 = v.as_array("b2", parameters["b2"], ndim=2)
    if n_x is not None and W1.shape[1] != n_x:
        raise ValueError(f"W1 of shape {W1.shape} needs {n_x} columns, one per row of X")
    v.check_shape("b1", b1, (W1.shape[0], 1), "one bias per row of W1")
    if W2.shape[1] != W1.shape[0]:
        raise ValueError(f"W2 of shape {W2.shape} needs {W1.shape[0]} columns, one per row of W1 {W1.shape}")
    v.check_shape("b2", b2, (W2.shape[0], 1), "one bias per row of W2")
    return W1, b1, W2, b2


def _prepared(dtype, **arrays):
    """Each array C-contiguous in ``dtype`` and finite (errors name the array)."""
    out = []
    for name, arr in arrays.items():
        c = v.prepare(arr, dtype)
        v.check_finite(name, c)
        out.append(c)
    return out


# ---------------------------------------------------------------- the course's step functions


def layer_sizes(X: ArrayLike, Y: ArrayLike) -> tuple[int, int, int]:
    """Sizes of the planar model's layers.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)

    Returns
    -------
    n_x, n_h, n_y : int
        Rows of ``X``, 4 (the course's hidden size), rows of ``Y``.
    """
    X_arr = v.as_array("X", X, ndim=2)
    Y_arr = v.as_array("Y", Y, ndim=2)
    return X_arr.shape[0], 4, Y_arr.shape[0]


def initialize_parameters(n_x: int, n_h: int, n_y: int) -> dict[str, np.ndarray]:
    """Week 3's initialization: ``np.random.seed(2)``, weights ``randn * 0.01``, zero biases.

    Parameters
    ----------
    n_x, n_h, n_y : int

    Returns
    -------
    dict
        ``W1`` (n_h, n_x), ``b1`` (n_h, 1), ``W2`` (n_y, n_h), ``b2`` (n_y, 1).
    """
    return course.initialize_parameters(n_x, n_h, n_y, seed=2)


def forward_propagation(X: ArrayLike, parameters: dict[str, Any]) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Forward pass of ``LINEAR->TANH->LINEAR->SIGMOID``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1`` (n_h, n_x), ``b1`` (n_h, 1), ``W2`` (n_y, n_h), ``b2`` (n_y, 1).

    Returns
    -------
    A2 : ndarray of shape (n_y, m)
        Output probabilities.
    cache : dict
        ``"Z1"``, ``"A1"`` of shape (n_h, m) and ``"Z2"``, ``"A2"`` of shape (n_y, m).

    Notes
    -----
    .. math:: A^{[1]} = \\tanh(W^{[1]} X + b^{[1]}),\\qquad A^{[2]} = \\sigma(W^{[2]} A^{[1]} + b^{[2]})
    """
    if type(parameters) is dict and type(X) is np.ndarray and X.ndim == 2 and X.shape[1]:
        first = course._fast_layer_forward(X, parameters.get("W1"), parameters.get("b1"), act.TANH)
        second = first and course._fast_layer_forward(first[1], parameters.get("W2"), parameters.get("b2"),
                                                      act.SIGMOID)
        if second is not None:
            return second[1], {"Z1": first[0], "A1": first[1], "Z2": second[0], "A2": second[1]}
    X_arr, _, _ = _check_data(X)
    W1, b1, W2, b2 = _check_parameters(parameters, X_arr.shape[0])
    dtype = v.float_dtype(X_arr, W1, b1, W2, b2)
    Xc, W1, b1, W2, b2 = _prepared(dtype, X=X_arr, W1=W1, b1=b1, W2=W2, b2=b2)
    m = Xc.shape[1]
    Z1 = np.empty((W1.shape[0], m), dtype=dtype)
    A1 = np.empty_like(Z1)
    Z2 = np.empty((W2.shape[0], m), dtype=dtype)
    A2 = np.empty_like(Z2)
    layers.dense_forward(Xc, W1, b1, act.TANH, 0.0, Z1, A1)
    layers.dense_forward(A1, W2, b2, act.SIGMOID, 0.0, Z2, A2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def compute_cost(A2: ArrayLike, Y: ArrayLike, parameters: dict[str, Any] | None = None) -> float:
    """Cross-entropy of the output ``A2`` for labels ``Y``.

    Parameters
    ----------
    A2 : array_like of shape (n_y, m)
        Probabilities in [0, 1].
    Y : array_like of shape (n_y, m)
        Labels in {0, 1}.
    parameters : dict, optional
        Ignored; accepted because an earlier version of the course passed it.

    Returns
    -------
    float
        As week 3's course code returns it (``float(np.squeeze(cost))``).

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum y \\ln a + (1 - y)\\ln(1 - a)

    ``0 * log(0)`` counts as 0 (see :func:`fastdnn.compute_cost`).
    """
    # Week 3's course code returns float(np.squeeze(cost)) (its test checks the type); week 4's a 0-d array.
    return float(course.compute_cost(A2, Y))


def backward_propagation(parameters: dict[str, Any], cache: dict[str, Any], X: ArrayLike,
                         Y: ArrayLike) -> dict[str, np.ndarray]:
    """Gradients of the planar model, from the cache's ``A1`` and ``A2``.

    Parameters
    ----------
    parameters : dict
        ``W1``, ``b1``, ``W2``, ``b2``.
    cache : dict
        At least ``"A1"`` of shape (n_h, m) and ``"A2"`` of shape (n_y, m),
        as :func:`forward_propagation` returns.
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)
        Labels in {0, 1}.

    Returns
    -------
    grads : dict
        ``"dW1"``, ``"db1"``, ``"dW2"``, ``"db2"`` of the shapes of the parameters.

    Notes
    -----
    .. math:: dZ^{[2]} = A^{[2]} - Y,\\quad dW^{[2]} = \\frac{1}{m} dZ^{[2]} A^{[1]T},\\quad
              dZ^{[1]} = W^{[2]T} dZ^{[2]} \\odot (1 - A^{[1]2}),\\quad
              dW^{[1]} = \\frac{1}{m} dZ^{[1]} X^T

    and each ``db`` is the mean of its ``dZ`` over the examples.
    """
    fast = _fast_backward(parameters, cache, X, Y)
    if fast is not None:
        return fast
    X_arr, Y_arr, _ = _check_data(X, Y)
    W1, b1, W2, b2 = _check_parameters(parameters, X_arr.shape[0])
    if not isinstance(cache, dict) or "A1" not in cache or "A2" not in cache:
        raise TypeError("cache must be the dict of forward_propagation, with at least 'A1' and 'A2'")
    A1_arr = v.as_array("A1", cache["A1"], ndim=2)
    A2_arr = v.as_array("A2", cache["A2"], ndim=2)
    m = X_arr.shape[1]
    v.check_shape("A1 (in cache)", A1_arr, (W1.shape[0], m), "(n_h, m)")
    v.check_shape("A2 (in cache)", A2_arr, (W2.shape[0], m), "(n_y, m)")
    v.check_shape("Y", Y_arr, A2_arr.shape, "the shape of A2")
    dtype = v.float_dtype(X_arr, W1, W2, A1_arr, A2_arr)
    Xc, W1, W2, A1, A2 = _prepared(dtype, X=X_arr, W1=W1, W2=W2, A1=A1_arr, A2=A2_arr)
    Yc = v.prepare(Y_arr, dtype)
    scale = 1.0 / m
    dZ2 = np.subtract(A2, Yc)
    dW2 = np.empty(W2.shape, dtype=dtype)
    db2 = np.empty((W2.shape[0], 1), dtype=dtype)
    dA1 = np.empty_like(A1)
    act.row_sums(dZ2, scale, db2)
    layers.linear_backward_into(dZ2, A1, W2, scale, dW2, dA1)
    dW1 = np.empty(W1.shape, dtype=dtype)
    db1 = np.empty((W1.shape[0], 1), dtype=dtype)
    # The hidden layer's derivative from its output A1 (1 - A1**2), as the course does.
    layers.dense_backward(dA1, A1, False, act.TANH, 0.0, Xc, W1, scale, dA1, dW1, db1, None)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def _fast_backward(parameters, cache, X, Y):
    """:func:`backward_propagation` on the course's arrays, or None (see :mod:`fastdnn.course`'s fast paths)."""
    if type(parameters) is not dict or type(cache) is not dict or type(Y) is not np.ndarray:
        return None
    W1, W2, A1, A2 = parameters.get("W1"), parameters.get("W2"), cache.get("A1"), cache.get("A2")
    if course._common_float(X, W1, W2, A1, A2) is None or A2.ndim != 2 or W1.ndim != 2 or W2.ndim != 2 \
            or W2.shape[1] != W1.shape[0] or A2.shape[0] != W2.shape[0]:
        return None
    Yc = course._labels_like(Y.reshape(1, -1) if Y.ndim == 1 else Y, A2)
    if Yc is None or not small.binary_labels(Yc):
        return None
    dZ2 = np.subtract(A2, Yc)
    second = course._fast_layer_backward(dZ2, dZ2, A1, W2, act.LINEAR, True)
    first = second and course._fast_layer_backward(second[0], A1, X, W1, act.TANH, False, from_pre_activation=False)
    if first is None:
        return None
    return {"dW1": first[1], "db1": first[2], "dW2": second[1], "db2": second[2]}


def update_parameters(parameters: dict[str, Any], grads: dict[str, Any],
                      learning_rate: float = LEARNING_RATE) -> dict[str, np.ndarray]:
    """One gradient-descent step (learning rate 1.2 by default, the course's).

    Parameters
    ----------
    parameters : dict
        ``W1``, ``b1``, ``W2``, ``b2``.
    grads : dict
        ``dW1``, ``db1``, ``dW2``, ``db2``.
    learning_rate : float, default 1.2

    Returns
    -------
    dict
        New arrays; ``parameters`` is left untouched.

    Notes
    -----
    .. math:: \\theta \\leftarrow \\theta - \\alpha\\, d\\theta
    """
    fast = course._fast_update(parameters, grads, learning_rate)
    if fast is not None:
        return fast
    _check_parameters(parameters)
    return course.update_parameters(parameters, grads, learning_rate)


def predict(parameters: dict[str, Any], X: ArrayLike) -> np.ndarray:
    """Class predictions of the planar model.

    Parameters
    ----------
    parameters : dict
    X : array_like of shape (n_x, m)

    Returns
    -------
    predictions : ndarray of shape (n_y, m), int64
        1 where ``A2 > 0.5``, else 0.  Integers, not booleans: the course's
        accuracy line, ``np.dot(Y, predictions.T) + np.dot(1 - Y, 1 -
        predictions.T)`` with its ``uint8`` labels, wraps around at 256 with a
        boolean array (144 for 400 right answers) and is right with integers.
    """
    A2, _ = forward_propagation(X, parameters)
    return (A2 > 0.5).astype(np.int64)


def accuracy(predictions: ArrayLike, Y: ArrayLike) -> float:
    """Percentage of predictions equal to the labels.

    Parameters
    ----------
    predictions : array_like of shape (n_y, m)
        Booleans or 0/1.
    Y : array_like of shape (n_y, m)

    Returns
    -------
    float

    Notes
    -----
    The course writes this as ``(Y p^T + (1 - Y)(1 - p)^T) / m * 100``; with
    its ``uint8`` labels that integer product wraps around at 256 in current
    NumPy, so the fraction of equal entries is computed instead.
    """
    p = v.as_array("predictions", predictions)
    y = v.as_array("Y", Y)
    if p.shape != y.shape:
        raise ValueError(f"predictions of shape {p.shape} does not match Y of shape {y.shape}")
    if p.size == 0:
        raise ValueError("Y has no examples")
    return float(np.mean(p.astype(np.float64) == y.astype(np.float64)) * 100)


# ---------------------------------------------------------------- the compiled training loop


@njit(**config.JIT)
def _product(W, A, out):
    # out = W @ A, row by row: axpys over the contiguous rows of A.
    for i in range(W.shape[0]):
        row = out[i]
        for j in range(row.size):
            row[j] = 0.0
        for k in range(W.shape[1]):
            w = W[i, k]
            a = A[k]
            for j in range(row.size):
                row[j] += w * a[j]


@njit(**config.JIT)
def _product_right_transposed(D, A, out):
    # out = D @ A.T: dot products of contiguous rows.
    for i in range(D.shape[0]):
        for k in range(A.shape[0]):
            total = 0.0
            for j in range(D.shape[1]):
                total += D[i, j] * A[k, j]
            out[i, k] = total


@njit(**config.JIT)
def _product_left_transposed(W, D, out):
    # out = W.T @ D: axpys over the contiguous rows of D.
    for k in range(W.shape[1]):
        row = out[k]
        for j in range(row.size):
            row[j] = 0.0
        for i in range(W.shape[0]):
            w = W[i, k]
            d = D[i]
            for j in range(row.size):
                row[j] += w * d[j]


@njit(**config.JIT)
def _train(X, Y, params, grads, layers, layer_grads, learning_rate, num_steps, space, cost):
    """``num_steps`` full-batch gradient-descent steps of the planar model, in place.

    ``params`` and ``grads`` are flat arenas; ``layers`` is ``(W1, b1, W2,
    b2)`` and ``layer_grads`` ``(dW1, db1, dW2, db2)``, views into them;
    ``space`` holds the step's buffers ``(Z1, A1, Z2, A2, dZ2, dA1, dZ1)``.
    ``cost[0]`` is written with the cost before the last step.  Each
    step is one forward pass, the output's cost and gradient, one backward
    pass and one update -- the passes of :class:`fastdnn.Network`'s
    ``train_step``, with the same kernels, on the calling thread.
    """
    W1, b1, W2, b2 = layers
    dW1, db1, dW2, db2 = layer_grads
    Z1, A1, Z2, A2, dZ2, dA1, dZ1 = space
    scale = 1.0 / X.shape[1]
    for _ in range(num_steps):
        _product(W1, X, Z1)
        act.bias_activation_serial(Z1, b1, act.TANH, 0.0, A1, False)
        _product(W2, A1, Z2)
        act.bias_activation_serial(Z2, b2, act.LINEAR, 0.0, Z2, True)
        # dZ2 = (A2 - Y) / m, so the products below need no 1/m.
        loss.sigmoid_cross_entropy(Z2, Y, scale, A2, dZ2, cost)
        act.row_sums_serial(dZ2, 1.0, db2)
        _product_right_transposed(dZ2, A1, dW2)
        _product_left_transposed(W2, dZ2, dA1)
        act.activation_backward_serial(dA1, A1, False, act.TANH, 0.0, 1.0, dZ1, db1, True, False)
        _product_right_transposed(dZ1, X, dW1)
        update.sgd_serial(params, grads, learning_rate, params)


def nn_model(X: ArrayLike, Y: ArrayLike, n_h: int, num_iterations: int = 10000, print_cost: bool = False,
             return_costs: bool = False, learning_rate: float = LEARNING_RATE) -> Any:
    """The course's planar model: initialize, then full-batch gradient descent.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)
        Labels in {0, 1}.
    n_h : int
        Size of the hidden layer.
    num_iterations : int, default 10000
    print_cost : bool, default False
        Print ``Cost after iteration i: ...`` (6 decimals) every 1000 iterations.
    return_costs : bool, default False
        Also return the costs of iterations 0, 1000, 2000, ...
    learning_rate : float, default 1.2
        The course's value (fixed there).

    Returns
    -------
    parameters : dict
        Trained ``W1``, ``b1``, ``W2``, ``b2`` (new arrays).
    costs : list of float, only when ``return_costs``

    Raises
    ------
    FloatingPointError
        When the cost stops being finite (the learning rate is too large).

    Notes
    -----
    Starts from :func:`initialize_parameters` (which re-seeds NumPy's global
    generator with 2, as the course does).  Each iteration:

    .. math:: dZ^{[2]} = A^{[2]} - Y,\\qquad dZ^{[1]} = W^{[2]T} dZ^{[2]} \\odot (1 - A^{[1]2}),
              \\qquad \\theta \\leftarrow \\theta - \\alpha\\, d\\theta

    The costs are the cross-entropy computed from the logits (stable; equal
    to :func:`compute_cost` of the output to rounding).  The iterations run
    in a compiled loop over buffers allocated once; the computation's dtype is
    ``X``'s (float32 stays float32).
    """
    X_arr, Y_arr, dtype = _check_data(X, Y)
    n_h = v.positive_int("n_h", n_h)
    num_iterations = v.non_negative_int("num_iterations", num_iterations)
    lr = v.finite_float("learning_rate", learning_rate)
    n_x, m = X_arr.shape
    n_y = Y_arr.shape[0]
    Xc = v.prepare(X_arr, dtype)
    v.check_finite("X", Xc)
    Yc = v.prepare(Y_arr, dtype)

    shapes = [(n_h, n_x), (n_h, 1), (n_y, n_h), (n_y, 1)]
    params, (W1, b1, W2, b2) = arena_views(shapes, dtype)
    grads, (dW1, db1, dW2, db2) = arena_views(shapes, dtype)
    initial = initialize_parameters(n_x, n_h, n_y)
    for view, name in zip((W1, b1, W2, b2), ("W1", "b1", "W2", "b2")):
        view[...] = initial[name]
    Z1, A1, dA1, dZ1 = (np.empty((n_h, m), dtype=dtype) for _ in range(4))
    Z2, A2, dZ2 = (np.empty((n_y, m), dtype=dtype) for _ in range(3))
    cost = np.zeros(1)

    layers, layer_grads, space = (W1, b1, W2, b2), (dW1, db1, dW2, db2), (Z1, A1, Z2, A2, dZ2, dA1, dZ1)

    def run(steps):
        _train(Xc, Yc, params, grads, layers, layer_grads, lr, steps, space, cost)

    costs = []
    for start in range(0, num_iterations, RECORD_EVERY):
        run(1)
        if not np.isfinite(cost[0]):
            raise FloatingPointError(f"the cost became {cost[0]} at iteration {start} (learning rate {lr})")
        costs.append(float(cost[0]))
        if print_cost:
            print("Cost after iteration %i: %f" % (start, cost[0]))
        run(min(RECORD_EVERY, num_iterations - start) - 1)
    if num_iterations and not np.isfinite(cost[0]):
        raise FloatingPointError(
            f"the cost became {cost[0]} by iteration {num_iterations - 1} (learning rate {lr})"
        )
    if not np.all(np.isfinite(params)):
        raise FloatingPointError(f"the parameters stopped being finite during training (learning rate {lr})")
    parameters = {"W1": W1.copy(), "b1": b1.copy(), "W2": W2.copy(), "b2": b2.copy()}
    return (parameters, costs) if return_costs else parameters


def hidden_layer_sweep(X: ArrayLike, Y: ArrayLike, hidden_sizes: Iterable[int] = HIDDEN_SIZES,
                       num_iterations: int = 5000, print_accuracy: bool = False) -> dict[int, float]:
    """The course's experiment: train :func:`nn_model` for several hidden sizes.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (n_y, m)
    hidden_sizes : sequence of int, default (1, 2, 3, 4, 5, 20, 50)
    num_iterations : int, default 5000
        The course's value for this experiment.
    print_accuracy : bool, default False
        Print ``Accuracy for n_h hidden units: ... %`` as the course does.

    Returns
    -------
    dict
        ``{n_h: training accuracy in percent}``, in the order given.
    """
    if isinstance(hidden_sizes, (str, bytes)) or not hasattr(hidden_sizes, "__iter__"):
        raise TypeError(f"hidden_sizes must be a sequence of positive integers, got {hidden_sizes!r}")
    sizes = [v.positive_int(f"hidden_sizes[{i}]", n) for i, n in enumerate(hidden_sizes)]
    if not sizes:
        raise ValueError("hidden_sizes is empty")
    accuracies = {}
    for n_h in sizes:
        parameters = nn_model(X, Y, n_h, num_iterations=num_iterations)
        accuracies[n_h] = accuracy(predict(parameters, X), v.as_array("Y", Y).reshape(-1, np.shape(X)[1]))
        if print_accuracy:
            print("Accuracy for {} hidden units: {} %".format(n_h, accuracies[n_h]))
    return accuracies
