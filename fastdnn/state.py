"""The model's memory: arenas, optimizer binding, workspaces, step counters.

A :class:`ModelState` is everything a training step reads and writes, and
nothing about how the step is run.  The parameters live in one contiguous
arena (each ``W{l}``, ``b{l}`` a view into it; every layer's weights first,
then the biases, so that L2 decay covers one prefix), the gradients in a
second arena of the same layout, the optimizer's state (velocity, moments)
in a third, and the activations of a batch in a :class:`Workspace` that is
allocated once per batch size and reused.  The network owns one state; the
routes that run steps (:mod:`fastdnn.native_blocks`, the worker blocks) and
:mod:`fastdnn.checkpoint` receive the state, never the network;
:mod:`fastdnn.distributed` steps the state and keeps the network only for its
public records (history, metadata, evaluation).
"""

import contextlib
import threading

import numpy as np

from . import optimizers as opt_mod
from . import plan as plan_mod
from .outputs import OUTPUTS
from .kernels import activation as act
from .kernels import bfloat16
from .kernels import regularization as reg
from .kernels import update


def arena_views(shapes, dtype):
    """A flat zeroed array and views of ``shapes`` into it, in order: ``(flat, [views])``.

    For the small loops that step every parameter in one pass over ``flat``
    (week 3's ``nn_model``, the second part's models) while their layers read
    the views.
    """
    flat = np.zeros(sum(int(np.prod(s)) for s in shapes), dtype=dtype)
    views, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        views.append(flat[offset:offset + size].reshape(shape))
        offset += size
    return flat, views


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


def layer_views(arena, layout):
    """``[(W1, b1), (W2, b2), ...]``: views into ``arena`` laid out by :func:`arena_layout`."""
    return [(arena[w].reshape(ws), arena[b].reshape(bs)) for w, ws, b, bs in layout]


class Buffers:
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


class Workspace:
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
        self._buffers = Buffers(m) if buffers is None else buffers
        self._A = self._dZ = self._dA = None
        self.cost = np.zeros(1, dtype=np.float64)
        # Per-example scratch of the softmax output (column max / log-sum-exp, sums of exponentials).
        self.softmax_shift, self.softmax_norm = self._buffers.get("softmax_scratch", 2, m, np.float64)
        self.count = np.zeros(1, dtype=np.float64)
        self.square_sum = np.zeros(1, dtype=np.float64)
        self._X = self._Y = self._masks = self._X_rows = self._X_c = None
        self._A16 = self._dZ16 = None

    # The layer buffers are made on first use: a batch split into column
    # blocks never touches its whole-batch ones.
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
    def X_c(self):
        """A C-ordered ``(n_x, m)`` copy of the rows gathered into :attr:`X_rows` (its own memory)."""
        if self._X_c is None:
            self._X_c = self._buffers.get("X_c", self._dims[0], self.m, self.dtype)
        return self._X_c

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

    # bfloat16 copies of a bf16 step (fastdnn.precision): the products' operands.
    @property
    def A16(self):
        """``A16[l]``: the bfloat16 bits of hidden layer ``l``'s activation, ``(n_l, m)`` uint16."""
        if self._A16 is None:
            dims, m = self._dims, self.m
            self._A16 = [None] + [self._buffers.get(f"A16_{l}", dims[l], m, np.uint16)
                                  for l in range(1, len(dims) - 1)]
        return self._A16

    @property
    def dZ16(self):
        """``dZ16[l]``: the bfloat16 bits of layer ``l``'s ``dZ``, ``(n_l, m)`` uint16 (one buffer for all)."""
        if self._dZ16 is None:
            dims, m = self._dims, self.m
            flat = self._buffers.get("dZ16", max(dims[1:]), m, np.uint16).reshape(-1)
            self._dZ16 = [None] + [flat[: dims[l] * m].reshape(dims[l], m) for l in range(1, len(dims))]
        return self._dZ16

    def X16(self, X):
        """The bfloat16 bits of the batch's inputs ``X``, ``(n_x, m)``: C-ordered, or the transpose of C-ordered rows."""
        n_x, m = self._dims[0], self.m
        if X.dtype == np.float32 and X.flags.f_contiguous and not X.flags.c_contiguous:
            rows = self._buffers.get("X16", n_x, m, np.uint16).reshape(m, n_x)
            bfloat16.round_into(X.T, rows)
            return rows.T
        if X.dtype != np.float32 or not X.flags.c_contiguous:
            np.copyto(self.X, X)  # (a strided or float64 batch: once into the batch buffer, in float32)
            X = self.X
        out = self._buffers.get("X16", n_x, m, np.uint16)
        bfloat16.round_into(X, out)
        return out

    @property
    def masks(self):
        """Dropout masks of the hidden layers, ``masks[l]`` of shape ``(n_l, m)``, uint8."""
        if self._masks is None:
            L = len(self._dims) - 1
            self._masks = [None] + [self._buffers.get(f"mask{l}", self._dims[l], self.m, np.uint8)
                                    for l in range(1, L)]
        return self._masks


class Snapshot:
    """What :meth:`ModelState.snapshot` took: the optimizer binding, the counters, and optionally the values."""

    __slots__ = ("values", "optimizer", "state", "slots", "keep", "t", "backup_t", "backup_valid", "n_steps",
                 "rng")


class ModelState:
    """The memory of one network: what a training step reads and writes.

    Parameters
    ----------
    layer_dims : list of int
        ``[n_x, n_1, ..., n_L]`` (checked by the network).
    dtype : numpy.dtype
        float32 or float64.
    hidden, output : str
        Activation of the hidden layers and the output layer's kind (the
        network's names); ``hidden_code`` is the activation kernels' code,
        ``head`` the output's :class:`fastdnn.outputs.Output`.
    leaky_slope : float
    seed : int or None
        Seeds the shuffling generator and the dropout stream.

    Attributes
    ----------
    params, grads : ndarray of shape (n_parameters,)
        The parameter and gradient arenas; ``layers`` and ``grad_layers``
        hold their ``(W, b)`` views per layer.
    optimizer : fastdnn.optimizers.Optimizer
        The bound optimizer; ``state`` is its arena (``n_slots`` times the
        parameters), ``slots`` its per-slot views, ``t`` its step count.
    keep : ndarray
        The rollback copy: the parameters and then the optimizer state as
        they were before the last update (see :meth:`rollback`).
    n_steps : int
        Updates made over the network's life (the dropout stream and
        ``checkpoint_every`` count them).
    rng : numpy.random.Generator
        Shuffles the examples; ``dropout_seed`` keys the dropout masks.
    lock : threading.RLock
        Held by every operation that writes the arenas or the workspaces.
    direct_session : object or None
        The native column blocks of the last whole batch
        (:func:`fastdnn.native_blocks.direct_pass`), kept between steps.
    executor_cache : dict
        What executors keep between calls (:mod:`fastdnn.executors`):
        worker threads and column-block buffers.

    Notes
    -----
    Memory: the parameter arena, the gradient arena, the optimizer's arena
    (0, 1 or 2 times the parameters for SGD, momentum, Adam), a rollback copy
    of the parameters and of the optimizer state, another taken at the start
    of each mini-batch fit (its check of ``X`` for NaN and inf can undo the
    call), and one workspace shared by every batch size up to the largest
    seen: per layer an ``(n_l, m)`` activation, two ``(max n_l, m)`` scratch
    buffers for the backward pass, the ``(n_x, m)`` batch of inputs and, with
    dropout, a uint8 mask per hidden layer.
    """

    def __init__(self, layer_dims, dtype, hidden, output, leaky_slope, seed):
        self.layer_dims = layer_dims
        self.dtype = np.dtype(dtype)
        self.hidden = hidden
        self.output = output
        self.leaky_slope = leaky_slope
        # One activation code per hidden layer; hidden_code is the one of them all (native blocks, which
        # run one) -- a network whose layers differ (mixed_hidden) never gets native blocks (its plans).
        self.mixed_hidden = isinstance(hidden, list)
        self.hidden_codes = tuple(act.CODES[h] for h in hidden) if self.mixed_hidden else \
            (act.CODES[hidden],) * (len(layer_dims) - 2)
        self.hidden_code = act.CODES[hidden[0] if self.mixed_hidden else hidden]
        self.head = OUTPUTS[output]
        self.layout, n_params = arena_layout(layer_dims)
        self.n_weights = self.layout[-1][0].stop
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self.layers = layer_views(self.params, self.layout)
        self.grad_layers = layer_views(self.grads, self.layout)
        self.buffers = None
        self.workspaces = {}
        self.reseed(seed)
        self.n_steps = 0
        # The running fit's gradient clipping, (clip_value, clip_norm) with 0 for none (FitSettings.clip).
        self.clip = None
        # Per-block partial sums of the weights' squares (the L2 term).
        self.partials = np.zeros(reg.n_sum_blocks(self.n_weights), dtype=np.float64)
        # The values at the start of a fit (see Network.fit's deferred check of X), reused call to call.
        self._saved_values = np.empty(0, dtype=self.dtype)
        self._fused = None
        self._params16 = self._layers16 = None
        self.direct_session = None
        # What executors keep between calls, by key: worker threads, column-block buffers
        # (fastdnn.executors.threads); they live as long as this state.
        self.executor_cache = {}
        self.lock = threading.RLock()
        self.bind(opt_mod.SGD())

    @contextlib.contextmanager
    def clipping(self, clip):
        """The fit's gradient clipping (:attr:`fastdnn.fitting.FitSettings.clip`) in force for a ``with``
        block, then the one before it again (a fit from a callback of a fit puts the outer one back)."""
        outer, self.clip = self.clip, clip
        try:
            yield
        finally:
            self.clip = outer

    def reseed(self, seed):
        """Seed the randomness of training: the shuffling generator and the dropout masks' key."""
        seq = np.random.SeedSequence(seed)
        self.rng = np.random.default_rng(seq)
        self.dropout_seed = int(seq.generate_state(2, np.uint64)[1]) >> 1

    @property
    def n_layers(self):
        """Number of layers with parameters, ``L``."""
        return len(self.layer_dims) - 1

    # ------------------------------------------------------------ buffers

    def named(self, gradients=False):
        """``{"W1": ..., "b1": ...}`` (or ``{"dW1": ..., "db1": ...}``): views into the arena, by the course's names."""
        prefix, layers = ("d", self.grad_layers) if gradients else ("", self.layers)
        out = {}
        for l, (W, b) in enumerate(layers, start=1):
            out[f"{prefix}W{l}"] = W
            out[f"{prefix}b{l}"] = b
        return out

    def workspace(self, m, cache=True):
        """The :class:`Workspace` of batches of ``m`` examples (kept when ``cache``)."""
        ws = self.workspaces.get(m)
        if ws is None:
            if self.buffers is None or m > self.buffers.capacity:
                # A larger batch: new storage; workspaces of the old one are
                # dropped (the ones in use keep their memory alive).
                self.buffers = Buffers(m)
                self.workspaces.clear()
            ws = Workspace(self.layer_dims, m, self.dtype, self.buffers)
            if cache:
                self.workspaces[m] = ws
        return ws

    # ------------------------------------------------------------ the optimizer

    def bind(self, optimizer):
        """Bind ``optimizer``: a zeroed state arena of its size, step count 0."""
        p = self.params.size
        self.optimizer = optimizer
        self.state = np.zeros(optimizer.n_slots * p, dtype=self.dtype)
        self.slots = tuple(self.state[k * p:(k + 1) * p] for k in range(optimizer.n_slots))
        self.t = 0
        # Rollback copy of the parameters and then the state, written by each
        # update before it changes them.
        self.keep = np.empty((1 + optimizer.n_slots) * p, dtype=self.dtype)
        self.backup_t = 0
        self.backup_valid = False

    def load(self, params, optimizer, state, t, n_steps=None, rng=None):
        """Put saved values in place: the parameters, ``optimizer`` bound with its ``state`` arena and step ``t``.

        ``n_steps`` and ``rng`` (a bit generator's state) when given.  The
        caller has checked the shapes and dtypes.
        """
        self.bind(optimizer)
        if rng is not None:
            self.rng.bit_generator.state = rng
        self.params[...] = params
        self.state[...] = state
        self.t = int(t)
        if n_steps is not None:
            self.n_steps = int(n_steps)

    def training_record(self):
        """The JSON-ready counters a checkpoint keeps: ``{"optimizer": ..., "n_steps": ..., "rng": ...}``."""
        return {"optimizer": {"name": self.optimizer.name, "config": self.optimizer.get_config(), "t": int(self.t)},
                "n_steps": int(self.n_steps), "rng": self.rng.bit_generator.state}

    def snapshot(self, values=True):
        """The optimizer binding and the counters, and with ``values`` a copy of the parameters and state.

        :meth:`restore` puts them back.  The copy goes into a buffer kept
        from call to call (a new one costs its page faults each time).
        """
        saved = Snapshot()
        saved.values = None
        if values:
            p, size = self.params.size, self.params.size + self.state.size
            if self._saved_values.size != size:
                self._saved_values = np.empty(size, dtype=self.dtype)
            np.copyto(self._saved_values[:p], self.params)
            np.copyto(self._saved_values[p:], self.state)
            saved.values = self._saved_values
        saved.optimizer, saved.state, saved.slots, saved.keep = self.optimizer, self.state, self.slots, self.keep
        saved.t, saved.backup_t, saved.backup_valid = self.t, self.backup_t, self.backup_valid
        saved.n_steps, saved.rng = self.n_steps, self.rng.bit_generator.state
        return saved

    def restore(self, saved):
        """Put back what :meth:`snapshot` took.

        Without values (``snapshot(values=False)``) only the optimizer
        binding and its step counts come back: what a fit that stops
        before its first step may have replaced.  With values, everything:
        the arenas' values, the counters and the shuffling generator.
        """
        self.optimizer, self.state, self.slots, self.keep = saved.optimizer, saved.state, saved.slots, saved.keep
        self.t, self.backup_t = saved.t, saved.backup_t
        if saved.values is None:
            return
        self.backup_valid, self.n_steps = saved.backup_valid, saved.n_steps
        self.rng.bit_generator.state = saved.rng
        p = self.params.size
        np.copyto(self.params, saved.values[:p])
        np.copyto(self.state, saved.values[p:])

    # ------------------------------------------------------------ the update

    def fused_plan(self):
        """Which layers take plain gradient descent inside their ``dW`` product, and the rest of the arena.

        Returns ``(flags, rest)``: a flag per layer (see
        :func:`fastdnn.plan.fused_layers`), and the ``(params, grads, keep)``
        views of every run of the arenas the fused products leave to the
        update kernel (the other weights, the biases).  ``keep_layers``
        then holds each layer's ``W``-shaped view of the rollback copy.
        """
        plan = self._fused
        if plan is None or plan[2] is not self.keep:
            flags = plan_mod.fused_layers(self.layer_dims)
            runs, start = [], 0
            for (w, _, _, _), flag in zip(self.layout, flags):
                if flag:
                    if w.start > start:
                        runs.append((start, w.start))
                    start = w.stop
            runs.append((start, self.params.size))
            p = self.params.size
            rest = [(self.params[a:b], self.grads[a:b], self.keep[a:b]) for a, b in runs if b > a]
            self.keep_layers = [self.keep[:p][w].reshape(shape) for w, shape, _, _ in self.layout]
            plan = self._fused = (flags, rest, self.keep)
        return plan[0], plan[1]

    def weights16(self):
        """Every layer's ``W`` rounded to bfloat16 (uint16 bits) now, for a bf16 step: ``[W16_1, W16_2, ...]``.

        One pass over the weights a step, before its forward pass, so that
        the copy is never stale, whatever moved the parameters (the
        optimizer, a rollback, a load, a user's assignment).
        """
        if self._params16 is None:
            self._params16 = np.empty(self.n_weights, dtype=np.uint16)
            self._layers16 = [self._params16[w].reshape(shape) for w, shape, _, _ in self.layout]
        bfloat16.round_into(self.params[:self.n_weights], self._params16)
        return self._layers16

    def regularized_cost(self, cost, ws, l2, m):
        """``cost`` plus the L2 term :math:`\\frac{\\lambda}{2m}\\sum W^2` (``ws.square_sum`` gets the sum)."""
        if l2 == 0.0:
            return cost
        reg.sum_of_squares(self.params, self.n_weights, self.partials, ws.square_sum)
        return cost + (l2 / (2.0 * m)) * ws.square_sum[0]

    def update(self, grads, learning_rate, decay, in_products=False, numpy=False):
        """The optimizer's step, keeping the old parameters and state for :meth:`rollback`.

        ``in_products``: plain SGD whose large weights already stepped inside
        their products (:func:`fastdnn.passes.backward`); only the rest of
        the arena is left.  ``numpy``: the optimizer's step in NumPy calls
        (:meth:`fastdnn.optimizers.Optimizer.numpy_step`, the route ``numpy``).
        """
        self.backup_t = self.t
        self.t += 1
        if numpy:
            p = self.params.size
            np.copyto(self.keep[:p], self.params)
            np.copyto(self.keep[p:], self.state)
            self.optimizer.numpy_step(self.params, grads, self.slots, learning_rate, decay, self.n_weights, self.t)
        elif in_products:
            for params, rest_grads, keep in self.fused_plan()[1]:
                update.sgd_l2(params, rest_grads, learning_rate, 0.0, 0, keep)
        elif self.optimizer.takes_keep:
            self.optimizer.step(self.params, grads, self.slots, learning_rate, decay, self.n_weights, self.t,
                                keep=self.keep)
        else:
            p = self.params.size
            np.copyto(self.keep[:p], self.params)
            np.copyto(self.keep[p:], self.state)
            self.optimizer.step(self.params, grads, self.slots, learning_rate, decay, self.n_weights, self.t)
        self.backup_valid = True
        self.n_steps += 1

    def count_update(self):
        """What :meth:`update` records around its kernel, for an update made elsewhere (native blocks)."""
        self.backup_t = self.t
        self.t += 1
        self.backup_valid = True
        self.n_steps += 1

    def rollback(self):
        """Restore the parameters and optimizer state saved before the last update; ``False`` if none."""
        if not self.backup_valid:
            return False
        p = self.params.size
        np.copyto(self.params, self.keep[:p])
        np.copyto(self.state, self.keep[p:])
        self.t = self.backup_t
        self.backup_valid = False
        return True
