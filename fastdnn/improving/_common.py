"""The public pieces the four assignments share, bound to a convention by each module."""

from __future__ import annotations

import dis
import sys
from typing import TYPE_CHECKING, Any, NamedTuple, overload

import numpy as np

from .. import config, course
from .. import validation as v
from ..kernels import activation as act
from ..kernels import gather as gather_kernels
from ..kernels import small
from ..logistic import sigmoid  # noqa: F401  (the helper files' sigmoid: s alone, week 2's)
from . import _core

if TYPE_CHECKING:
    from numpy.typing import ArrayLike


@overload
def relu(x: float | np.integer | np.floating) -> np.number: ...
@overload
def relu(x: ArrayLike) -> np.ndarray | np.number: ...


def relu(x: ArrayLike) -> np.ndarray | np.number:
    """``max(0, x)`` elementwise (a new array; a NumPy scalar for a scalar ``x``)."""
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


# ---------------------------------------------------------------- the passes
#
# Each public pass tries a fast path first: when every array is already an
# ndarray of one float dtype with the right shapes, it goes straight to the
# course's layer routines (:func:`fastdnn.course._fast_layer_forward` and
# ``_backward``: a fused small kernel at the course's sizes, BLAS beyond), as
# the first part's helpers do -- at these sizes validation would cost more than
# the arithmetic.  Anything else (other dtypes, lists, a bad shape, a NaN, a
# result that overflowed) takes the validating path, which names what is
# wrong or computes the formula on the converted arrays.


def _layer_keys(parameters):
    """The number of layers of a plain dict of the course's parameters, or None."""
    if type(parameters) is not dict or not parameters or len(parameters) % 2:
        return None
    return len(parameters) // 2


def _plain_layers(X, Ws, bs, work_limit):
    """The dtype when ``X``, ``Ws``, ``bs`` are C-contiguous ndarrays of one float dtype, of consistent shapes, and
    every layer's ``n k m`` is within ``work_limit`` (a single compiled call's sizes); else None."""
    dtype = X.dtype
    if (dtype is not course._F64 and dtype is not course._F32) or X.ndim != 2:
        return None
    rows, m = X.shape
    for W, b in zip(Ws, bs):
        if type(W) is not course._ND or type(b) is not course._ND or W.dtype is not dtype or b.dtype is not dtype \
                or W.ndim != 2 or W.shape[1] != rows or b.shape != (W.shape[0], 1) or not W.flags.c_contiguous \
                or not b.flags.c_contiguous or W.size * m > work_limit:
            return None
        rows = W.shape[0]
    return dtype


def _small_forward(X, Ws, bs, masks, keep_prob):
    """``(Zs, As)`` in one compiled call at the course's sizes, or None."""
    dtype = _plain_layers(X, Ws, bs, config.SMALL_FORWARD_WORK)
    if dtype is None:
        return None
    X = X if X.flags.c_contiguous else np.ascontiguousarray(X)  # small: a copy costs less than a second layout
    if masks is not None:
        shapes = [(W.shape[0], X.shape[1]) for W in Ws[:-1]]
        if len(masks) != len(shapes) or any(type(D) is not course._ND or D.shape != shape
                                            for D, shape in zip(masks, shapes)):
            return None
        masks = tuple(np.ascontiguousarray(D, dtype) for D in masks)
    Zs, As, finite = _core.forward(X, Ws, bs, dtype, masks, keep_prob)
    return (Zs, As) if finite else None


def _fast_forward(X, parameters, masks, keep_prob):
    L = _layer_keys(parameters)
    if L is None or L >= len(course._W_KEYS) or type(X) is not course._ND:
        return None
    Ws = [parameters.get(course._W_KEYS[l]) for l in range(1, L + 1)]
    bs = [parameters.get(course._B_KEYS[l]) for l in range(1, L + 1)]
    small_pass = _small_forward(X, Ws, bs, masks, keep_prob)
    if small_pass is not None:
        return small_pass
    Zs, As, A = [], [], X
    for l in range(1, L + 1):
        layer = course._fast_layer_forward(A, Ws[l - 1], bs[l - 1], act.SIGMOID if l == L else act.RELU)
        if layer is None:
            return None
        Z, A = layer
        if masks is not None and l < L:
            A = A * masks[l - 1]  # the course's two steps, rounded as it rounds them
            A = A / keep_prob
        Zs.append(Z)
        As.append(A)
    return Zs, As


def forward_propagation(X, parameters, masks=None, keep_prob=1.0):
    """The course's forward pass: ``(A_L, cache)``, the cache ``(Z1, A1, W1, b1, ...)`` (``D`` after ``Z``)."""
    fast = _fast_forward(X, parameters, masks, keep_prob)
    if fast is None:
        X_arr, _ = _core.check_data(X)
        layers = _core.check_parameters(parameters, n_x=X_arr.shape[0])
        arrays = _computation(X_arr, layers)
        Ds = None if masks is None else tuple(v.prepare(D, arrays.dtype) for D in masks)
        prepared = {}
        for l, (W, b) in enumerate(zip(arrays.Ws, arrays.bs), start=1):
            prepared[f"W{l}"], prepared[f"b{l}"] = W, b
        fast = _fast_forward(arrays.X, prepared, Ds, keep_prob)
        if fast is None:  # a result overflowed: the formula's infinities, as the course's NumPy gives them
            fast = _core.forward(arrays.X, arrays.Ws, arrays.bs, arrays.dtype, Ds, keep_prob)[:2]
    Zs, As = fast
    L = len(Zs)
    cache = []
    for l in range(L):
        cache.append(Zs[l])
        if masks is not None and l < L - 1:
            cache.append(masks[l])
        cache += [As[l], parameters[course._W_KEYS[l + 1]], parameters[course._B_KEYS[l + 1]]]
    return As[-1], tuple(cache)


def split_cache(cache, with_masks=False):
    """``[(Z, A, W, b), ...]`` and the masks from the course's flat cache tuple (not checked)."""
    step = 5 if with_masks else 4
    groups_fit = len(cache) >= 4 and (len(cache) + with_masks) % step == 0 if isinstance(cache, (tuple, list)) \
        else False
    if not groups_fit:
        shape = "(Z1, D1, A1, W1, b1, ..., ZL, AL, WL, bL)" if with_masks else "(Z1, A1, W1, b1, ..., ZL, AL, WL, bL)"
        raise ValueError(f"cache must be the tuple the forward pass returned, {shape}; got "
                         f"{type(cache).__name__} of length {len(cache) if hasattr(cache, '__len__') else '?'}")
    rows, masks, k = [], [], 0
    while k < len(cache):
        if with_masks and k + 4 < len(cache):
            Z, D, A, W, b = cache[k:k + 5]
            masks.append(D)
            k += 5
        else:
            Z, A, W, b = cache[k:k + 4]
            k += 4
        rows.append((Z, A, W, b))
    return rows, masks


def _small_backward(X, Y, rows, masks, convention, lambd, keep_prob):
    """The gradients dict in one compiled call at the course's sizes, or None."""
    Ws = [W for _, _, W, _ in rows]
    dtype = _plain_layers(X, Ws, [b for _, _, _, b in rows], config.SMALL_LAYER_WORK)
    if dtype is None:
        return None
    X = X if X.flags.c_contiguous else np.ascontiguousarray(X)
    m = X.shape[1]
    As = tuple(A for _, A, _, _ in rows)
    for A, W in zip(As, Ws):
        if type(A) is not course._ND or A.dtype is not dtype or A.shape != (W.shape[0], m) \
                or not A.flags.c_contiguous:
            return None
    if masks:
        if any(type(D) is not course._ND or D.shape != A.shape for D, A in zip(masks, As)):
            return None
        masks = tuple(np.ascontiguousarray(D, dtype) for D in masks)
    grads, finite = _core.backward(X, Y, Ws, As, convention, dtype, masks or None, keep_prob, lambd)
    return grads if finite else None


def _check_groups(rows, with_masks):
    """Each group of the cache is ``(Z, A, W, b)`` of one layer: ``Z`` and ``A`` of one shape, ``b`` a column of
    ``W``'s rows (a dropout cache of 5 layers has 24 entries, as a plain one of 6 does)."""
    for l, (Z, A, W, b) in enumerate(rows, start=1):
        shapes = [np.shape(x) for x in (Z, A, W, b)]
        if len(shapes[0]) != 2 or shapes[0] != shapes[1] or len(shapes[2]) != 2 \
                or shapes[3] not in ((shapes[2][0], 1), (shapes[2][0],)) or shapes[0][0] != shapes[2][0]:
            kind = "forward_propagation_with_dropout's (Z, D, A, W, b per hidden layer)" if with_masks \
                else "the forward pass's (Z, A, W, b per layer)"
            raise ValueError(f"cache must be {kind}; its layer {l} group has shapes {shapes}, not (Z, A, W, b) "
                             f"of one layer")


def _fast_backward(X, Y, rows, masks, convention, lambd, keep_prob):
    # rows[l] = (Z, A, W, b) of layer l + 1; the relu's mask is taken from A (the course's A > 0).
    L = len(rows)
    A_out = rows[-1][1]
    if type(A_out) is not course._ND or type(X) is not course._ND or X.ndim != 2:
        return None
    Y = course._labels_like(Y, A_out)
    if Y is None or not Y.flags.c_contiguous or not small.binary_labels(Y):
        return None
    small_pass = _small_backward(X, Y, rows, masks, convention, lambd, keep_prob)
    if small_pass is not None:
        return small_pass
    m = X.shape[1]
    if convention.scale_first:
        dZ = 1. / m * (A_out - Y)
        scale = 1.0
    else:
        dZ = A_out - Y
        scale = None
    dZs, dAs, dWs, dbs = [None] * L, [None] * (L - 1), [None] * L, [None] * L
    dA = dZ
    for l in range(L, 0, -1):
        _, A, W, _ = rows[l - 1]
        A_prev = X if l == 1 else rows[l - 2][1]
        if l < L and masks:
            D = masks[l - 1]
            if type(D) is not course._ND or D.shape != dA.shape:
                return None
            dA = dA * D
            dA = dA / keep_prob
        if l < L:
            dAs[l - 1] = dA
        layer = course._fast_layer_backward(dA, A, A_prev, W, act.LINEAR if l == L else act.RELU, l > 1,
                                            from_pre_activation=False, scale=scale)
        if layer is None:
            return None
        dA, dW, db, dZ = layer
        if lambd:
            dW = dW + lambd / m * W
        dZs[l - 1], dWs[l - 1], dbs[l - 1] = dZ, dW, db
    return _core.gradients_dict(convention, dZs, dAs, dWs, dbs)


def backward_propagation(X, Y, cache, convention, lambd=0.0, keep_prob=1.0, with_masks=False):
    """The course's backward pass from its cache: the gradients dict in the convention's keys and order."""
    rows, masks = split_cache(cache, with_masks)
    with np.errstate(all="ignore"):  # a fast result is used only when finite
        fast = _fast_backward(X, Y, rows, masks, convention, lambd, keep_prob)
    if fast is not None:
        return fast
    X_arr, Y_arr = _core.check_data(X, Y)
    _check_groups(rows, with_masks)
    parameters = {}
    for l, (_, _, W, b) in enumerate(rows, start=1):
        parameters[f"W{l}"], parameters[f"b{l}"] = W, b
    layers = _core.check_parameters(parameters, n_x=X_arr.shape[0], name="the cache's parameters")
    _core.check_output_rows(layers, Y_arr)
    m = X_arr.shape[1]
    activations = [v.as_array(f"A{l}", A) for l, (_, A, _, _) in enumerate(rows, start=1)]
    for l, ((_, _, W, _), A) in enumerate(zip(rows, activations), start=1):
        v.check_shape(f"A{l}", A, (W.shape[0], m), f"the activation of layer {l} over the {m} examples of X")
    for l, D in enumerate(masks, start=1):
        D = v.as_array(f"D{l}", D)
        v.check_shape(f"D{l}", D, activations[l - 1].shape, f"the dropout mask of layer {l}, shaped as A{l}")
        v.check_finite(f"D{l}", D)
    arrays = _computation(X_arr, layers, Y_arr, extra=activations)
    dtype = arrays.dtype
    As = tuple(_core.prepared(dtype, [(f"A{l}", A) for l, A in enumerate(activations, start=1)]))
    Ds = tuple(v.prepare(D, dtype) for D in masks)
    prepared = [(Z, A, W, b) for (Z, _, _, _), A, W, b in zip(rows, As, arrays.Ws, arrays.bs)]
    fast = _fast_backward(arrays.X, arrays.Y, prepared, Ds, convention, lambd, keep_prob)
    if fast is None:  # labels other than 0 and 1 (warned about above), or a result that overflowed
        fast, _ = _core.backward(arrays.X, arrays.Y, arrays.Ws, As, convention, dtype, Ds or None, keep_prob, lambd)
    return fast


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
    if type(A) is course._ND and A.ndim == 2 and (A.dtype is course._F64 or A.dtype is course._F32) \
            and A.flags.c_contiguous and A.shape[1]:
        Yc = course._labels_like(Y, A)
        if Yc is not None:
            with np.errstate(all="ignore"):
                total, plain = _core.checked_log_loss(A, Yc, skip_nan)
            if plain:
                v.warn_log_of_zero(total)
                return np.float64(total), A.shape[1]
    Ac, Yc = check_probabilities_and_labels(A, Y, a_name)
    with np.errstate(all="ignore"):
        total = _core.log_loss(Ac, Yc, skip_nan)
    v.warn_log_of_zero(total)
    return np.float64(total), Yc.shape[1]


# ---------------------------------------------------------------- the optimizers' steps on the course's dicts


def _plain_step_arrays(parameters, grads, states):
    """``(keys, columns)`` -- ``columns`` the tuples ``(Ps, Gs, *states)`` -- when every array is a C-contiguous
    ndarray of one float dtype and the shapes agree, else None (the validating path then converts or explains)."""
    L = _layer_keys(parameters)
    if L is None or L >= len(course._W_KEYS) or type(grads) is not dict \
            or any(type(state) is not dict for state in states):
        return None
    keys, columns, dtype = [], [[] for _ in range(2 + len(states))], None
    sources = (grads,) + tuple(states)
    for l in range(1, L + 1):
        for key, grad_key in ((course._W_KEYS[l], course._DW_KEYS[l]), (course._B_KEYS[l], course._DB_KEYS[l])):
            P = parameters.get(key)
            if type(P) is not course._ND:
                return None
            if dtype is None:
                dtype = P.dtype
                if dtype is not course._F64 and dtype is not course._F32:
                    return None
            if P.dtype is not dtype or not P.flags.c_contiguous:
                return None
            columns[0].append(P)
            for column, source in zip(columns[1:], sources):
                arr = source.get(grad_key)
                if type(arr) is not course._ND or arr.dtype is not dtype or arr.shape != P.shape \
                        or not arr.flags.c_contiguous:
                    return None
                column.append(arr)
            keys.append(key)
    return keys, [tuple(column) for column in columns]


def _checked_step_arrays(parameters, grads, states, state_names):
    """As :func:`_plain_step_arrays`, validated: errors name the dict and key; arrays converted (copies)."""
    L = _core.n_layers(parameters)
    for name, source in (("grads", grads),) + tuple(zip(state_names, states)):
        if not isinstance(source, dict):
            raise TypeError(f"{name} must be a dict with keys 'dW1', 'db1', ...; got {type(source).__name__}")
    keys, rows = [], []
    for l in range(1, L + 1):
        for key in (f"W{l}", f"b{l}"):
            P = v.as_array(key, parameters[key])
            row = [P]
            for name, source in (("grads", grads),) + tuple(zip(state_names, states)):
                if f"d{key}" not in source:
                    raise ValueError(f"{name} is missing 'd{key}'; got keys {sorted(map(str, source))}")
                arr = v.as_array(f"{name}['d{key}']", source[f"d{key}"])
                if arr.shape != P.shape:
                    raise ValueError(f"{name}['d{key}'] of shape {arr.shape} does not match {key} of shape {P.shape}")
                row.append(arr)
            keys.append(key)
            rows.append(row)
    dtype = v.float_dtype(*[a for row in rows for a in row])
    return keys, [tuple(np.ascontiguousarray(row[k], dtype=dtype) for row in rows) for k in range(len(rows[0]))]


def optimizer_step(kind, parameters, grads, states, hyper, state_names=()):
    """One step of :func:`fastdnn.improving._core.dict_step` on the course's dicts.

    New arrays go into ``parameters`` and into each dict of ``states``
    (``v``, then ``s``), as the course's functions assign them; the arrays
    given are not written.  Returns Adam's bias-corrected ``(v, s)`` dicts
    (empty for the other steps).
    """
    arrays = _plain_step_arrays(parameters, grads, states)
    if arrays is None:
        arrays = _checked_step_arrays(parameters, grads, states, state_names)
    keys, columns = arrays
    Ps, Gs = columns[0], columns[1]
    Vs = columns[2] if len(columns) > 2 else Ps
    Ss = columns[3] if len(columns) > 3 else Ps
    dtype = Ps[0].dtype
    shapes = [P.shape for P in Ps]
    outs = [tuple([np.empty(shape, dtype) for shape in shapes]) for _ in range(1 + len(states))]
    corrected = [tuple([np.empty(shape, dtype) for shape in shapes]) for _ in range(2 if kind == _core.ADAM else 0)]
    outV = outs[1] if len(outs) > 1 else outs[0]
    outS = outs[2] if len(outs) > 2 else outs[0]
    Vc, Sc = corrected if corrected else (outs[0], outs[0])
    with np.errstate(all="ignore"):
        _core.dict_step(kind, Ps, Gs, Vs, Ss, hyper, outs[0], outV, outS, Vc, Sc)
    grad_keys = ["d" + key for key in keys]
    parameters.update(zip(keys, outs[0]))
    for state, new in zip(states, outs[1:]):
        state.update(zip(grad_keys, new))
    return tuple(dict(zip(grad_keys, c)) for c in corrected)


def update_parameters(parameters: dict[str, Any], grads: dict[str, Any], learning_rate: float) -> dict[str, np.ndarray]:
    """``W_l - learning_rate * dW_l`` (and ``b``) as new arrays put into ``parameters``, which is returned."""
    lr = _core.check_learning_rate(learning_rate)
    optimizer_step(_core.GD, parameters, grads, (), (lr, 0.0, 0.0, 1.0, 1.0, 0.0))
    return parameters


def predict(X: ArrayLike, y: ArrayLike, parameters: dict[str, Any]) -> np.ndarray:
    """Labels ``1 * (A_L > 0.5)`` as int64 of shape (1, m); prints ``Accuracy: ...`` against ``y``."""
    p = predict_dec(parameters, X).astype(np.int64)
    y_arr = v.as_array("y", y)
    if y_arr.ndim == 1:
        y_arr = y_arr.reshape(1, -1)
    if y_arr.shape[-1] != p.shape[1]:
        raise ValueError(f"y of shape {np.shape(y)} must hold one label per column of X ({p.shape[1]})")
    print("Accuracy: " + str(np.mean(p[0, :] == y_arr[0, :])))
    return p


def predict_dec(parameters: dict[str, Any], X: ArrayLike) -> np.ndarray:
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
    place = (frame.f_code, frame.f_lasti)
    if place not in _UNPACKED:
        if len(_UNPACKED) > 4096:  # a notebook redefines its cells: keep the memo small
            _UNPACKED.clear()
        _UNPACKED[place] = next((instruction.arg if instruction.opname == "UNPACK_SEQUENCE" else None
                                 for instruction in dis.get_instructions(place[0])
                                 if instruction.offset > place[1]), None)
    return _UNPACKED[place]


#: (code object, instruction offset) -> what :func:`unpacked_count` found there (disassembling costs ~50 us).
_UNPACKED: dict = {}


def gather_batch(X, order, start, size, dtype):
    """Columns ``order[start:start + size]`` of ``X`` as a new C-contiguous array."""
    out = np.empty((X.shape[0], size), dtype=dtype)
    gather_kernels.gather(X, order, start, out)
    return out
