"""Logistic regression, the course's week 2: one sigmoid unit trained by gradient descent.

``from fastdnn.logistic import *`` replaces a week-2 notebook's own
functions: same names, arguments, returns and printed lines.

A logistic regression is a network of one layer with one sigmoid unit, so
every function here runs on the layer code the deep network uses
(:func:`fastdnn.layers.dense_forward`, :func:`fastdnn.layers.linear_backward_into`)
and on the output kernels of :mod:`fastdnn.kernels.loss`.  The one kernel of
its own is the training loop's fused pass (:func:`_step_rows`): a single
unit's gradient, its update and the next forward product read each row of
``X`` once instead of twice, which halves the memory traffic of an
iteration -- on the course's cat data (``X`` of 20 MB) that traffic is the
whole cost.

Layout is the course's: ``X`` of shape ``(n_x, m)``, ``w`` of shape
``(n_x, 1)``, ``b`` a scalar, ``Y`` of shape ``(1, m)``.
"""

import numbers

import numpy as np
from numba import njit, prange

from . import config
from . import course
from . import layers
from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import update

__all__ = ["sigmoid", "initialize_with_zeros", "propagate", "optimize", "predict", "model", "accuracy"]

#: Rows of ``X`` per task of the fused pass.  Fixed (not per thread) so the
#: partial sums, hence the results, do not depend on the number of threads.
_ROWS_PER_CHUNK = 256
#: At most this many partial forward sums (a ``(chunks, m)`` scratch buffer).
_MAX_CHUNKS = 16


# ---------------------------------------------------------------- the fused kernel


@njit(**config.JIT)
def _step_rows(X, dz, w, learning_rate, dw, z_partial, start, stop):
    # Rows start..stop of one training step of a single unit.  Each row x_i of
    # X is read from memory once and reused from L1 for the second product.
    for j in range(z_partial.size):
        z_partial[j] = 0.0
    for i in range(start, stop):
        x = X[i]
        g = 0.0
        for j in range(x.size):
            g += x[j] * dz[j]
        dw[i] = g
        w_i = w[i] - learning_rate * g
        w[i] = w_i
        for j in range(x.size):
            z_partial[j] += w_i * x[j]


@njit(**config.JIT)
def _step_serial(X, dz, w, learning_rate, dw, z_partial, chunk):
    for c in range(z_partial.shape[0]):
        _step_rows(X, dz, w, learning_rate, dw, z_partial[c], c * chunk, min((c + 1) * chunk, X.shape[0]))


@njit(**config.JIT_PARALLEL)
def _step_parallel(X, dz, w, learning_rate, dw, z_partial, chunk):
    for c in prange(z_partial.shape[0]):
        _step_rows(X, dz, w, learning_rate, dw, z_partial[c], c * chunk, min((c + 1) * chunk, X.shape[0]))


def _chunking(n_x):
    """Rows per chunk and number of chunks of the fused pass over ``n_x`` rows."""
    chunks = max(1, min(_MAX_CHUNKS, -(-n_x // _ROWS_PER_CHUNK)))
    rows = -(-n_x // chunks)
    return rows, -(-n_x // rows)


def gradient_step_and_forward(X, dz, w, learning_rate, dw, z_partial, chunk):
    """One unit's gradient, its descent step and the next pre-activation, in one pass over ``X``.

    Parameters
    ----------
    X : ndarray of shape (n_x, m), C-contiguous
    dz : ndarray of shape (m,)
        Gradient of the cost with respect to the unit's pre-activation,
        already divided by ``m``.
    w : ndarray of shape (n_x,)
        The weights; updated in place.
    learning_rate : float
    dw : ndarray of shape (n_x,)
        Written in place with the gradient ``X @ dz`` (before the step).
    z_partial : ndarray of shape (chunks, m)
        Written in place with the partial sums of the next ``w @ X``, one
        row per chunk of ``chunk`` rows of ``X``; their column sums are the
        next pre-activation (without the bias).
    chunk : int
        Rows of ``X`` per chunk, from :func:`_chunking`.

    Notes
    -----
    .. math:: dw = X\\,dz,\\qquad w \\leftarrow w - \\alpha\\,dw,\\qquad
              z' = \\sum_i w_i X_{i,:}

    Row ``i`` contributes ``w_i X[i]`` to ``z'`` right after ``w_i`` is
    updated, while ``X[i]`` is still in cache.
    """
    if X.size >= config.PARALLEL_MIN_ELEMENTS:
        _step_parallel(X, dz, w, learning_rate, dw, z_partial, chunk)
    else:
        _step_serial(X, dz, w, learning_rate, dw, z_partial, chunk)


# ---------------------------------------------------------------- validation


def _check_bias(b):
    if isinstance(b, (bool, np.bool_)):
        raise TypeError(f"b must be a real number, got {b!r} (bool)")
    if isinstance(b, numbers.Real):
        return v.finite_float("b", b)
    arr = v.as_array("b", b)
    if arr.size != 1:
        raise ValueError(f"b must be a scalar (or an array of one element), got an array of shape {arr.shape}")
    value = float(arr.reshape(-1)[0])
    if not np.isfinite(value):
        raise ValueError(f"b must be finite, got {value}")
    return value


def _check_model_inputs(w, b, X, Y=None, x_name="X", y_name="Y"):
    """Validate ``w, b, X (, Y)``; return C-contiguous copies-when-needed and the dtype."""
    X_arr = v.as_array(x_name, X, ndim=2)
    n_x, m = X_arr.shape
    if m == 0:
        raise ValueError(f"{x_name} has no examples: shape {X_arr.shape}")
    w_arr = v.as_array("w", w)
    if w_arr.size != n_x or (w_arr.ndim == 2 and w_arr.shape[1] != 1) or w_arr.ndim > 2:
        raise ValueError(
            f"w must have shape ({n_x}, 1), one weight per row of {x_name} {X_arr.shape}; got {w_arr.shape}"
        )
    b_value = _check_bias(b)
    dtype = v.float_dtype(X_arr, w_arr)
    Xc = v.prepare(X_arr, dtype)
    v.check_finite(x_name, Xc)
    wc = v.prepare(w_arr.reshape(-1), dtype)
    v.check_finite("w", wc)
    if Y is None:
        return wc, b_value, Xc, None, dtype
    Y_arr = v.as_array(y_name, Y)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(1, -1)
    v.check_shape(y_name, Y_arr, (1, m), f"one label per column of {x_name}")
    v.check_binary_labels(y_name, Y_arr)
    return wc, b_value, Xc, v.prepare(Y_arr, dtype), dtype


def _num_iterations(value):
    # Gradients "of the last iteration" need an iteration.
    return v.positive_int("num_iterations", value)


# ---------------------------------------------------------------- the course's functions


def sigmoid(z):
    """Logistic sigmoid of a scalar or an array (week 2: returns ``s`` only, no cache).

    Parameters
    ----------
    z : scalar or array_like of any shape

    Returns
    -------
    s : ndarray of the shape of z (a NumPy scalar for a scalar)

    Notes
    -----
    .. math:: s = \\frac{1}{1 + e^{-z}}
    """
    s, _ = course.sigmoid(z)
    if np.ndim(z) == 0:
        return s.reshape(())[()]
    return s


def initialize_with_zeros(dim):
    """Zero weights and bias.

    Parameters
    ----------
    dim : int
        Number of features.

    Returns
    -------
    w : ndarray of shape (dim, 1), float64
    b : float
        ``0.0``.
    """
    dim = v.positive_int("dim", dim)
    return np.zeros((dim, 1)), 0.0


def _forward(W, b_arr, X, Z, A, Y, scale, dz, cost):
    """Pre-activation, output and gradient at the output, on the layer code."""
    layers.dense_forward(X, W, b_arr, act.LINEAR, 0.0, Z, Z)
    loss.sigmoid_cross_entropy(Z, Y, scale, A, dz, cost)


def propagate(w, b, X, Y):
    """Cost of the current parameters and its gradient.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
    b : float
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
        Labels in {0, 1}.

    Returns
    -------
    grads : dict
        ``"dw"``: ndarray of shape (n_x, 1); ``"db"``: NumPy float scalar.
    cost : NumPy float scalar
        The course's cross-entropy, computed from the probabilities
        (``0 log 0`` counts as 0).

    Notes
    -----
    .. math:: A = \\sigma(w^T X + b),\\quad
              J = -\\frac{1}{m}\\sum y\\ln a + (1 - y)\\ln(1 - a),\\quad
              dw = \\frac{1}{m} X (A - Y)^T,\\quad db = \\frac{1}{m}\\sum (A - Y)

    The arguments are not modified.
    """
    wc, b_value, Xc, Yc, dtype = _check_model_inputs(w, b, X, Y)
    n_x, m = Xc.shape
    W = wc.reshape(1, n_x)
    b_arr = np.full((1, 1), b_value, dtype=dtype)
    Z = np.empty((1, m), dtype=dtype)
    A = np.empty_like(Z)
    dz = np.empty_like(Z)
    stable_cost = np.zeros(1)
    _forward(W, b_arr, Xc, Z, A, Yc, 1.0 / m, dz, stable_cost)
    cost = np.zeros(1)
    loss.binary_cross_entropy(A, Yc, cost)
    dW = np.empty((1, n_x), dtype=dtype)
    db = np.empty((1, 1), dtype=dtype)
    act.row_sums(dz, 1.0, db)
    layers.linear_backward_into(dz, Xc, W, 1.0, dW, None)
    grads = {"dw": dW.reshape(n_x, 1), "db": dtype.type(db[0, 0])}
    return grads, np.float64(cost[0])


def optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
    """Gradient descent on the logistic-regression cost.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
        Initial weights (not modified).
    b : float
        Initial bias.
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
        Labels in {0, 1}.
    num_iterations : int, default 100
    learning_rate : float, default 0.009
    print_cost : bool, default False
        Print ``Cost after iteration i: ...`` every 100 iterations.

    Returns
    -------
    params : dict
        ``"w"``: ndarray of shape (n_x, 1); ``"b"``: NumPy float scalar.
    grads : dict
        ``"dw"``, ``"db"`` of the last iteration (before its step).
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    Notes
    -----
    .. math:: w \\leftarrow w - \\alpha\\,dw,\\qquad b \\leftarrow b - \\alpha\\,db

    The costs come from the logits (:func:`fastdnn.kernels.loss.sigmoid_cross_entropy`),
    equal to :func:`propagate`'s to rounding and finite even for saturated
    outputs.  Each iteration is three passes: bias and output
    (``m`` values), then one fused pass over ``X`` that computes ``dw``,
    steps ``w`` and forms the next ``w^T X``
    (:func:`gradient_step_and_forward`); no array is allocated in the loop.
    """
    wc, b_value, Xc, Yc, dtype = _check_model_inputs(w, b, X, Y)
    num_iterations = _num_iterations(num_iterations)
    lr = v.finite_float("learning_rate", learning_rate)
    n_x, m = Xc.shape
    scale = 1.0 / m

    # Every buffer of the loop, allocated once.
    w_out = wc.copy()  # wc may be the caller's array
    W = w_out.reshape(1, n_x)
    b_arr = np.full((1, 1), b_value, dtype=dtype)
    db = np.empty((1, 1), dtype=dtype)
    dw = np.empty(n_x, dtype=dtype)
    Z = np.empty((1, m), dtype=dtype)
    A = np.empty_like(Z)
    dz = np.empty_like(Z)
    cost = np.zeros(1)
    chunk, n_chunks = _chunking(n_x)
    z_partial = np.empty((n_chunks, m), dtype=dtype)
    b_flat, db_flat, dz_flat, Z_flat = b_arr.reshape(1), db.reshape(1), dz.reshape(m), Z.reshape(m)

    costs = []
    layers.dense_forward(Xc, W, b_arr, act.LINEAR, 0.0, Z, Z)
    for i in range(num_iterations):
        loss.sigmoid_cross_entropy(Z, Yc, scale, A, dz, cost)
        if i % 100 == 0:
            if not np.isfinite(cost[0]):
                raise FloatingPointError(f"the cost became {cost[0]} at iteration {i}")
            costs.append(float(cost[0]))
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost[0]))
        act.row_sums(dz, 1.0, db)
        update.sgd(b_flat, db_flat, lr, b_flat)
        gradient_step_and_forward(Xc, dz_flat, w_out, lr, dw, z_partial, chunk)
        # The next pre-activation: the chunks' partial sums, then the bias.
        np.sum(z_partial, axis=0, out=Z_flat)
        act.bias_activation_forward(Z, b_arr, act.LINEAR, 0.0, Z)

    params = {"w": w_out.reshape(n_x, 1), "b": dtype.type(b_arr[0, 0])}
    grads = {"dw": dw.reshape(n_x, 1), "db": dtype.type(db[0, 0])}
    return params, grads, costs


def predict(w, b, X):
    """0/1 predictions of a logistic regression.

    Parameters
    ----------
    w : array_like of shape (n_x, 1)
    b : float
    X : array_like of shape (n_x, m)

    Returns
    -------
    Y_prediction : ndarray of shape (1, m)
        1.0 where :math:`\\sigma(w^T x + b) > 0.5`, else 0.0 (float of the
        computation's dtype).
    """
    wc, b_value, Xc, _, dtype = _check_model_inputs(w, b, X)
    n_x, m = Xc.shape
    Z = np.empty((1, m), dtype=dtype)
    A = np.empty_like(Z)
    layers.dense_forward(Xc, wc.reshape(1, n_x), np.full((1, 1), b_value, dtype=dtype), act.SIGMOID, 0.0, Z, A)
    return (A > 0.5).astype(dtype)


def accuracy(Y_prediction, Y):
    """Percentage of correct 0/1 predictions, the course's way.

    Parameters
    ----------
    Y_prediction : array_like of shape (1, m)
    Y : array_like of shape (1, m)

    Returns
    -------
    float

    Notes
    -----
    .. math:: 100 - 100\\,\\frac{1}{m}\\sum |\\hat y - y|
    """
    p = v.as_array("Y_prediction", Y_prediction)
    y = v.as_array("Y", Y)
    if p.shape != y.shape:
        raise ValueError(f"Y_prediction of shape {p.shape} does not match Y of shape {y.shape}")
    if p.size == 0:
        raise ValueError("Y has no examples")
    return float(100 - np.mean(np.abs(p - y)) * 100)


def model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5, print_cost=False):
    """The course's logistic-regression model: zero start, gradient descent, predictions.

    Parameters
    ----------
    X_train : array_like of shape (n_x, m_train)
    Y_train : array_like of shape (1, m_train)
    X_test : array_like of shape (n_x, m_test)
    Y_test : array_like of shape (1, m_test)
    num_iterations : int, default 2000
    learning_rate : float, default 0.5
    print_cost : bool, default False
        Print the cost every 100 iterations, then ``train accuracy: ... %``
        and ``test accuracy: ... %`` (as the course's current notebook does).

    Returns
    -------
    d : dict
        ``"costs"``, ``"Y_prediction_test"``, ``"Y_prediction_train"``,
        ``"w"``, ``"b"``, ``"learning_rate"``, ``"num_iterations"`` (the
        course's keys), plus ``"train_accuracy"`` and ``"test_accuracy"`` in
        percent.
    """
    X_train_arr = v.as_array("X_train", X_train, ndim=2)
    X_test_arr = v.as_array("X_test", X_test, ndim=2)
    if X_test_arr.shape[0] != X_train_arr.shape[0]:
        raise ValueError(
            f"X_test has {X_test_arr.shape[0]} features (rows) but X_train has {X_train_arr.shape[0]}: "
            f"shapes {X_test_arr.shape} and {X_train_arr.shape}"
        )
    Y_test_arr = v.as_array("Y_test", Y_test)
    if Y_test_arr.size != X_test_arr.shape[1]:
        raise ValueError(f"Y_test of shape {Y_test_arr.shape} must hold one label per column of X_test {X_test_arr.shape}")
    Y_test_arr = Y_test_arr.reshape(1, -1)
    v.check_binary_labels("Y_test", Y_test_arr)
    Y_train_arr = v.as_array("Y_train", Y_train)

    w, b = initialize_with_zeros(X_train_arr.shape[0])
    params, _, costs = optimize(w, b, X_train_arr, Y_train_arr, num_iterations, learning_rate, print_cost)
    w, b = params["w"], params["b"]
    Y_prediction_test = predict(w, b, X_test_arr)
    Y_prediction_train = predict(w, b, X_train_arr)
    train_accuracy = accuracy(Y_prediction_train, Y_train_arr.reshape(1, -1))
    test_accuracy = accuracy(Y_prediction_test, Y_test_arr)
    if print_cost:
        print("train accuracy: {} %".format(train_accuracy))
        print("test accuracy: {} %".format(test_accuracy))
    return {
        "costs": costs,
        "Y_prediction_test": Y_prediction_test,
        "Y_prediction_train": Y_prediction_train,
        "w": w,
        "b": b,
        "learning_rate": learning_rate,
        "num_iterations": num_iterations,
        "train_accuracy": train_accuracy,
        "test_accuracy": test_accuracy,
    }
