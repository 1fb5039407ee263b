"""The trainer: a fully-connected network that owns its memory.

All parameters live in one contiguous arena (each ``W{l}``, ``b{l}`` is a
view into it; the weights of every layer first, then the biases, so that L2
decay covers one prefix), the gradients in a second arena of the same
layout, the optimizer's state (velocity, moments) in a third, and the
activations of a batch in a workspace that is allocated once per batch size
and reused.  A training step -- gather the batch, forward, cost, backward,
update -- only runs kernels over these buffers: it allocates nothing.
"""

import functools
import json
import logging
import math
import os
import sys
import threading
import time

import numpy as np

from . import checkpoint as _checkpoint
from . import compiling
from . import config
from . import layers
from . import mapped
from . import native_blocks
from . import optimizers as opt_mod
from . import plan as plan_mod
from . import threads
from . import workers
from .dual import DualFirstLayer
from .initializers import INITS, scale_initial_weights
from . import validation as v
from .kernels import activation as act
from .kernels import gather as gather_mod
from .kernels import loss
from .kernels import metrics
from .kernels import regularization as reg
from .kernels import update


def _one_at_a_time(method):
    """Run a method that writes the network's arenas under the network's lock.

    Two threads training one network take turns: each step sees the
    parameters the previous one left, never a workspace half-written by
    the other.  The lock is reentrant (``fit`` calls ``_fit``, ``fit_course``
    calls ``train_step``).
    """

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return locked


HIDDEN = ("relu", "tanh", "sigmoid", "leaky_relu", "linear")
OUTPUTS = ("sigmoid", "softmax", "linear")

#: Identifies a fastdnn model file; bumped when the file layout changes.
FILE_FORMAT = "fastdnn.Network"
FILE_VERSION = 1

log = logging.getLogger("fastdnn")

# Target size (elements) of one activation buffer when predicting in chunks.
_CHUNK_ELEMENTS = 1 << 20


def arena_layout(layer_dims):
    """Offsets of every ``W{l}`` and ``b{l}`` in a flat parameter arena.

    The weights of all layers come first (in layer order), then the biases,
    so that weight decay is one contiguous prefix of the arena.

    Returns
    -------
    list of (slice, tuple, slice, tuple)
        For each layer: the slice and shape of ``W``, the slice and shape of ``b``.
    int
        Total number of parameters.
    """
    shapes = [(layer_dims[l], layer_dims[l - 1]) for l in range(1, len(layer_dims))]
    n_weights = sum(n * n_prev for n, n_prev in shapes)
    layout = []
    w_offset, b_offset = 0, n_weights
    for n, n_prev in shapes:
        w = slice(w_offset, w_offset + n * n_prev)
        b = slice(b_offset, b_offset + n)
        w_offset, b_offset = w.stop, b.stop
        layout.append((w, (n, n_prev), b, (n, 1)))
    return layout, b_offset


def _views(arena, layout):
    return [(arena[w].reshape(ws), arena[b].reshape(bs)) for w, ws, b, bs in layout]


class _Buffers:
    """Flat storage shared by the workspaces of every batch size up to ``capacity``.

    A workspace for ``m <= capacity`` examples takes C-contiguous views of the
    first ``rows * m`` elements, so the full batches and the smaller last
    batch of an epoch use the same memory.
    """

    def __init__(self, capacity):
        self.capacity = capacity
        self.flat = {}

    def get(self, name, rows, m, dtype):
        need = rows * self.capacity
        flat = self.flat.get(name)
        if flat is None or flat.size < need or flat.dtype != dtype:
            flat = np.empty(need, dtype=dtype)
            self.flat[name] = flat
        return flat[: rows * m].reshape(rows, m)


class _Workspace:
    """Activation and gradient buffers for one batch size ``m``.

    ``A[l]`` holds layer ``l``'s activation for ``l >= 1`` (the input batch
    is passed to each step, so it may be the caller's array itself); two scratch buffers hold the
    backward pass's ``dA``/``dZ`` of consecutive layers in turn.  The batch
    buffers ``X``/``Y`` and the dropout masks are made on first use.
    """

    def __init__(self, layer_dims, m, dtype, buffers=None):
        self.m = m
        self.dtype = np.dtype(dtype)
        self._dims = layer_dims
        self._buffers = _Buffers(m) if buffers is None else buffers
        self._A = self._dZ = self._dA = None
        self.cost = np.zeros(1, dtype=np.float64)
        # Per-example scratch of the softmax output (column max / log-sum-exp, sums of exponentials).
        self.softmax_shift, self.softmax_norm = self._buffers.get("softmax_scratch", 2, m, np.float64)
        self.count = np.zeros(1, dtype=np.float64)
        self.square_sum = np.zeros(1, dtype=np.float64)
        self._X = self._Y = self._masks = self._X_rows = None

    # The layer buffers are made on first use: a batch split into column
    # blocks (see _BlockPlan) never touches its whole-batch ones.
    @property
    def A(self):
        """``A[l]``: layer ``l``'s activation, ``(n_l, m)``, for ``l >= 1``."""
        if self._A is None:
            dims, m = self._dims, self.m
            self._A = [None] + [self._buffers.get(f"A{l}", dims[l], m, self.dtype) for l in range(1, len(dims))]
        return self._A

    def _make_scratch(self):
        dims, m = self._dims, self.m
        widest = max(dims[1:])
        flat = [self._buffers.get(f"scratch{k}", widest, m, self.dtype).reshape(-1) for k in range(2)]
        # Every layer's dZ lives in the first scratch buffer, every dA in the
        # second: a layer reads dA and writes dZ, then W^T dZ overwrites its
        # dA with the previous layer's.
        self._dZ = [None] + [flat[0][: dims[l] * m].reshape(dims[l], m) for l in range(1, len(dims))]
        self._dA = [None] + [flat[1][: dims[l] * m].reshape(dims[l], m) for l in range(1, len(dims))]

    @property
    def dZ(self):
        """``dZ[l]``: gradient of layer ``l``'s pre-activation, ``(n_l, m)``."""
        if self._dZ is None:
            self._make_scratch()
        return self._dZ

    @property
    def dA(self):
        """``dA[l]``: gradient of layer ``l``'s activation, ``(n_l, m)``."""
        if self._dA is None:
            self._make_scratch()
        return self._dA

    @property
    def X_rows(self):
        """Batch buffer of row-per-example inputs, ``(m, n_x)``; the network reads ``X_rows.T``."""
        if self._X_rows is None:
            # The memory of X, seen as (m, n_x): a workspace uses one or the other.
            self._X_rows = self._buffers.get("X", self._dims[0], self.m, self.dtype).reshape(self.m, self._dims[0])
            self.X_rows_T = self._X_rows.T
        return self._X_rows

    @property
    def X(self):
        """Batch buffer of the inputs, ``(n_x, m)``."""
        if self._X is None:
            self._X = self._buffers.get("X", self._dims[0], self.m, self.dtype)
        return self._X

    @property
    def Y(self):
        """Batch buffer of the targets, ``(n_L, m)``."""
        if self._Y is None:
            self._Y = self._buffers.get("Y", self._dims[-1], self.m, self.dtype)
        return self._Y

    @property
    def masks(self):
        """Dropout masks of the hidden layers, ``masks[l]`` of shape ``(n_l, m)``, uint8."""
        if self._masks is None:
            L = len(self._dims) - 1
            self._masks = [None] + [self._buffers.get(f"mask{l}", self._dims[l], self.m, np.uint8)
                                    for l in range(1, L)]
        return self._masks


class _InputNotFinite(ValueError):
    """``X`` held a NaN or inf found after training began; :meth:`Network.fit` restores the network first."""


class _Data:
    """Inputs and targets checked once, ready to be gathered batch by batch.

    ``X`` has shape ``(n_x, m)`` in any layout and real dtype (a transposed
    row-per-example array or a memory map included); ``labels`` are integer
    classes of shape ``(m,)`` (one-hot in the gather) or ``Y`` a matrix
    ``(n_L, m)``.
    """

    def __init__(self, X, Y=None, labels=None, unchecked=None):
        self.X = X
        self.Y = Y
        self.labels = labels
        self.m = X.shape[1]
        # The name of X while its values are still to be checked for NaN and
        # inf: the gather of a fit's first epoch does it as it copies them.
        self.unchecked = unchecked
        # A row-per-example array seen transposed: batches are gathered row by
        # row (one contiguous copy per example) and read through their transpose.
        self.rows = X.T if X.flags.f_contiguous and not X.flags.c_contiguous else None
        # A file map: its pages are released every few batches, so that an
        # epoch over a data set larger than memory keeps the resident set small.
        self.pages = mapped.budget_for(X)

    def session_problem(self, dtype):
        """Why native blocks cannot read these data in place for a fit's mini-batches ("" when they can)."""
        if self.pages is not None:
            return "X is a memory map: each batch is read from it"
        if self.X.dtype != dtype or self.X.ndim != 2:
            return f"X is {self.X.dtype}, not the network's {dtype}"
        if self.labels is None and (self.Y is None or self.Y.dtype != dtype):
            return f"Y is {None if self.Y is None else self.Y.dtype}, not the network's {dtype}"
        return ""

    def batch_problem(self):
        """Why native blocks cannot read a batch gathered from these data in place ("" when they can)."""
        return "each gathered batch is F-ordered (rows of a row-per-example X)" if self.rows is not None else ""

    def direct_X(self, dtype):
        """Whether a product can read ``X`` as it is (right dtype, C or F order)."""
        return self.X.dtype == dtype and (self.X.flags.c_contiguous or self.X.flags.f_contiguous)

    def direct_Y(self, dtype):
        return self.Y is not None and self.Y.dtype == dtype and self.Y.flags.c_contiguous

    def gather_X(self, indices, start, ws):
        """Gather the batch ``indices[start:start + ws.m]`` into ``ws``; returns the ``(n_x, b)`` batch.

        While :attr:`unchecked`, a NaN or inf among the copied values raises
        :class:`_InputNotFinite` (see :meth:`check_X`).
        """
        if self.pages is not None and self.rows is not None:
            ws.X_rows  # noqa: B018 -- makes the row buffer and its transpose
            self.pages.gather_rows(gather_mod.gather_rows, self.rows, indices, start, ws.X_rows)
            return ws.X_rows_T
        if self.rows is not None:
            bad = gather_mod.gather_rows(self.rows, indices, start, ws.X_rows)
            batch = ws.X_rows_T
        else:
            bad = gather_mod.gather(self.X, indices, start, ws.X)
            batch = ws.X
        if self.unchecked is not None and (bad or bad is None):
            self.check_X()
        if self.pages is not None:
            self.pages.read(ws.m * self.X.shape[0], self.X.itemsize)
        return batch

    def check_X(self):
        """Check the whole of ``X`` for NaN and inf now, if that was left to the gather.

        Raises :class:`_InputNotFinite` (a ``ValueError`` with the message of
        an up-front check) for a bad value.
        """
        name, self.unchecked = self.unchecked, None
        if name is None:
            return
        try:
            v.check_finite(name, self.rows if self.rows is not None else self.X)
        except ValueError as error:
            raise _InputNotFinite(str(error)) from None

    def gather_all_X(self, indices, dtype):
        """The examples ``indices`` gathered into a new array (once per fit), ``(n_x, m)``."""
        if self.rows is not None:
            out = np.empty((indices.size, self.X.shape[0]), dtype=dtype)
            gather_mod.gather_rows(self.rows, indices, 0, out)
            return out.T
        out = np.empty((self.X.shape[0], indices.size), dtype=dtype)
        gather_mod.gather(self.X, indices, 0, out)
        return out

    def gather_Y(self, indices, start, out):
        if self.labels is not None:
            gather_mod.one_hot(self.labels, indices, start, out)
        else:
            gather_mod.gather(self.Y, indices, start, out)


class Network:
    """A fully-connected feed-forward network in the course's layout.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    hidden : {"relu", "tanh", "sigmoid", "leaky_relu", "linear"}, default "relu"
        Activation of the hidden layers.
    output : {"sigmoid", "softmax", "linear"}, default "sigmoid"
        Output layer and cost: binary cross-entropy from logits, softmax
        cross-entropy, or mean squared error (halved).
    dtype : {np.float64, np.float32}, default np.float64
    init : {"scaled", "small", "he", "xavier"}, default "scaled"
        As :func:`fastdnn.initialize_parameters_deep`; the same seed gives the
        same weights (drawn from a private ``RandomState``, so the global
        NumPy generator is left alone).
    seed : int or None, default 1
        Seeds the weights, the shuffling of the mini-batches and the dropout
        masks: the same seed gives bit-identical training.
    leaky_slope : float, default 0.01
        Negative-side slope of leaky relu.

    Attributes
    ----------
    params : ndarray of shape (n_parameters,)
        The parameter arena: every ``W{l}`` (row-major), then every ``b{l}``.
    grads : ndarray of shape (n_parameters,)
        The gradient arena, same layout.
    state : ndarray of shape (n_slots * n_parameters,)
        The optimizer's arena (empty for plain SGD).
    n_weights : int
        Number of weights, the leading part of the arenas.
    history : dict of list
        Per-epoch records of every :meth:`fit` so far (see :meth:`fit`).
    metadata : dict
        Free JSON-serialisable information saved with the model (the command
        line keeps the class names and the input scaling there).

    Notes
    -----
    Memory: the parameter arena, the gradient arena, the optimizer's arena
    (0, 1 or 2 times the parameters for SGD, momentum, Adam), a rollback copy
    of the parameters and of the optimizer state (see :meth:`fit`), another
    taken at the start of each mini-batch :meth:`fit` (its check of ``X``
    for NaN and inf can undo the call), and one
    workspace shared by every batch size up to the largest seen: per layer an
    ``(n_l, m)`` activation, two ``(max n_l, m)`` scratch buffers for the
    backward pass, the ``(n_x, m)`` batch of inputs and, with dropout, a
    uint8 mask per hidden layer.
    """

    def __init__(self, layer_dims, hidden="relu", output="sigmoid", dtype=np.float64, init="scaled", seed=1,
                 leaky_slope=0.01, strategy="auto"):
        self._setup(layer_dims, hidden, output, dtype, init, seed, leaky_slope)
        self.strategy = strategy
        self._initialize()

    def _setup(self, layer_dims, hidden, output, dtype, init, seed, leaky_slope):
        self.layer_dims = v.layer_dims("layer_dims", layer_dims)
        self.hidden = v.choice("hidden", hidden, HIDDEN)
        self.output = v.choice("output", output, OUTPUTS)
        self.init = v.choice("init", init, INITS)
        try:
            self.dtype = np.dtype(dtype)
        except TypeError:
            raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from None
        if self.dtype not in v.FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = None if seed is None else v.non_negative_int("seed", seed)
        self.leaky_slope = v.finite_float("leaky_slope", leaky_slope)
        if self.output == "softmax" and self.layer_dims[-1] < 2:
            raise ValueError(f"a softmax output needs at least 2 units, got layer_dims[-1] = {self.layer_dims[-1]}")
        self._hidden_code = act.CODES[self.hidden]
        self._layout, n_params = arena_layout(self.layer_dims)
        self.n_weights = self._layout[-1][0].stop
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self._layers = _views(self.params, self._layout)
        self._grad_layers = _views(self.grads, self._layout)
        self._buffers = None
        self._workspaces = {}
        self.history = {}
        self.metadata = {}
        # Randomness of training: shuffling and dropout, both from the seed.
        seq = np.random.SeedSequence(self.seed)
        self._rng = np.random.default_rng(seq)
        self._dropout_seed = int(seq.generate_state(2, np.uint64)[1]) >> 1
        self._n_steps = 0
        self._reset_optimizer(opt_mod.SGD())
        self._partials = np.zeros(reg.n_sum_blocks(self.n_weights), dtype=np.float64)
        # The route of each kind of step (fastdnn.plan), decided once per case.
        self._strategy = "auto"
        self._plans = {}
        self._last_plan = None
        self._steps_by_route = {}
        self._block_plans = {}
        self._block_workers = None
        # Native column blocks of whole batches (train_step, full-batch fit), kept between steps.
        self._direct_session = None
        self._fused = None
        # The parameters and optimizer state at the start of a fit (see fit's deferred check of X).
        self._saved_values = np.empty(0, dtype=self.dtype)
        # One operation at a time: fit, predict and evaluate share the workspaces.
        self._lock = threading.RLock()

    # ------------------------------------------------------------ parameters

    def _initialize(self):
        rng = np.random.RandomState(self.seed)
        for (W, b), l in zip(self._layers, range(1, len(self.layer_dims))):
            draws = rng.randn(self.layer_dims[l], self.layer_dims[l - 1])
            W[...] = scale_initial_weights(draws, self.init)
            b[...] = 0.0

    @property
    def n_layers(self):
        """Number of layers with parameters, ``L``."""
        return len(self.layer_dims) - 1

    @property
    def parameters(self):
        """``{"W1": ..., "b1": ...}``: views into the arena, accepted by the course functions.

        Writing into these arrays changes the network.
        """
        out = {}
        for l, (W, b) in enumerate(self._layers, start=1):
            out[f"W{l}"] = W
            out[f"b{l}"] = b
        return out

    @property
    def gradients(self):
        """``{"dW1": ..., "db1": ...}``: views into the gradient arena."""
        out = {}
        for l, (dW, db) in enumerate(self._grad_layers, start=1):
            out[f"dW{l}"] = dW
            out[f"db{l}"] = db
        return out

    @property
    def optimizer(self):
        """The optimizer whose state :attr:`state` holds."""
        return self._optimizer

    def __repr__(self):
        return (f"Network({self.layer_dims}, hidden={self.hidden!r}, output={self.output!r}, "
                f"dtype={self.dtype.name}, init={self.init!r}, seed={self.seed})")

    # ------------------------------------------------------------ buffers

    def _workspace(self, m, cache=True):
        ws = self._workspaces.get(m)
        if ws is None:
            if self._buffers is None or m > self._buffers.capacity:
                # A larger batch: new storage; workspaces of the old one are
                # dropped (the ones in use keep their memory alive).
                self._buffers = _Buffers(m)
                self._workspaces.clear()
            ws = _Workspace(self.layer_dims, m, self.dtype, self._buffers)
            if cache:
                self._workspaces[m] = ws
        return ws

    def _reset_optimizer(self, optimizer):
        """Bind ``optimizer``: a zeroed state arena of its size, step count 0."""
        p = self.params.size
        self._optimizer = optimizer
        self.state = np.zeros(optimizer.n_slots * p, dtype=self.dtype)
        self._slots = tuple(self.state[k * p:(k + 1) * p] for k in range(optimizer.n_slots))
        self._t = 0
        # Rollback copy of the parameters and then the state, written by each
        # update before it changes them.
        self._keep = np.empty((1 + optimizer.n_slots) * p, dtype=self.dtype)
        self._backup_t = 0
        self._backup_valid = False

    # ------------------------------------------------------------ the step

    def _forward(self, X, ws, keep_prob=1.0, key=0, parallel=True, col_offset=0, total_cols=None, first=1):
        """Fill ``ws.A`` for input ``X``; the output layer keeps its logits.

        With ``keep_prob < 1`` the hidden activations go through inverted
        dropout with masks drawn from ``key`` (kept in ``ws.masks``); when
        ``X`` is a column block of a batch, ``col_offset`` and ``total_cols``
        place it so that its masks are the whole batch's.
        """
        # first > 1: the layers before it are in ws.A already (the dual form).
        A = ws.A
        A_prev = X if first == 1 else A[first - 1]
        L = self.n_layers
        cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
        for l in range(first, L + 1):
            W, b = self._layers[l - 1]
            code = self._hidden_code if l < L else act.LINEAR
            A_l = A[l]
            layer_parallel = parallel and A_l.size >= cut_over
            layers.dense_forward(A_prev, W, b, code, self.leaky_slope, A_l, A_l, layer_parallel)
            if keep_prob < 1.0 and l < L:
                reg.dropout_forward(A_l, reg.mix_key(key, l), keep_prob, ws.masks[l], col_offset, total_cols,
                                    layer_parallel)
            A_prev = A_l
        return A[L]

    def _output_and_cost(self, Y, ws, scale):
        """Turn the logits into outputs, write ``dZ`` of the last layer and the cost."""
        L = self.n_layers
        Z = ws.A[L]
        dZ = ws.dZ[L]
        if self.output == "sigmoid":
            loss.sigmoid_cross_entropy(Z, Y, scale, Z, dZ, ws.cost)
        elif self.output == "softmax":
            loss.softmax_cross_entropy(Z, Y, scale, Z, dZ, ws.cost, ws.softmax_shift, ws.softmax_norm)
        else:
            np.subtract(Z, Y, out=dZ)
            ws.cost[0] = 0.5 * float(np.vdot(dZ, dZ)) / Z.shape[1]
            np.multiply(dZ, scale, out=dZ)
        return ws.cost[0]

    def _backward(self, X, ws, keep_prob=1.0, grad_layers=None, parallel=True, last=1, learning_rate=None,
                  keep=None):
        """Fill the gradient arena (or ``grad_layers``) from ``ws.dZ[L]`` (already scaled by ``1/m``).

        ``last=2`` stops after layer 2, leaving ``dA[1]`` for the caller (the dual form).
        With ``learning_rate``, the layers of :meth:`_fused_plan` take their
        plain gradient-descent weight step inside the ``dW`` product (their
        ``dW`` is then not written), after copying ``W`` into ``keep``'s
        first part when ``keep`` is given.
        """
        grad_layers = self._grad_layers if grad_layers is None else grad_layers
        L = self.n_layers
        if L < last:
            return
        fused = self._fused_plan()[0] if learning_rate is not None else None
        A, dZs, dAs = ws.A, ws.dZ, ws.dA
        cut_over = config.STEP_PARALLEL_MIN_ELEMENTS
        for l in range(L, last - 1, -1):
            W, _ = self._layers[l - 1]
            dW, db = grad_layers[l - 1]
            A_prev = A[l - 1] if l > 1 else X
            dA_prev = dAs[l - 1] if l > 1 else None
            rate = None
            if fused is not None and fused[l - 1]:
                rate = learning_rate
                if keep is not None:
                    np.copyto(self._keep_layers[l - 1], W)
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
            layers.dense_backward(dA, A[l], False, self._hidden_code, self.leaky_slope, A_prev, W, 1.0,
                                  dZs[l], dW, db, dA_prev, layer_parallel, rate)

    def _fused_plan(self):
        """Which layers take plain gradient descent inside their ``dW`` product, and the rest of the arena.

        Returns ``(flags, rest)``: a flag per layer (at least
        ``config.FUSED_UPDATE_MIN_WEIGHTS`` weights), and the
        ``(params, grads, keep)`` views of every arena run the fused
        products leave to the update kernel (the other weights, the biases).
        """
        plan = self._fused
        if plan is None or plan[2] is not self._keep:
            flags = plan_mod.fused_layers(self.layer_dims)
            runs, start = [], 0
            for (w, _, _, _), flag in zip(self._layout, flags):
                if flag:
                    if w.start > start:
                        runs.append((start, w.start))
                    start = w.stop
            runs.append((start, self.params.size))
            p = self.params.size
            rest = [(self.params[a:b], self.grads[a:b], self._keep[a:b]) for a, b in runs if b > a]
            self._keep_layers = [self._keep[:p][w].reshape(shape) for w, shape, _, _ in self._layout]
            plan = self._fused = (flags, rest, self._keep)
        return plan[0], plan[1]

    # ------------------------------------------------------------ the plan

    @property
    def strategy(self):
        """How training steps run: one of :data:`fastdnn.plan.STRATEGIES`.

        ``"auto"`` (the default) lets :func:`fastdnn.plan.decide` choose per
        step; ``"plain"``, ``"threads"`` (worker column blocks),
        ``"native"`` (native column blocks) and ``"dual"`` (``fit_course``'s
        dual form) hold every step to one, and a step it cannot serve raises
        :class:`ValueError` saying why, before any step of the call.
        ``"plain"`` keeps ``fit_course``'s dual form where ``"auto"`` would
        take it; ``"threads"`` and ``"native"`` leave it to ``dual=True``.
        :meth:`plan` tells what a step would run.  A change applies from the
        next ``fit``, ``train_step`` or ``fit_course`` call (one running,
        e.g. from its callback, keeps the plans it started with).
        """
        return self._strategy

    @strategy.setter
    def strategy(self, value):
        value = v.choice("strategy", value, plan_mod.STRATEGIES)
        if value != self._strategy:
            with self._lock:
                self._strategy = value
                self._plans.clear()
                native_blocks.release(self)

    @property
    def column_blocks(self):
        """The older name of :attr:`strategy`: ``"auto"``, ``True`` (``"threads"``) or ``False`` (``"plain"``)."""
        return {"threads": True, "plain": False}.get(self._strategy, self._strategy)

    @column_blocks.setter
    def column_blocks(self, value):
        if value not in ("auto", True, False):
            raise ValueError(f"column_blocks must be 'auto', True or False, got {value!r}; see Network.strategy")
        self.strategy = {True: "threads", False: "plain"}.get(value, value)

    @property
    def last_plan(self):
        """The :class:`fastdnn.plan.Plan` of the last training step run (``None`` before the first)."""
        return self._last_plan

    @property
    def steps_by_route(self):
        """How many training steps (gradient passes) each route has run in this process: ``{route: steps}``."""
        return dict(self._steps_by_route)

    def _ran(self, plan):
        # What ran, said where users and tests look (last_plan, steps_by_route).
        self._last_plan = plan
        self._steps_by_route[plan.route] = self._steps_by_route.get(plan.route, 0) + 1

    def plan(self, batch_size, m=None, optimizer="sgd", l2=0.0, dropout=0.0, course=False):
        """How a training step on ``batch_size`` examples would run, and why.

        Parameters
        ----------
        batch_size : int
            Examples of the step.
        m : int, optional
            Examples of a :meth:`fit`'s data, when more than ``batch_size``
            (mini-batches, read from C-ordered data in memory in the
            network's dtype); by default the batch is given whole
            (:meth:`train_step`, a full-batch :meth:`fit`).
        optimizer, l2, dropout :
            As :meth:`fit`'s.
        course : bool, default False
            The step of :meth:`fit_course` (whose dual form is one route).

        Returns
        -------
        fastdnn.plan.Plan
            Route, reason, blocks, chunk, threads, BLAS.

        Raises
        ------
        ValueError
            Bad arguments, or a forced :attr:`strategy` that cannot serve
            the case (the message says why).
        """
        batch_size = v.positive_int("batch_size", batch_size)
        dropout = v.finite_float("dropout", dropout, minimum=0.0)
        if dropout >= 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        kind = plan_mod.optimizer_kind(opt_mod.get_optimizer(optimizer))
        decay = v.finite_float("l2", l2, minimum=0.0) > 0.0
        if course:
            case = plan_mod.Case("course", batch_size)
        elif m is not None and v.positive_int("m", m) > batch_size:
            case = plan_mod.Case("mini-batches", batch_size, dropout > 0.0, kind, decay)
        else:
            case = plan_mod.Case("whole", batch_size, dropout > 0.0, kind, decay)
        return self._plan_for(case)

    def _plan_for(self, case, busy=False):
        """The plan of ``case`` (a :class:`fastdnn.plan.Case`), decided on first use and kept.

        ``busy``: the plan while another fit holds the native blocks' threads
        (:func:`fastdnn.plan.when_busy`).
        """
        # Keyed by the strategy read once: a plan decided while another thread
        # changes the strategy is filed under the one it was decided for.
        strategy = self._strategy
        key = (strategy, case, busy)
        plan = self._plans.get(key)
        if plan is None:
            decide = plan_mod.when_busy if busy else plan_mod.decide
            plan = decide(self.layer_dims, self.dtype, strategy, case, plan_mod.machine(self.dtype))
            log.debug("fastdnn plan for %s %s, %s step of %d: %s", self.layer_dims, self.dtype.name, case.kind,
                      case.batch, plan)
            self._plans[key] = plan
        return plan

    def _whole_batch_case(self, X, Y, keep_prob=1.0, optimizer="sgd", l2=0.0):
        """The :class:`fastdnn.plan.Case` of a step on the whole batch ``(X, Y)`` as given (with ``fit``'s options)."""
        if X.ndim != 2 or Y.ndim != 2 or not X.flags.c_contiguous or X.dtype != self.dtype \
                or Y.dtype != self.dtype:
            data = f"X is not a C-ordered {self.dtype.name} matrix, or Y not {self.dtype.name}"
        else:
            data = ""
        return plan_mod.Case("whole", X.shape[1], keep_prob < 1.0, optimizer, l2 > 0.0, data)

    # ------------------------------------------------------------ column blocks

    def _worker_blocks(self, m, n):
        """The worker column blocks for batches of ``m`` examples over ``n`` threads."""
        blocks = self._block_plans.get(m)
        if blocks is None or len(blocks.ranges) != n:
            blocks = self._block_plans[m] = _BlockPlan(self, m, n)
        if self._block_workers is None or self._block_workers.n != n:
            self._block_workers = workers.BlockWorkers(n)
        return blocks

    def _gradient_pass(self, X, Y, ws, plan, keep_prob=1.0, key=0, count=False, learning_rate=None, keep=None):
        """Forward, cost and backward on one batch into the gradient arena, the way ``plan`` says; returns the cost.

        ``ws.count`` gets the number of correct answers when ``count``.  The
        gradient is garbage when the returned cost is not finite.
        ``learning_rate`` and ``keep``: see :meth:`_backward` (only for the
        route ``plain-sgd-in-products``).
        """
        m = X.shape[1]
        route = plan.route
        if route == "native-whole-batch":
            blocks = native_blocks.direct_pass(self, X, Y, count, plan)
            if blocks is not None:
                self._ran(plan)
                total, ws.count[0] = blocks
                return total / m
            plan = self._plan_for(plan.case, busy=True)
        if plan.route == "threads":
            self._ran(plan)
            return self._worker_blocks(m, plan.blocks).run(X, Y, ws, keep_prob, key, count)
        self._ran(plan)
        self._forward(X, ws, keep_prob, key)
        cost = self._output_and_cost(Y, ws, 1.0 / m)
        if not math.isfinite(cost):
            return cost
        if count:
            metrics.count_correct(ws.A[self.n_layers], Y, self.output == "softmax", ws.count)
        self._backward(X, ws, keep_prob, learning_rate=learning_rate, keep=keep)
        return cost

    @_one_at_a_time
    def train_step(self, X, Y, learning_rate):
        """One gradient-descent step on the batch ``(X, Y)``.

        Parameters
        ----------
        X : ndarray of shape (n_x, m)
            C-contiguous, of the network's dtype (use :meth:`fit` for
            anything else).
        Y : ndarray of shape (n_L, m)
        learning_rate : float

        Returns
        -------
        float
            The cost before the step.

        Notes
        -----
        A small or narrow network's step runs as native column blocks
        (:mod:`fastdnn.native_blocks`) that read ``X`` in place; between
        calls the network keeps that batch (a loop over the same arrays
        then costs nothing to set up) until another batch or
        :meth:`fit` replaces it.
        """
        plan = self._plan_for(self._whole_batch_case(X, Y))
        ws = self._workspace(X.shape[1])
        if plan.route != "plain-sgd-in-products":
            cost = self._gradient_pass(X, Y, ws, plan)
            update.sgd(self.params, self.grads, learning_rate, self.params)
            return cost
        # The large weights step inside their dW products; the rest here.
        cost = self._gradient_pass(X, Y, ws, plan, learning_rate=learning_rate)
        for params, grads, _ in self._fused_plan()[1]:
            update.sgd(params, grads, learning_rate, params)
        return cost

    def _regularized_cost(self, cost, ws, l2, m):
        if l2 == 0.0:
            return cost
        reg.sum_of_squares(self.params, self.n_weights, self._partials, ws.square_sum)
        return cost + (l2 / (2.0 * m)) * ws.square_sum[0]

    def _fit_step(self, X, Y, ws, plan, learning_rate, l2, keep_prob, count):
        """One training step of :meth:`fit` on a batch already in place, the way ``plan`` says; returns the cost.

        Forward (with dropout), cost (with the L2 term), and -- only when the
        cost is finite -- backward and the fused update, which copies the
        old parameters and optimizer state into the rollback arena as it
        goes.  A non-finite cost is returned without touching the
        parameters.  Allocates nothing.
        """
        m = X.shape[1]
        key = reg.mix_key(self._dropout_seed, self._n_steps) if keep_prob < 1.0 else 0
        if plan.route == "plain-sgd-in-products":
            # As train_step: the large weights step inside their products
            # (the same bits as the course's path), after their copy for a
            # rollback; the rest of the arena in the update kernel.
            cost = self._gradient_pass(X, Y, ws, plan, keep_prob, key, count, learning_rate, self._keep)
            if math.isfinite(cost):
                self._update(self.grads, learning_rate, 0.0, in_products=True)
            return cost
        cost = self._gradient_pass(X, Y, ws, plan, keep_prob, key, count)
        return self._descend(cost, ws, learning_rate, l2, m)

    def _descend(self, cost, ws, learning_rate, l2, m):
        """The L2 term and the optimizer's step after a gradient pass on ``m`` examples; returns the cost.

        A non-finite cost is returned without touching the parameters.
        """
        if math.isfinite(cost):
            cost = self._regularized_cost(cost, ws, l2, m)
        if not math.isfinite(cost):
            return cost
        self._update(self.grads, learning_rate, l2 / m)
        return cost

    def _update(self, grads, learning_rate, decay, in_products=False):
        """The optimizer's step, keeping the old parameters and state for :meth:`_rollback`.

        ``in_products``: plain SGD whose large weights already stepped inside
        their products (:meth:`_backward`); only the rest of the arena is left.
        """
        self._backup_t = self._t
        self._t += 1
        if in_products:
            for params, rest_grads, keep in self._fused_plan()[1]:
                update.sgd_l2(params, rest_grads, learning_rate, 0.0, 0, keep)
        elif self._optimizer.takes_keep:
            self._optimizer.step(self.params, grads, self._slots, learning_rate, decay, self.n_weights, self._t,
                                 keep=self._keep)
        else:
            p = self.params.size
            np.copyto(self._keep[:p], self.params)
            np.copyto(self._keep[p:], self.state)
            self._optimizer.step(self.params, grads, self._slots, learning_rate, decay, self.n_weights, self._t)
        self._backup_valid = True
        self._n_steps += 1

    def _count_update(self):
        """What :meth:`_update` records around its kernel, for an update made elsewhere (native blocks)."""
        self._backup_t = self._t
        self._t += 1
        self._backup_valid = True
        self._n_steps += 1

    def _train_batch(self, data, indices, start, ws, plan, learning_rate, l2, keep_prob, count):
        """Gather the examples ``indices[start:start + ws.m]`` into ``ws`` and train on them; returns the cost."""
        X = data.gather_X(indices, start, ws)
        data.gather_Y(indices, start, ws.Y)
        ws.count[0] = 0.0
        return self._fit_step(X, ws.Y, ws, plan, learning_rate, l2, keep_prob, count)

    def _train_blocks(self, session, plan, start, b, ws, learning_rate, l2):
        """:meth:`_train_batch` through a :class:`fastdnn.native_blocks.Session` (the gather included)."""
        self._ran(plan)
        if plan.route == "native-update":
            cost, ws.count[0] = session.train_step(start, b, learning_rate, l2)
            return cost
        total, ws.count[0] = session.step(start, b)
        return self._descend(total / b, ws, learning_rate, l2, b)

    def _rollback(self):
        """Restore the parameters and optimizer state saved before the last update; ``False`` if none."""
        if not self._backup_valid:
            return False
        p = self.params.size
        np.copyto(self.params, self._keep[:p])
        np.copyto(self.state, self._keep[p:])
        self._t = self._backup_t
        self._backup_valid = False
        return True

    # ------------------------------------------------------------ data

    def _check_data(self, X, Y=None):
        X_arr = v.as_array("X", X, ndim=2)
        if X_arr.shape[0] != self.layer_dims[0]:
            raise ValueError(
                f"X has {X_arr.shape[0]} rows (features) but the network expects {self.layer_dims[0]}: "
                f"X must have shape ({self.layer_dims[0]}, m)"
            )
        Xc = v.prepare(X_arr, self.dtype)
        v.check_finite("X", Xc)
        if Y is None:
            return Xc, None
        Y_arr = v.as_array("Y", Y)
        if Y_arr.ndim == 1 and self.layer_dims[-1] == 1:
            Y_arr = Y_arr.reshape(1, -1)
        v.check_shape("Y", Y_arr, (self.layer_dims[-1], X_arr.shape[1]), "(n_out, m), one column per example of X")
        Yc = v.prepare(Y_arr, self.dtype)
        v.check_finite("Y", Yc)
        if self.output == "sigmoid":
            v.check_binary_labels("Y", Yc)
        return Xc, Yc

    def _prepare_X(self, X, name="X", check_finite=True):
        """``X`` checked (shape, dtype, finite) but not copied: a memory map stays one.

        ``check_finite=False`` leaves the scan for NaN and inf to the caller
        (a memory map is scanned here all the same, chunk by chunk); returns
        ``(X, checked)``.
        """
        if isinstance(X, np.memmap):
            X = np.asarray(X)  # a plain view of the mapped memory, no copy
        X_arr = v.as_array(name, X, ndim=2)
        if X_arr.dtype == np.float16:
            # Numba has no float16: one copy in the network's dtype.
            X_arr = X_arr.astype(self.dtype)
        n_x = self.layer_dims[0]
        if X_arr.shape[0] != n_x:
            raise ValueError(
                f"{name} has {X_arr.shape[0]} rows (features) but the network expects {n_x}: "
                f"{name} must have shape ({n_x}, m), one column per example"
            )
        if X_arr.shape[1] == 0:
            raise ValueError(f"{name} has no examples (shape {X_arr.shape})")
        C_view = X_arr.T if X_arr.flags.f_contiguous and not X_arr.flags.c_contiguous else X_arr
        pages = mapped.budget_for(C_view) if C_view.flags.c_contiguous and C_view.dtype.kind == "f" else None
        if pages is None and not check_finite:
            return X_arr, False
        if pages is None or mapped.count_non_finite_in_chunks(C_view, pages, v._count_non_finite):
            # In memory, or a map known to hold a bad value (the message needs the whole scan).
            v.check_finite(name, C_view)
        return X_arr, True

    def _prepare_data(self, X, Y, names=("X", "Y"), check_X=True):
        """Check ``X`` and ``Y`` once; integer class labels stay labels (one-hot happens in the gather).

        ``check_X=False`` leaves the scan of ``X`` for NaN and inf to the
        returned data's gather (:attr:`_Data.unchecked`, :meth:`_Data.check_X`).
        """
        X_arr, checked = self._prepare_X(X, names[0], check_X)
        unchecked = None if checked else names[0]
        m = X_arr.shape[1]
        k = self.layer_dims[-1]
        name = names[1]
        if isinstance(Y, np.memmap):
            Y = np.asarray(Y)
        Y_arr = v.as_array(name, Y)
        if Y_arr.dtype == np.float16:
            Y_arr = Y_arr.astype(self.dtype)
        if Y_arr.ndim == 1:
            if Y_arr.shape[0] != m:
                raise ValueError(f"{name} has {Y_arr.shape[0]} labels but {names[0]} has {m} examples")
            if self.output == "softmax":
                return _Data(X_arr, labels=self._class_labels(name, Y_arr), unchecked=unchecked)
            if k != 1:
                raise ValueError(
                    f"{name} of shape {Y_arr.shape} fits a single output unit; this network has {k}: "
                    f"{name} must have shape ({k}, {m})"
                )
            Y_arr = Y_arr.reshape(1, m)
        if Y_arr.ndim != 2:
            raise ValueError(f"{name} must be 1-D (labels) or 2-D ({k}, m), got shape {Y_arr.shape}")
        v.check_shape(name, Y_arr, (k, m), f"(n_out, m), one column per example of {names[0]}")
        v.check_finite(name, Y_arr)
        if self.output == "sigmoid":
            v.check_binary_labels(name, Y_arr)
        return _Data(X_arr, Y=Y_arr, unchecked=unchecked)

    def _class_labels(self, name, y):
        k = self.layer_dims[-1]
        if y.dtype.kind == "f":
            v.check_finite(name, y)
            if np.any(y != np.floor(y)):
                raise ValueError(f"{name} must hold integer class labels in [0, {k}), found non-integer values")
        lo, hi = (y.min(), y.max()) if y.size else (0, 0)
        if lo < 0 or hi >= k:
            raise ValueError(
                f"{name} must hold class labels in [0, {k}) for a softmax output of {k} units; "
                f"found labels from {lo} to {hi}"
            )
        return y if y.dtype == np.int64 else y.astype(np.int64)

    # ------------------------------------------------------------ training

    def fit(self, X, Y, epochs=1, batch_size=None, optimizer="sgd", learning_rate=0.0075, l2=0.0, dropout=0.0,
            shuffle=True, validation=None, progress=True, schedule=None, callback=None, checkpoint=None,
            checkpoint_every=None, resume=False, verbose=False):
        """Train the network.

        Parameters
        ----------
        X : array_like of shape (n_x, m)
            One example per column, any real dtype and any memory layout:
            C-contiguous, the transposed view of a row-per-example array (read
            without a copy), or a ``np.memmap`` (a data set larger than memory
            trains: each batch is read from the map).
        Y : array_like of shape (n_L, m), or (m,)
            Targets: 0/1 labels (sigmoid), one-hot columns or integer class
            labels of shape ``(m,)`` (softmax; made one-hot batch by batch,
            never as a whole), values (linear).
        epochs : int, default 1
            Passes over the data.
        batch_size : int or None, default None
            Examples per step; ``None`` (or at least ``m``) trains on the full
            batch, using ``X`` itself when it is C- or F-ordered and of the
            network's dtype (otherwise one copy, made once).  Mini-batches are
            gathered into a preallocated buffer, ``m % batch_size`` examples
            form a last, smaller batch.
        optimizer : {"sgd", "momentum", "adam"} or fastdnn.optimizers.Optimizer, default "sgd"
            The optimizer state is kept across calls while the optimizer stays
            equal, so that two calls continue one training.
        learning_rate : float, default 0.0075
        l2 : float, default 0.0
            L2 strength ``lambda``: adds ``lambda / (2 m) * sum(W**2)`` to the
            cost and ``lambda / m * W`` to each weight's gradient (fused into
            the update); biases do not decay.
        dropout : float, default 0.0
            Probability of dropping a hidden unit (inverted dropout; the
            output layer and prediction never drop).
        shuffle : bool, default True
            Shuffle the examples every epoch (mini-batches only).
        validation : tuple (X_val, Y_val), optional
            Evaluated after each epoch: ``val_cost`` and ``val_accuracy``.
        progress : bool, default True
            Show a progress bar (epoch, loss, examples/s) -- only when
            standard error is a terminal.
        schedule : callable, optional
            ``schedule(epoch) -> learning_rate``, called before each epoch
            (``epoch`` counts from 0 in this call).
        callback : callable, optional
            ``callback(epoch, record)`` after each epoch with that epoch's
            record (the keys below, one value each); a true return value
            stops training.
        checkpoint : str or path, optional
            Write the whole training state to this file (atomically: the
            previous checkpoint stays intact until the new one is on disk) at
            the end of every epoch, of the fit, and every ``checkpoint_every``
            steps.  See :mod:`fastdnn.checkpoint`.
        checkpoint_every : int, optional
            Also write the checkpoint every this many steps (counted over the
            network's life, so the moments do not move when a run resumes).
        resume : bool, default False
            Continue from ``checkpoint`` when the file exists (from the middle
            of an epoch included): the same call with ``resume=True`` after a
            crash ends with the parameters, bit for bit, of a run that never
            stopped.  Without the file, training starts from the beginning.
            The data and the settings must be the ones of the interrupted
            call (checked: ``m``, ``batch_size``, ``shuffle``, ``dropout``,
            ``l2``, ``learning_rate``, the optimizer).
        verbose : bool, default False
            Print the route the steps take and why (:meth:`plan`) before the
            first epoch; the same line goes to the ``fastdnn`` logger at
            DEBUG level either way.

        Returns
        -------
        dict of list
            One entry per epoch: ``epoch``, ``cost`` (mean over the epoch's
            batches, L2 term included, measured before each update),
            ``accuracy`` (on the training batches, with dropout; classifiers
            only), ``learning_rate``, ``seconds`` (compiling kernels left out), and with ``validation``
            ``val_cost`` and ``val_accuracy`` (classifiers only).  The same
            records are appended to :attr:`history`.

        Raises
        ------
        ValueError
            Bad data or options; ``X`` holding a NaN or an infinity among
            them.  With mini-batches that scan rides on the first epoch's
            gather (the data are read once instead of twice); when it finds
            a bad value, the parameters, the optimizer and the shuffling
            generator are put back as they were before the call, so the
            error leaves the network as an up-front check would have.
        FloatingPointError
            The cost became NaN or infinite; the message names the epoch, the
            step and the examples of the batch.  A batch whose inputs hold NaN
            or infinity leaves the parameters as they were before it.  The
            parameters and the optimizer state are rolled back
            to the last state whose cost was finite (the update kernel copies
            them aside as it reads them, at the price of their writes).

        Notes
        -----
        With ``output="sigmoid"``, ``optimizer="sgd"``, ``batch_size=None``
        and float64, each epoch is one step of the course's ``L_layer_model``:
        the same costs and parameters, bit for bit.

        The route of the steps is :meth:`plan`'s (see :mod:`fastdnn.plan`):
        small steps and those of narrow networks, without dropout, run as
        native column blocks on spinning threads, with BLAS held at one
        thread while they run; the sums over a batch then add the blocks'
        parts, so the result agrees with ``strategy="plain"`` to rounding,
        not bit for bit.  Where a large layer takes plain SGD inside its
        product (the course's settings on the cat network) the plain path
        runs.
        """
        with self._lock:
            # Mini-batches check X for NaN and inf as the first epoch gathers
            # them (one pass over the data instead of two); a bad value found
            # there puts the network back as it was before this call.
            before = self._training_state() if batch_size is not None and checkpoint is None else None
            try:
                return self._fit(X, Y, epochs, batch_size, optimizer, learning_rate, l2, dropout, shuffle,
                                 validation, progress, schedule, callback, checkpoint=checkpoint,
                                 checkpoint_every=checkpoint_every, resume=resume, defer_check=before is not None,
                                 verbose=verbose)
            except _InputNotFinite as error:
                self._restore_training_state(before)
                raise ValueError(str(error)) from None

    def _training_state(self):
        """Everything :meth:`fit` changes before its last epoch, for :meth:`_restore_training_state`."""
        p, size = self.params.size, self.params.size + self.state.size
        if self._saved_values.size != size:
            self._saved_values = np.empty(size, dtype=self.dtype)
        # Into a buffer kept from call to call: a new one costs its page faults each time.
        np.copyto(self._saved_values[:p], self.params)
        np.copyto(self._saved_values[p:], self.state)
        return (self._saved_values, self.state, self._optimizer, self._slots, self._keep, self._t, self._backup_t,
                self._backup_valid, self._n_steps, self._rng.bit_generator.state)

    def _restore_training_state(self, saved):
        (values, self.state, self._optimizer, self._slots, self._keep, self._t, self._backup_t, self._backup_valid,
         self._n_steps, self._rng.bit_generator.state) = saved
        p = self.params.size
        np.copyto(self.params, values[:p])
        np.copyto(self.state, values[p:])

    def _fit_options(self, X, Y, data, epochs, batch_size, optimizer, learning_rate, l2, dropout, validation,
                     validation_data, schedule, callback, train_indices, checkpoint, checkpoint_every, resume,
                     defer_check=False):
        """Check :meth:`fit`'s options and prepare the data (shared with ``fastdnn.distributed``).

        ``defer_check``: leave the scan of ``X`` for NaN and inf to the first
        epoch's gather (see :meth:`fit`).

        Binds the optimizer (a new state arena when it changed) and returns
        ``(data, epochs, learning_rate, l2, keep_prob, validation_data,
        checkpoint, checkpoint_every, indices, m, order, batch_size)``.
        """
        data = self._prepare_data(X, Y, check_X=not defer_check) if data is None else data
        if checkpoint is not None:
            checkpoint = os.fspath(checkpoint)
        if checkpoint_every is not None:
            checkpoint_every = v.positive_int("checkpoint_every", checkpoint_every)
            if checkpoint is None:
                raise ValueError("checkpoint_every needs a checkpoint path")
        if resume and checkpoint is None:
            raise ValueError("resume=True needs a checkpoint path")
        epochs = v.positive_int("epochs", epochs)
        learning_rate = self._check_learning_rate(learning_rate)
        l2 = v.finite_float("l2", l2, minimum=0.0)
        dropout = v.finite_float("dropout", dropout, minimum=0.0)
        if dropout >= 1.0:
            raise ValueError(f"dropout must lie in [0, 1), got {dropout}")
        keep_prob = 1.0 - dropout
        if schedule is not None and not callable(schedule):
            raise TypeError(f"schedule must be a callable epoch -> learning rate, got {schedule!r}")
        if callback is not None and not callable(callback):
            raise TypeError(f"callback must be a callable (epoch, record) -> stop, got {callback!r}")
        if validation is not None and validation_data is None:
            if not isinstance(validation, (tuple, list)) or len(validation) != 2:
                raise TypeError("validation must be a pair (X_val, Y_val)")
            validation_data = self._prepare_data(validation[0], validation[1], names=("X_val", "Y_val"))
        opt = opt_mod.get_optimizer(optimizer)
        if opt != self._optimizer:
            self._reset_optimizer(opt)
        self._backup_valid = False

        if train_indices is None:
            indices = np.arange(data.m, dtype=np.int64)
        else:
            indices = np.ascontiguousarray(train_indices, dtype=np.int64)
        m = indices.size
        order = indices.copy()
        if batch_size is not None:
            batch_size = v.positive_int("batch_size", batch_size)
        return (data, epochs, learning_rate, l2, keep_prob, validation_data, checkpoint, checkpoint_every, indices,
                m, order, batch_size)

    def _bound(self):
        """The optimizer binding :meth:`_fit_options` may replace: ``(optimizer, state, slots, keep, t, backup_t)``."""
        return self._optimizer, self.state, self._slots, self._keep, self._t, self._backup_t

    def _bind(self, bound):
        """Put back a binding taken by :meth:`_bound`."""
        self._optimizer, self.state, self._slots, self._keep, self._t, self._backup_t = bound

    def _fit_plans(self, data, indices, train_indices, m, batch, keep_prob, l2):
        """The plans of a fit's steps: ``(plan, session_plan, step_plans, X_full, Y_full)``.

        Full batch (``batch == m``): the plan of the step on ``(X_full,
        Y_full)``, the caller's arrays when a product can read them, otherwise
        one copy made now (not per epoch).  Mini-batches: the plan of the
        fit, the same as ``session_plan`` when the native blocks gather the
        batches themselves, else a plan for each size of batch in
        ``step_plans`` (the last one's too: a forced strategy that cannot
        serve it says so now, not after an epoch).
        """
        opt_kind = plan_mod.optimizer_kind(self._optimizer)
        if batch == m:
            if train_indices is None and data.direct_X(self.dtype):
                X_full = data.X
            else:
                X_full = data.gather_all_X(indices, self.dtype)
            if train_indices is None and data.direct_Y(self.dtype):
                Y_full = data.Y
            else:
                Y_full = np.empty((self.layer_dims[-1], m), dtype=self.dtype)
                data.gather_Y(indices, 0, Y_full)
            if self._strategy == "native" and not X_full.flags.c_contiguous:
                # Native blocks read C-ordered columns: one copy for the fit.
                X_full = np.ascontiguousarray(X_full)
            return self._plan_for(self._whole_batch_case(X_full, Y_full, keep_prob, opt_kind, l2)), None, {}, \
                X_full, Y_full
        case = plan_mod.Case("mini-batches", batch, keep_prob < 1.0, opt_kind, l2 > 0.0,
                             data.session_problem(self.dtype), data.batch_problem())
        plan = self._plan_for(case)
        if plan.route in ("native-update", "native-gradient"):
            return plan, plan, {}, None, None
        step_plans = {b: self._plan_for(case._replace(kind="whole", batch=b, data=case.batch_data))
                      for b in (batch, m % batch) if b}
        return plan, None, step_plans, None, None

    @_one_at_a_time
    def _fit(self, X, Y, epochs=1, batch_size=None, optimizer="sgd", learning_rate=0.0075, l2=0.0, dropout=0.0,
             shuffle=True, validation=None, progress=True, schedule=None, callback=None, train_indices=None,
             data=None, validation_data=None, track_accuracy=True, checkpoint=None, checkpoint_every=None,
             resume=False, defer_check=False, verbose=False):
        bound = self._bound()
        (data, epochs, learning_rate, l2, keep_prob, validation_data, checkpoint, checkpoint_every, indices, m,
         order, batch_size) = self._fit_options(X, Y, data, epochs, batch_size, optimizer, learning_rate, l2,
                                                dropout, validation, validation_data, schedule, callback,
                                                train_indices, checkpoint, checkpoint_every, resume, defer_check)
        dropout = float(dropout)
        full_batch = batch_size is None or batch_size >= m
        batch = m if full_batch else batch_size
        count = track_accuracy and self.output != "linear"
        per_example = 1 if self.output == "softmax" else self.layer_dims[-1]
        try:
            plan, session_plan, step_plans, X_full, Y_full = self._fit_plans(data, indices, train_indices, m, batch,
                                                                             keep_prob, l2)
        except ValueError:
            # A forced strategy refused (or the data could not be gathered):
            # the fit leaves the optimizer as it found it.
            self._bind(bound)
            raise
        session = None
        if full_batch:
            ws = self._workspace(m)
        else:
            ws_full = self._workspace(batch)
            rest = m % batch
            ws_rest = self._workspace(rest) if rest else None

        history = {}
        first_epoch, first_step, resumed_sums = 0, 0, (0.0, 0.0)
        if checkpoint is not None:
            fit_config = {"m": int(m), "batch_size": None if full_batch else int(batch), "shuffle": bool(shuffle),
                          "dropout": dropout, "l2": l2, "learning_rate": learning_rate,
                          "optimizer": [self._optimizer.name, self._optimizer.get_config()]}
            # Through JSON, so that the comparison on resume sees the same types.
            fit_config = json.loads(json.dumps(fit_config))
            if resume and os.path.exists(checkpoint):
                first_epoch, first_step, resumed_sums, history = self._resume(checkpoint, fit_config, order, indices)

            def save_checkpoint(epoch_done, step_done, sums):
                position = {"epoch": epoch_done, "step": step_done, "total": float(sums[0]),
                            "correct": float(sums[1]), "history": history, "config": fit_config}
                _checkpoint.save(checkpoint, self, position, indices)

        bar = _progress_bar(progress, epochs * m)
        try:
            if not full_batch and session_plan is not None:
                # Small steps: column blocks on spinning threads, one Numba call a step.
                session = native_blocks.open_session(self, data, indices, count, session_plan)
                if session is None:
                    step_plans = {b: self._plan_for(session_plan.case._replace(batch=b), busy=True)
                                  for b in (batch, rest) if b}
            running = plan if full_batch or session is not None else step_plans[batch]
            route = running.route
            log.debug("fastdnn fit of %s %s on %d examples%s: %s", self.layer_dims, self.dtype.name, m,
                      "" if full_batch else f" in batches of {batch}", running)
            if verbose:
                print(f"fastdnn: {running}")
            if full_batch or session is not None:
                # Their gathers do not look for NaN and inf: the whole scan now, before the first step.
                data.check_X()
            for epoch in range(first_epoch, epochs):
                lr = learning_rate if schedule is None else self._check_learning_rate(schedule(epoch), "schedule")
                started = time.perf_counter() - compiling.seconds()
                total = 0.0
                correct = 0.0
                skip = 0
                if epoch == first_epoch and first_step > 0:
                    # Resumed in the middle of this epoch: its order and sums come from the checkpoint.
                    skip = first_step
                    total, correct = resumed_sums
                if bar is not None:
                    bar.set_description(f"epoch {epoch + 1}/{epochs} [{route}]", refresh=False)
                if full_batch:
                    if not skip:
                        ws.count[0] = 0.0
                        cost = self._fit_step(X_full, Y_full, ws, plan, lr, l2, keep_prob, count)
                        if not math.isfinite(cost):
                            self._diverged(cost, epoch, epochs, 0, 1, lr, data, indices, 0, m)
                        total = cost
                        correct = ws.count[0]
                        if checkpoint_every is not None and self._n_steps % checkpoint_every == 0:
                            save_checkpoint(epoch, 1, (total, correct))
                    if bar is not None:
                        bar.update(m)
                else:
                    if shuffle and not skip:
                        # From the same starting order each epoch, so that two
                        # fit calls continue exactly like one.
                        np.copyto(indices, order)
                        self._rng.shuffle(indices)
                    n_steps = (m + batch - 1) // batch
                    shown = started
                    for step in range(skip, n_steps):
                        start = step * batch
                        b = min(batch, m - start)
                        wsb = ws_full if b == batch else ws_rest
                        if session is not None:
                            cost = self._train_blocks(session, session_plan, start, b, wsb, lr, l2)
                        else:
                            cost = self._train_batch(data, indices, start, wsb, step_plans[b], lr, l2, keep_prob,
                                                     count)
                        if not math.isfinite(cost):
                            self._diverged(cost, epoch, epochs, step, n_steps, lr, data, indices, start, b)
                        total += cost * (b / m)
                        correct += wsb.count[0]
                        if checkpoint_every is not None and self._n_steps % checkpoint_every == 0:
                            save_checkpoint(epoch, step + 1, (total, correct))
                        if bar is not None:
                            bar.update(b)
                            now = time.perf_counter()
                            if now - shown > 0.5:
                                bar.set_postfix(loss=f"{total * m / (start + b):.4g}", refresh=False)
                                shown = now
                # Every example has been gathered, and checked on the way, once.
                data.unchecked = None
                record = {"epoch": len(self.history.get("epoch", ())) + 1, "cost": float(total)}
                if count:
                    record["accuracy"] = float(correct) / (m * per_example)
                record["learning_rate"] = lr
                # Training time: a first epoch's kernel compiles are left out.
                # (The process's compiles: another thread's may fall in this epoch, hence the floor.)
                record["seconds"] = max(time.perf_counter() - compiling.seconds() - started, 0.0)
                if validation_data is not None:
                    scores = self._evaluate(validation_data)
                    record["val_cost"] = scores["cost"]
                    if "accuracy" in scores:
                        record["val_accuracy"] = scores["accuracy"]
                for key, value in record.items():
                    history.setdefault(key, []).append(value)
                    self.history.setdefault(key, []).append(value)
                if checkpoint is not None:
                    save_checkpoint(epoch + 1, 0, (0.0, 0.0))
                if bar is not None:
                    shown_values = {"loss": f"{record['cost']:.4g}"}
                    if "val_accuracy" in record:
                        shown_values["val_acc"] = f"{record['val_accuracy']:.4f}"
                    bar.set_postfix(shown_values, refresh=True)
                if callback is not None and callback(epoch, dict(record)):
                    break
            if first_epoch < epochs and v._count_non_finite(self.params):
                # The last update is not followed by a cost: check it here.
                self._rollback()
                raise FloatingPointError(
                    f"training diverged: the last update (epoch {epoch + 1}) made some parameters NaN or "
                    f"infinite; they were rolled back to the state before it. Try a smaller learning rate."
                )
        finally:
            if session is not None:
                session.close()
            if full_batch:
                # The whole-batch blocks hold the batch: not beyond the fit.
                native_blocks.release(self)
            if bar is not None:
                bar.close()
        return history

    def _diverged(self, cost, epoch, epochs, step, n_steps, lr, data=None, indices=None, start=0, b=0):
        where = f"epoch {epoch + 1} of {epochs}, step {step + 1} of {n_steps}"
        examples = bad = None
        if data is not None:
            examples = np.asarray(indices[start:start + b])
            # Only on this failure path: a copy of the batch's columns, to tell bad data from divergence.
            columns = np.asarray(data.X[:, examples])
            finite = np.isfinite(columns).all(axis=0)
            if data.Y is not None:
                finite &= np.isfinite(np.asarray(data.Y[:, examples])).all(axis=0)
            bad = examples[~finite]
        shown = "" if examples is None else f"; the batch held the examples {_index_list(examples)}"
        if bad is not None and bad.size:
            # The batch's data, not the parameters, went bad: the step changed nothing, keep them.
            self._backup_valid = False
            raise FloatingPointError(
                f"non-finite data: the cost became {cost} at {where} because the inputs of the examples "
                f"{_index_list(bad)} hold NaN or infinity{shown}; the parameters were not changed by this batch "
                f"(they are the last finite state). The data changed after fit checked it."
            )
        rolled = self._rollback()
        state = ("the parameters and the optimizer state were rolled back to the last state whose cost was finite"
                 if rolled else "the parameters were not changed (no update had been made in this fit)")
        raise FloatingPointError(
            f"training diverged: the cost became {cost} at {where} (learning rate {lr}){shown}; {state}. "
            f"Try a smaller learning rate, standardised inputs, or float64."
        )

    def _resume(self, path, fit_config, order, indices):
        """Load the checkpoint ``path`` into this network; returns where and how the fit continues."""
        record = _checkpoint.load(path)
        position = record["position"]
        saved = position.get("config")
        if saved != fit_config:
            diff = sorted(k for k in set(saved or {}) | set(fit_config) if (saved or {}).get(k) != fit_config.get(k))
            raise ValueError(
                f"checkpoint {path} was written by a fit with other settings ({', '.join(diff)}): "
                f"saved {({k: (saved or {}).get(k) for k in diff})}, now {({k: fit_config.get(k) for k in diff})}"
            )
        saved_order = record["indices"]
        if saved_order.shape != order.shape or not np.array_equal(np.sort(saved_order), np.sort(order)):
            raise ValueError(f"checkpoint {path} was written for other training examples (its example order "
                             f"does not match this data)")
        _checkpoint.restore(self, record, path)
        np.copyto(indices, saved_order)
        history = position["history"]
        return (int(position["epoch"]), int(position["step"]), (position["total"], position["correct"]), history)

    @staticmethod
    def _check_learning_rate(value, name="learning_rate"):
        value = v.finite_float(name if name == "learning_rate" else f"the learning rate returned by {name}", value,
                               minimum=0.0)
        return value

    @_one_at_a_time
    def fit_course(self, X, Y, learning_rate=0.0075, num_iterations=3000, print_cost=False, dual="auto"):
        """Full-batch gradient descent exactly as the course's ``L_layer_model`` runs it.

        Parameters
        ----------
        X : array_like of shape (n_x, m)
        Y : array_like of shape (n_L, m)
        learning_rate : float
        num_iterations : int
        print_cost : bool
            Print ``Cost after iteration i: ...`` every 100 iterations and at the last.
        dual : {"auto", True, False}, default "auto"
            Run the first layer in dual form (:mod:`fastdnn.dual`) -- the same
            gradient descent at :math:`n_1 m^2` instead of :math:`n_1 n_x m`
            per step -- always (``True``), never (``False``), or as
            :attr:`strategy` says (``"auto"``: with ``"auto"``, when there
            are fewer examples than features; with ``"dual"``, always).

        Returns
        -------
        list of float
            The cost every 100 iterations and at the last one.
        """
        Xc, Yc = self._check_data(X, Y)
        if dual not in ("auto", True, False):
            raise ValueError(f"dual must be 'auto', True or False, got {dual!r}")
        m = Xc.shape[1]
        plan = self._plan_for(plan_mod.Case("course", m, dual=dual if isinstance(dual, str) else bool(dual)))
        if plan.route != "dual":
            # Its steps are train_step's: a forced strategy that cannot serve them says so before the first.
            self._plan_for(self._whole_batch_case(Xc, Yc))
        costs = []
        ws = self._workspace(m)
        form = DualFirstLayer(self._layers[0][0], Xc) if plan.route == "dual" else None
        try:
            for i in range(num_iterations):
                if form is None:
                    cost = self.train_step(Xc, Yc, learning_rate)
                else:
                    self._ran(plan)
                    cost = self._dual_step(form, Yc, ws, learning_rate)
                if not np.isfinite(cost):
                    raise FloatingPointError(f"the cost became {cost} at iteration {i}")
                if i % 100 == 0 or i == num_iterations - 1:
                    costs.append(float(cost))
                    if print_cost:
                        print(f"Cost after iteration {i}: {cost}")
        finally:
            if form is not None:
                form.materialize(self._layers[0][0])
            native_blocks.release(self)
        return costs

    def _dual_step(self, form, Y, ws, learning_rate):
        """One plain gradient-descent step with the first layer in dual form; returns the cost.

        Layers 2..L and every bias take the usual path; the first layer's
        weights stay :math:`W^{(0)}` in the arena while ``form`` tracks them.
        """
        L = self.n_layers
        m = Y.shape[1]
        _, b1 = self._layers[0]
        dW1, db1 = self._grad_layers[0]
        code = self._hidden_code if L > 1 else act.LINEAR
        form.forward(b1, code, self.leaky_slope, ws.A[1])
        self._forward(None, ws, first=2)
        cost = self._output_and_cost(Y, ws, 1.0 / m)
        if not math.isfinite(cost):
            return cost
        self._backward(None, ws, last=2)
        if L > 1:
            act.activation_backward(ws.dA[1], ws.A[1], False, code, self.leaky_slope, 1.0, ws.dZ[1], db1)
        else:
            act.row_sums(ws.dZ[1], 1.0, db1)
        # Everything but W1 (the arena's first slice) steps as usual.
        rest = dW1.size
        update.sgd(self.params[rest:], self.grads[rest:], learning_rate, self.params[rest:])
        form.step(ws.dZ[1], learning_rate, 0.0, 0.0)
        return cost

    # ------------------------------------------------------------ inference

    def _chunk(self, m):
        widest = max(self.layer_dims)
        chunk = max(256, _CHUNK_ELEMENTS // widest)
        if self._buffers is not None:
            chunk = max(chunk, self._buffers.capacity)
        return min(m, chunk)

    def _chunks(self, data, with_targets):
        """Yield ``(start, b, ws, X_chunk, Y_chunk)`` over ``data`` in chunks that share one workspace."""
        m = data.m
        chunk = self._chunk(m)
        positions = np.arange(chunk, dtype=np.int64)
        direct = data.direct_X(self.dtype)
        for start in range(0, m, chunk):
            b = min(chunk, m - start)
            ws = self._workspace(b, cache=(b == chunk))
            X_part = data.X[:, start:start + b]
            if direct:
                X_chunk = X_part  # a product reads a slice of a C or F array in place
            else:
                rows = None if data.rows is None else X_part.T
                X_chunk = _gather_inputs(X_part, rows, positions, 0, ws)
            Y_chunk = None
            if with_targets:
                if data.labels is not None:
                    gather_mod.one_hot(data.labels[start:start + b], positions, 0, ws.Y)
                else:
                    gather_mod.gather(data.Y[:, start:start + b], positions, 0, ws.Y)
                Y_chunk = ws.Y
            yield start, b, ws, X_chunk, Y_chunk

    def _evaluate(self, data):
        with self._lock:
            return self._evaluate_unlocked(data)

    def _evaluate_unlocked(self, data):
        total = 0.0
        correct = 0.0
        for start, b, ws, X_chunk, Y_chunk in self._chunks(data, True):
            self._forward(X_chunk, ws)
            total += float(self._output_and_cost(Y_chunk, ws, 1.0 / b)) * b
            if self.output != "linear":
                metrics.count_correct(ws.A[self.n_layers], Y_chunk, self.output == "softmax", ws.count)
                correct += ws.count[0]
        scores = {"cost": total / data.m}
        if self.output != "linear":
            per_example = 1 if self.output == "softmax" else self.layer_dims[-1]
            scores["accuracy"] = float(correct) / (data.m * per_example)
        return scores

    def evaluate(self, X, Y):
        """Cost and accuracy on ``(X, Y)``, without dropout and without the L2 term.

        Parameters
        ----------
        X : array_like of shape (n_x, m)
        Y : array_like of shape (n_L, m) or (m,)
            As for :meth:`fit`.

        Returns
        -------
        dict
            ``cost``: the mean cost; ``accuracy`` (sigmoid and softmax outputs):
            the fraction of correct answers (per example for softmax, per output
            entry for sigmoid).
        """
        return self._evaluate(self._prepare_data(X, Y))

    def predict_proba(self, X):
        """Output of the network: probabilities (sigmoid, softmax) or values (linear).

        Parameters
        ----------
        X : array_like of shape (n_x, m)
            Any real dtype and layout, as for :meth:`fit`; read in chunks.

        Returns
        -------
        ndarray of shape (n_L, m)
            Of the network's dtype.
        """
        data = _Data(self._prepare_X(X)[0])
        with self._lock:
            return self._predict_proba(data)

    def _predict_proba(self, data):
        out = np.empty((self.layer_dims[-1], data.m), dtype=self.dtype)
        for start, b, ws, X_chunk, _ in self._chunks(data, False):
            Z = self._forward(X_chunk, ws)
            if self.output == "sigmoid":
                act.activation_forward(Z, act.SIGMOID, 0.0, Z)
            elif self.output == "softmax":
                metrics.softmax_columns(Z, Z)
            np.copyto(out[:, start:start + b], Z)
        return out

    def predict(self, X):
        """Predicted labels: 0/1 for sigmoid, class index for softmax, values for linear.

        Parameters
        ----------
        X : array_like of shape (n_x, m)

        Returns
        -------
        ndarray of shape (n_L, m) (sigmoid, linear) or (m,) (softmax)
        """
        P = self.predict_proba(X)
        if self.output == "sigmoid":
            return (P > 0.5).astype(self.dtype)
        if self.output == "softmax":
            return np.argmax(P, axis=0)
        return P

    # ------------------------------------------------------------ persistence

    def _architecture(self):
        return {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "layer_dims": self.layer_dims,
            "hidden": self.hidden,
            "output": self.output,
            "dtype": self.dtype.name,
            "init": self.init,
            "seed": self.seed,
            "leaky_slope": self.leaky_slope,
            "strategy": self._strategy,
            "layout": "weights-then-biases",
            "n_parameters": int(self.params.size),
            "metadata": self.metadata,
        }

    def save(self, path, include_optimizer=False):
        """Write the network to one ``.npz`` file, atomically.

        The file holds the architecture (a small JSON record) and the
        parameter arena (and, on request, the optimizer's state to resume
        training).  It is written to a temporary file in the same folder,
        flushed to disk (``fsync``) and renamed over ``path``, so a crash
        leaves either the old file or the new one, never a torn one.

        Parameters
        ----------
        path : str or path
            Written as given (no suffix is added).
        include_optimizer : bool, default False
            Also save the optimizer, its state and step count.
        
        Raises
        ------
        OSError
            The file cannot be written (missing or read-only folder, full
            disk); the message names it and a previous file stays intact.
        """
        path = os.fspath(path)
        arch = self._architecture()
        arrays = {"params": self.params}
        if include_optimizer:
            arch["optimizer"] = {"name": self._optimizer.name, "config": self._optimizer.get_config(),
                                 "t": self._t}
            arrays["optimizer_state"] = self.state
        try:
            record = json.dumps(arch)
        except TypeError as exc:
            raise TypeError(f"metadata must be JSON-serialisable: {exc}") from None
        arrays["fastdnn_architecture"] = np.array(record)
        # Temporary file, fsync, rename, fsync of the folder; an OSError
        # (missing folder, read-only, full disk) names the file and leaves
        # any previous one intact.
        _checkpoint.atomic_write(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load(cls, path):
        """Read a network written by :meth:`save`.

        Parameters
        ----------
        path : str or path

        Returns
        -------
        Network
            Same architecture, parameters (bit for bit) and metadata; with the
            optimizer and its state when they were saved.

        Raises
        ------
        FileNotFoundError
            No such file.
        ValueError
            The file is not a fastdnn model, or it is truncated or damaged;
            the message names the file.
        """
        path = os.fspath(path)
        arch = _checkpoint.read_archive(path, "model", "fastdnn_architecture", FILE_FORMAT, FILE_VERSION,
                                        "architecture", ("params",), ("optimizer_state",))
        params = arch["params"]
        state = arch.get("optimizer_state")
        try:
            net = cls.__new__(cls)
            net._setup(arch["layer_dims"], arch["hidden"], arch["output"], arch["dtype"], arch["init"],
                       arch["seed"], arch["leaky_slope"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path} is not a fastdnn model file: its architecture record is invalid ({exc})") \
                from None
        if params.shape != net.params.shape or params.dtype != net.dtype:
            raise ValueError(
                f"{path} is damaged: its parameter arena has shape {params.shape} and dtype {params.dtype}, "
                f"the architecture needs ({net.params.size},) of {net.dtype}"
            )
        net.params[...] = params
        net.metadata = arch.get("metadata") or {}
        # Files written before strategies existed leave the choice to fastdnn.
        net.strategy = arch.get("strategy", "auto")
        if state is not None and "optimizer" in arch:
            spec = arch["optimizer"]
            net._reset_optimizer(opt_mod.from_config(spec["name"], spec["config"]))
            if state.shape != net.state.shape:
                raise ValueError(f"{path} is damaged: its optimizer state has shape {state.shape}, "
                                 f"expected {net.state.shape}")
            net.state[...] = state
            net._t = int(spec.get("t", 0))
        return net

    def __getstate__(self):
        # Pickle the arenas only; views and workspaces are rebuilt on load, so
        # that W{l} stay views into the arena.
        return {
            "architecture": self._architecture(),
            "params": self.params,
            "optimizer": (self._optimizer.name, self._optimizer.get_config()),
            "state": self.state,
            "t": self._t,
            "history": self.history,
            "rng": self._rng.bit_generator.state,
            "n_steps": self._n_steps,
        }

    def __setstate__(self, saved):
        arch = saved["architecture"]
        self._setup(arch["layer_dims"], arch["hidden"], arch["output"], arch["dtype"], arch["init"], arch["seed"],
                    arch["leaky_slope"])
        self.params[...] = saved["params"]
        self.metadata = arch.get("metadata") or {}
        self._reset_optimizer(opt_mod.from_config(*saved["optimizer"]))
        self.state[...] = saved["state"]
        self._t = saved["t"]
        self.history = saved["history"]
        self._rng.bit_generator.state = saved["rng"]
        self._n_steps = saved["n_steps"]
        self.strategy = arch.get("strategy", "auto")


class _BlockPlan:
    """Buffers of one batch size split into column blocks: a workspace and a
    gradient arena per block (block 0 writes the network's own arena)."""

    def __init__(self, net, m, n):
        self.net = net
        self.m = m
        self.ranges = workers.split_columns(m, n)
        self.spaces = [_Workspace(net.layer_dims, j1 - j0, net.dtype) for j0, j1 in self.ranges]
        self.arenas = [net.grads] + [np.zeros_like(net.grads) for _ in range(1, n)]
        self.grad_layers = [net._grad_layers] + [_views(a, net._layout) for a in self.arenas[1:]]
        self.costs = np.zeros(n)
        self.finite = [True] * n
        self._args = None
        self._views = {}

    def _block(self, k):
        net = self.net
        X, Y, keep_prob, key, count = self._args
        j0, j1 = self.ranges[k]
        ws = self.spaces[k]
        Xb = self._blocks_of(X)[k]
        np.copyto(ws.Y, self._blocks_of(Y)[k])
        net._forward(Xb, ws, keep_prob, key, False, j0, self.m)
        # The scale is the whole batch's 1/m, so the block gradients add up.
        cost = net._output_and_cost(ws.Y, ws, 1.0 / self.m)
        self.costs[k] = cost * ((j1 - j0) / self.m)
        self.finite[k] = math.isfinite(cost)
        if not self.finite[k]:
            return
        if count:
            ws.count[0] = 0.0
            metrics.count_correct(ws.A[net.n_layers], ws.Y, net.output == "softmax", ws.count)
        net._backward(Xb, ws, keep_prob, self.grad_layers[k], False)

    def _blocks_of(self, array):
        # Column views of the batch, kept while the same array comes back
        # (the gathered batch buffer, or the caller's full batch): a step
        # then makes no new array objects.
        cached = self._views.get(id(array))
        if cached is None or cached[0] is not array:
            cached = (array, [array[:, j0:j1] for j0, j1 in self.ranges])
            if len(self._views) > 8:
                self._views.clear()
            self._views[id(array)] = cached
        return cached[1]

    def run(self, X, Y, ws, keep_prob, key, count):
        """One gradient pass over the batch ``(X, Y)``; returns the cost (the blocks' mean)."""
        self._blocks_of(X)
        self._blocks_of(Y)
        self._args = (X, Y, keep_prob, key, count)
        try:
            with threads.single_threaded_blas():
                self.net._block_workers.run(self._block)
        finally:
            self._args = None
        if not all(self.finite):
            return math.nan if any(c != c for c in self.costs) else math.inf
        for arena in self.arenas[1:]:
            np.add(self.net.grads, arena, out=self.net.grads)
        if count:
            ws.count[0] += sum(space.count[0] for space in self.spaces)
        return float(self.costs.sum())


def _index_list(indices, limit=20):
    """``[3, 17, 42]``, or the first ``limit`` and how many more."""
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    more = f", ... ({indices.size - limit} more)" if indices.size > limit else ""
    return f"[{shown}{more}]"


def _gather_inputs(X, rows, indices, start, ws):
    """Gather a batch of inputs into ``ws``: row by row when ``rows`` (``X.T``) is given, else column by column."""
    if rows is not None:
        gather_mod.gather_rows(rows, indices, start, ws.X_rows)
        return ws.X_rows_T
    gather_mod.gather(X, indices, start, ws.X)
    return ws.X


def _stream_is_terminal(stream):
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def _progress_bar(progress, total):
    """A tqdm bar counting examples, or ``None`` when off or when the output is not a terminal."""
    if not progress or not _stream_is_terminal(sys.stderr):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="ex", unit_scale=True, dynamic_ncols=True, leave=True)
