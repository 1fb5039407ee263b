"""The course's functions, drop-in: same names, arguments, returns and caches.

Each public function validates its inputs (clear errors, no Numba
tracebacks), allocates its outputs, and runs the fused kernels through
:mod:`fastdnn.layers`.  No function modifies an array it is given:
:func:`update_parameters` returns a new dictionary of new arrays.

Arrays keep their float dtype (float32 stays float32); integer and boolean
inputs are computed in float64, as NumPy would.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from . import config, layers, threads
from .initializers import INITS, scale_initial_weights
from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import skinny
from .kernels import small
from .kernels import update

ACTIVATIONS = ("relu", "sigmoid", "tanh")
_ACTIVATION_CODES = {name: act.CODES[name] for name in ACTIVATIONS}


# ---------------------------------------------------------------- helpers


def _float_input(name, x, ndim=None, dtype=None):
    arr = v.as_array(name, x, ndim)
    return arr, (dtype or v.float_dtype(arr))


def _as_2d(arr):
    """A 2-D view of a C-contiguous array, rows first, for the row kernels."""
    if arr.ndim == 2:
        return arr
    if arr.ndim < 2:
        return arr.reshape(1, -1)
    return arr.reshape(-1, arr.shape[-1])


def _elementwise_forward(name, Z, code):
    if type(Z) is _ND and (Z.dtype is _F64 or Z.dtype is _F32) and Z.flags.c_contiguous and Z.size:
        out = np.empty(Z.shape, Z.dtype)
        act.activation_forward(_rows(Z), code, 0.0, _rows(out), Z.size >= config.STEP_PARALLEL_MIN_ELEMENTS)
        return out, Z
    arr, dtype = _float_input(name, Z)
    z = v.prepare(arr, dtype)
    out = np.empty_like(z)
    if z.size:
        act.activation_forward(_as_2d(z), code, 0.0, _as_2d(out))
    return out, Z


def _rows(x):
    """A C-contiguous array as rows for the elementwise kernels, which vectorise along a row.

    One long row while a single thread does the work (a layer's ``Z`` at the
    course's sizes is often tall and thin, 256 x 2); its own rows once the
    kernels split rows over threads.  The helpers cut over to the threads
    where a training step does (``config.STEP_PARALLEL_MIN_ELEMENTS``), not
    at the general ``PARALLEL_MIN_ELEMENTS``: between a student's BLAS
    products, waking Numba's sleeping threads for ``relu`` of 256 x 512
    made it 0.67x the reference's ``np.maximum``.
    """
    if x.ndim == 2 and (x.shape[1] >= 64 or x.size < 256):
        return x  # long rows, or too few elements for a reshape (0.2 us) to pay
    return x.reshape(1, -1) if x.size < config.STEP_PARALLEL_MIN_ELEMENTS else _as_2d(x)


_NO_BIAS = {dtype: act.empty_bias_buffer(dtype) for dtype in (np.dtype(np.float64), np.dtype(np.float32))}


def _elementwise_backward(dA, cache, code):
    if type(dA) is _ND and type(cache) is _ND and (dA.dtype is _F64 or dA.dtype is _F32) \
            and cache.dtype is dA.dtype and dA.shape == cache.shape and dA.size and dA.flags.c_contiguous \
            and cache.flags.c_contiguous:
        dZ = np.empty(dA.shape, dA.dtype)
        act.activation_backward(_rows(dA), _rows(cache), True, code, 0.0, 1.0, _rows(dZ), _NO_BIAS[dA.dtype], False,
                                dA.size >= config.STEP_PARALLEL_MIN_ELEMENTS)
        return dZ
    dA_arr = v.as_array("dA", dA)
    Z_arr = v.as_array("cache", cache)
    if dA_arr.shape != Z_arr.shape:
        raise ValueError(f"dA and cache (Z) must have the same shape, got dA {dA_arr.shape} and Z {Z_arr.shape}")
    dtype = v.float_dtype(dA_arr, Z_arr)
    da = v.prepare(dA_arr, dtype)
    z = v.prepare(Z_arr, dtype)
    dZ = np.empty_like(da)
    if da.size:
        act.activation_backward(_as_2d(da), _as_2d(z), True, code, 0.0, 1.0, _as_2d(dZ),
                                act.empty_bias_buffer(dtype), False)
    return dZ


def _activation_code(activation):
    if type(activation) is str and activation in _ACTIVATION_CODES:
        return _ACTIVATION_CODES[activation]
    return act.CODES[v.choice("activation", activation, ACTIVATIONS)]


# ---------------------------------------------------------------- fast paths
#
# A student's loop calls these helpers thousands of times with the arrays the
# course makes: float64, the input X F-ordered (a transposed reshape divided
# by 255), everything else C-ordered and fresh each call.  Each helper first
# tries a fast path that takes such arrays as they are (BLAS reads either
# order: X is never copied), checks only what is cheap (types, dtypes,
# shapes) and then looks at its *outputs*, not its inputs: a NaN or an
# infinity in any input reaches the outputs, so finite outputs vouch for the
# inputs at a fraction of the cost of scanning X.  Whenever something does not
# fit -- another type or dtype, a wrong shape, a non-finite result -- the fast
# path returns None and the helper runs its full validation, which accepts
# the general case or raises the error that names the argument.  A layer's
# BLAS product runs without np.errstate (1.3 us a call, as much as a whole
# test-case layer), so a NaN input shows NumPy's RuntimeWarning from the
# product before that error.

_F64 = np.dtype(np.float64)
_F32 = np.dtype(np.float32)
_ND = np.ndarray  # one global lookup instead of two: the fast paths test it for every argument


def _common_float(first, *rest):
    """The dtype shared by ndarrays of one float dtype (float32 or float64), else None."""
    if type(first) is not _ND:
        return None
    dtype = first.dtype
    if dtype is not _F64 and dtype is not _F32:
        return None
    for x in rest:
        if type(x) is not _ND or x.dtype is not dtype:
            return None
    return dtype


def _labels_like(Y, AL):
    """``Y`` as a C-contiguous array of ``AL``'s dtype without rounding a label, else None."""
    if type(Y) is not _ND or Y.shape != AL.shape or not Y.flags.c_contiguous:
        return None
    if Y.dtype is AL.dtype:
        return Y
    # Integers and booleans are 0 or 1 after the cast exactly when they were
    # before; a float64 label 1 + 1e-12 would round to a float32 1.
    if Y.dtype.kind in "biu":
        return Y.astype(AL.dtype)
    return None


def _fast_layer_forward(A, W, b, code):
    """``(Z, g(Z))`` of one layer, or None (see the section comment)."""
    # Spelled out rather than _common_float(A, W, b): at the test-case sizes
    # the whole call takes about a microsecond.
    if type(A) is not _ND or type(W) is not _ND or type(b) is not _ND:
        return None
    dtype = A.dtype
    if (dtype is not _F64 and dtype is not _F32) or W.dtype is not dtype or b.dtype is not dtype:
        return None
    try:  # the unpacking checks the number of dimensions too, for less than the ndim tests cost
        n, k = W.shape
        k_A, m = A.shape
        n_b, one = b.shape
    except ValueError:
        return None
    if k_A != k or n_b != n or one != 1:
        return None
    Z = np.empty((n, m), dtype)
    if not b.flags.c_contiguous:
        b = np.ascontiguousarray(b)
    if n * k * m <= config.SMALL_FORWARD_WORK and k <= config.SMALL_FORWARD_DEPTH:
        if not A.flags.c_contiguous:
            A = np.ascontiguousarray(A)
        if not W.flags.c_contiguous:
            W = np.ascontiguousarray(W)
        if code == act.LINEAR:
            return (Z, Z) if small.linear_forward(A, W, b, Z) else None
        out = np.empty((n, m), dtype)
        return (Z, out) if small.dense_forward(A, W, b, code, Z, out, False) else None
    out = Z if code == act.LINEAR else np.empty((n, m), dtype)
    if k >= config.SKINNY_MIN_DEPTH and _skinny(W, A):  # the depth first: a shallow layer skips the call
        threads.park_spinning_blas()  # the kernel takes both cores
        skinny.forward(W, A.T, skinny.forward_piece(W.itemsize), config.BLOCK_WORKERS, Z)
    else:
        # np.dot into a C-contiguous out is 10-30% cheaper per call than np.matmul.
        np.dot(W, A, out=Z)
    if n * m < config.STEP_PARALLEL_MIN_ELEMENTS:
        if not small.bias_activation(Z, b, code, out, out is Z):
            return None
        return Z, out
    act.bias_activation_forward(Z, b, code, 0.0, out)
    if _non_finite(Z.reshape(-1)):
        return None
    return Z, out


def _non_finite(x):
    """Whether the 1-d array ``x`` holds a NaN or an inf, on Numba's threads only where a training step would be."""
    return v._count_non_finite(x, config.STEP_PARALLEL_MIN_ELEMENTS)


def _skinny(W, A):
    """Whether ``W @ A`` is a narrow layer over an F-ordered input (:mod:`fastdnn.kernels.skinny`) that pays here."""
    return (W.shape[0] <= config.SKINNY_MAX_ROWS and W.shape[1] >= config.SKINNY_MIN_DEPTH
            and A.flags.f_contiguous and W.flags.c_contiguous and skinny_pays())


def _default_skinny_thresholds():
    from .tuning import OPTIONS

    return (config.SKINNY_MAX_ROWS == OPTIONS["skinny_max_rows"].default
            and config.SKINNY_MIN_DEPTH == OPTIONS["skinny_min_depth"].default)


def skinny_pays():
    """Whether the skinny kernels beat BLAS for a narrow layer over the course's ``X`` on this machine.

    Measured once a machine (:func:`fastdnn.machine_choices.prefer`): the
    forward product and both gradients of the two-layer model's first layer
    (7 units over 12288 x 209, F-ordered), skinny against BLAS.  Thresholds
    set by the user (``FASTDNN_SKINNY_*``, :data:`fastdnn.options`) are
    taken as they are, without measuring.
    """
    if not _default_skinny_thresholds():
        return True
    from . import machine_choices

    return machine_choices.prefer("skinny_layer", _measure_skinny_layer)


def _measure_skinny_layer():
    # The loop itself, not the layer alone: alone, BLAS won here (4.3 against 6.4 ms on the Xeon), while in
    # the student's two-layer loop the skinny layer won (4.5-4.8 against 5.9-6.3 ms an iteration): the
    # loop's other calls and the threads they leave spinning decide, so they are part of what is timed.
    from . import machine_choices, student_loops

    X, Y = machine_choices.course_cat_batch()
    return machine_choices.time_loop_both_ways("skinny_layer", lambda: student_loops.two_layer_loop(
        sys.modules[__name__], X, Y, (12288, 7, 1), num_iterations=8))


def _fast_layer_backward(dA, H, A_prev, W, code, with_dA_prev, from_pre_activation=True, scale=None):
    """``(dA_prev, dW, db, dZ)`` of one layer (``dA_prev`` None unless asked), or None.

    ``H`` is the pre-activation ``Z`` (the course's caches), or the
    activation when not ``from_pre_activation`` (week 3 takes
    ``1 - A1**2``); for a linear layer (``code`` ``LINEAR``) ``dA`` is
    ``dZ`` and ``H`` is not read.  ``dW`` and ``db`` are scaled by
    ``scale`` (default ``1/m``; the course's second part folds ``1/m`` into
    ``dZ`` of its output and passes 1).

    On the BLAS route ``dA_prev`` takes ``A_prev``'s memory order, as
    ``np.empty_like`` does: for the course's F-ordered ``X`` the product
    writes it about 1.5x faster that way.
    """
    if type(dA) is not _ND or type(H) is not _ND or type(A_prev) is not _ND \
            or type(W) is not _ND:
        return None
    dtype = dA.dtype
    if (dtype is not _F64 and dtype is not _F32) or H.dtype is not dtype or A_prev.dtype is not dtype \
            or W.dtype is not dtype or dA.ndim != 2 or A_prev.ndim != 2 or W.ndim != 2:
        return None
    n, k = W.shape
    m = A_prev.shape[1]
    if m == 0 or A_prev.shape[0] != k or dA.shape != (n, m) or H.shape != (n, m):
        return None
    scale = 1.0 / m if scale is None else scale
    dW = np.empty((n, k), dtype)
    db = np.empty((n, 1), dtype)
    if not dA.flags.c_contiguous:
        dA = np.ascontiguousarray(dA)
    if not H.flags.c_contiguous:
        H = np.ascontiguousarray(H)
    if n * k * m <= config.SMALL_LAYER_WORK:
        dZ = np.empty((n, m), dtype)
        dA_prev = np.empty((k, m) if with_dA_prev else (0, 0), dtype)
        if not A_prev.flags.c_contiguous:
            A_prev = np.ascontiguousarray(A_prev)
        if not W.flags.c_contiguous:
            W = np.ascontiguousarray(W)
        if not small.dense_backward(dA, H, from_pre_activation, A_prev, W, code, scale, dZ, dW, db, dA_prev,
                                    with_dA_prev):
            return None
        return (dA_prev if with_dA_prev else None), dW, db, dZ
    if code == act.LINEAR:
        dZ = dA  # read only, never written
        act.row_sums(dZ, scale, db, dZ.size >= config.STEP_PARALLEL_MIN_ELEMENTS)
        checked = _non_finite(dZ.reshape(-1))
    else:
        dZ = np.empty((n, m), dtype)
        act.activation_backward(dA, H, from_pre_activation, code, 0.0, scale, dZ, db, True,
                                dA.size >= config.STEP_PARALLEL_MIN_ELEMENTS)
        # dA and H, not dZ: a relu's mask would hide a NaN in either.
        checked = _non_finite(dA.reshape(-1)) or _non_finite(H.reshape(-1))
    if checked or _non_finite(db.reshape(-1)):
        return None
    narrow = _skinny(W, A_prev)
    if narrow:
        threads.park_spinning_blas()
        skinny.weight_gradient(dZ, A_prev.T, scale, skinny.gradient_piece(dZ.itemsize), config.BLOCK_WORKERS, dW)
    else:
        np.dot(dZ, A_prev.T, out=dW)
        if scale != 1.0:
            np.multiply(dW, scale, out=dW)
    if not v.product_is_finite(dW, dZ, A_prev):
        return None
    if not with_dA_prev:
        # Nothing read W: a NaN in it must not wait for a deferred dA0.
        return (None, dW, db, dZ) if not _non_finite(W.ravel(order="K")) else None
    dA_prev = np.empty_like(A_prev)
    if narrow:  # A_prev F-ordered, so is dA_prev: its transpose holds a row per example
        skinny.input_gradient(W, dZ, config.BLOCK_WORKERS, dA_prev.T)
    elif dA_prev.flags.c_contiguous:
        np.dot(W.T, dZ, out=dA_prev)
    else:  # F-ordered: its transpose is the C-contiguous product dZ^T W
        np.dot(dZ.T, W, out=dA_prev.T)
    if not v.product_is_finite(dA_prev, W, dZ):
        return None
    return dA_prev, dW, db, dZ


# ---------------------------------------------------------------- activations


def sigmoid(Z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Logistic sigmoid, element-wise.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of Z
    cache : Z
        The input, as the course's backward functions expect.

    Notes
    -----
    .. math:: A = 1 / (1 + e^{-Z})
    """
    return _elementwise_forward("Z", Z, act.SIGMOID)


def relu(Z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Rectified linear unit, element-wise: ``max(0, Z)``.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of Z
    cache : Z
    """
    if type(Z) is _ND and 0 < Z.size <= config.SMALL_ELEMENTWISE_MAX and (Z.dtype is _F64 or Z.dtype is _F32):
        # The course's expression, with a float zero that NumPy does not have to promote (0.1 us of 0.45);
        # the same bits, -0.0 kept as the course keeps it.
        return np.maximum(0.0, Z), Z
    return _elementwise_forward("Z", Z, act.RELU)


def tanh(Z: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Hyperbolic tangent, element-wise.

    Parameters
    ----------
    Z : array_like of any shape

    Returns
    -------
    A : ndarray of the shape of Z
    cache : Z
    """
    return _elementwise_forward("Z", Z, act.TANH)


def sigmoid_backward(dA: ArrayLike, cache: Any) -> np.ndarray:
    """Gradient through a sigmoid.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : array_like of shape (n, m)
        ``Z``, as returned by :func:`sigmoid`.

    Returns
    -------
    dZ : ndarray of shape (n, m)

    Notes
    -----
    .. math:: dZ = dA\\,\\sigma(Z)(1 - \\sigma(Z))
    """
    return _elementwise_backward(dA, cache, act.SIGMOID)


def relu_backward(dA: ArrayLike, cache: Any) -> np.ndarray:
    """Gradient through a relu: ``dA`` where ``Z > 0``, else 0.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : array_like of shape (n, m)

    Returns
    -------
    dZ : ndarray of shape (n, m)
    """
    if type(dA) is _ND and type(cache) is _ND and dA.ndim == 2 and dA.size <= config.SMALL_ELEMENTWISE_MAX:
        dtype = dA.dtype
        if (dtype is _F64 or dtype is _F32) and cache.dtype is dtype and dA.shape == cache.shape \
                and dA.flags.c_contiguous and cache.flags.c_contiguous:
            dZ = np.empty(dA.shape, dtype)
            small.relu_backward(dA, cache, dZ)
            return dZ
    return _elementwise_backward(dA, cache, act.RELU)


def tanh_backward(dA: ArrayLike, cache: Any) -> np.ndarray:
    """Gradient through a tanh.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : array_like of shape (n, m)

    Returns
    -------
    dZ : ndarray of shape (n, m)

    Notes
    -----
    .. math:: dZ = dA\\,(1 - \\tanh^2 Z)
    """
    return _elementwise_backward(dA, cache, act.TANH)


def softmax(x: ArrayLike) -> np.ndarray:
    """Softmax of each row, stable for large inputs.

    Parameters
    ----------
    x : array_like of shape (n, k) or (k,)

    Returns
    -------
    ndarray of the shape of x

    Notes
    -----
    .. math:: s_{ij} = e^{x_{ij} - \\max_l x_{il}} / \\sum_l e^{x_{il} - \\max_l x_{il}}
    """
    arr, dtype = _float_input("x", x)
    if arr.ndim not in (1, 2):
        raise ValueError(f"x must be a 1-D or 2-D array, got shape {arr.shape}")
    if arr.shape[-1] == 0:
        raise ValueError(f"x must have at least one column, got shape {arr.shape}")
    xs = v.prepare(arr, dtype)
    v.check_finite("x", xs)
    out = np.empty_like(xs)
    loss.softmax_rows(_as_2d(xs), _as_2d(out))
    return out


def normalize_rows(x: ArrayLike) -> np.ndarray:
    """Each row divided by its Euclidean norm; all-zero rows stay zero.

    Parameters
    ----------
    x : array_like of shape (n, k)

    Returns
    -------
    ndarray of shape (n, k)
    """
    arr, dtype = _float_input("x", x, ndim=2)
    xs = v.prepare(arr, dtype)
    v.check_finite("x", xs)
    norms = np.linalg.norm(xs, axis=1, keepdims=True)
    out = np.zeros_like(xs)
    np.divide(xs, norms, out=out, where=norms > 0)
    return out


# ---------------------------------------------------------------- initialization


def _check_seed(seed):
    if seed is None:
        return None
    return v.non_negative_int("seed", seed)


def initialize_parameters(n_x: int, n_h: int, n_y: int, seed: int | None = 1) -> dict[str, np.ndarray]:
    """Parameters of the course's two-layer network, small random weights.

    Parameters
    ----------
    n_x, n_h, n_y : int
        Sizes of the input, hidden and output layers.
    seed : int, default 1
        Passed to ``np.random.seed`` first, as the course does.

    Returns
    -------
    dict
        ``W1`` (n_h, n_x), ``b1`` (n_h, 1), ``W2`` (n_y, n_h), ``b2`` (n_y, 1):
        weights ``randn * 0.01``, zero biases.
    """
    dims = [v.positive_int(name, n) for name, n in (("n_x", n_x), ("n_h", n_h), ("n_y", n_y))]
    return initialize_parameters_deep(dims, init="small", seed=seed)


def initialize_parameters_deep(layer_dims: Any, init: str = "scaled", seed: int | None = 1) -> dict[str, np.ndarray]:
    """Parameters of an L-layer network.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    init : {"scaled", "small", "he", "xavier"}, default "scaled"
        ``randn(n[l], n[l-1])`` divided by ``sqrt(n[l-1])`` (the course's
        deep initialization), times 0.01, times ``sqrt(2 / n[l-1])``, or
        times ``sqrt(1 / n[l-1])``.
    seed : int, default 1
        Passed to ``np.random.seed`` first, as the course does (so the global
        NumPy generator is re-seeded, like in the course).

    Returns
    -------
    dict
        ``W{l}`` of shape (n[l], n[l-1]) and zero ``b{l}`` of shape (n[l], 1).
    """
    dims = v.layer_dims("layer_dims", layer_dims)
    v.choice("init", init, INITS)
    seed = _check_seed(seed)
    if seed is not None:
        np.random.seed(seed)
    parameters = {}
    for l in range(1, len(dims)):
        W = np.random.randn(dims[l], dims[l - 1])
        parameters[f"W{l}"] = scale_initial_weights(W, init)
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    return parameters


# ---------------------------------------------------------------- forward


def _check_layer(A, W, b, a_name="A", layer=""):
    """Validate one layer's arrays; return them prepared plus the dtype."""
    A_arr = v.as_array(a_name, A, ndim=2)
    W_arr = v.as_array(f"W{layer}", W, ndim=2)
    b_arr = v.as_array(f"b{layer}", b, ndim=2)
    if W_arr.shape[1] != A_arr.shape[0]:
        raise ValueError(
            f"W{layer} of shape {W_arr.shape} does not fit {a_name} of shape {A_arr.shape}: "
            f"W{layer} needs {A_arr.shape[0]} columns (one per row of {a_name})"
        )
    v.check_shape(f"b{layer}", b_arr, (W_arr.shape[0], 1), f"one bias per row of W{layer}")
    dtype = v.float_dtype(A_arr, W_arr, b_arr)
    A_c, W_c, b_c = (v.prepare(x, dtype) for x in (A_arr, W_arr, b_arr))
    v.check_finite(a_name, A_c)
    v.check_finite(f"W{layer}", W_c)
    v.check_finite(f"b{layer}", b_c)
    return A_c, W_c, b_c


def _check_result(what, *arrays):
    """Finite inputs can still overflow (float32 above ~3.4e38): say so instead of returning inf or NaN."""
    for arr in arrays:
        if arr.size and v._count_non_finite(arr.reshape(-1)):
            raise FloatingPointError(
                f"{what} overflowed: the inputs are finite but the result of shape {arr.shape} holds inf or NaN "
                f"(values beyond the range of {arr.dtype}); rescale the inputs or use float64"
            )


def _forward(A, W, b, code):
    Z = np.empty((W.shape[0], A.shape[1]), dtype=A.dtype)
    out = np.empty_like(Z) if code != act.LINEAR else Z
    layers.dense_forward(A, W, b, code, 0.0, Z, out)
    _check_result("the linear part W @ A + b", Z)
    return Z, out


def linear_forward(A: ArrayLike, W: ArrayLike, b: ArrayLike) -> tuple[np.ndarray, Any]:
    """Linear part of a layer's forward pass.

    Parameters
    ----------
    A : array_like of shape (n_prev, m)
    W : array_like of shape (n, n_prev)
    b : array_like of shape (n, 1)

    Returns
    -------
    Z : ndarray of shape (n, m)
    cache : tuple
        ``(A, W, b)`` as given.

    Notes
    -----
    .. math:: Z = W A + b
    """
    fast = _fast_layer_forward(A, W, b, act.LINEAR)
    if fast is not None:
        return fast[0], (A, W, b)
    A_c, W_c, b_c = _check_layer(A, W, b)
    Z, _ = _forward(A_c, W_c, b_c, act.LINEAR)
    return Z, (A, W, b)


def linear_activation_forward(A_prev: ArrayLike, W: ArrayLike, b: ArrayLike, activation: str) -> tuple[np.ndarray, Any]:
    """One layer's forward pass: linear, then ``activation``.

    Parameters
    ----------
    A_prev : array_like of shape (n_prev, m)
    W : array_like of shape (n, n_prev)
    b : array_like of shape (n, 1)
    activation : {"relu", "sigmoid", "tanh"}

    Returns
    -------
    A : ndarray of shape (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)``, the course's linear and activation caches.
    """
    code = _activation_code(activation)
    fast = _fast_layer_forward(A_prev, W, b, code)
    if fast is not None:
        return fast[1], ((A_prev, W, b), fast[0])
    A_c, W_c, b_c = _check_layer(A_prev, W, b, "A_prev")
    Z, A = _forward(A_c, W_c, b_c, code)
    return A, ((A_prev, W, b), Z)


def _check_parameters(parameters, X_shape=None):
    """Validate a course parameter dict; return ``[(W1, b1), ...]`` as given."""
    if not isinstance(parameters, dict):
        raise TypeError(f"parameters must be a dict with keys 'W1', 'b1', ...; got {type(parameters).__name__}")
    # L from the highest layer named, not len(parameters) // 2: with a key
    # missing, the course's count would silently drop the last layer.
    layers_named = [int(k[1:]) for k in parameters if isinstance(k, str) and k[:1] in ("W", "b")
                    and k[1:].isdigit() and not k[1:].startswith("0")]
    L = max(layers_named, default=0)
    if L < 1:
        raise ValueError(f"parameters must hold at least 'W1' and 'b1'; got keys {sorted(map(str, parameters))}")
    pairs = []
    for l in range(1, L + 1):
        for key in (f"W{l}", f"b{l}"):
            if key not in parameters:
                raise ValueError(
                    f"parameters is missing {key!r}: a {L}-layer network needs W1..W{L} and b1..b{L}; "
                    f"got keys {sorted(map(str, parameters))}"
                )
        W = v.as_array(f"W{l}", parameters[f"W{l}"], ndim=2)
        b = v.as_array(f"b{l}", parameters[f"b{l}"], ndim=2)
        if l == 1:
            expected_cols = None if X_shape is None else X_shape[0]
            what = f"X of shape {X_shape}: W1 needs one column per row of X"
        else:
            expected_cols = pairs[-1][0].shape[0]
            what = f"W{l - 1} of shape {pairs[-1][0].shape}: W{l} needs one column per row of W{l - 1}"
        if expected_cols is not None and W.shape[1] != expected_cols:
            raise ValueError(f"W{l} of shape {W.shape} does not fit {what} ({expected_cols})")
        v.check_shape(f"b{l}", b, (W.shape[0], 1), f"one bias per row of W{l}")
        pairs.append((W, b))
    return pairs


def L_model_forward(X: ArrayLike, parameters: dict[str, Any]) -> tuple[np.ndarray, list]:
    """Forward pass of ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    parameters : dict
        ``W1, b1, ..., WL, bL``.

    Returns
    -------
    AL : ndarray of shape (n_L, m)
        Output probabilities.
    caches : list of L tuples
        ``((A_prev, W, b), Z)`` for each layer.
    """
    fast = _fast_model_forward(X, parameters)
    if fast is not None:
        return fast
    X_arr = v.as_array("X", X, ndim=2)
    pairs = _check_parameters(parameters, X_arr.shape)
    dtype = v.float_dtype(X_arr, *[a for pair in pairs for a in pair])
    A = v.prepare(X_arr, dtype)
    v.check_finite("X", A)
    caches = []
    L = len(pairs)
    for l, (W, b) in enumerate(pairs, start=1):
        W_c, b_c = v.prepare(W, dtype), v.prepare(b, dtype)
        v.check_finite(f"W{l}", W_c)
        v.check_finite(f"b{l}", b_c)
        A_prev = A
        Z, A = _forward(A_prev, W_c, b_c, act.SIGMOID if l == L else act.RELU)
        caches.append(((A_prev, W_c, b_c), Z))
    return A, caches


def _fast_model_forward(X, parameters):
    if type(parameters) is not dict or len(parameters) % 2 or not parameters:
        return None
    L = len(parameters) // 2
    caches = []
    A = X
    for l in range(1, L + 1):
        W = parameters.get(_key(_W_KEYS, "W", l))
        b = parameters.get(_key(_B_KEYS, "b", l))
        if W is None or b is None:
            return None
        layer = _fast_layer_forward(A, W, b, act.SIGMOID if l == L else act.RELU)
        if layer is None:
            return None
        caches.append(((A, W, b), layer[0]))
        A = layer[1]
    return A, caches


# The course's keys, made once: building "W" + str(l) is a fifth of a small call.
_W_KEYS = tuple(f"W{l}" for l in range(64))
_B_KEYS = tuple(f"b{l}" for l in range(64))
_DW_KEYS = tuple(f"dW{l}" for l in range(64))
_DB_KEYS = tuple(f"db{l}" for l in range(64))
_DA_KEYS = tuple(f"dA{l}" for l in range(64))


def _update_keys(l):
    return (f"W{l}", f"dW{l}"), (f"b{l}", f"db{l}")


_UPDATE_KEYS = tuple(_update_keys(l) for l in range(64))


def _key(keys, prefix, l):
    return keys[l] if l < len(keys) else f"{prefix}{l}"


# ---------------------------------------------------------------- cost


def _check_output_and_labels(AL, Y, probabilities=True):
    AL_arr = v.as_array("AL", AL)
    Y_arr = v.as_array("Y", Y)
    if AL_arr.ndim != 2:
        raise ValueError(f"AL must be a 2-D array of shape (n_out, m), got shape {AL_arr.shape}")
    if Y_arr.shape != AL_arr.shape:
        if Y_arr.size != AL_arr.size:
            raise ValueError(f"Y of shape {Y_arr.shape} does not match AL of shape {AL_arr.shape}")
        Y_arr = Y_arr.reshape(AL_arr.shape)
    if AL_arr.shape[1] == 0:
        raise ValueError("AL has no examples (m = 0)")
    # The labels do not choose the dtype: 0 and 1 are exact in any float, and
    # int64 labels (the course's .h5 files) must not turn float32 into float64.
    dtype = v.float_dtype(AL_arr)
    v.check_label_values("Y", Y_arr, dtype)  # before the cast (a finite label may not stay finite in float32)
    AL_c, Y_c = v.prepare(AL_arr, dtype), v.prepare(Y_arr, dtype)
    if probabilities:
        v.check_probabilities("AL", AL_c)
    else:
        v.check_finite("AL", AL_c)
    return AL_c, Y_c


def compute_cost(AL: ArrayLike, Y: ArrayLike) -> Any:
    """Cross-entropy cost of predictions ``AL`` for labels ``Y``.

    Parameters
    ----------
    AL : array_like of shape (n_out, m)
        Probabilities in [0, 1].
    Y : array_like of shape (n_out, m)
        Labels in {0, 1}.

    Returns
    -------
    ndarray of shape ()
        The cost, summed in float64 whatever ``AL``'s dtype, as a 0-d array
        as the course's ``np.squeeze`` returns it (its tests check the
        type); ``float(cost)`` and arithmetic take it as a number.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum y \\ln a + (1 - y) \\ln(1 - a)

    ``0 * log(0)`` counts as 0, so a saturated correct prediction costs
    nothing instead of NaN; a saturated wrong one costs ``inf``.
    """
    if _common_float(AL) is not None and isinstance(AL, np.ndarray) and AL.ndim == 2 and AL.shape[1] and \
            AL.flags.c_contiguous:
        Y_c = _labels_like(Y, AL)
        if Y_c is not None:
            out = np.empty(1, dtype=np.float64)
            if loss.course_cross_entropy(AL, Y_c, out) == 0:
                v.warn_log_of_zero(out[0])
                return out.reshape(())
    AL_c, Y_c = _check_output_and_labels(AL, Y)
    out = np.empty(1, dtype=np.float64)
    loss.course_cross_entropy(AL_c, Y_c, out)
    check_cost_defined(out[0], "AL")
    v.warn_log_of_zero(out[0])
    return out.reshape(())


def check_cost_defined(cost, name):
    """``ValueError`` for a NaN cross-entropy of finite, checked inputs: labels other than 0 and 1 where the
    probabilities ``name`` are exactly 0 or 1 give terms of both +inf and -inf."""
    if cost != cost:
        raise ValueError(f"the cost is undefined: {name} holds exactly 0 or 1 where Y is neither 0 nor 1, so that "
                         f"the formula's logarithms give both +inf and -inf")


# ---------------------------------------------------------------- backward


def _describe_cache(cache):
    if isinstance(cache, (tuple, list)):
        return f"a {type(cache).__name__} of length {len(cache)}"
    return f"an object of type {type(cache).__name__}"


def _check_linear_cache(cache, layer=""):
    if not (isinstance(cache, (tuple, list)) and len(cache) == 3):
        where = f" of layer {layer}" if layer else ""
        raise TypeError(f"the linear cache{where} must be a tuple (A_prev, W, b), got {_describe_cache(cache)}")
    return cache


def _backward_buffers(dZ_shape, A_prev, W, dtype):
    dW = np.empty(W.shape, dtype=dtype)
    db = np.empty((W.shape[0], 1), dtype=dtype)
    dA_prev = np.empty((W.shape[1], dZ_shape[1]), dtype=dtype)
    return dW, db, dA_prev


def _check_backward_inputs(dname, d, cache, layer=""):
    A_prev, W, b = _check_linear_cache(cache, layer)
    d_arr = v.as_array(dname, d, ndim=2)
    A_c, W_c, b_c = _check_layer(A_prev, W, b, "A_prev", layer)
    if A_c.shape[1] == 0:
        raise ValueError(f"A_prev of shape {A_c.shape} has no examples: the gradients average over m = 0")
    if d_arr.shape != (W_c.shape[0], A_c.shape[1]):
        raise ValueError(
            f"{dname} must have shape {(W_c.shape[0], A_c.shape[1])} (rows of W, columns of A_prev), "
            f"got {d_arr.shape}"
        )
    dtype = v.float_dtype(d_arr, A_c)
    d_c = v.prepare(d_arr, dtype)
    v.check_finite(dname, d_c)
    return d_c, v.prepare(A_c, dtype), v.prepare(W_c, dtype), dtype


def linear_backward(dZ: ArrayLike, cache: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear part of a layer's backward pass.

    Parameters
    ----------
    dZ : array_like of shape (n, m)
    cache : tuple
        ``(A_prev, W, b)`` from :func:`linear_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (n_prev, m)
    dW : ndarray of shape (n, n_prev)
    db : ndarray of shape (n, 1)

    Notes
    -----
    .. math:: dW = \\frac{1}{m} dZ A_{prev}^T,\\quad db = \\frac{1}{m}\\sum_j dZ_{:,j},
              \\quad dA_{prev} = W^T dZ
    """
    if type(cache) is tuple and len(cache) == 3:
        fast = _fast_layer_backward(dZ, dZ, cache[0], cache[1], act.LINEAR, True)
        if fast is not None:
            return fast[:3]
    return _linear_backward(dZ, cache)


def _linear_backward(dZ, cache, layer=""):
    dZ_c, A_c, W_c, dtype = _check_backward_inputs("dZ", dZ, cache, layer)
    m = A_c.shape[1]
    dW, db, dA_prev = _backward_buffers(dZ_c.shape, A_c, W_c, dtype)
    scale = 1.0 / m
    act.row_sums(dZ_c, scale, db)
    layers.linear_backward_into(dZ_c, A_c, W_c, scale, dW, dA_prev)
    _check_result("linear_backward", dA_prev, dW, db)
    return dA_prev, dW, db


def linear_activation_backward(dA: ArrayLike, cache: Any, activation: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One layer's backward pass: through ``activation``, then linear.

    Parameters
    ----------
    dA : array_like of shape (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)`` from :func:`linear_activation_forward`.
    activation : {"relu", "sigmoid", "tanh"}

    Returns
    -------
    dA_prev : ndarray of shape (n_prev, m)
    dW : ndarray of shape (n, n_prev)
    db : ndarray of shape (n, 1)
    """
    code = _activation_code(activation)
    if type(cache) is tuple and len(cache) == 2 and type(cache[0]) is tuple and len(cache[0]) == 3:
        fast = _fast_layer_backward(dA, cache[1], cache[0][0], cache[0][1], code, True)
        if fast is not None:
            return fast[:3]
    return _linear_activation_backward(dA, cache, code)


def _check_layer_cache(cache, layer=""):
    if not (isinstance(cache, (tuple, list)) and len(cache) == 2):
        name = f"caches[{int(layer) - 1}]" if layer else "cache"
        raise TypeError(f"{name} must be a tuple ((A_prev, W, b), Z) as linear_activation_forward returns, "
                        f"got {_describe_cache(cache)}")
    return cache


def _linear_activation_backward(dA, cache, code, layer=""):
    linear_cache, Z = _check_layer_cache(cache, layer)
    dA_c, A_c, W_c, dtype = _check_backward_inputs("dA", dA, linear_cache, layer)
    z_name = f"Z of layer {layer}" if layer else "Z (in cache)"
    Z_arr = v.as_array(z_name, Z, ndim=2)
    v.check_shape(z_name, Z_arr, dA_c.shape, "the shape of dA")
    Z_c = v.prepare(Z_arr, dtype)
    v.check_finite(z_name, Z_c)
    dW, db, dA_prev = _backward_buffers(dA_c.shape, A_c, W_c, dtype)
    dZ = np.empty_like(dA_c)
    layers.dense_backward(dA_c, Z_c, True, code, 0.0, A_c, W_c, 1.0 / A_c.shape[1], dZ, dW, db, dA_prev)
    _check_result("linear_activation_backward", dA_prev, dW, db)
    return dA_prev, dW, db


def L_model_backward(AL: ArrayLike, Y: ArrayLike, caches: Any) -> dict[str, np.ndarray]:
    """Backward pass of ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Parameters
    ----------
    AL : array_like of shape (1, m)
        Output of :func:`L_model_forward`.
    Y : array_like of shape (1, m)
        Labels in {0, 1}.
    caches : list
        The caches of :func:`L_model_forward`.

    Returns
    -------
    dict
        ``dA{l-1}``, ``dW{l}``, ``db{l}`` for ``l = 1..L``.

    Notes
    -----
    Starts, as the course does, from
    :math:`dA^{[L]} = -(Y / A^{[L]} - (1 - Y) / (1 - A^{[L]}))` and each cache's
    ``Z``, so caches built by hand give the course's numbers.  That ``dA`` is
    undefined where ``AL`` is exactly 0 or 1, which raises ``ValueError``.
    """
    fast = _fast_model_backward(AL, Y, caches)
    if fast is not None:
        return fast
    AL_c, Y_c = _check_output_and_labels(AL, Y, probabilities=False)
    if not isinstance(caches, (list, tuple)) or not caches:
        raise TypeError("caches must be the non-empty list of caches returned by L_model_forward")
    if np.any((AL_c == 0) | (AL_c == 1)):
        raise ValueError(
            "AL holds values of exactly 0 or 1: the course's dAL = -(Y/AL - (1-Y)/(1-AL)) is "
            "undefined there (the output saturated)"
        )
    L = len(caches)
    for l, cache in enumerate(caches, start=1):
        _check_layer_cache(cache, str(l))
    grads = {}
    # Output layer: the course's dAL and the sigmoid derivative in one pass.
    linear_cache, Z = caches[L - 1]
    Z_arr = v.as_array(f"Z of layer {L}", Z, ndim=2)
    v.check_shape(f"Z of layer {L}", Z_arr, AL_c.shape, "the shape of AL")
    Z_c = v.prepare(Z_arr, AL_c.dtype)
    v.check_finite(f"Z of layer {L}", Z_c)
    dZ = np.empty_like(AL_c)
    loss.course_sigmoid_output_backward(AL_c, Y_c, Z_c, dZ)
    dA_prev, dW, db = _linear_backward(dZ, linear_cache, str(L))
    grads[f"dA{L - 1}"], grads[f"dW{L}"], grads[f"db{L}"] = dA_prev, dW, db
    for l in range(L - 1, 0, -1):
        dA_prev, dW, db = _linear_activation_backward(grads[f"dA{l}"], caches[l - 1], act.RELU, str(l))
        grads[f"dA{l - 1}"], grads[f"dW{l}"], grads[f"db{l}"] = dA_prev, dW, db
    return grads


def _fast_model_backward(AL, Y, caches):
    if type(caches) is not list or not caches or _common_float(AL) is None or AL.ndim != 2 \
            or not AL.flags.c_contiguous:
        return None
    Y_c = _labels_like(Y, AL)
    if Y_c is None:
        return None
    L = len(caches)
    for cache in caches:
        if type(cache) is not tuple or len(cache) != 2 or type(cache[0]) is not tuple or len(cache[0]) != 3:
            return None
    (A_prev, W, _), Z = caches[L - 1]
    if _common_float(Z, AL) is None or Z.shape != AL.shape or not Z.flags.c_contiguous:
        return None
    dZ = np.empty_like(AL)
    if loss.course_sigmoid_output_backward(AL, Y_c, Z, dZ) != 0:
        return None
    grads = Gradients()
    dA = dZ
    for l in range(L, 0, -1):
        (A_prev, W, _), Z = caches[l - 1]
        code = act.LINEAR if l == L else act.RELU
        layer = _fast_layer_backward(dA, dZ if l == L else Z, A_prev, W, code, l > 1)
        if layer is None:
            return None
        dA, dW, db, dZ_l = layer
        if l > 1:
            dict.__setitem__(grads, _key(_DA_KEYS, "dA", l - 1), dA)
        else:
            grads._defer_input_gradient(W, dZ_l, A_prev)
        dict.__setitem__(grads, _key(_DW_KEYS, "dW", l), dW)
        dict.__setitem__(grads, _key(_DB_KEYS, "db", l), db)
    return grads


class _Deferred:
    """Stands in a :class:`Gradients` for ``dA0`` until it is read."""

    __slots__ = ("W", "dZ", "order")

    def __init__(self, W, dZ, order):
        self.W, self.dZ, self.order = W, dZ, order

    def compute(self):
        dA0 = np.empty((self.W.shape[1], self.dZ.shape[1]), dtype=self.dZ.dtype, order=self.order)
        np.matmul(self.W.T, self.dZ, out=dA0)
        _check_result("L_model_backward (dA0)", dA0)
        return dA0

    def __repr__(self):
        return "<dA0, computed when first read>"


class Gradients(dict):
    """The dict :func:`L_model_backward` returns: the course's keys, in the course's order.

    The course's loop never reads ``dA0``, the gradient with respect to the
    input ``X``: for its cat network that one product (``W1^T dZ1``, 12288 x
    209) took as long as the two others of the first layer together.  So it is
    computed the first time anything reads it -- ``grads["dA0"]``, ``get``,
    ``items``, ``values``, printing, copying, pickling -- from a copy of
    ``W1`` taken at the backward pass, so it is the same even if ``W1`` has
    been changed in place since.  Everything else is an ordinary ``dict``.
    """

    __slots__ = ()

    def _defer_input_gradient(self, W, dZ, A_prev):
        order = "F" if A_prev.flags.f_contiguous and not A_prev.flags.c_contiguous else "C"
        dict.__setitem__(self, "dA0", _Deferred(W.copy(), dZ, order))

    def _materialize(self):
        value = dict.get(self, "dA0")
        if type(value) is _Deferred:
            value = value.compute()
            dict.__setitem__(self, "dA0", value)
        return value

    def __getitem__(self, key):
        value = dict.__getitem__(self, key)
        if type(value) is _Deferred:
            value = self._materialize()
        return value

    def get(self, key, default=None):
        return self[key] if key in self else default

    # Reading every value, or handing the dict to code that reads its
    # storage directly, computes dA0 first.
    def __iter__(self):  # makes dict(grads) and {**grads} read through __getitem__
        return dict.__iter__(self)

    def values(self):
        self._materialize()
        return dict.values(self)

    def items(self):
        self._materialize()
        return dict.items(self)

    def copy(self):
        self._materialize()
        return dict(dict.items(self))

    def pop(self, key, *default):
        self._materialize()
        return dict.pop(self, key, *default)

    def popitem(self):
        self._materialize()
        return dict.popitem(self)

    def setdefault(self, key, default=None):
        self._materialize()
        return dict.setdefault(self, key, default)

    def __eq__(self, other):
        self._materialize()
        if isinstance(other, Gradients):
            other._materialize()
        return dict.__eq__(self, other)

    def __ne__(self, other):
        return not self == other

    def __or__(self, other):
        return self.copy() | other

    def __ror__(self, other):
        return other | self.copy()

    __hash__ = None

    def __repr__(self):
        self._materialize()
        return dict.__repr__(self)

    def __reduce__(self):
        return (dict, (self.copy(),))

    def __reduce_ex__(self, protocol):
        return self.__reduce__()


# ---------------------------------------------------------------- update


def update_parameters(parameters: dict[str, Any], grads: dict[str, Any], learning_rate: float) -> dict[str, np.ndarray]:
    """One gradient-descent step.

    Parameters
    ----------
    parameters : dict
        ``W1, b1, ..., WL, bL``.
    grads : dict
        ``dW1, db1, ...`` of the same shapes.
    learning_rate : float

    Returns
    -------
    dict
        A new dictionary of new arrays; ``parameters`` is left untouched.

    Notes
    -----
    .. math:: W \\leftarrow W - \\alpha\\,dW,\\qquad b \\leftarrow b - \\alpha\\,db
    """
    fast = _fast_update(parameters, grads, learning_rate)
    if fast is not None:
        return fast
    pairs = _check_parameters(parameters)
    lr = v.finite_float("learning_rate", learning_rate)
    if not isinstance(grads, dict):
        raise TypeError(f"grads must be a dict with keys 'dW1', 'db1', ...; got {type(grads).__name__}")
    updated = dict(parameters)
    for l, (W, b) in enumerate(pairs, start=1):
        for name, p in ((f"W{l}", W), (f"b{l}", b)):
            key = "d" + name
            if key not in grads:
                raise ValueError(f"grads is missing {key!r} (needed for {name})")
            g = v.as_array(key, grads[key])
            v.check_shape(key, g, p.shape, f"the shape of {name}")
            dtype = v.float_dtype(p, g)
            p_c, g_c = v.prepare(p, dtype), v.prepare(g, dtype)
            v.check_finite(name, p_c)
            v.check_finite(key, g_c)
            out = np.empty_like(p_c)
            update.sgd(p_c.reshape(-1), g_c.reshape(-1), lr, out.reshape(-1))
            updated[name] = out
    return updated


def _fast_update(parameters, grads, learning_rate):
    if type(parameters) is not dict or not isinstance(grads, dict) or not parameters or len(parameters) % 2 \
            or type(learning_rate) is not float or learning_rate - learning_rate != 0.0:
        return None
    updated = dict(parameters)
    for l in range(1, len(parameters) // 2 + 1):
        for name, grad_name in (_UPDATE_KEYS[l] if l < len(_UPDATE_KEYS) else _update_keys(l)):
            p = parameters.get(name)
            g = grads.get(grad_name)
            # _common_float spelled out: this loop runs for every parameter of every step.
            if type(p) is not _ND or type(g) is not _ND or p.dtype is not g.dtype \
                    or (p.dtype is not _F64 and p.dtype is not _F32) or p.ndim != 2 or p.shape != g.shape \
                    or not p.flags.c_contiguous or not g.flags.c_contiguous:
                return None
            out = np.empty(p.shape, p.dtype)  # np.empty_like's dispatch costs 0.3 us more
            # One serial pass that also checks: as fast as the parallel update
            # and a separate check together up to a million parameters.
            if not update.sgd_checked(p, g, learning_rate, out):
                return None
            updated[name] = out
    return updated


# ---------------------------------------------------------------- predict


def predict(X: ArrayLike, y: ArrayLike, parameters: dict[str, Any], verbose: bool = True) -> np.ndarray:
    """0/1 predictions of an L-layer network, printing the accuracy like the course.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    y : array_like of shape (1, m)
        True labels, for the accuracy.
    parameters : dict
    verbose : bool, default True
        Print ``Accuracy: ...``.

    Returns
    -------
    p : ndarray of shape (1, m)
        1.0 where the predicted probability exceeds 0.5, else 0.0.
    """
    AL, _ = L_model_forward(X, parameters)
    p = (AL > 0.5).astype(AL.dtype)
    y_arr = v.as_array("y", y)
    if y_arr.size != p.size:
        raise ValueError(f"y of shape {y_arr.shape} does not match the {p.shape[1]} examples of X")
    if verbose:
        m = p.shape[1]
        print("Accuracy: " + str(np.sum((p == y_arr.reshape(p.shape)) / m)))
    return p


# ---------------------------------------------------------------- models


def _course_training(X, Y, layers_dims, init, learning_rate, num_iterations, print_cost, return_costs, dual="auto"):
    from .network import Network

    X_arr = v.as_array("X", X, ndim=2)
    Y_arr = v.as_array("Y", Y, ndim=2)
    dims = v.layer_dims("layers_dims", layers_dims)
    if dims[0] != X_arr.shape[0]:
        raise ValueError(f"layers_dims[0] = {dims[0]} does not match the {X_arr.shape[0]} rows of X")
    if Y_arr.shape != (dims[-1], X_arr.shape[1]):
        raise ValueError(f"Y must have shape {(dims[-1], X_arr.shape[1])} (n_y, m), got {Y_arr.shape}")
    # (fit_course checks Y's values: finite; other than 0 and 1 with a warning, as the formula takes them.)
    num_iterations = v.non_negative_int("num_iterations", num_iterations)
    lr = v.finite_float("learning_rate", learning_rate)
    net = Network(dims, hidden="relu", output="sigmoid", dtype=v.float_dtype(X_arr), init=init, seed=1)
    costs = net.fit_course(X_arr, Y_arr, learning_rate=lr, num_iterations=num_iterations, print_cost=print_cost,
                           dual=dual)
    parameters = {k: a.copy() for k, a in net.parameters.items()}
    return (parameters, costs) if return_costs else parameters


def two_layer_model(X: ArrayLike, Y: ArrayLike, layers_dims: Any, learning_rate: float = 0.0075,
                    num_iterations: int = 3000, print_cost: bool = False, return_costs: bool = False,
                    dual: bool | str = "auto") -> Any:
    """The course's two-layer model, ``LINEAR->RELU->LINEAR->SIGMOID``, trained by gradient descent.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : tuple of 3 ints
        ``(n_x, n_h, n_y)``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print the cost every 100 iterations and at the last one.
    return_costs : bool, default False
        Also return the costs recorded every 100 iterations (and the last).
    dual : {"auto", True, False}, default "auto"
        Train the first layer in dual form (the same gradient descent at
        :math:`n_1 m^2` per step instead of :math:`n_1 n_x m`) when there are
        fewer examples than features; see :mod:`fastdnn.dual`.

    Returns
    -------
    parameters : dict
    costs : list of float, only when ``return_costs``
    """
    if len(v.layer_dims("layers_dims", layers_dims)) != 3:
        raise ValueError(f"layers_dims must be (n_x, n_h, n_y), got {tuple(layers_dims)}")
    return _course_training(X, Y, layers_dims, "small", learning_rate, num_iterations, print_cost, return_costs,
                            dual)


def L_layer_model(X: ArrayLike, Y: ArrayLike, layers_dims: Any, learning_rate: float = 0.0075,
                  num_iterations: int = 3000, print_cost: bool = False, return_costs: bool = False,
                  dual: bool | str = "auto") -> Any:
    """The course's L-layer model, ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print the cost every 100 iterations and at the last one.
    return_costs : bool, default False
        Also return the costs recorded every 100 iterations (and the last).
    dual : {"auto", True, False}, default "auto"
        Train the first layer in dual form (the same gradient descent at
        :math:`n_1 m^2` per step instead of :math:`n_1 n_x m`) when there are
        fewer examples than features; see :mod:`fastdnn.dual`.

    Returns
    -------
    parameters : dict
    costs : list of float, only when ``return_costs``

    Notes
    -----
    Initialized like ``initialize_parameters_deep(layers_dims)`` (seed 1) and
    trained by :class:`fastdnn.Network` with full-batch gradient descent; no
    plot is drawn.
    """
    return _course_training(X, Y, layers_dims, "scaled", learning_rate, num_iterations, print_cost, return_costs,
                            dual)
