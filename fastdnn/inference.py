"""Inference over prepared examples: the forward pass in chunks that share one workspace.

:meth:`fastdnn.Network.predict_proba` and :meth:`~fastdnn.Network.evaluate`
(and a fit's validation) read their examples here, a chunk of columns at a
time, so that a large data set (a memory map included) never needs a
workspace of its size.
"""

import numpy as np

from . import passes
from .executors import numpy_route
from .kernels import gather as gather_mod

#: Elements of the widest layer's activations a chunk may take (its columns: this over the widest layer).
CHUNK_ELEMENTS = 1 << 20


def chunk_columns(state, m):
    """Columns of a chunk over ``m`` examples: at least 256, as many as the batch buffers already hold."""
    chunk = max(256, CHUNK_ELEMENTS // max(state.layer_dims))
    if state.buffers is not None:
        chunk = max(chunk, state.buffers.capacity)
    return min(m, chunk)


def chunks(state, data, with_targets):
    """Yield ``(start, b, ws, X_chunk, Y_chunk)`` over ``data`` in chunks that share one workspace."""
    m = data.m
    chunk = chunk_columns(state, m)
    positions = np.arange(chunk, dtype=np.int64)
    direct = data.direct_X(state.dtype)
    for start in range(0, m, chunk):
        b = min(chunk, m - start)
        ws = state.workspace(b, cache=(b == chunk))
        X_chunk = data.chunk_X(start, b, ws, positions, direct)
        Y_chunk = None
        if with_targets:
            if data.labels is not None:
                gather_mod.one_hot(data.labels[start:start + b], positions, 0, ws.Y)
            else:
                gather_mod.gather(data.Y[:, start:start + b], positions, 0, ws.Y)
            Y_chunk = ws.Y
        yield start, b, ws, X_chunk, Y_chunk


def _in_numpy(state, data):
    """Whether the forward pass over ``data`` runs in NumPy calls: while the plain route's kernels are not compiled.

    (A first use, :func:`fastdnn.plan.first_use`: inference is the
    products and one pass over each layer, as fast in NumPy, and a first
    ``predict`` should not wait for a compile.)
    """
    from . import config, schedule

    # (Sparse inputs: their first layer's products are the sparse kernels'.)
    return config.FIRST_USE_SECONDS > 0 and not data.sparse and not schedule.route_compiled("plain", state.dtype)


def evaluate(state, data):
    """The mean cost of ``data`` (and ``accuracy`` when the output counts right answers), without dropout or L2."""
    head = state.head
    total = 0.0
    correct = 0.0
    in_numpy = _in_numpy(state, data)
    for start, b, ws, X_chunk, Y_chunk in chunks(state, data, True):
        if in_numpy:
            Z = numpy_route.forward(state, X_chunk, ws)
            total += head.numpy_cost_and_gradient(Z, Y_chunk, 1.0 / b, ws.dZ[state.n_layers]) * b
            if head.counts:
                correct += head.numpy_count_correct(Z, Y_chunk)
            continue
        passes.forward(state, X_chunk, ws)
        total += float(passes.output_and_cost(state, Y_chunk, ws, 1.0 / b)) * b
        if head.counts:
            head.count_correct(ws.A[state.n_layers], Y_chunk, ws.count)
            correct += ws.count[0]
    scores = {"cost": total / data.m}
    if head.counts:
        scores["accuracy"] = float(correct) / (data.m * head.answers_per_example(state.layer_dims[-1]))
    return scores


def predict_proba(state, data):
    """The network's outputs on ``data``: an ``(n_L, m)`` array of its dtype."""
    out = np.empty((state.layer_dims[-1], data.m), dtype=state.dtype)
    in_numpy = _in_numpy(state, data)
    for start, b, ws, X_chunk, _ in chunks(state, data, False):
        if in_numpy:
            Z = numpy_route.forward(state, X_chunk, ws)
            with np.errstate(all="ignore"):  # inf and NaN pass through silently, as in the kernels
                state.head.numpy_to_outputs(Z)
        else:
            Z = passes.forward(state, X_chunk, ws)
            state.head.to_outputs(Z)
        np.copyto(out[:, start:start + b], Z)
    return out
