"""The forward pass, the output layer's cost and the backward pass over a :class:`fastdnn.state.ModelState`.

Each function runs the network's layers on one batch (or one column block
of a batch) held in a :class:`fastdnn.state.Workspace`; the plain, worker
block, dual and distributed steps are built from them.  Nothing here
allocates.
"""

import numpy as np

from . import config
from . import layers
from .kernels import activation as act
from .kernels import loss
from .kernels import regularization as reg


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
        code = state.hidden_code if l < L else act.LINEAR
        A_l = A[l]
        layer_parallel = parallel and A_l.size >= cut_over
        layers.dense_forward(A_prev, W, b, code, state.leaky_slope, A_l, A_l, layer_parallel)
        if keep_prob < 1.0 and l < L:
            reg.dropout_forward(A_l, reg.mix_key(key, l), keep_prob, ws.masks[l], col_offset, total_cols,
                                layer_parallel)
        A_prev = A_l
    return A[L]


def output_and_cost(state, Y, ws, scale):
    """Turn the logits in ``ws.A[L]`` into outputs, write ``ws.dZ[L]`` (times ``scale``) and the cost.

    .. math:: J = -\\frac{1}{m}\\sum_j \\sum_k Y_{kj} \\log \\hat Y_{kj}
              \\quad\\text{or}\\quad \\frac{1}{2m}\\lVert \\hat Y - Y \\rVert^2

    (binary cross-entropy from logits for sigmoid, softmax cross-entropy,
    halved squared error for linear); returns the cost of the batch's
    ``m`` columns.
    """
    L = state.n_layers
    Z = ws.A[L]
    dZ = ws.dZ[L]
    if state.output == "sigmoid":
        loss.sigmoid_cross_entropy(Z, Y, scale, Z, dZ, ws.cost)
    elif state.output == "softmax":
        loss.softmax_cross_entropy(Z, Y, scale, Z, dZ, ws.cost, ws.softmax_shift, ws.softmax_norm)
    else:
        np.subtract(Z, Y, out=dZ)
        ws.cost[0] = 0.5 * float(np.vdot(dZ, dZ)) / Z.shape[1]
        np.multiply(dZ, scale, out=dZ)
    return ws.cost[0]


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
        layers.dense_backward(dA, A[l], False, state.hidden_code, state.leaky_slope, A_prev, W, 1.0,
                              dZs[l], dW, db, dA_prev, layer_parallel, rate)
