"""The gradient pass over a :class:`fastdnn.state.ModelState`: forward, the output's cost, backward.

:func:`gradient` is the one Python gradient pass: the plain steps, the
worker column blocks, the dual form's layers and every MPI rank call it on
their batch, column block or shard, held in a
:class:`fastdnn.state.Workspace`.  (The native column blocks run the same
kernels in one Numba pass, :func:`fastdnn.native_blocks._chunk_pass`,
because they run without the GIL.)  Nothing here allocates.
"""

import math

import numpy as np

from . import config
from . import layers
from . import precision
from .kernels import activation as act
from .kernels import bfloat16
from .kernels import loss
from .kernels import regularization as reg

#: No dropout: ``(keep_prob, key)``.
NO_DROPOUT = (1.0, 0)


def forward(state, X, ws, keep_prob=1.0, key=0, parallel=True, col_offset=0, total_cols=None, first=1):
    """Fill ``ws.A`` for the input ``X``, ``(n_x, m)``; the output layer keeps its logits, returned.

    With ``keep_prob < 1`` the hidden activations go through inverted
    dropout with masks drawn from ``key`` (kept in ``ws.masks``); when
    ``X`` is a column block of a batch, ``col_offset`` and ``total_cols``
    place it so that its masks are the whole batch's.  ``first > 1``: the
    layers before it are in ``ws.A`` already (the dual form) and ``X`` is
    not read.
    """
    A = ws.A
    A_prev = X if first == 1 else A[first - 1]
    L = state.n_layers
    cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
    for l in range(first, L + 1):
        W, b = state.layers[l - 1]
        code = state.hidden_codes[l - 1] if l < L else act.LINEAR
        A_l = A[l]
        layer_parallel = parallel and A_l.size >= cut_over
        layers.dense_forward(A_prev, W, b, code, state.leaky_slope, A_l, A_l, layer_parallel)
        if keep_prob < 1.0 and l < L:
            reg.dropout_forward(A_l, reg.mix_key(key, l), keep_prob, ws.masks[l], col_offset, total_cols,
                                layer_parallel)
        A_prev = A_l
    return A[L]


def output_and_cost(state, Y, ws, scale, weights=None):
    """Turn the logits in ``ws.A[L]`` into outputs, write ``ws.dZ[L]`` (times ``scale``) and the cost.

    The network's :class:`fastdnn.outputs.Output` (``state.head``) says how;
    returns the mean cost of the batch's ``m`` columns.  ``weights``: the
    columns' sample weights, normalised (:class:`fastdnn.executors.base.Batch`):
    the cost is their weighted mean and each column of ``dZ`` is scaled by
    its weight.
    """
    L = state.n_layers
    Z, dZ = ws.A[L], ws.dZ[L]
    if weights is None:
        return state.head.cost_and_gradient(Z, Y, scale, dZ, ws)
    # The weighted cost is read from the logits, before the output kernel makes them outputs.
    cost = loss.weighted_output_cost(state.head.code, Z, Y, weights, 0)
    if not math.isfinite(state.head.cost_and_gradient(Z, Y, scale, dZ, ws)):
        return math.nan
    loss.weigh_columns(dZ, weights, 0)
    return cost


def backward(state, X, ws, keep_prob=1.0, grad_layers=None, parallel=True, last=1, learning_rate=None, keep=False):
    """Fill the gradient arena (or ``grad_layers``) from ``ws.dZ[L]``, already scaled by ``1/m``.

    ``last=2`` stops after layer 2, leaving ``dA[1]`` for the caller (the
    dual form).  With ``learning_rate``, the layers of
    :meth:`ModelState.fused_plan` take their plain gradient-descent weight
    step inside the ``dW`` product (their ``dW`` is then not written), after
    copying ``W`` into the rollback arena when ``keep``.
    """
    grad_layers = state.grad_layers if grad_layers is None else grad_layers
    L = state.n_layers
    if L < last:
        return
    fused = state.fused_plan()[0] if learning_rate is not None else None
    A, dZs, dAs = ws.A, ws.dZ, ws.dA
    cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
    for l in range(L, last - 1, -1):
        W, _ = state.layers[l - 1]
        dW, db = grad_layers[l - 1]
        A_prev = A[l - 1] if l > 1 else X
        dA_prev = dAs[l - 1] if l > 1 else None
        rate = None
        if fused is not None and fused[l - 1]:
            rate = learning_rate
            if keep:
                np.copyto(state.keep_layers[l - 1], W)
        if l == L:
            dZ = dZs[L]
            act.row_sums(dZ, 1.0, db, parallel and dZ.size >= cut_over)
            layers.linear_backward_into(dZ, A_prev, W, 1.0, dW, dA_prev, rate)
            continue
        dA = dAs[l]
        layer_parallel = parallel and dA.size >= cut_over
        if keep_prob < 1.0:
            # After layer l + 1 used the dropped A[l] for its dW.
            reg.dropout_backward(dA, A[l], ws.masks[l], keep_prob, layer_parallel)
        layers.dense_backward(dA, A[l], False, state.hidden_codes[l - 1], state.leaky_slope, A_prev, W, 1.0,
                              dZs[l], dW, db, dA_prev, layer_parallel, rate)


def forward_bf16(state, X, ws, keep_prob=1.0, key=0, parallel=True, col_offset=0, total_cols=None):
    """:func:`forward` with bfloat16 products: ``Z = W16 A16_prev`` summed in float32; returns ``(A[L], W16, X16)``.

    Each hidden layer's epilogue writes its float32 activation and, row by
    row while in cache, its bfloat16 copy (:mod:`fastdnn.kernels.bfloat16`);
    with dropout the copy is taken after the mask.
    """
    A, A16 = ws.A, ws.A16
    W16 = state.weights16()
    A16_prev = X16 = ws.X16(X)
    L = state.n_layers
    cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
    for l in range(1, L + 1):
        b = state.layers[l - 1][1]
        A_l = A[l]
        precision.product(W16[l - 1], A16_prev, A_l)
        layer_parallel = parallel and A_l.size >= cut_over
        if l == L:
            act.bias_activation_forward(A_l, b, act.LINEAR, state.leaky_slope, A_l, layer_parallel)
        elif keep_prob < 1.0:
            act.bias_activation_forward(A_l, b, state.hidden_codes[l - 1], state.leaky_slope, A_l, layer_parallel)
            reg.dropout_forward(A_l, reg.mix_key(key, l), keep_prob, ws.masks[l], col_offset, total_cols,
                                layer_parallel)
            bfloat16.round_into(A_l, A16[l], layer_parallel)
        else:
            bfloat16.bias_activation_forward(A_l, b, state.hidden_codes[l - 1], state.leaky_slope, A16[l],
                                             layer_parallel)
        A16_prev = A16[l] if l < L else None
    return A[L], W16, X16


def backward_bf16(state, X16, W16, ws, keep_prob=1.0, parallel=True):
    """:func:`backward` with bfloat16 products: ``dW = dZ16 A16_prev^T``, ``dA_prev = W16^T dZ16``, float32 sums."""
    L = state.n_layers
    A, A16, dAs, dZ16 = ws.A, ws.A16, ws.dA, ws.dZ16
    cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
    dZ = ws.dZ[L]
    db = state.grad_layers[L - 1][1]
    act.row_sums(dZ, 1.0, db, parallel and dZ.size >= cut_over)
    bfloat16.round_into(dZ, dZ16[L], False)  # the output layer's few rows
    for l in range(L, 0, -1):
        dW = state.grad_layers[l - 1][0]
        A16_prev = A16[l - 1] if l > 1 else X16
        precision.product(dZ16[l], A16_prev.T, dW)
        if l == 1:
            break
        dA = dAs[l - 1]
        precision.product(W16[l - 1].T, dZ16[l], dA)
        layer_parallel = parallel and dA.size >= cut_over
        if keep_prob < 1.0:
            reg.dropout_backward(dA, A[l - 1], ws.masks[l - 1], keep_prob, layer_parallel)
        # dA becomes dZ in place; its bf16 copy takes the layer's dZ16 (dZ16[l] is read no more).
        bfloat16.activation_backward(dA, A[l - 1], state.hidden_codes[l - 2], state.leaky_slope,
                                     state.grad_layers[l - 2][1], dZ16[l - 1], layer_parallel)


def gradient_bf16(state, X, Y, ws, scale, dropout=NO_DROPOUT, columns=None, parallel=True, count=False, weights=None):
    """:func:`gradient` of a bf16 step (:mod:`fastdnn.precision`): the same math, bfloat16 operands.

    Parameters, costs, sums and gradients stay float32; only the operands of
    the three products of each layer are rounded to bfloat16.
    """
    keep_prob, key = dropout
    offset, total = (0, None) if columns is None else columns
    _, W16, X16 = forward_bf16(state, X, ws, keep_prob, key, parallel, offset, total)
    cost = output_and_cost(state, Y, ws, scale, weights)
    if not math.isfinite(cost):
        return cost
    if count and state.head.counts:
        state.head.count_correct(ws.A[state.n_layers], Y, ws.count)
    backward_bf16(state, X16, W16, ws, keep_prob, parallel)
    return cost


def gradient(state, X, Y, ws, scale, dropout=NO_DROPOUT, columns=None, span=(1, 1), grad_layers=None,
             parallel=True, count=False, fused_rate=None, keep=False, weights=None):
    """Forward, cost and backward of one batch into the gradient arena (or ``grad_layers``); returns the cost.

    Parameters
    ----------
    state : fastdnn.state.ModelState
    X : ndarray of shape (n_x, b) or None
        The batch's inputs (any layout a product reads); ``None`` when
        ``span[0] > 1``.
    Y : ndarray of shape (n_L, b)
    ws : fastdnn.state.Workspace
        Of ``b`` columns; ``ws.count[0]`` gets the right answers when
        ``count`` (and the output counts them).
    scale : float
        The gradient's factor: ``1 / m`` of the whole batch, so that the
        gradients of column blocks or MPI shards add up to the batch's.
    dropout : (float, int)
        ``(keep_prob, key)`` of inverted dropout on the hidden layers.
    columns : (int, int), optional
        ``(offset, total)``: the block's first column in a batch of
        ``total``, so that its dropout masks are the whole batch's.
    span : (int, int)
        ``(first, last)``: the first layer of the forward pass (the layers
        before it are in ``ws.A`` already: the dual form) and the last of
        the backward pass (``2`` leaves ``ws.dA[1]`` to the caller).
    grad_layers : list of (ndarray, ndarray), optional
        ``(dW, db)`` per layer to write instead of the state's arena.
    parallel : bool
        Whether a large layer may run on Numba's threads.
    fused_rate : float, optional
        The learning rate of plain SGD taken inside the large layers'
        ``dW`` products (:meth:`ModelState.fused_plan`), after copying
        their ``W`` into the rollback arena when ``keep``.
    weights : ndarray of float64, shape (b,), optional
        The columns' sample weights, normalised to a mean of 1 over the
        whole batch: the cost is their weighted mean, each column's
        gradient is scaled by its weight.

    Returns
    -------
    float
        The batch's mean cost (of its ``b`` columns).  The gradient is
        garbage when it is not finite, and the backward pass is skipped.

    Notes
    -----
    .. math:: \\frac{\\partial J}{\\partial W^{[l]}} = s\\, dZ^{[l]} A^{[l-1]T},\\quad
              dZ^{[l]} = W^{[l+1]T} dZ^{[l+1]} \\odot g'(Z^{[l]})
    """
    keep_prob, key = dropout
    offset, total = (0, None) if columns is None else columns
    first, last = span
    forward(state, X, ws, keep_prob, key, parallel, offset, total, first)
    cost = output_and_cost(state, Y, ws, scale, weights)
    if not math.isfinite(cost):
        return cost
    if count and state.head.counts:
        state.head.count_correct(ws.A[state.n_layers], Y, ws.count)
    backward(state, X, ws, keep_prob, grad_layers, parallel, last, fused_rate, keep)
    return cost
