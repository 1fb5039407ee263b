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
import os

import numpy as np

from . import checkpoint as _checkpoint
from . import config
from . import examples as examples_mod
from . import executors
from . import fitting
from . import optimizers as opt_mod
from . import passes
from . import plan as plan_mod
from .examples import Examples
from .executors import Batch
from .fitting import FitSettings
from .loop import TrainLoop
from .initializers import INITS, scale_initial_weights
from .outputs import OUTPUTS as OUTPUT_LAYERS
from .state import ModelState, arena_layout  # noqa: F401 (arena_layout: older home)
from . import validation as v
from .kernels import activation as act
from .kernels import gather as gather_mod


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
            self._calls += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                self._calls -= 1
                if not self._calls and self._retired:
                    self._close_retired()

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
        # The executor of each plan (fastdnn.executors), opened on first use; those of
        # plans no longer current are closed when no call of this network runs them.
        self._executors = {}
        self._retired = []
        self._calls = 0

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
                self._retire_executors()

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
            self._retire_executors()
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

    # ------------------------------------------------------------ executors

    def _executor(self, plan):
        """The executor of ``plan`` (:mod:`fastdnn.executors`), opened on first use and kept until the strategy changes.

        Not for executors that bind one call's data (``binds_data``: opened per call).
        """
        executor = self._executors.get(plan)
        if executor is None:
            executor = executors.open_executor(plan, self._model, report=self._ran,
                                               fallback=functools.partial(self._busy_executor, plan.case))
            self._executors[plan] = executor
        return executor

    def _busy_executor(self, case):
        """The executor of ``case`` while another fit holds the native threads (:func:`fastdnn.plan.when_busy`)."""
        return self._executor(self._plan_for(case, busy=True))

    def _retire_executors(self):
        """Put the executors aside: closed now, or when the call running them (a fit whose callback changed the strategy) ends."""
        self._retired.extend(self._executors.values())
        self._executors = {}
        # Without waiting: a fit running on another thread closes them when it ends.
        if self._model.lock.acquire(blocking=False):
            try:
                if not self._calls:
                    self._close_retired()
            finally:
                self._model.lock.release()

    def _close_retired(self):
        retired, self._retired = self._retired, []
        try:
            for executor in retired:
                executor.close()
        finally:
            # Also after an interrupted close: what the state keeps lets the caller's batch go.
            executors.release(self._model)

    def _release_batches(self):
        # The executors that keep a caller's batch between steps let it go.
        executors.release(self._model)

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
        m = X.shape[1]
        return self._executor(plan).descend(Batch(X, Y, 0, m), self._model.workspace(m), learning_rate)

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
        if plan_mod.needs_c_order(self._strategy) and not X.flags.c_contiguous:
            # One copy for the fit, so that the held strategy can serve it.
            X = np.ascontiguousarray(X)
        return X, Y

    def _fit_plans(self, data, whole, m, settings):
        """The plan of each size of batch of a fit: ``{size: plan}``.

        Full batch (``whole``: its ``(X, Y)``): the plan of the step on it.
        Mini-batches of ``m`` examples: the plan of the fit for every size
        when its executor gathers the batches itself, else a plan for each
        size (the last batch's too: a forced strategy that cannot serve it
        says so now, not after an epoch).
        """
        opt_kind = plan_mod.optimizer_kind(self._model.optimizer)
        keep_prob, l2 = settings.keep_prob, settings.l2
        if whole is not None:
            return {m: self._plan_for(self._whole_batch_case(whole[0], whole[1], keep_prob, opt_kind, l2))}
        batch = settings.batch_size
        case = plan_mod.Case("mini-batches", batch, keep_prob < 1.0, opt_kind, l2 > 0.0,
                             data.session_problem(self.dtype), data.batch_problem())
        plan = self._plan_for(case)
        sizes = [b for b in (batch, m % batch) if b]
        if executors.EXECUTORS[plan.route].gathers:
            return {b: plan for b in sizes}
        return {b: self._plan_for(case._replace(kind="whole", batch=b, data=case.batch_data)) for b in sizes}

    def _fit_executors(self, plans, loop, opened):
        """The executor of each size of batch: ``{size: executor}``; those opened for this fit go in ``opened``."""
        runners = {}
        busy = False
        for b, plan in plans.items():
            if not executors.EXECUTORS[plan.route].binds_data:
                runners[b] = self._executor(plan)
                continue
            executor = opened.get(plan)
            if executor is None and not busy:
                executor = executors.open_executor(plan, self._model, report=self._ran, data=loop.data,
                                                   indices=loop.indices, count=loop.count)
            if executor is None:
                # Another fit holds the native threads.
                busy = True
                runners[b] = self._busy_executor(plan.case._replace(batch=b))
            else:
                opened[plan] = runners[b] = executor
        return runners

    @_one_at_a_time
    def _train(self, data, settings, validation_data):
        model = self._model
        bound = model.snapshot(values=False)
        if settings.optimizer != model.optimizer:
            model.bind(settings.optimizer)
        model.backup_valid = False
        try:
            indices = settings.example_order(data.m)
            full_batch = settings.batch_size is None or settings.batch_size >= indices.size
            whole = self._whole_batch(data, indices, settings.indices is None) if full_batch else None
            plans = self._fit_plans(data, whole, indices.size, settings)
        except ValueError:
            # A forced strategy refused (or the data could not be gathered):
            # the fit leaves the optimizer as it found it.
            model.restore(bound)
            raise
        evaluate = None if validation_data is None else functools.partial(self._evaluate, validation_data)
        loop = TrainLoop(self, model, data, settings, indices, whole, evaluate)
        opened = {}
        try:
            runners = self._fit_executors(plans, loop, opened)
            log.debug("fastdnn fit of %s %s on %d examples%s: %s", self.layer_dims, self.dtype.name, loop.m,
                      "" if full_batch else f" in batches of {loop.batch}", runners[loop.batch].plan)
            return loop.run(runners)
        finally:
            for executor in opened.values():
                executor.close()
            if full_batch:
                # The whole-batch executors hold the batch: not beyond the fit.
                self._release_batches()

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
        own = executors.EXECUTORS[plan.route].binds_data
        if not own:
            # Not the dual form: the steps are train_step's (a forced strategy that cannot serve them says so now).
            plan = self._plan_for(self._whole_batch_case(Xc, Yc))
        costs = []
        ws = self._model.workspace(m)
        batch = Batch(Xc, Yc, 0, m)
        executor = executors.open_executor(plan, self._model, report=self._ran, X=Xc) if own else self._executor(plan)
        try:
            for i in range(num_iterations):
                cost = executor.descend(batch, ws, learning_rate)
                if not np.isfinite(cost):
                    raise FloatingPointError(f"the cost became {cost} at iteration {i}")
                if i % 100 == 0 or i == num_iterations - 1:
                    costs.append(float(cost))
                    if print_cost:
                        print(f"Cost after iteration {i}: {cost}")
        finally:
            if own:
                executor.close()
            self._release_batches()
        return costs

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


def _gather_inputs(X, rows, indices, start, ws):
    """Gather a batch of inputs into ``ws``: row by row when ``rows`` (``X.T``) is given, else column by column."""
    if rows is not None:
        gather_mod.gather_rows(rows, indices, start, ws.X_rows)
        return ws.X_rows_T
    gather_mod.gather(X, indices, start, ws.X)
    return ws.X
