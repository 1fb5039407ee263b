"""The trainer: a fully-connected network that owns its memory.

The memory -- the parameter, gradient and optimizer arenas, the workspaces
of each batch size, the step counters -- is one
:class:`fastdnn.state.ModelState` (see :mod:`fastdnn.state`); the network
decides how each step runs (:mod:`fastdnn.plan`) and drives the epochs.  A
training step -- gather the batch, forward, cost, backward, update -- only
runs kernels over that memory: it allocates nothing.
"""

from __future__ import annotations

import collections.abc
import os
from collections.abc import Callable, Sequence
from typing import Any
import functools
import operator

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from . import examples as examples_mod
from . import fitting
from . import inference
from . import model_io
from . import plan as plan_mod
from . import precision as precision_mod
from .examples import Examples
from .executors import Batch
from .fitting import FitSettings
from .loop import CourseLoop, StreamLoop, TrainLoop
from .schedule import Schedule
from .initializers import INITS, scale_initial_weights
from .outputs import OUTPUTS as OUTPUT_LAYERS
from .state import ModelState, arena_layout  # noqa: F401 (arena_layout: older home)
from . import validation as v
from .kernels import activation as act


def _one_at_a_time(method):
    """Run a method that writes the network's arenas under its (reentrant) lock.

    Two threads training one network take turns: each step sees the parameters the
    previous one left, never a workspace half-written by the other.
    """

    @functools.wraps(method)
    def locked(self, *args, **kwargs):
        schedule = self._schedule
        with self._model.lock:
            schedule.calls += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                schedule.calls -= 1
                if not schedule.calls and schedule.has_retired:
                    schedule.close_retired()

    return locked


#: The hidden activations (the kernels' registry, :data:`fastdnn.kernels.activation.CODES`) and the outputs.
HIDDEN = tuple(act.CODES)
OUTPUTS = tuple(OUTPUT_LAYERS)


def _hidden_activations(hidden, n_hidden):
    """``hidden`` checked: one name for every hidden layer, or a list of one per hidden layer (a list of
    one name repeated is that name)."""
    if isinstance(hidden, str):
        return v.choice("hidden", hidden, HIDDEN)
    if not isinstance(hidden, (list, tuple)):
        raise TypeError(f"hidden must be an activation name or a list of one per hidden layer, got {hidden!r}")
    if len(hidden) != n_hidden:
        raise ValueError(f"hidden lists {len(hidden)} activations but the network has {n_hidden} hidden "
                         f"layer{'s' if n_hidden != 1 else ''}")
    names = [v.choice(f"hidden[{k}]", name, HIDDEN) for k, name in enumerate(hidden)]
    if len(set(names)) <= 1:
        return names[0] if names else "relu"
    return names


class Network:
    """A fully-connected feed-forward network in the course's layout.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    hidden : {"relu", "tanh", "sigmoid", "leaky_relu", "linear"} or list of them, default "relu"
        Activation of the hidden layers: one for all, or one per hidden
        layer (``["relu", "relu", "tanh"]``; such a network runs no native
        column blocks, which take one activation: :meth:`plan` says so).
    output : {"sigmoid", "softmax", "linear", "poisson"}, default "sigmoid"
        Output layer and cost: binary cross-entropy from logits, softmax
        cross-entropy, mean squared error (halved), or exponential units
        with the Poisson deviance (halved; counts and rates).
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
    strategy : {"auto", "plain", "threads", "native", "dual", "numpy"}, default "auto"
        See :attr:`strategy`.
    precision : {"float", "bf16", "auto"}, default "float"
        See :attr:`precision`.

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
    What the network holds in memory: see :class:`fastdnn.state.ModelState`.
    """

    def __init__(self, layer_dims: Sequence[int], hidden: str | Sequence[str] = "relu", output: str = "sigmoid",
                 dtype: DTypeLike = np.float64, init: str = "scaled", seed: int | None = 1, leaky_slope: float = 0.01,
                 strategy: str = "auto", precision: str = "float") -> None:
        self._setup(layer_dims, hidden, output, dtype, init, seed, leaky_slope)
        self.strategy = strategy
        self.precision = precision
        self._initialize()

    def _setup(self, layer_dims, hidden, output, dtype, init, seed, leaky_slope):
        self.layer_dims = v.layer_dims("layer_dims", layer_dims)
        self.hidden = _hidden_activations(hidden, len(self.layer_dims) - 2)
        self.output = v.choice("output", output, OUTPUTS)
        self.init = v.choice("init", init, INITS)
        self.dtype = v.network_dtype("dtype", dtype)
        self.seed = None if seed is None else v.non_negative_int("seed", seed)
        self.leaky_slope = v.finite_float("leaky_slope", leaky_slope)
        OUTPUT_LAYERS[self.output].check_units(self.output, self.layer_dims[-1])
        self._model = ModelState(self.layer_dims, self.dtype, self.hidden, self.output, self.leaky_slope,
                                 self.seed)
        self.history = {}
        self.metadata = {}
        # The plans of its steps and the executors that run them.
        self._schedule = Schedule(self._model)

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
    def hidden_layers(self):
        """The activation of each hidden layer, in order (:attr:`hidden` repeated when it is one name)."""
        return list(self.hidden) if isinstance(self.hidden, list) else [self.hidden] * (self.n_layers - 1)

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
        return self._model.named()

    @property
    def gradients(self):
        """``{"dW1": ..., "db1": ...}``: views into the gradient arena."""
        return self._model.named(gradients=True)

    @property
    def optimizer(self):
        """The optimizer whose state :attr:`state` holds."""
        return self._model.optimizer

    def __repr__(self):
        return (f"Network({self.layer_dims}, hidden={self.hidden!r}, output={self.output!r}, "
                f"dtype={self.dtype.name}, init={self.init!r}, seed={self.seed}"
                + (f", precision={self.precision!r})" if self.precision != "float" else ")"))

    # ------------------------------------------------------------ the plan

    @property
    def strategy(self):
        """How training steps run: one of :data:`fastdnn.plan.STRATEGIES`.

        ``"auto"`` (the default) lets :func:`fastdnn.plan.decide` choose per
        step; ``"plain"``, ``"threads"`` (worker column blocks),
        ``"native"`` (native column blocks), ``"dual"`` (``fit_course``'s
        dual form) and ``"numpy"`` (NumPy calls only, nothing compiled: the
        route of a first use, :func:`fastdnn.plan.first_use`) hold every
        step to one, and a step it cannot serve raises
        :class:`ValueError` saying why, before any step of the call.
        ``"plain"`` keeps ``fit_course``'s dual form where ``"auto"`` would
        take it; ``"threads"`` and ``"native"`` leave it to ``dual=True``.
        :meth:`plan` tells what a step would run.  A change applies from the
        next ``fit``, ``train_step`` or ``fit_course`` call (one running,
        e.g. from its callback, keeps the plans it started with).
        """
        return self._schedule.strategy

    @strategy.setter
    def strategy(self, value):
        self._schedule.hold_to(v.choice("strategy", value, plan_mod.STRATEGIES))

    @property
    def precision(self):
        """What the training steps' matrix products multiply: one of :data:`fastdnn.precision.PRECISIONS`.

        ``"float"`` (the default): the network's dtype.  ``"bf16"`` (float32
        networks): bfloat16 copies of the weights, activations and ``dZ``,
        summed in float32 by MKL's ``cblas_gemm_bf16bf16f32`` (``pip install
        "fastdnn[mkl]"``); the parameters, the optimizer's state, costs,
        sums and the update stay float32, and :meth:`predict` multiplies in
        float32.  ``"auto"``: bf16 where the CPU has AMX or AVX512_BF16 and
        MKL's bf16 product measured faster than float32's, else float
        (:func:`fastdnn.precision.choose`).  :meth:`plan` tells which ran and
        why (``plan.precision``).
        """
        return self._schedule.precision

    @precision.setter
    def precision(self, value):
        value = v.choice("precision", value, precision_mod.PRECISIONS)
        if value == "bf16":
            precision_mod.choose("bf16", self.dtype)  # a missing MKL or a float64 network says so now
        self._schedule.hold_precision(value)

    @property
    def column_blocks(self):
        """The older name of :attr:`strategy`: ``"auto"``, ``True`` (``"threads"``) or ``False`` (``"plain"``)."""
        return {"threads": True, "plain": False}.get(self.strategy, self.strategy)

    @column_blocks.setter
    def column_blocks(self, value):
        if value not in ("auto", True, False):
            raise ValueError(f"column_blocks must be 'auto', True or False, got {value!r}; see Network.strategy")
        self.strategy = {True: "threads", False: "plain"}.get(value, value)

    @property
    def last_plan(self):
        """The :class:`fastdnn.plan.Plan` of the last training step run (``None`` before the first)."""
        return self._schedule.last_plan

    @property
    def steps_by_route(self):
        """How many training steps (gradient passes) each route has run in this process: ``{route: steps}``."""
        return dict(self._schedule.steps_by_route)

    def plan(self, batch_size: int, m: int | None = None, optimizer: Any = "sgd", l2: float = 0.0,
             dropout: float = 0.0, course: bool = False, clip: bool = False) -> plan_mod.Plan:
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
        optimizer : str or fastdnn.optimizers.Optimizer, default "sgd"
            As :meth:`fit`'s.
        l2 : float, default 0.0
            As :meth:`fit`'s (only whether it is 0 matters).
        dropout : float, default 0.0
            As :meth:`fit`'s (only whether it is 0 matters).
        course : bool, default False
            The step of :meth:`fit_course` (whose dual form is one route).
        clip : bool, default False
            The fit clips its gradients (``clip_norm`` or ``clip_value``).

        Returns
        -------
        fastdnn.plan.Plan
            Route, reason, blocks, chunk, threads, BLAS.  The route once
            compiled: on a machine where it is not yet, a short fit's steps
            run on the route ``numpy`` meanwhile (:func:`fastdnn.plan.first_use`;
            :attr:`last_plan` says what ran).

        Raises
        ------
        ValueError
            Bad arguments, or a forced :attr:`strategy` that cannot serve
            the case (the message says why).
        """
        batch_size = v.positive_int("batch_size", batch_size)
        m = None if m is None else v.positive_int("m", m)
        # The checks fit's settings make of the same arguments.
        dropout = fitting.RULES["dropout"]("dropout", dropout) > 0.0
        kind = plan_mod.optimizer_kind(fitting.RULES["optimizer"]("optimizer", optimizer), clip)
        decay = fitting.RULES["l2"]("l2", l2) > 0.0
        return self._schedule.plan_for(plan_mod.case_of(batch_size, m, kind, decay, dropout, course))

    @_one_at_a_time
    def train_step(self, X: np.ndarray, Y: np.ndarray, learning_rate: float) -> float:
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
        A native route reads ``X`` in place and keeps that batch between
        calls (a loop over the same arrays costs nothing to set up) until
        another batch or :meth:`fit` replaces it.
        """
        schedule = self._schedule
        m = X.shape[1]
        executor = schedule.executor(schedule.plan_for(schedule.whole_batch_case(X, Y), steps=1))
        return executor.descend(Batch(X, Y, 0, m), self._model.workspace(m), learning_rate)

    # ------------------------------------------------------------ data

    def prepare(self, X, Y=None, names=("X", "Y"), check_X=True, sample_weight=None):
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
        sample_weight : array_like of shape (m,) or float, optional
            As for :meth:`fit`.

        Returns
        -------
        fastdnn.examples.Examples
        """
        return examples_mod.prepare(self._model, X, Y, names, check_X, sample_weight)

    # ------------------------------------------------------------ training

    def fit(self, X: Any, Y: ArrayLike | None = None, epochs: int = 1, batch_size: int | None = None,
            optimizer: Any = "sgd", learning_rate: float = 0.0075, l2: float = 0.0, dropout: float = 0.0,
            shuffle: bool = True, validation: Any = None, progress: bool = True,
            schedule: Callable[[int], float] | None = None, callback: Callable[[int, dict], Any] | None = None,
            checkpoint: str | os.PathLike | None = None, checkpoint_every: int | None = None, resume: bool = False,
            verbose: bool = False, sample_weight: ArrayLike | None = None,
            step_schedule: Callable[[int], float] | None = None, clip_norm: float | None = None,
            clip_value: float | None = None, early_stopping: Any = None, layout: str = "columns") -> dict[str, list]:
        """Train the network.

        Parameters
        ----------
        X : array_like of shape (n_x, m), or an iterable of batches
            One example per column, any real dtype and any memory layout:
            C-contiguous, the transposed view of a row-per-example array (read
            without a copy), or a ``np.memmap`` (a data set larger than memory
            trains: each batch is read from the map).  Or, with ``Y``
            omitted, batches that arrive one by one -- a list, a generator, a
            PyTorch ``DataLoader`` -- each ``(X, Y)`` or ``(X, Y,
            sample_weight)`` as :meth:`fit` takes them (``layout`` says how
            ``X`` holds its examples): each is one step, on the route its size
            calls for; each epoch reads the iterable again (an iterator, which
            reads once, serves one epoch).  No ``batch_size``,
            ``sample_weight`` or checkpoints then; ``shuffle`` is the
            loader's business.
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
        optimizer : {"sgd", "momentum", "adam", "adamw"} or fastdnn.optimizers.Optimizer, default "sgd"
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
        sample_weight : array_like of shape (m,) or float, optional
            A weight per example (non-negative, finite, not all zero; one
            number weighs all alike).  Each batch's cost is the weighted
            mean :math:`\\sum_j w_j \\ell_j / \\sum_j w_j` and its gradient
            that of the weighted cost, in every route (not a resampling);
            the L2 term divides by the batch's sum of weights instead of
            its size, as scikit-learn's MLPs do.  The accuracy and
            validation scores stay unweighted.
        step_schedule : callable, optional
            ``step_schedule(step) -> learning_rate``, called before every
            step (``step`` counts the steps of this call from 0, across
            epochs); :mod:`fastdnn.learning_rates` has step decay, cosine and
            linear warm-up.  Not with ``schedule``.  The records'
            ``learning_rate`` is the epoch's last step's.
        clip_norm : float, optional
            Scale each step's gradient down to this global L2 norm (over
            every weight and bias) when it is longer, as PyTorch's
            ``clip_grad_norm_`` before ``optimizer.step()``.
        clip_value : float, optional
            Clip each entry of the gradient to ``[-clip_value, clip_value]``
            (before ``clip_norm``, when both are given).  A clipped step
            takes the whole gradient before the update, so the native blocks
            leave the optimizer's step to Python (:meth:`plan` says so).
        early_stopping : int or fastdnn.EarlyStopping, optional
            Stop when the watched score (``val_cost`` with ``validation``,
            else ``cost``) has not improved for this many epochs, and end with
            the best epoch's parameters (:class:`fastdnn.EarlyStopping` for
            the other choices, and what happened).
        layout : {"columns", "rows"}, default "columns"
            For batches: each batch's ``X`` holds one example per column, or
            per row (``(b, n_x)``, as PyTorch and scikit-learn give them; a 2-D
            ``Y`` is then ``(b, n_L)``).

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
        the same costs and parameters, bit for bit.  The route of the steps
        is :meth:`plan`'s (:mod:`fastdnn.plan`); column blocks add their
        parts of a batch's sums, so they agree with ``strategy="plain"`` to
        rounding, not bit for bit.
        """
        options = dict(epochs=epochs, optimizer=optimizer, learning_rate=learning_rate, l2=l2, dropout=dropout,
                       progress=progress, schedule=schedule, callback=callback, verbose=verbose,
                       step_schedule=step_schedule, clip_norm=clip_norm, clip_value=clip_value,
                       early_stopping=early_stopping)
        if Y is None:
            return self._fit_stream(X, options, validation, layout, batch_size=batch_size, sample_weight=sample_weight,
                                    checkpoint=checkpoint, resume=resume)
        with self._model.lock:
            # Mini-batches leave X's scan for NaN and inf to train, which does it in the first epoch's
            # gather (one pass over the data instead of two); a full batch is scanned now, before anything.
            data = self.prepare(X, Y, check_X=batch_size is None or checkpoint is not None,
                                sample_weight=sample_weight)
            settings = FitSettings(batch_size=batch_size, shuffle=shuffle, checkpoint=checkpoint,
                                   checkpoint_every=checkpoint_every, resume=resume, **options)
            return self.train(data, settings, examples_mod.validation_examples(self._model, validation))

    def train(self, data, settings, validation=None, reducer=None):
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
        reducer : fastdnn.distributed.Reducer, optional
            Data-parallel training over MPI (:func:`fastdnn.distributed.train`
            passes one): each process trains on its shard of every batch,
            on the route its shard calls for.

        Returns
        -------
        dict of list
            The records of this call's epochs (see :meth:`fit`).
        """
        if not isinstance(settings, FitSettings):
            raise TypeError(f"settings must be a fastdnn.fitting.FitSettings, got {type(settings).__name__}")
        examples_mod.check_training_examples(self.layer_dims, self.output, data, validation)
        if reducer is not None and data.sparse:
            raise ValueError("sparse X is not trained over MPI: densify it, or train in one process")
        with self._model.lock:
            # (Over MPI every process scans first: one finding a bad value alone would leave the others waiting.)
            deferred = data.unchecked is not None and settings.batch_size is not None and settings.checkpoint is None \
                and reducer is None
            before = self._model.snapshot() if deferred else None
            try:
                if not deferred:
                    data.check_X()
                return self._train(data, settings, validation, reducer)
            except examples_mod.InputNotFinite as error:
                if before is not None:
                    self._model.restore(before)
                raise ValueError(str(error)) from None

    @_one_at_a_time
    def _train(self, data, settings, validation_data, reducer=None):
        model, schedule = self._model, self._schedule
        bound = model.snapshot(values=False)
        evaluate = self._begin_fit(settings, validation_data)
        try:
            indices = settings.example_order(data.m)
            full_batch = reducer is None and (settings.batch_size is None or settings.batch_size >= indices.size)
            whole = schedule.whole_batch(data, indices, settings.indices is None) if full_batch else None
            loop = TrainLoop(self, model, data, settings, indices, whole, evaluate, reducer)
            plans = schedule.fit_plans(data, whole, loop)
        except BaseException as error:
            if isinstance(error, ValueError):
                # A forced strategy refused (or the data could not be gathered):
                # the fit leaves the optimizer as it found it.
                model.restore(bound)
            if reducer is not None:
                reducer.failed(error)  # over MPI, a rank failing alone ends the job rather than hang it
            raise
        opened = {}
        try:
            with model.clipping(settings.clip):
                try:
                    loop.resume()
                    runners = schedule.fit_executors(plans, loop, opened)
                except BaseException as error:
                    if reducer is not None:
                        reducer.failed(error)
                    raise
                return loop.run(runners)
        finally:
            for executor in opened.values():
                executor.close()
            if full_batch:
                # The whole-batch executors hold the batch: not beyond the fit.
                schedule.release()

    def _fit_stream(self, batches, options, validation, layout, **refused):
        """:meth:`fit` on an iterable of batches (:class:`fastdnn.loop.StreamLoop`)."""
        if isinstance(batches, np.ndarray) or not hasattr(batches, "__iter__"):
            raise TypeError(f"Y is missing: fit takes (X, Y), or an iterable of (X, Y) batches as X alone; got X of "
                            f"type {type(batches).__name__}")
        layout = v.choice("layout", layout, ("columns", "rows"))
        for name, value in refused.items():
            if value not in (None, False):
                raise ValueError(f"{name} does not apply to a fit on batches (they come with their size, their "
                                 f"weights and their position)")
        settings = FitSettings(**options)
        if settings.epochs > 1 and isinstance(batches, collections.abc.Iterator):
            raise ValueError(f"batches is an iterator (a generator?), read once, and epochs={settings.epochs} asks "
                             f"for {settings.epochs} passes: pass a list or a data loader, or epochs=1")
        with self._model.lock:
            return self._train_stream(batches, settings, examples_mod.validation_examples(self._model, validation),
                                      layout)

    @_one_at_a_time
    def _train_stream(self, batches, settings, validation_data, layout):
        evaluate = self._begin_fit(settings, validation_data)
        loop = StreamLoop(self, self._schedule, settings, batches, layout, evaluate)
        with self._model.clipping(settings.clip):
            return loop.run()

    def _begin_fit(self, settings, validation_data):
        """Bind the fit's optimizer (unless it is the one bound), drop the rollback copy; returns the
        validation's ``evaluate`` (``None`` without validation data)."""
        model = self._model
        if settings.optimizer != model.optimizer:
            model.bind(settings.optimizer)
        model.backup_valid = False
        return None if validation_data is None else functools.partial(self._evaluate, validation_data)

    @_one_at_a_time
    def fit_course(self, X: np.ndarray, Y: np.ndarray, learning_rate: float = 0.0075, num_iterations: int = 3000,
                   print_cost: bool = False, dual: bool | str = "auto") -> list[float]:
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
        Xc, Yc = examples_mod.full_batch_arrays(self._model, X, Y)
        num_iterations = operator.index(num_iterations)  # as range() takes it: 0 or fewer run nothing
        if dual not in ("auto", True, False):
            raise ValueError(f"dual must be 'auto', True or False, got {dual!r}")
        m = Xc.shape[1]
        executor, own = self._schedule.course_executor(m, dual, Xc, Yc)
        loop = CourseLoop(self, self._model, Xc, Yc, num_iterations, learning_rate, print_cost)
        try:
            if num_iterations > 0:
                loop.run({m: executor})
        finally:
            if own:
                executor.close()
            self._schedule.release()
        return loop.costs

    # ------------------------------------------------------------ inference

    def _evaluate(self, data):
        with self._model.lock:
            return inference.evaluate(self._model, data)

    def evaluate(self, X: Any, Y: ArrayLike | None = None) -> dict[str, float]:
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

    def predict_proba(self, X: Any) -> np.ndarray:
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
            return inference.predict_proba(self._model, data)

    def predict(self, X: Any) -> np.ndarray:
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
        return model_io.architecture(self)

    @classmethod
    def from_architecture(cls, architecture):
        """A network of the ``architecture`` record (parameters zero, not initialized), its metadata and strategy."""
        net = cls.__new__(cls)
        net._build(architecture)
        return net

    def _build(self, arch):
        self._setup(arch["layer_dims"], arch["hidden"], arch["output"], arch["dtype"], arch["init"], arch["seed"],
                    arch["leaky_slope"])
        self.metadata = dict(arch.get("metadata") or {})
        # Files written before strategies existed leave the choice to fastdnn.
        self.strategy = arch.get("strategy", "auto")
        # Unchecked: a model trained in bf16 still loads and predicts where MKL is missing (its
        # first bf16 step says what is missing).
        self._schedule.hold_precision(v.choice("precision", arch.get("precision", "float"),
                                               precision_mod.PRECISIONS))

    def to_onnx(self, path, dtype=np.float32):
        """Write the network as an ONNX file, rows as examples (see :func:`fastdnn.interop.to_onnx`)."""
        from .interop import to_onnx

        return to_onnx(self, path, dtype)

    def save(self, path: str | os.PathLike, include_optimizer: bool = False) -> None:
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
        model_io.save(self, path, include_optimizer)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Network:
        """Read a network written by :meth:`save`.

        Returns a network of the same architecture, parameters (bit for
        bit) and metadata; with the optimizer and its state when they were
        saved.  Raises ``FileNotFoundError`` (no such file) or
        ``ValueError`` naming the file when it is not a fastdnn model, or
        truncated or damaged.
        """
        return model_io.load(cls, path)

    def __getstate__(self):
        return model_io.pickled(self)

    def __setstate__(self, saved):
        self._build(saved["architecture"])
        model_io.unpickle(self, saved)
