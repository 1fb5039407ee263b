"""The public pieces the four assignments share, bound to a convention by each module."""

import dis
import sys
from typing import NamedTuple

import numpy as np

from .. import validation as v
from ..kernels import gather as gather_kernels
from . import _core


def sigmoid(x):
    """The logistic function ``1 / (1 + e^{-x})`` of an array or a number (a new array)."""
    from ..logistic import sigmoid as logistic_sigmoid

    return logistic_sigmoid(x)


def relu(x):
    """``max(0, x)`` elementwise (a new array)."""
    return np.maximum(0, v.as_array("x", x))


class Arrays(NamedTuple):
    """What a pass computes on: the dtype and the inputs converted to it."""

    dtype: np.dtype
    X: np.ndarray
    Ws: tuple
    bs: tuple
    Y: np.ndarray


def _computation(X, layers, Y=None, extra=()):
    """``X``, the layers (and ``Y``) C-contiguous in the computation's dtype, checked finite."""
    arrays = [X] + [a for W, b in layers for a in (W, b)] + list(extra)
    dtype = v.float_dtype(*arrays)
    Xc, = _core.prepared(dtype, [("X", X)])
    Ws = tuple(_core.prepared(dtype, [(f"W{l}", W) for l, (W, _) in enumerate(layers, start=1)]))
    bs = tuple(_core.prepared(dtype, [(f"b{l}", b) for l, (_, b) in enumerate(layers, start=1)]))
    Yc = None
    if Y is not None:
        v.check_label_values("Y", Y, dtype)
        Yc = v.prepare(Y, dtype)
    return Arrays(dtype, Xc, Ws, bs, Yc)


def forward_propagation(X, parameters, masks=None, keep_prob=1.0):
    """The course's forward pass: ``(A_L, cache)``, the cache ``(Z1, A1, W1, b1, ...)`` (``D`` after ``Z``)."""
    X_arr, _ = _core.check_data(X)
    layers = _core.check_parameters(parameters, n_x=X_arr.shape[0])
    arrays = _computation(X_arr, layers)
    dtype = arrays.dtype
    Ds = None
    if masks is not None:
        Ds = tuple(v.prepare(D, dtype) for D in masks)
    Zs, As = _core.forward(arrays.X, arrays.Ws, arrays.bs, dtype, Ds, keep_prob)
    cache = []
    for l, (W, b) in enumerate(layers):
        cache.append(Zs[l])
        if masks is not None and l < len(layers) - 1:
            cache.append(masks[l])
        cache += [As[l], parameters[f"W{l + 1}"], parameters[f"b{l + 1}"]]
    return As[-1], tuple(cache)


def split_cache(cache, with_masks=False):
    """``[(Z, A, W, b), ...]`` and the masks from the course's flat cache tuple, checked."""
    step = 5 if with_masks else 4
    groups_fit = len(cache) >= 4 and (len(cache) + with_masks) % step == 0 if isinstance(cache, (tuple, list)) \
        else False
    if not groups_fit:
        shape = "(Z1, D1, A1, W1, b1, ..., ZL, AL, WL, bL)" if with_masks else "(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)"
        raise ValueError(f"cache must be the tuple the forward pass returned, {shape}; got "
                         f"{type(cache).__name__} of length {len(cache) if hasattr(cache, '__len__') else '?'}")
    rows, masks, k, l = [], [], 0, 1
    while k < len(cache):
        if with_masks and k + 4 < len(cache):
            Z, D, A, W, b = cache[k:k + 5]
            masks.append(v.as_array(f"D{l}", D))
            k += 5
        else:
            Z, A, W, b = cache[k:k + 4]
            k += 4
        rows.append((v.as_array(f"Z{l}", Z, ndim=2), v.as_array(f"A{l}", A, ndim=2), W, b))
        l += 1
    return rows, masks


def backward_propagation(X, Y, cache, convention, lambd=0.0, keep_prob=1.0, with_masks=False):
    """The course's backward pass from its cache: the gradients dict in the convention's keys and order."""
    X_arr, Y_arr = _core.check_data(X, Y)
    rows, masks = split_cache(cache, with_masks)
    parameters = {}
    for l, (_, _, W, b) in enumerate(rows, start=1):
        parameters[f"W{l}"], parameters[f"b{l}"] = W, b
    layers = _core.check_parameters(parameters, n_x=X_arr.shape[0], name="the cache's parameters")
    _core.check_output_rows(layers, Y_arr)
    m = X_arr.shape[1]
    for l, (Z, A, W, b) in enumerate(rows, start=1):
        v.check_shape(f"A{l}", A, (W.shape[0], m), f"the activation of layer {l} over the {m} examples of X")
    for l, D in enumerate(masks, start=1):
        v.check_shape(f"D{l}", D, rows[l - 1][1].shape, f"the dropout mask of layer {l}, shaped as A{l}")
    activations = [A for _, A, _, _ in rows]
    arrays = _computation(X_arr, layers, Y_arr, extra=activations)
    dtype = arrays.dtype
    As = tuple(_core.prepared(dtype, [(f"A{l}", A) for l, A in enumerate(activations, start=1)]))
    Ds = tuple(v.prepare(D, dtype) for D in masks) or None
    dZs, dAs, dWs, dbs = _core.backward(arrays.X, arrays.Y, arrays.Ws, As, convention, dtype, Ds, keep_prob, lambd)
    return _core.gradients_dict(convention, dZs, dAs, dWs, dbs)


def check_probabilities_and_labels(A, Y, a_name="a3"):
    A_arr = v.as_array(a_name, A)
    Y_arr = v.as_array("Y", Y)
    if A_arr.ndim == 1:
        A_arr = A_arr.reshape(1, -1)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(1, -1)
    if A_arr.ndim != 2 or A_arr.shape != Y_arr.shape:
        raise ValueError(f"{a_name} of shape {np.shape(A)} and Y of shape {np.shape(Y)} must have the same shape "
                         f"(n_y, m)")
    if A_arr.shape[1] == 0:
        raise ValueError(f"Y has no examples: shape {Y_arr.shape}")
    dtype = v.float_dtype(A_arr, Y_arr)
    Ac = v.prepare(A_arr, dtype)
    v.check_probabilities(a_name, Ac)
    v.check_label_values("Y", Y_arr, dtype)
    return Ac, v.prepare(Y_arr, dtype)


def log_loss_sum(A, Y, skip_nan, a_name="a3"):
    """The course's cross-entropy summed over the examples (see :func:`fastdnn.improving._core.log_loss`)."""
    Ac, Yc = check_probabilities_and_labels(A, Y, a_name)
    with np.errstate(all="ignore"):
        return np.float64(_core.log_loss(Ac, Yc, skip_nan)), Yc.shape[1]


def update_parameters(parameters, grads, learning_rate):
    """``W_l - learning_rate * dW_l`` (and ``b``) as new arrays put into ``parameters``, which is returned."""
    L = _core.n_layers(parameters)
    lr = _core.check_learning_rate(learning_rate)
    new = {}
    for l in range(1, L + 1):
        for p in (f"W{l}", f"b{l}"):
            P = v.as_array(p, parameters[p])
            if not isinstance(grads, dict) or f"d{p}" not in grads:
                raise ValueError(f"grads is missing 'd{p}'")
            G = v.as_array(f"d{p}", grads[f"d{p}"])
            if G.shape != P.shape:
                raise ValueError(f"d{p} of shape {G.shape} does not match {p} of shape {P.shape}")
            new[p] = P - lr * G
    parameters.update(new)
    return parameters


def predict(X, y, parameters):
    """Labels ``1 * (A_L > 0.5)`` as int64 of shape (1, m); prints ``Accuracy: ...`` against ``y``."""
    p = predict_dec(parameters, X).astype(np.int64)
    y_arr = v.as_array("y", y)
    if y_arr.ndim == 1:
        y_arr = y_arr.reshape(1, -1)
    if y_arr.shape[-1] != p.shape[1]:
        raise ValueError(f"y of shape {np.shape(y)} must hold one label per column of X ({p.shape[1]})")
    print("Accuracy: " + str(np.mean(p[0, :] == y_arr[0, :])))
    return p


def predict_dec(parameters, X):
    """``A_L > 0.5``, a boolean array of shape (n_y, m): the course's decision function for its plots."""
    A, _ = forward_propagation(X, parameters)
    return A > 0.5


def initialize(layers_dims, scale, seed=3, name="layers_dims"):
    """``randn(n_l, n_{l-1}) * scale(n_{l-1})`` per layer after ``np.random.seed(seed)``, zero biases."""
    dims = v.layer_dims(name, layers_dims)
    if seed is not None:
        np.random.seed(seed)
    parameters = {}
    for l in range(1, len(dims)):
        if scale is None:
            parameters[f"W{l}"] = np.zeros((dims[l], dims[l - 1]))
        else:
            parameters[f"W{l}"] = np.random.randn(dims[l], dims[l - 1]) * scale(dims[l - 1])
        parameters[f"b{l}"] = np.zeros((dims[l], 1))
    return parameters


def unpacked_count():
    """How many names the statement that called our caller unpacks its result into (None: no unpacking).

    ``parameters, v, s = f(...)`` compiles to a call followed by
    ``UNPACK_SEQUENCE 3``; reading that instruction lets a function keep the
    return of an older version of the course for code written against it.
    """
    frame = sys._getframe(2)
    code, last = frame.f_code, frame.f_lasti
    for instruction in dis.get_instructions(code):
        if instruction.offset > last:
            return instruction.arg if instruction.opname == "UNPACK_SEQUENCE" else None
    return None


def gather_batch(X, order, start, size, dtype):
    """Columns ``order[start:start + size]`` of ``X`` as a new C-contiguous array."""
    out = np.empty((X.shape[0], size), dtype=dtype)
    gather_kernels.gather(X, order, start, out)
    return out
