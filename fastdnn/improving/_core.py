"""The network of the course's second part, on fastdnn's kernels.

Every assignment of "Improving deep neural networks" trains the same kind of
network: relu hidden layers and one sigmoid output unit, the course's
cross-entropy, full-batch or mini-batch gradient descent.  The assignments
differ only in conventions: where the ``1/m`` of the gradients is applied
(on ``dZ`` of the output, or on ``dW`` and ``db``), the names of the
gradients' keys, whether the cost skips NaN terms (``np.nansum``) and is a
mean or a sum, and what they add (L2 decay, inverted dropout).  Here is the
one implementation they share, written for any number of layers:

* the validation of what a student passes (parameters, caches, data);
* :func:`forward` and :func:`backward` of one batch, each one compiled call
  that chains :func:`fastdnn.kernels.small.dense_forward` and
  :func:`~fastdnn.kernels.small.dense_backward` over the layers;
* :func:`log_loss`, the course's cross-entropy sum;
* the training loops of the three models, each a compiled loop over the
  same passes and :mod:`fastdnn.kernels.update`'s optimizer steps, so that a
  model runs thousands of iterations of a tiny network without going back to
  Python for each of them.

The layers' arrays travel as tuples of 2-D C-contiguous arrays of one dtype
(``Ws``, ``bs``, ``Zs``, ``As``, ...), views into flat arenas where the
optimizer steps over all parameters at once.
"""

import numbers

import numpy as np
from numba import njit

from .. import config
from .. import validation as v
from ..kernels import activation as act
from ..kernels import small
from ..kernels import update
from ..state import arena_views

# ---------------------------------------------------------------- conventions


class Convention:
    """How one assignment writes the shared math.

    Parameters
    ----------
    scale_first : bool
        ``dZ`` of the output is ``(A - Y) / m`` and ``dW = dZ A^T`` (the
        initialization and optimization assignments), rather than
        ``dZ = A - Y`` and ``dW = dZ A^T / m``.
    lower_case : bool
        The gradients' keys are ``dz3``, ``da2`` rather than ``dZ3``, ``dA2``.
    """

    def __init__(self, scale_first, lower_case):
        self.scale_first = scale_first
        self.lower_case = lower_case

    def grad_keys(self, L):
        """The keys of the gradients dict of an ``L``-layer network, in the course's order."""
        z, a = ("dz", "da") if self.lower_case else ("dZ", "dA")
        keys = []
        for l in range(L, 0, -1):
            keys += [f"{z}{l}", f"dW{l}", f"db{l}"]
            if l > 1:
                keys.append(f"{a}{l - 1}")
        return keys


# ---------------------------------------------------------------- validation


def check_data(X, Y=None, x_name="X", y_name="Y"):
    """``X`` of shape ``(n_x, m)`` and ``Y`` of shape ``(n_y, m)`` as arrays (not copied)."""
    X_arr = v.as_array(x_name, X)
    if X_arr.ndim != 2:
        raise ValueError(f"{x_name} must be a 2-D array of shape (n_x, m), one example per column; got shape "
                         f"{X_arr.shape}")
    if X_arr.shape[1] == 0:
        raise ValueError(f"{x_name} has no examples: shape {X_arr.shape}")
    if Y is None:
        return X_arr, None
    Y_arr = v.as_array(y_name, Y)
    if Y_arr.ndim == 1:
        Y_arr = Y_arr.reshape(1, -1)
    if Y_arr.ndim != 2 or Y_arr.shape[1] != X_arr.shape[1]:
        raise ValueError(f"{y_name} must have shape (n_y, {X_arr.shape[1]}), one column per column of {x_name} "
                         f"{X_arr.shape}; got {np.shape(Y)}")
    return X_arr, Y_arr


def n_layers(parameters, name="parameters"):
    """The number of layers ``L`` of a dict ``W1, b1, ..., WL, bL``."""
    if not isinstance(parameters, dict):
        raise TypeError(f"{name} must be a dict with keys 'W1', 'b1', ...; got {type(parameters).__name__}")
    L = 0
    while f"W{L + 1}" in parameters:
        L += 1
    if L == 0:
        raise ValueError(f"{name} has no 'W1'; got keys {sorted(map(str, parameters))}")
    missing = [f"b{l}" for l in range(1, L + 1) if f"b{l}" not in parameters]
    if missing:
        raise ValueError(f"{name} is missing {missing}; got keys {sorted(map(str, parameters))}")
    return L


def check_parameters(parameters, n_x=None, name="parameters"):
    """``[(W1, b1), ..., (WL, bL)]`` from the dict, with consistent shapes (not copied)."""
    L = n_layers(parameters, name)
    layers, rows = [], n_x
    for l in range(1, L + 1):
        W = v.as_array(f"W{l}", parameters[f"W{l}"], ndim=2)
        b = v.as_array(f"b{l}", parameters[f"b{l}"])
        if b.ndim == 1 and b.shape == (W.shape[0],):
            b = b.reshape(-1, 1)
        if rows is not None and W.shape[1] != rows:
            source = "one per row of X" if l == 1 else f"one per row of W{l - 1}"
            raise ValueError(f"W{l} of shape {W.shape} needs {rows} columns ({source})")
        v.check_shape(f"b{l}", b, (W.shape[0], 1), f"one bias per row of W{l}")
        layers.append((W, b))
        rows = W.shape[0]
    return layers


def check_output_rows(layers, Y):
    if Y is not None and Y.shape[0] != layers[-1][0].shape[0]:
        L = len(layers)
        raise ValueError(f"Y has {Y.shape[0]} row(s) but W{L} of shape {layers[-1][0].shape} gives "
                         f"{layers[-1][0].shape[0]} output(s)")


def prepared(dtype, named):
    """Each ``(name, array)`` C-contiguous in ``dtype`` and finite (errors name the array)."""
    out = []
    for name, arr in named:
        c = v.prepare(arr, dtype)
        v.check_finite(name, c)
        out.append(c)
    return out


def check_keep_prob(keep_prob):
    keep_prob = v.finite_float("keep_prob", keep_prob)
    if not 0.0 < keep_prob <= 1.0:
        raise ValueError(f"keep_prob must be in (0, 1], got {keep_prob}")
    return keep_prob


def check_lambd(lambd):
    return v.finite_float("lambd", lambd, minimum=0.0)


def check_learning_rate(learning_rate):
    return v.finite_float("learning_rate", learning_rate)


def dropout_masks(shapes, keep_prob):
    """The course's masks: ``np.random.rand(n, m) < keep_prob`` per hidden layer, from NumPy's global generator.

    Drawn as the course draws them (same generator, same order), so that the
    same seed gives the same masks and leaves the generator in the same state.
    """
    return [np.random.rand(*shape) < keep_prob for shape in shapes]


def as_int(name, value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    return int(value)


# ---------------------------------------------------------------- compiled passes


@njit(**config.JIT)
def _forward(X, Ws, bs, Zs, As, Ds, keep_prob, dropout):
    # Layer l: Z = W A_prev + b, A = relu(Z) (sigmoid for the last), then the
    # course's inverted dropout of a hidden layer: A * D / keep_prob.  True
    # when every Z is finite.
    L = len(Ws)
    finite = True
    for l in range(L):
        A_prev = X if l == 0 else As[l - 1]
        code = act.SIGMOID if l == L - 1 else act.RELU
        finite &= small.dense_forward(A_prev, Ws[l], bs[l], code, Zs[l], As[l], False)
        if dropout and l < L - 1:
            A, D = As[l], Ds[l]
            for i in range(A.shape[0]):
                for j in range(A.shape[1]):
                    A[i, j] = A[i, j] * D[i, j] / keep_prob
    return finite


@njit(**config.JIT)
def _backward(X, Y, Ws, As, Ds, how, dZs, dAs, dWs, dbs):
    # dZ of the output is A - Y (the sigmoid's cross-entropy); then each layer
    # from the last: dW, db, and dA of the layer below, which goes through
    # the dropout mask and relu's derivative (taken from the dropped activation,
    # as the course's A > 0).  how: (keep_prob, decay = lambda / m of the L2
    # term, dropout, scale_first), floats.  True when every gradient is finite.
    keep_prob, decay, dropout, scale_first = how
    finite = True
    L = len(Ws)
    m = X.shape[1]
    inverse_m = 1.0 / m
    dZ, A_out = dZs[L - 1], As[L - 1]
    for i in range(dZ.shape[0]):
        for j in range(m):
            dZ[i, j] = inverse_m * (A_out[i, j] - Y[i, j]) if scale_first != 0.0 else A_out[i, j] - Y[i, j]
    scale = 1.0 if scale_first != 0.0 else inverse_m
    for l in range(L - 1, -1, -1):
        A_prev = X if l == 0 else As[l - 1]
        dA_prev = dAs[l - 1] if l > 0 else dAs[0]
        if l == L - 1:
            finite &= small.dense_backward(dZs[l], A_out, False, A_prev, Ws[l], act.LINEAR, scale, dZs[l], dWs[l],
                                           dbs[l], dA_prev, l > 0)
        else:
            dA = dAs[l]
            if dropout != 0.0:
                D = Ds[l]
                for i in range(dA.shape[0]):
                    for j in range(m):
                        dA[i, j] = dA[i, j] * D[i, j] / keep_prob
            finite &= small.dense_backward(dA, As[l], False, A_prev, Ws[l], act.RELU, scale, dZs[l], dWs[l], dbs[l],
                                           dA_prev, l > 0)
        if decay != 0.0:
            W, dW = Ws[l], dWs[l]
            for i in range(W.shape[0]):
                for k in range(W.shape[1]):
                    dW[i, k] += decay * W[i, k]
    return finite


@njit(**config.JIT)
def log_loss(A, Y, skip_nan):
    """The course's cross-entropy, summed: :math:`\\sum -y \\log a - (1 - y) \\log(1 - a)`.

    Parameters
    ----------
    A : ndarray of shape (n, m)
    Y : ndarray of shape (n, m)
    skip_nan : bool
        Leave out the NaN terms, as ``np.nansum`` does (``0 * log 0``).

    Returns
    -------
    float
    """
    total = 0.0
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a = A[i, j]
            y = Y[i, j]
            term = -np.log(a) * y + -np.log(1.0 - a) * (1.0 - y)
            if not (skip_nan and term != term):
                total += term
    return total


@njit(**config.JIT)
def sum_of_squares(Ws):
    total = 0.0
    for l in range(len(Ws)):
        W = Ws[l]
        part = 0.0
        for i in range(W.shape[0]):
            for k in range(W.shape[1]):
                part += W[i, k] * W[i, k]
        total += part
    return total


@njit(**config.JIT)
def full_batch_steps(X, Y, arenas, net, space, Ds, setting, count, costs):
    # ``count`` iterations of full-batch gradient descent, the cost before each
    # update into ``costs``.  setting: (learning_rate, keep_prob, lambd,
    # dropout, scale_first, skip_nan) as floats; arenas (params, grads), net
    # (Ws, bs, dWs, dbs) views into them, space (Zs, As, dZs, dAs).
    learning_rate, keep_prob, lambd, dropout, scale_first, skip_nan = setting
    params, grads = arenas
    Ws, bs, dWs, dbs = net
    Zs, As, dZs, dAs = space
    how = (keep_prob, lambd / X.shape[1], dropout, scale_first)
    m = X.shape[1]
    for it in range(count):
        _forward(X, Ws, bs, Zs, As, Ds, keep_prob, dropout != 0.0)
        cost = 1.0 / m * log_loss(As[len(As) - 1], Y, skip_nan != 0.0)
        if lambd != 0.0:
            cost += 1.0 / m * lambd / 2.0 * sum_of_squares(Ws)
        costs[it] = cost
        _backward(X, Y, Ws, As, Ds, how, dZs, dAs, dWs, dbs)
        update.sgd_serial(params, grads, learning_rate, params)


#: The optimizers of the mini-batch loop, by the course's names.
OPTIMIZERS = {"gd": 0, "momentum": 1, "adam": 2}


@njit(**config.JIT)
def minibatch_epoch(X, Y, order, batch_size, arenas, net, flats, rows, hyper, step_count):
    # One epoch: the batches order[0:b], order[b:2b], ... (the last one shorter),
    # each gathered, passed forward and back, and followed by one optimizer
    # step over the whole arena.  hyper: (learning_rate, beta, beta1, beta2,
    # epsilon); arenas (params, grads, first and second moments), net (Ws, bs,
    # dWs, dbs); step_count (optimizer code, Adam's t so far).  flats hold the
    # batch's X, Y, then Zs, As, dZs, dAs; rows their row counts.  Returns the
    # sum of the batches' summed costs and Adam's t.
    learning_rate, beta, beta1, beta2, epsilon = hyper
    params, grads, first, second = arenas
    Ws, bs, dWs, dbs = net
    optimizer, t = step_count
    how = (1.0, 0.0, 0.0, 1.0)
    L = len(Ws)
    m = X.shape[1]
    no_keep = params[:0]
    total = 0.0
    for start in range(0, m, batch_size):
        b = min(batch_size, m - start)
        Xb = flats[0][:X.shape[0] * b].reshape((X.shape[0], b))
        Yb = flats[1][:Y.shape[0] * b].reshape((Y.shape[0], b))
        for j in range(b):
            col = order[start + j]
            for i in range(X.shape[0]):
                Xb[i, j] = X[i, col]
            for i in range(Y.shape[0]):
                Yb[i, j] = Y[i, col]
        Zs = _tuple_of(flats, rows, 2, L, b)
        As = _tuple_of(flats, rows, 2 + L, L, b)
        dZs = _tuple_of(flats, rows, 2 + 2 * L, L, b)
        dAs = _tuple_of(flats, rows, 2 + 3 * L, L, b)
        _forward(Xb, Ws, bs, Zs, As, Zs, 1.0, False)
        total += log_loss(As[L - 1], Yb, False)
        _backward(Xb, Yb, Ws, As, Zs, how, dZs, dAs, dWs, dbs)
        if optimizer == 0:
            update.sgd_serial(params, grads, learning_rate, params)
        elif optimizer == 1:
            update.momentum_run(params, grads, first, learning_rate, beta, False, 0.0, 0, no_keep, no_keep, False)
        else:
            t += 1
            adam = (learning_rate, beta1, beta2, 1.0 / (1.0 - beta1 ** t), 1.0 / (1.0 - beta2 ** t), epsilon)
            update.adam_run(params, grads, first, second, adam, 0.0, 0, no_keep, no_keep, no_keep, False)
    return total, t


@njit(**config.JIT)
def _tuple_of(flats, rows, offset, L, b):
    # L views (rows[offset + l], b) of flats[offset + l]; a list typed as the
    # tuples the passes take (Numba lists of arrays index as tuples do).
    out = []
    for l in range(L):
        k = offset + l
        out.append(flats[k][:rows[k] * b].reshape((rows[k], b)))
    return out


# ---------------------------------------------------------------- arenas


def parameter_arena(layers, dtype):
    """The parameters copied into one arena: ``(flat, Ws, bs)`` (Ws, bs tuples of views)."""
    shapes = []
    for W, b in layers:
        shapes += [W.shape, b.shape]
    flat, views = arena_views(shapes, dtype)
    for view, (k, (W, b)) in zip(views[0::2], enumerate(layers)):
        view[...] = W
    for view, (W, b) in zip(views[1::2], layers):
        view[...] = b
    return flat, tuple(views[0::2]), tuple(views[1::2])


def gradient_arena(layers, dtype):
    """A zeroed arena shaped as the parameters: ``(flat, dWs, dbs)``."""
    shapes = []
    for W, b in layers:
        shapes += [W.shape, b.shape]
    flat, views = arena_views(shapes, dtype)
    return flat, tuple(views[0::2]), tuple(views[1::2])


def as_parameters(Ws, bs):
    """The course's dict of new arrays ``W1, b1, ...`` from the views."""
    out = {}
    for l, (W, b) in enumerate(zip(Ws, bs), start=1):
        out[f"W{l}"] = W.copy()
        out[f"b{l}"] = b.copy()
    return out


# ---------------------------------------------------------------- one batch, from Python


def forward(X, Ws, bs, dtype, masks=None, keep_prob=1.0):
    """``(Zs, As, finite)`` of the network on ``X``, with the course's dropout when ``masks`` are given.

    ``X``, ``Ws``, ``bs`` and ``masks`` are C-contiguous arrays of ``dtype``; ``finite``: every ``Z`` is.
    """
    m = X.shape[1]
    Zs = tuple(np.empty((W.shape[0], m), dtype=dtype) for W in Ws)
    As = tuple(np.empty((W.shape[0], m), dtype=dtype) for W in Ws)
    Ds = tuple(masks) if masks else Zs
    finite = _forward(X, tuple(Ws), tuple(bs), Zs, As, Ds, keep_prob, bool(masks))
    return Zs, As, finite


def backward(X, Y, Ws, As, convention, dtype, masks=None, keep_prob=1.0, lambd=0.0):
    """The course's gradients dict of its cross-entropy, and whether every gradient is finite.

    The arrays are C-contiguous of ``dtype``; ``As`` are the activations the forward pass kept.
    """
    m = X.shape[1]
    dZs = tuple(np.empty_like(A) for A in As)
    dAs = tuple(np.empty_like(A) for A in As[:-1])
    dWs = tuple(np.empty_like(W) for W in Ws)
    dbs = tuple(np.empty((W.shape[0], 1), dtype=dtype) for W in Ws)
    Ds = tuple(masks) if masks else As
    # The kernel indexes dAs[0] as its (unwritten) dA of the input when L = 1.
    how = (float(keep_prob), lambd / m, float(bool(masks)), float(convention.scale_first))
    finite = _backward(X, Y, tuple(Ws), tuple(As), Ds, how, dZs, dAs or (np.empty((1, 1), dtype=dtype),), dWs,
                       dbs)
    return gradients_dict(convention, dZs, dAs, dWs, dbs), finite


def gradients_dict(convention, dZs, dAs, dWs, dbs):
    """The course's gradients dict (keys in its order: :meth:`Convention.grad_keys`); ``dAs[l]`` is dA of layer
    ``l + 1``."""
    L = len(dWs)
    arrays = []
    for l in range(L, 0, -1):
        arrays += [dZs[l - 1], dWs[l - 1], dbs[l - 1]] + ([dAs[l - 2]] if l > 1 else [])
    return dict(zip(convention.grad_keys(L), arrays))


@njit(**config.JIT)
def perturbed_costs(X, Y, params, Ws, bs, Zs, As, epsilon, J_plus, J_minus):
    """The mean cost with each parameter moved by ``+epsilon`` and by ``-epsilon`` in turn.

    ``params`` is the arena ``Ws`` and ``bs`` view; each entry is restored
    after its two passes.  ``J_plus[i]``, ``J_minus[i]`` are written with the
    course's ``1/m * np.sum`` of the cross-entropy.
    """
    m = X.shape[1]
    L = len(Ws)
    for i in range(params.size):
        old = params[i]
        params[i] = old + epsilon
        _forward(X, Ws, bs, Zs, As, Zs, 1.0, False)
        J_plus[i] = 1.0 / m * log_loss(As[L - 1], Y, False)
        params[i] = old - epsilon
        _forward(X, Ws, bs, Zs, As, Zs, 1.0, False)
        J_minus[i] = 1.0 / m * log_loss(As[L - 1], Y, False)
        params[i] = old


#: The steps of :func:`dict_step`.
GD, MOMENTUM, ADAM = 0, 1, 2


@njit(**config.JIT)
def dict_step(kind, Ps, Gs, Vs, Ss, hyper, outP, outV, outS, outVc, outSc):
    """One optimizer step over the arrays of the course's dicts, into new arrays.

    ``kind`` is :data:`GD`, :data:`MOMENTUM` or :data:`ADAM`; ``hyper`` is
    ``(learning_rate, beta1, beta2, 1 - beta1**t, 1 - beta2**t, epsilon)``
    (momentum's ``beta`` in ``beta1``).  ``outP`` gets the new parameters,
    ``outV``/``outS`` the new moving averages, ``outVc``/``outSc`` Adam's
    bias-corrected ones; the inputs are not written.  The steps are
    :mod:`fastdnn.kernels.update`'s, element by element.
    """
    learning_rate, beta1, beta2, c1, c2, epsilon = hyper
    adam = (learning_rate, beta1, beta2, 1.0 / c1, 1.0 / c2, epsilon)
    for i in range(len(Ps)):
        size = Ps[i].size
        p, g = outP[i].reshape(size), Gs[i].reshape(size)
        p[:] = Ps[i].reshape(size)
        no_keep = p[:0]
        if kind == GD:
            update.sgd_serial(p, g, learning_rate, p)
            continue
        v = outV[i].reshape(size)
        v[:] = Vs[i].reshape(size)
        if kind == MOMENTUM:
            update.momentum_run(p, g, v, learning_rate, beta1, False, 0.0, 0, no_keep, no_keep, False)
            continue
        s = outS[i].reshape(size)
        s[:] = Ss[i].reshape(size)
        update.adam_run(p, g, v, s, adam, 0.0, 0, no_keep, no_keep, no_keep, False)
        vc, sc = outVc[i].reshape(size), outSc[i].reshape(size)
        for k in range(size):
            vc[k] = v[k] / c1
            sc[k] = s[k] / c2


@njit(**config.JIT)
def checked_log_loss(A, Y, skip_nan):
    """:func:`log_loss`, and whether every ``a`` lies in [0, 1] and every ``y`` is 0 or 1 (else the sum is not used)."""
    for i in range(A.shape[0]):
        for j in range(A.shape[1]):
            a, y = A[i, j], Y[i, j]
            if not (0.0 <= a <= 1.0) or (y != 0.0 and y != 1.0):
                return 0.0, False
    return log_loss(A, Y, skip_nan), True
