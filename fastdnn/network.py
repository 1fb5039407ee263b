"""The trainer: a fully-connected network that owns its memory.

The memory -- the parameter, gradient and optimizer arenas, the workspaces
of each batch size, the step counters -- is one
:class:`fastdnn.state.ModelState` (see :mod:`fastdnn.state`); the network
decides how each step runs (:mod:`fastdnn.plan`) and drives the epochs.  A
training step -- gather the batch, forward, cost, backward, update -- only
runs kernels over that memory: it allocates nothing.
"""

import functools
import json
import logging
import math
import os
import sys
import time

import numpy as np

from . import checkpoint as _checkpoint
from . import compiling
from . import config
from . import examples as examples_mod
from . import fitting
from . import native_blocks
from . import optimizers as opt_mod
from . import passes
from . import plan as plan_mod
from . import threads
from . import workers
from .dual import DualFirstLayer
from .examples import Examples
from .fitting import FitSettings
from .initializers import INITS, scale_initial_weights
from .outputs import OUTPUTS as OUTPUT_LAYERS
from .state import ModelState, Workspace, arena_layout, layer_views  # noqa: F401 (arena_layout: older home)
from . import validation as v
from .kernels import activation as act
from .kernels import gather as gather_mod
from .kernels import regularization as reg
from .kernels import update


def _one_at_a_time(method):
    """Run a method that writes the network's arenas under the network's lock.

    Two threads training one network take turns: each step sees the
    parameters the previous one left, never a workspace half-written by
    the other.  The lock is reentrant (``fit`` calls ``train``, ``fit_course``
    calls ``train_step``).
    """

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        with self._model.lock:
            return method(self, *args, **kwargs)

    return locked


#: The hidden activations (the kernels' registry, :data:`fastdnn.kernels.activation.CODES`) and the outputs.
HIDDEN = tuple(act.CODES)
OUTPUTS = tuple(OUTPUT_LAYERS)

#: Identifies a fastdnn model file; bumped when the file layout changes.
FILE_FORMAT = "fastdnn.Network"
FILE_VERSION = 1

log = logging.getLogger("fastdnn")

# Target size (elements) of one activation buffer when predicting in chunks.
_CHUNK_ELEMENTS = 1 << 20


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
    model_state : fastdnn.state.ModelState
        All of the above and the rest of the network's memory (workspaces,
        rollback copy, step counters), as the routes that run steps see it.
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
        head = OUTPUT_LAYERS[self.output]
        if self.layer_dims[-1] < head.min_units:
            raise ValueError(f"a {self.output} output needs at least {head.min_units} units, got layer_dims[-1] = "
                             f"{self.layer_dims[-1]}")
        self._model = ModelState(self.layer_dims, self.dtype, self.hidden, self.output, self.leaky_slope,
                                 self.seed)
        self.history = {}
        self.metadata = {}
        # The route of each kind of step (fastdnn.plan), decided once per case.
        self._strategy = "auto"
        self._plans = {}
        self._plans_generation = config.GENERATION
        self._last_plan = None
        self._steps_by_route = {}
        self._block_plans = {}
        self._block_workers = None

    # ------------------------------------------------------------ parameters

    def _initialize(self):
        rng = np.random.RandomState(self.seed)
        for (W, b), l in zip(self._model.layers, range(1, len(self.layer_dims))):
            draws = rng.randn(self.layer_dims[l], self.layer_dims[l - 1])
            W[...] = scale_initial_weights(draws, self.init)
            b[...] = 0.0

    @property
    def n_layers(self):
        """Number of layers with parameters, ``L``."""
        return len(self.layer_dims) - 1

    @property
    def model_state(self):
        """The network's memory, a :class:`fastdnn.state.ModelState`."""
        return self._model

    @property
    def params(self):
        """The parameter arena, ``(n_parameters,)``: every ``W{l}`` (row-major), then every ``b{l}``."""
        return self._model.params

    @property
    def grads(self):
        """The gradient arena, ``(n_parameters,)``, laid out as :attr:`params`."""
        return self._model.grads

    @property
    def state(self):
        """The optimizer's arena, ``(n_slots * n_parameters,)`` (empty for plain SGD)."""
        return self._model.state

    @property
    def n_weights(self):
        """Number of weights, the leading part of the arenas."""
        return self._model.n_weights

    @property
    def parameters(self):
        """``{"W1": ..., "b1": ...}``: views into the arena, accepted by the course functions.

        Writing into these arrays changes the network.
        """
        out = {}
        for l, (W, b) in enumerate(self._model.layers, start=1):
            out[f"W{l}"] = W
            out[f"b{l}"] = b
        return out

    @property
    def gradients(self):
        """``{"dW1": ..., "db1": ...}``: views into the gradient arena."""
        out = {}
        for l, (dW, db) in enumerate(self._model.grad_layers, start=1):
            out[f"dW{l}"] = dW
            out[f"db{l}"] = db
        return out

    @property
    def optimizer(self):
        """The optimizer whose state :attr:`state` holds."""
        return self._model.optimizer

    def __repr__(self):
        return (f"Network({self.layer_dims}, hidden={self.hidden!r}, output={self.output!r}, "
                f"dtype={self.dtype.name}, init={self.init!r}, seed={self.seed})")

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
            with self._model.lock:
                self._strategy = value
                self._plans.clear()
                native_blocks.release(self._model)

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
        # The checks fit's settings make of the same arguments.
        dropout = fitting.RULES["dropout"]("dropout", dropout)
        kind = plan_mod.optimizer_kind(fitting.RULES["optimizer"]("optimizer", optimizer))
        decay = fitting.RULES["l2"]("l2", l2) > 0.0
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
        if self._plans_generation != config.GENERATION:
            # fastdnn.options changed a threshold: the plans are decided again.
            self._plans.clear()
            self._plans_generation = config.GENERATION
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
        if self._block_workers is None or self._block_workers.n != n:
            self._block_workers = workers.BlockWorkers(n)
        blocks = self._block_plans.get(m)
        if blocks is None or len(blocks.ranges) != n or blocks.workers is not self._block_workers:
            blocks = self._block_plans[m] = _BlockPlan(self._model, m, n, self._block_workers)
        return blocks

    def _gradient_pass(self, X, Y, ws, plan, keep_prob=1.0, key=0, count=False, learning_rate=None, keep=False):
        """Forward, cost and backward on one batch into the gradient arena, the way ``plan`` says; returns the cost.

        ``ws.count`` gets the number of correct answers when ``count``.  The
        gradient is garbage when the returned cost is not finite.
        ``learning_rate`` and ``keep``: see :func:`fastdnn.passes.backward`
        (only for the route ``plain-sgd-in-products``).
        """
        model = self._model
        m = X.shape[1]
        route = plan.route
        if route == "native-whole-batch":
            blocks = native_blocks.direct_pass(model, X, Y, count, plan)
            if blocks is not None:
                self._ran(plan)
                total, ws.count[0] = blocks
                return total / m
            plan = self._plan_for(plan.case, busy=True)
        if plan.route == "threads":
            self._ran(plan)
            return self._worker_blocks(m, plan.blocks).run(X, Y, ws, keep_prob, key, count)
        self._ran(plan)
        return passes.gradient(model, X, Y, ws, 1.0 / m, (keep_prob, key), count=count, fused_rate=learning_rate,
                               keep=keep)

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
        ws = self._model.workspace(X.shape[1])
        if plan.route != "plain-sgd-in-products":
            cost = self._gradient_pass(X, Y, ws, plan)
            update.sgd(self.params, self.grads, learning_rate, self.params)
            return cost
        # The large weights step inside their dW products; the rest here.
        cost = self._gradient_pass(X, Y, ws, plan, learning_rate=learning_rate)
        for params, grads, _ in self._model.fused_plan()[1]:
            update.sgd(params, grads, learning_rate, params)
        return cost

    def _fit_step(self, X, Y, ws, plan, learning_rate, l2, keep_prob, count):
        """One training step of :meth:`fit` on a batch already in place, the way ``plan`` says; returns the cost.

        Forward (with dropout), cost (with the L2 term), and -- only when the
        cost is finite -- backward and the fused update, which copies the
        old parameters and optimizer state into the rollback arena as it
        goes.  A non-finite cost is returned without touching the
        parameters.  Allocates nothing.
        """
        model = self._model
        key = reg.mix_key(model.dropout_seed, model.n_steps) if keep_prob < 1.0 else 0
        if plan.route == "plain-sgd-in-products":
            # As train_step: the large weights step inside their products
            # (the same bits as the course's path), after their copy for a
            # rollback; the rest of the arena in the update kernel.
            cost = self._gradient_pass(X, Y, ws, plan, keep_prob, key, count, learning_rate, True)
            if math.isfinite(cost):
                model.update(model.grads, learning_rate, 0.0, in_products=True)
            return cost
        cost = self._gradient_pass(X, Y, ws, plan, keep_prob, key, count)
        return self._descend(cost, ws, learning_rate, l2, X.shape[1])

    def _descend(self, cost, ws, learning_rate, l2, m):
        """The L2 term and the optimizer's step after a gradient pass on ``m`` examples; returns the cost.

        A non-finite cost is returned without touching the parameters.
        """
        model = self._model
        if math.isfinite(cost):
            cost = model.regularized_cost(cost, ws, l2, m)
        if not math.isfinite(cost):
            return cost
        model.update(model.grads, learning_rate, l2 / m)
        return cost

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
        self._model.head.check_targets("Y", Yc)
        return Xc, Yc

    def prepare(self, X, Y=None, names=("X", "Y"), check_X=True):
        """``X`` and ``Y`` checked once against this network, ready for :meth:`train` and :meth:`evaluate`.

        Parameters
        ----------
        X : array_like of shape (n_x, m)
            As for :meth:`fit`: any real dtype and layout, a memory map
            included (none of them is copied).
        Y : array_like of shape (n_L, m) or (m,), optional
            As for :meth:`fit`; ``None`` for inputs alone (:meth:`predict_proba`).
        names : (str, str), default ("X", "Y")
            What error messages call the two arrays.
        check_X : bool, default True
            Scan ``X`` for NaN and infinity now; ``False`` leaves it to the
            first epoch's gather of a mini-batch fit (one pass over the data
            instead of two; see :meth:`fit`), or to no one when the caller
            has checked ``X`` already.

        Returns
        -------
        fastdnn.examples.Examples
        """
        return examples_mod.prepare(self._model, X, Y, names, check_X)

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
        validation : tuple (X_val, Y_val) or fastdnn.examples.Examples, optional
            Evaluated after each epoch: ``val_cost`` and ``val_accuracy``
            (a pair is checked once, as :meth:`prepare` does).
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
        with self._model.lock:
            # Mini-batches leave X's scan for NaN and inf to train, which does it in the first epoch's
            # gather (one pass over the data instead of two); a full batch is scanned now, before anything.
            data = self.prepare(X, Y, check_X=batch_size is None or checkpoint is not None)
            settings = FitSettings(epochs=epochs, batch_size=batch_size, optimizer=optimizer,
                                   learning_rate=learning_rate, l2=l2, dropout=dropout, shuffle=shuffle,
                                   progress=progress, schedule=schedule, callback=callback, checkpoint=checkpoint,
                                   checkpoint_every=checkpoint_every, resume=resume, verbose=verbose)
            return self.train(data, settings, examples_mod.validation_examples(self._model, validation))

    def train(self, data, settings, validation=None):
        """Train on examples from :meth:`prepare` with the settings of a :class:`fastdnn.fitting.FitSettings`.

        What :meth:`fit` runs once it has checked its arguments; the
        estimators and the command line call it with their own settings
        (a subset of the examples, no accuracy count).

        Parameters
        ----------
        data : fastdnn.examples.Examples
            From :meth:`prepare`.  When its ``X`` is still to be scanned for
            NaN and inf (``prepare(..., check_X=False)``), a mini-batch fit
            scans it in its first epoch's gather and, on a bad value, puts
            the network back as it was before this call; otherwise it is
            scanned before the first step.
        settings : fastdnn.fitting.FitSettings
        validation : fastdnn.examples.Examples, optional
            Evaluated after every epoch.

        Returns
        -------
        dict of list
            The records of this call's epochs (see :meth:`fit`).
        """
        if not isinstance(data, Examples):
            raise TypeError(f"data must be the examples Network.prepare returns, got {type(data).__name__}")
        if not isinstance(settings, FitSettings):
            raise TypeError(f"settings must be a fastdnn.fitting.FitSettings, got {type(settings).__name__}")
        if validation is not None and not isinstance(validation, Examples):
            raise TypeError(f"validation must be the examples Network.prepare returns, got {type(validation).__name__}")
        for examples in (data, validation):
            if examples is not None:
                examples.check_fits(self.layer_dims, self.output)
        with self._model.lock:
            deferred = data.unchecked is not None and settings.batch_size is not None and settings.checkpoint is None
            before = self._model.snapshot() if deferred else None
            try:
                if not deferred:
                    data.check_X()
                return self._train(data, settings, validation)
            except examples_mod.InputNotFinite as error:
                if before is not None:
                    self._model.restore(before)
                raise ValueError(str(error)) from None

    def _whole_batch(self, data, indices, every):
        """The full batch of a fit, ``(X, Y)``: the caller's arrays when a product can read them, else one copy.

        ``every``: ``indices`` are all the examples in order.  The copy is
        made once per fit, not per epoch.
        """
        m = indices.size
        X = data.X if every and data.direct_X(self.dtype) else data.gather_all_X(indices, self.dtype)
        if every and data.direct_Y(self.dtype):
            Y = data.Y
        else:
            Y = np.empty((self.layer_dims[-1], m), dtype=self.dtype)
            data.gather_Y(indices, 0, Y)
        if self._strategy == "native" and not X.flags.c_contiguous:
            # Native blocks read C-ordered columns: one copy for the fit.
            X = np.ascontiguousarray(X)
        return X, Y

    def _fit_plans(self, data, X_full, Y_full, batch, settings):
        """The plans of a fit's steps: ``(plan, session_plan, step_plans)``.

        Full batch (``X_full`` given): the plan of the step on ``(X_full,
        Y_full)``.  Mini-batches: the plan of the fit, the same as
        ``session_plan`` when the native blocks gather the batches
        themselves, else a plan for each size of batch in ``step_plans``
        (the last one's too: a forced strategy that cannot serve it says so
        now, not after an epoch).
        """
        opt_kind = plan_mod.optimizer_kind(self._model.optimizer)
        keep_prob, l2 = settings.keep_prob, settings.l2
        if X_full is not None:
            return self._plan_for(self._whole_batch_case(X_full, Y_full, keep_prob, opt_kind, l2)), None, {}
        m = data.m if settings.indices is None else settings.indices.size
        case = plan_mod.Case("mini-batches", batch, keep_prob < 1.0, opt_kind, l2 > 0.0,
                             data.session_problem(self.dtype), data.batch_problem())
        plan = self._plan_for(case)
        if plan.route in ("native-update", "native-gradient"):
            return plan, plan, {}
        step_plans = {b: self._plan_for(case._replace(kind="whole", batch=b, data=case.batch_data))
                      for b in (batch, m % batch) if b}
        return plan, None, step_plans

    @_one_at_a_time
    def _train(self, data, settings, validation_data):
        model = self._model
        bound = model.snapshot(values=False)
        if settings.optimizer != model.optimizer:
            model.bind(settings.optimizer)
        model.backup_valid = False
        try:
            indices = settings.example_order(data.m)
        except ValueError:
            model.restore(bound)
            raise
        m = indices.size
        order = indices.copy()
        epochs, l2, keep_prob = settings.epochs, settings.l2, settings.keep_prob
        full_batch = settings.batch_size is None or settings.batch_size >= m
        batch = m if full_batch else settings.batch_size
        count = settings.track_accuracy and model.head.counts
        per_example = model.head.answers_per_example(self.layer_dims[-1])
        try:
            X_full, Y_full = self._whole_batch(data, indices, settings.indices is None) if full_batch else (None, None)
            plan, session_plan, step_plans = self._fit_plans(data, X_full, Y_full, batch, settings)
        except ValueError:
            # A forced strategy refused (or the data could not be gathered):
            # the fit leaves the optimizer as it found it.
            model.restore(bound)
            raise
        session = None
        if full_batch:
            ws = model.workspace(m)
        else:
            ws_full = model.workspace(batch)
            rest = m % batch
            ws_rest = model.workspace(rest) if rest else None

        checkpoints = fitting.Checkpoints(settings, model, self, m, batch, indices)
        first_epoch, first_step, resumed_sums, history = checkpoints.resume(order)
        bar = _progress_bar(settings.progress, epochs * m)
        try:
            if not full_batch and session_plan is not None:
                # Small steps: column blocks on spinning threads, one Numba call a step.
                session = native_blocks.open_session(model, data, indices, count, session_plan)
                if session is None:
                    step_plans = {b: self._plan_for(session_plan.case._replace(batch=b), busy=True)
                                  for b in (batch, rest) if b}
            running = plan if full_batch or session is not None else step_plans[batch]
            route = running.route
            log.debug("fastdnn fit of %s %s on %d examples%s: %s", self.layer_dims, self.dtype.name, m,
                      "" if full_batch else f" in batches of {batch}", running)
            if settings.verbose:
                print(f"fastdnn: {running}")
            if full_batch or session is not None:
                # Their gathers do not look for NaN and inf: the whole scan now, before the first step.
                data.check_X()
            for epoch in range(first_epoch, epochs):
                lr = settings.rate(epoch)
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
                            fitting.diverged(model, cost, f"epoch {epoch + 1} of {epochs}, step 1 of 1", lr, data,
                                             indices)
                        total = cost
                        correct = ws.count[0]
                        if checkpoints.due():
                            checkpoints.save(epoch, 1, (total, correct), history)
                    if bar is not None:
                        bar.update(m)
                else:
                    if settings.shuffle and not skip:
                        # From the same starting order each epoch, so that two
                        # fit calls continue exactly like one.
                        np.copyto(indices, order)
                        model.rng.shuffle(indices)
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
                            fitting.diverged(model, cost, f"epoch {epoch + 1} of {epochs}, step {step + 1} of "
                                             f"{n_steps}", lr, data, indices[start:start + b])
                        total += cost * (b / m)
                        correct += wsb.count[0]
                        if checkpoints.due():
                            checkpoints.save(epoch, step + 1, (total, correct), history)
                        if bar is not None:
                            bar.update(b)
                            now = time.perf_counter()
                            if now - shown > 0.5:
                                bar.set_postfix(loss=f"{total * m / (start + b):.4g}", refresh=False)
                                shown = now
                # Every example has been gathered, and checked on the way, once.
                data.unchecked = None
                # Training time: a first epoch's kernel compiles are left out.
                # (The process's compiles: another thread's may fall in this epoch, hence the floor.)
                record = fitting.epoch_record(self.history, total, correct, m * per_example if count else None, lr,
                                              time.perf_counter() - compiling.seconds() - started)
                if validation_data is not None:
                    fitting.add_scores(record, self._evaluate(validation_data))
                fitting.append_record(record, history, self.history)
                checkpoints.save(epoch + 1, 0, (0.0, 0.0), history)
                if bar is not None:
                    shown_values = {"loss": f"{record['cost']:.4g}"}
                    if "val_accuracy" in record:
                        shown_values["val_acc"] = f"{record['val_accuracy']:.4f}"
                    bar.set_postfix(shown_values, refresh=True)
                if settings.callback is not None and settings.callback(epoch, dict(record)):
                    break
            if first_epoch < epochs:
                # The last update is not followed by a cost: check it here.
                fitting.check_last_update(model, epoch)
        finally:
            if session is not None:
                session.close()
            if full_batch:
                # The whole-batch blocks hold the batch: not beyond the fit.
                native_blocks.release(model)
            if bar is not None:
                bar.close()
        return history

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
        model = self._model
        ws = model.workspace(m)
        form = DualFirstLayer(model.layers[0][0], Xc) if plan.route == "dual" else None
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
                form.materialize(model.layers[0][0])
            native_blocks.release(model)
        return costs

    def _dual_step(self, form, Y, ws, learning_rate):
        """One plain gradient-descent step with the first layer in dual form; returns the cost.

        Layers 2..L and every bias take the usual path; the first layer's
        weights stay :math:`W^{(0)}` in the arena while ``form`` tracks them.
        """
        L = self.n_layers
        m = Y.shape[1]
        model = self._model
        _, b1 = model.layers[0]
        dW1, db1 = model.grad_layers[0]
        code = model.hidden_code if L > 1 else act.LINEAR
        form.forward(b1, code, self.leaky_slope, ws.A[1])
        cost = passes.gradient(model, None, Y, ws, 1.0 / m, span=(2, 2))
        if not math.isfinite(cost):
            return cost
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
        if self._model.buffers is not None:
            chunk = max(chunk, self._model.buffers.capacity)
        return min(m, chunk)

    def _chunks(self, data, with_targets):
        """Yield ``(start, b, ws, X_chunk, Y_chunk)`` over ``data`` in chunks that share one workspace."""
        m = data.m
        chunk = self._chunk(m)
        positions = np.arange(chunk, dtype=np.int64)
        direct = data.direct_X(self.dtype)
        for start in range(0, m, chunk):
            b = min(chunk, m - start)
            ws = self._model.workspace(b, cache=(b == chunk))
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
        with self._model.lock:
            return self._evaluate_unlocked(data)

    def _evaluate_unlocked(self, data):
        head = self._model.head
        total = 0.0
        correct = 0.0
        for start, b, ws, X_chunk, Y_chunk in self._chunks(data, True):
            passes.forward(self._model, X_chunk, ws)
            total += float(passes.output_and_cost(self._model, Y_chunk, ws, 1.0 / b)) * b
            if head.counts:
                head.count_correct(ws.A[self.n_layers], Y_chunk, ws.count)
                correct += ws.count[0]
        scores = {"cost": total / data.m}
        if head.counts:
            scores["accuracy"] = float(correct) / (data.m * head.answers_per_example(self.layer_dims[-1]))
        return scores

    def evaluate(self, X, Y=None):
        """Cost and accuracy on ``(X, Y)``, without dropout and without the L2 term.

        Parameters
        ----------
        X : array_like of shape (n_x, m), or fastdnn.examples.Examples
            Inputs, or inputs and targets from :meth:`prepare` (``Y`` then
            stays ``None``).
        Y : array_like of shape (n_L, m) or (m,)
            As for :meth:`fit`.

        Returns
        -------
        dict
            ``cost``: the mean cost; ``accuracy`` (sigmoid and softmax outputs):
            the fraction of correct answers (per example for softmax, per output
            entry for sigmoid).
        """
        if isinstance(X, Examples) and Y is None:
            X.check_fits(self.layer_dims, self.output)
            if X.Y is None and X.labels is None:
                raise ValueError("evaluate needs targets: these examples were prepared without Y")
            return self._evaluate(X)
        if Y is None:
            raise TypeError("evaluate needs Y, the targets of X")
        return self._evaluate(self.prepare(X, Y))

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
        data = self.prepare(X)
        with self._model.lock:
            return self._predict_proba(data)

    def _predict_proba(self, data):
        out = np.empty((self.layer_dims[-1], data.m), dtype=self.dtype)
        for start, b, ws, X_chunk, _ in self._chunks(data, False):
            Z = passes.forward(self._model, X_chunk, ws)
            self._model.head.to_outputs(Z)
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
        return self._model.head.answers(self.predict_proba(X), self.dtype)

    # ------------------------------------------------------------ persistence

    @property
    def architecture(self):
        """The record saved with the model (and checked when a checkpoint resumes): a JSON-ready dict.

        ``format``, ``version``, ``layer_dims``, ``hidden``, ``output``,
        ``dtype``, ``init``, ``seed``, ``leaky_slope``, ``strategy``,
        ``layout``, ``n_parameters`` and ``metadata``.
        """
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
        arch = self.architecture
        arrays = {"params": self.params}
        if include_optimizer:
            arch["optimizer"] = self._model.training_record()["optimizer"]
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
            optimizer = opt_mod.from_config(spec["name"], spec["config"])
            expected = (optimizer.n_slots * net.params.size,)
            if state.shape != expected:
                raise ValueError(f"{path} is damaged: its optimizer state has shape {state.shape}, "
                                 f"expected {expected}")
            net._model.load(net.params, optimizer, state, int(spec.get("t", 0)))
        return net

    def __getstate__(self):
        # Pickle the arenas only; views and workspaces are rebuilt on load, so
        # that W{l} stay views into the arena.
        model = self._model
        return {
            "architecture": self.architecture,
            "params": model.params,
            "optimizer": (model.optimizer.name, model.optimizer.get_config()),
            "state": model.state,
            "t": model.t,
            "history": self.history,
            "rng": model.rng.bit_generator.state,
            "n_steps": model.n_steps,
        }

    def __setstate__(self, saved):
        arch = saved["architecture"]
        self._setup(arch["layer_dims"], arch["hidden"], arch["output"], arch["dtype"], arch["init"], arch["seed"],
                    arch["leaky_slope"])
        self.metadata = arch.get("metadata") or {}
        self._model.load(saved["params"], opt_mod.from_config(*saved["optimizer"]), saved["state"], saved["t"],
                         saved["n_steps"], saved["rng"])
        self.history = saved["history"]
        self.strategy = arch.get("strategy", "auto")


class _BlockPlan:
    """Buffers of one batch size split into column blocks: a workspace and a
    gradient arena per block (block 0 writes the state's own arena), run by ``workers``."""

    def __init__(self, state, m, n, block_workers):
        self.state = state
        self.m = m
        self.workers = block_workers
        self.ranges = workers.split_columns(m, n)
        self.spaces = [Workspace(state.layer_dims, j1 - j0, state.dtype) for j0, j1 in self.ranges]
        self.arenas = [state.grads] + [np.zeros_like(state.grads) for _ in range(1, n)]
        self.grad_layers = [state.grad_layers] + [layer_views(a, state.layout) for a in self.arenas[1:]]
        self.costs = np.zeros(n)
        self.finite = [True] * n
        self._args = None
        self._views = {}

    def _block(self, k):
        state = self.state
        X, Y, keep_prob, key, count = self._args
        j0, j1 = self.ranges[k]
        ws = self.spaces[k]
        Xb = self._blocks_of(X)[k]
        np.copyto(ws.Y, self._blocks_of(Y)[k])
        # The scale is the whole batch's 1/m, so the block gradients add up.
        cost = passes.gradient(state, Xb, ws.Y, ws, 1.0 / self.m, (keep_prob, key), (j0, self.m),
                               grad_layers=self.grad_layers[k], parallel=False, count=count)
        self.costs[k] = cost * ((j1 - j0) / self.m)
        self.finite[k] = math.isfinite(cost)

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
                self.workers.run(self._block)
        finally:
            self._args = None
        if not all(self.finite):
            return math.nan if any(c != c for c in self.costs) else math.inf
        grads = self.state.grads
        for arena in self.arenas[1:]:
            np.add(grads, arena, out=grads)
        if count:
            ws.count[0] += sum(space.count[0] for space in self.spaces)
        return float(self.costs.sum())


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
