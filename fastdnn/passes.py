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
from .kernels import activation as act
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
