"""Logistic regression, the course's week 2: one sigmoid unit trained by gradient descent.

``from fastdnn.logistic import *`` replaces a week-2 notebook's own
functions: same names, arguments, returns and printed lines.

A logistic regression is a network of one layer with one sigmoid unit, so
every function here runs on the layer code and kernels the deep network uses:
:func:`fastdnn.layers.dense_forward`, :func:`fastdnn.layers.linear_backward_into`,
the stable :func:`fastdnn.kernels.loss.sigmoid_cross_entropy`,
:func:`fastdnn.kernels.activation.row_sums` and :func:`fastdnn.kernels.update.sgd`.

:func:`optimize` has two ways to run the same gradient descent.  The direct
one takes a layer step per iteration: two passes over ``X`` (``w^T X``, then
``X dz``), which BLAS runs at memory speed -- there is nothing to gain on them.
When there are fewer examples than features (the course's cat data: 209
images of 12288 values), it instead follows the logits ``z = w^T X + b``,
which live in ``m`` dimensions: since ``w`` moves by ``-alpha X dz``,

.. math:: z_{t+1} = z_t - \\alpha\\,(G\\,dz_t + db_t),\\qquad G = X^T X,

so one ``m x m`` product per iteration replaces two ``n_x x m`` ones; ``G``
is formed once, and ``w`` is recovered at the end from the sum of the
``dz``.  Both give the course's numbers (to rounding: 1e-13 on the cat
data).

Layout is the course's: ``X`` of shape ``(n_x, m)``, ``w`` of shape
``(n_x, 1)``, ``b`` a scalar, ``Y`` of shape ``(1, m)``.
"""

from __future__ import annotations

import numbers
import sys
from typing import TYPE_CHECKING, Any, overload

import numpy as np

from . import config
from . import course
from . import layers
from . import threads
from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import skinny
from .kernels import small
from .kernels import update

if TYPE_CHECKING:
    from numpy.typing import ArrayLike

__all__ = ["sigmoid", "initialize_with_zeros", "propagate", "optimize", "predict", "model", "accuracy"]

#: How :func:`optimize` runs gradient descent.
METHODS = ("auto", "direct", "gram")


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


def _check_model_inputs(w, b, X, Y=None, x_name="X", y_name="Y", scan_X=True):
    """Validate ``w, b, X (, Y)``; return ``(w, b, X, Y)`` prepared (copied only when needed).

    All of them in the computation's dtype (:func:`fastdnn.validation.float_dtype` of ``X`` and ``w``),
    which ``w.dtype`` then tells.

    ``X`` of the right dtype is kept as it is when it is C- or F-contiguous
    (BLAS reads either order: the course's ``X`` is F-ordered).  With
    ``scan_X`` false it is not scanned for NaN and inf either: the caller
    checks its results instead.
    """
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
    if X_arr.dtype == dtype and (X_arr.flags.c_contiguous or X_arr.flags.f_contiguous):
        Xc = X_arr
    else:
        Xc = v.prepare(X_arr, dtype)
    if scan_X:
        v.check_finite(x_name, Xc)
    wc = v.prepare(w_arr.reshape(-1), dtype)
    v.check_finite("w", wc)
    if Y is None:
        return wc, b_value, Xc, None
    Y_arr = v.as_array(y_name, Y)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(1, -1)
    v.check_shape(y_name, Y_arr, (1, m), f"one label per column of {x_name}")
    # Any finite labels, as the course's formulas take them (a warning when not 0/1).
    v.check_label_values(y_name, Y_arr, dtype)
    return wc, b_value, Xc, v.prepare(Y_arr, dtype)


def _num_iterations(value):
    # Gradients "of the last iteration" need an iteration.
    return v.positive_int("num_iterations", value)


# ---------------------------------------------------------------- the course's functions


@overload
def sigmoid(z: float | np.floating | np.integer) -> np.floating: ...
@overload
def sigmoid(z: ArrayLike) -> np.ndarray | np.floating: ...


def sigmoid(z: ArrayLike) -> np.ndarray | np.floating:
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


def initialize_with_zeros(dim: int) -> tuple[np.ndarray, float]:
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


def propagate(w: ArrayLike, b: float | ArrayLike, X: ArrayLike, Y: ArrayLike) -> tuple[dict[str, Any], np.float64]:
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

    The arguments are not modified.  The course's F-ordered ``X`` (a
    transposed reshape) is used as it is, never copied, and is not scanned
    for NaN: one in it would reach the logits and ``dw``, which are checked.
    An F-ordered ``X`` of at least :data:`fastdnn.config.SKINNY_MIN_DEPTH`
    rows is read once for both products
    (:func:`fastdnn.kernels.skinny.logistic_pass`); other layouts go through
    BLAS.
    """
    fast = _fast_propagate(w, b, X, Y)
    if fast is not None:
        return fast
    wc, b_value, Xc, Yc = _check_model_inputs(w, b, X, Y, scan_X=False)
    dtype = wc.dtype
    result = _propagate_arrays(wc.reshape(1, Xc.shape[0]), b_value, Xc, Yc, labels_checked=True)
    if result is None:
        # X was not scanned: a NaN or inf in it reaches the logits or dw.
        v.check_finite("X", Xc)
        raise FloatingPointError(
            "propagate overflowed: the inputs are finite but the logits or dw hold inf or NaN "
            f"(values beyond the range of {dtype}); rescale the inputs or use float64"
        )
    return result


def _fast_propagate(w, b, X, Y):
    """:func:`propagate` on float arrays of one dtype, checked by its outputs; None for anything else.

    A NaN or inf in ``w``, ``b`` or ``X`` reaches the logits (checked with
    the bias) and ``dw``; the labels are checked by the cost kernel.  The
    full validation then says what was wrong.
    """
    dtype = course._common_float(X, w)
    if dtype is None or X.ndim != 2 or w.shape != (X.shape[0], 1) or not w.flags.c_contiguous \
            or not (X.flags.c_contiguous or X.flags.f_contiguous) or type(b) not in _SCALARS:
        return None
    n_x, m = X.shape
    if m == 0 or n_x == 0:
        return None
    Yc = course._labels_like(Y.reshape(1, -1) if type(Y) is np.ndarray and Y.ndim == 1 else Y,
                             np.empty((1, m), dtype))
    if Yc is None:
        return None
    return _propagate_arrays(w.reshape(1, n_x), b, X, Yc)


def one_pass_pays():
    """Whether week 2's one-pass kernel beats two BLAS products over the course's ``X`` on this machine.

    Measured once a machine (:func:`fastdnn.machine_choices.prefer`):
    :func:`fastdnn.kernels.skinny.logistic_pass` against the two
    matrix-vector products it replaces, over 12288 x 209 F-ordered.
    Skinny thresholds set by the user (``FASTDNN_SKINNY_MIN_DEPTH``,
    ``FASTDNN_SKINNY_MAX_ROWS``, :data:`fastdnn.options`) are taken as they
    are, without measuring.
    """
    if not course._default_skinny_thresholds():
        return True
    from . import machine_choices

    return machine_choices.prefer("logistic_one_pass", _measure_one_pass)


def _measure_one_pass():
    # Week 2's loop itself (see course._measure_skinny_layer for why not the kernel alone).
    from . import machine_choices, student_loops

    X, Y = machine_choices.course_cat_batch()
    return machine_choices.time_loop_both_ways("logistic_one_pass", lambda: student_loops.optimize_loop(
        sys.modules[__name__], np.zeros((12288, 1)), 0.0, X, Y, num_iterations=20))


def _propagate_arrays(W, b, X, Y, labels_checked=False):
    """The computation of :func:`propagate` on prepared arrays; None when a logit or ``dw`` is not finite.

    ``W`` of shape (1, n_x) and ``X`` (C- or F-ordered) of one float dtype,
    ``Y`` of shape (1, m) in that dtype; also None when a label is not 0 or 1.
    """
    dtype = X.dtype
    n_x, m = X.shape
    A = np.empty((1, m), dtype)
    dz = np.empty_like(A)
    dW = np.empty((1, n_x), dtype)
    if X.flags.f_contiguous and n_x >= config.SKINNY_MIN_DEPTH and one_pass_pays():
        # The course's X: one pass over it for both products (docs/course_helpers.md).
        tasks = max(1, min(m, config.BLOCK_WORKERS))
        partial = np.empty((tasks, n_x), dtype)
        Z = np.empty((1, m), dtype)
        threads.park_spinning_blas()  # the kernel takes both cores
        skinny.logistic_pass(X.T, W[0], float(b), Y[0], 1.0 / m, partial, Z[0], A[0], dz[0], dW[0])
        if course._non_finite(Z[0]):
            return None
    else:
        Z = np.empty((1, m), dtype)
        with np.errstate(all="ignore"):  # a bad value is reported by the caller, not as a RuntimeWarning
            np.dot(W, X, out=Z)
        if not small.bias_activation(Z, np.full((1, 1), b, dtype), act.LINEAR, Z, True):
            return None
        stable_cost = np.zeros(1)
        loss.sigmoid_cross_entropy(Z, Y, 1.0 / m, A, dz, stable_cost)
        with np.errstate(all="ignore"):
            np.dot(dz, X.T, out=dW)
    cost = np.zeros(1)
    status = loss.course_cross_entropy(A, Y, cost)
    if status == 1 and labels_checked:
        # Labels other than 0 and 1, accepted (and warned about) by the validation: the formula's value.
        course.check_cost_defined(cost[0], "A")
    elif status != 0:
        return None
    v.warn_log_of_zero(cost[0])
    if course._non_finite(dW.reshape(-1)):
        return None
    db = np.empty((1, 1), dtype)
    act.row_sums(dz, 1.0, db)
    return {"dw": dW.reshape(n_x, 1), "db": dtype.type(db[0, 0])}, np.float64(cost[0])


_SCALARS = (float, int, np.float64, np.float32)


#: How much faster, per multiply-add, BLAS forms ``X^T X`` (a matrix product,
#: compute-bound) than it runs ``w^T X`` (a matrix-vector product, bound by
#: reading ``X`` from memory); a conservative figure, 8 to 20 on x86 machines.
_GEMM_OVER_GEMV = 8


def _use_gram(n_x, m, num_iterations):
    """Whether following the logits is expected to be faster than direct steps."""
    # Multiply-adds weighted by their speed: Gram is n_x m^2 (a GEMM) once,
    # then m^2 per iteration; direct steps are 2 n_x m per iteration.
    gram = n_x * m * m / _GEMM_OVER_GEMV + num_iterations * m * m
    return m < n_x and gram < num_iterations * 2 * n_x * m


def optimize(w: ArrayLike, b: float | ArrayLike, X: ArrayLike, Y: ArrayLike, num_iterations: int = 100,
             learning_rate: float = 0.009, print_cost: bool = False, *,
             method: str = "auto") -> tuple[dict[str, Any], dict[str, Any], list[float]]:
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
    method : {"auto", "direct", "gram"}, default "auto"
        ``"direct"`` takes a layer step per iteration; ``"gram"`` follows the
        logits with ``G = X^T X`` (see the module's notes); ``"auto"`` picks
        ``"gram"`` when there are fewer examples than features and enough
        iterations to pay for ``G``.  The results agree to rounding.

    Returns
    -------
    params : dict
        ``"w"``: ndarray of shape (n_x, 1); ``"b"``: NumPy float scalar.
    grads : dict
        ``"dw"``, ``"db"`` of the last iteration (before its step).
    costs : list of float
        The cost at iterations 0, 100, 200, ...

    Raises
    ------
    FloatingPointError
        When a recorded cost is not finite.

    Notes
    -----
    .. math:: A = \\sigma(w^T X + b),\\quad dz = \\frac{1}{m}(A - Y),\\quad
              w \\leftarrow w - \\alpha X dz^T,\\quad b \\leftarrow b - \\alpha \\sum dz

    The costs come from the logits (:func:`fastdnn.kernels.loss.sigmoid_cross_entropy`),
    equal to :func:`propagate`'s to rounding and finite even for saturated
    outputs.  Every buffer is allocated before the loop; an iteration only
    runs kernels.
    """
    wc, b_value, Xc, Yc = _check_model_inputs(w, b, X, Y)
    dtype = wc.dtype
    num_iterations = _num_iterations(num_iterations)
    lr = v.finite_float("learning_rate", learning_rate)
    v.choice("method", method, METHODS)
    n_x, m = Xc.shape
    gram = method == "gram" or (method == "auto" and _use_gram(n_x, m, num_iterations))
    scale = 1.0 / m

    # Every buffer of the loop, allocated once.
    w_out = wc.copy()  # wc may be the caller's array
    W = w_out.reshape(1, n_x)
    b_arr = np.full((1, 1), b_value, dtype=dtype)
    db = np.empty((1, 1), dtype=dtype)
    dW = np.empty((1, n_x), dtype=dtype)
    Z = np.empty((1, m), dtype=dtype)
    A = np.empty_like(Z)
    dz = np.empty_like(Z)
    cost = np.zeros(1)
    b_flat, db_flat, w_flat, dW_flat = b_arr.reshape(1), db.reshape(1), w_out, dW.reshape(n_x)
    if gram:
        G = np.matmul(Xc.T, Xc)
        step = np.empty_like(Z)  # G dz + db: how far the logits move, per unit of learning rate
        dz_sum = np.zeros_like(Z)
        Z_flat, step_flat = Z.reshape(m), step.reshape(m)

    costs = []
    layers.dense_forward(Xc, W, b_arr, act.LINEAR, 0.0, Z, Z)
    for i in range(num_iterations):
        if gram and i:
            # The logits after the previous step: z - alpha (G dz + db).
            np.matmul(dz, G, out=step)
            act.bias_activation_forward(step, db, act.LINEAR, 0.0, step)
            update.sgd(Z_flat, step_flat, lr, Z_flat)
        elif i:
            layers.dense_forward(Xc, W, b_arr, act.LINEAR, 0.0, Z, Z)
        loss.sigmoid_cross_entropy(Z, Yc, scale, A, dz, cost)
        if i % 100 == 0:
            if not np.isfinite(cost[0]):
                raise FloatingPointError(f"the cost became {cost[0]} at iteration {i} (learning rate {lr})")
            costs.append(float(cost[0]))
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost[0]))
        act.row_sums(dz, 1.0, db)
        update.sgd(b_flat, db_flat, lr, b_flat)
        if gram:
            np.add(dz_sum, dz, out=dz_sum)
        else:
            layers.linear_backward_into(dz, Xc, W, 1.0, dW, None)
            update.sgd(w_flat, dW_flat, lr, w_flat)
    if gram:
        # w moved by -alpha X (sum of the dz); dw is the last iteration's X dz.
        layers.linear_backward_into(dz_sum, Xc, W, 1.0, dW, None)
        update.sgd(w_flat, dW_flat, lr, w_flat)
        layers.linear_backward_into(dz, Xc, W, 1.0, dW, None)

    params = {"w": w_out.reshape(n_x, 1), "b": dtype.type(b_arr[0, 0])}
    grads = {"dw": dW.reshape(n_x, 1).copy(), "db": dtype.type(db[0, 0])}
    return params, grads, costs


def predict(w: ArrayLike, b: float | ArrayLike, X: ArrayLike) -> np.ndarray:
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
    wc, b_value, Xc, _ = _check_model_inputs(w, b, X)
    dtype = wc.dtype
    n_x, m = Xc.shape
    Z = np.empty((1, m), dtype=dtype)
    A = np.empty_like(Z)
    layers.dense_forward(Xc, wc.reshape(1, n_x), np.full((1, 1), b_value, dtype=dtype), act.SIGMOID, 0.0, Z, A)
    return (A > 0.5).astype(dtype)


def accuracy(Y_prediction: ArrayLike, Y: ArrayLike) -> float:
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


def model(X_train: ArrayLike, Y_train: ArrayLike, X_test: ArrayLike, Y_test: ArrayLike, num_iterations: int = 2000,
          learning_rate: float = 0.5, print_cost: bool = False) -> dict[str, Any]:
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
