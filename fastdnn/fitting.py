"""A fit's settings as one checked object, and the pieces every training loop shares.

:class:`FitSettings` holds what :meth:`fastdnn.Network.fit` is told (epochs,
batches, optimizer, regularization, schedule, callbacks, checkpoints), each
field checked once by the rule :data:`RULES` gives it.  The network's own
loop and :mod:`fastdnn.distributed`'s read it; the estimators and the
command line build one and call :meth:`fastdnn.Network.train`.
"""

import dataclasses
import json
import os
from typing import Any, Callable, Optional

import numpy as np

from . import checkpoint as checkpoint_mod
from . import optimizers as opt_mod
from . import validation as v


def _optional(check):
    def checked(name, value):
        return None if value is None else check(name, value)

    return checked


def _callable(meaning):
    def checked(name, value):
        if value is not None and not callable(value):
            raise TypeError(f"{name} must be a callable {meaning}, got {value!r}")
        return value

    return checked


def _dropout(name, value):
    value = v.finite_float(name, value, minimum=0.0)
    if value >= 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value


def _path(name, value):
    try:
        return os.fspath(value)
    except TypeError:
        raise TypeError(f"{name} must be a path (str or os.PathLike), got {value!r}") from None


def _indices(name, value):
    indices = np.ascontiguousarray(value, dtype=np.int64)
    if indices.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of example indices, got shape {indices.shape}")
    return indices


def _early_stopping(name, value):
    if isinstance(value, EarlyStopping):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be a patience (int, epochs without improvement) or a "
                        f"fastdnn.EarlyStopping, got {value!r}")
    return EarlyStopping(patience=value)


def check_learning_rate(value, name="learning_rate"):
    """A learning rate: finite and not negative (``name`` the argument, or the schedule that returned it)."""
    return v.finite_float(name if name == "learning_rate" else f"the learning rate returned by {name}", value,
                          minimum=0.0)


#: How each field of :class:`FitSettings` is checked (and normalized): ``check(name, value) -> value``.
RULES = {
    "epochs": v.positive_int,
    "batch_size": _optional(v.positive_int),
    "optimizer": lambda name, value: opt_mod.get_optimizer(value),
    "learning_rate": lambda name, value: check_learning_rate(value),
    "l2": lambda name, value: v.finite_float(name, value, minimum=0.0),
    "dropout": _dropout,
    "shuffle": lambda name, value: bool(value),
    "progress": lambda name, value: bool(value),
    "schedule": _callable("epoch -> learning rate"),
    "step_schedule": _callable("step -> learning rate"),
    "clip_norm": _optional(v.positive_float),
    "clip_value": _optional(v.positive_float),
    "early_stopping": _optional(_early_stopping),
    "callback": _callable("(epoch, record) -> stop"),
    "checkpoint": _optional(_path),
    "checkpoint_every": _optional(v.positive_int),
    "resume": lambda name, value: bool(value),
    "verbose": lambda name, value: bool(value),
    "indices": _optional(_indices),
    "track_accuracy": lambda name, value: bool(value),
}


@dataclasses.dataclass(frozen=True, eq=False)
class FitSettings:
    """What a fit is told, checked when made (a bad value raises ``ValueError``/``TypeError`` naming it).

    The fields are :meth:`fastdnn.Network.fit`'s options, and two more:

    indices : ndarray of int64, optional
        Train on these examples of the data only (the estimators' split
        off validation set stays out); the default is every example.
    track_accuracy : bool, default True
        Count the correct answers of the training batches (the records'
        ``accuracy``); the estimators do not need it.
    """

    epochs: int = 1
    batch_size: Optional[int] = None
    optimizer: Any = "sgd"
    learning_rate: float = 0.0075
    l2: float = 0.0
    dropout: float = 0.0
    shuffle: bool = True
    progress: bool = True
    schedule: Optional[Callable] = None
    callback: Optional[Callable] = None
    checkpoint: "Optional[str | os.PathLike]" = None
    checkpoint_every: Optional[int] = None
    resume: bool = False
    verbose: bool = False
    step_schedule: Optional[Callable] = None
    clip_norm: Optional[float] = None
    clip_value: Optional[float] = None
    early_stopping: Any = None
    indices: Optional[np.ndarray] = None
    track_accuracy: bool = True

    def __post_init__(self):
        for field in dataclasses.fields(self):
            object.__setattr__(self, field.name, RULES[field.name](field.name, getattr(self, field.name)))
        if self.checkpoint_every is not None and self.checkpoint is None:
            raise ValueError("checkpoint_every needs a checkpoint path")
        if self.resume and self.checkpoint is None:
            raise ValueError("resume=True needs a checkpoint path")
        if self.schedule is not None and self.step_schedule is not None:
            raise ValueError("give schedule (per epoch) or step_schedule (per step), not both")

    @property
    def keep_prob(self):
        """The probability of keeping a hidden unit, ``1 - dropout``."""
        return 1.0 - self.dropout

    def rate(self, epoch):
        """The learning rate of ``epoch`` (counted from 0 in this fit): the schedule's, else the fixed one."""
        if self.schedule is None:
            return self.learning_rate
        return check_learning_rate(self.schedule(epoch), "schedule")

    def step_rate(self, count):
        """The learning rate of the fit's step ``count`` (from 0) under :attr:`step_schedule`."""
        return check_learning_rate(self.step_schedule(count), "step_schedule")

    @property
    def clip(self):
        """``(clip_value, clip_norm)`` with 0 for none, or ``None`` when the fit does not clip."""
        if self.clip_norm is None and self.clip_value is None:
            return None
        return (self.clip_value or 0.0, self.clip_norm or 0.0)

    def example_order(self, m):
        """The examples a fit over ``m`` trains on, in order: a new int64 array (shuffled in place each epoch)."""
        if self.indices is None:
            return np.arange(m, dtype=np.int64)
        if self.indices.size == 0:
            raise ValueError("indices selects no examples")
        if self.indices.min() < 0 or self.indices.max() >= m:
            raise ValueError(f"indices must lie in [0, {m}), the examples of the data; found "
                             f"{self.indices.min()} to {self.indices.max()}")
        return self.indices.copy()

    def checkpoint_config(self, m, batch):
        """The settings a checkpoint records and a resume must match, as JSON gives them back."""
        config = {"m": int(m), "batch_size": None if batch == m else int(batch), "shuffle": self.shuffle,
                  "dropout": self.dropout, "l2": self.l2, "learning_rate": self.learning_rate,
                  "optimizer": [self.optimizer.name, self.optimizer.get_config()]}
        if self.clip is not None:
            config["clip"] = list(self.clip)
        return json.loads(json.dumps(config))


class EarlyStopping:
    """Stop a fit when a score has stopped improving, and go back to its best epoch's parameters.

    Pass it (or just a patience, ``early_stopping=5``) to
    :meth:`fastdnn.Network.fit`.  After the fit, :attr:`best`,
    :attr:`best_epoch` and :attr:`stopped_epoch` say what happened.

    Parameters
    ----------
    patience : int, default 5
        Epochs without improvement before the fit stops.
    monitor : str, optional
        The record's key to watch: ``"val_cost"`` when the fit has
        validation data, else ``"cost"`` (the default), or
        ``"val_accuracy"``, ``"accuracy"``.  Accuracies should rise, costs fall.
    min_delta : float, default 0.0
        An improvement smaller than this does not count.
    restore_best : bool, default True
        At the end of the fit, put back the parameters of the best epoch
        (weights and biases; the optimizer's state stays the last one's, as
        Keras's ``restore_best_weights`` does).

    Notes
    -----
    ``cost`` is measured during the epoch, before each update; the
    parameters kept are those at the epoch's end.  A validation score is
    measured on exactly those parameters: prefer one.  A checkpoint
    written during the fit keeps the last epoch's state, not the restored one.
    """

    def __init__(self, patience=5, monitor=None, min_delta=0.0, restore_best=True):
        self.patience = v.positive_int("patience", patience)
        if monitor is not None and not isinstance(monitor, str):
            raise TypeError(f"monitor must be a record key (str), got {monitor!r}")
        self.monitor = monitor
        self.min_delta = v.finite_float("min_delta", min_delta, minimum=0.0)
        self.restore_best = bool(restore_best)
        self._reset(None)

    def _reset(self, watching):
        self.watching = watching
        self.best = None
        self.best_epoch = None
        self.stopped_epoch = None
        self.restored = False
        self._wait = 0
        self._best_params = None

    def start(self, keys):
        """Begin a fit whose records will hold ``keys``: pick the key to watch and forget any earlier fit."""
        watching = self.monitor or ("val_cost" if "val_cost" in keys else "cost")
        if watching not in keys:
            if watching.startswith("val_") and "val_cost" not in keys:
                raise ValueError(f"early stopping on {watching!r} needs validation data")
            raise ValueError(f"early stopping watches {watching!r}, which the fit's records do not hold "
                             f"(they hold {', '.join(sorted(keys))})")
        self._reset(watching)

    def after_epoch(self, record, params):
        """Weigh an epoch's ``record`` (keeping ``params`` when it is the best so far); True to stop."""
        if self.watching not in record:
            raise ValueError(f"early stopping watches {self.watching!r}, which the epoch's record does not hold "
                             f"(it holds {', '.join(sorted(record))})")
        value = float(record[self.watching])
        rises = self.watching.endswith("accuracy")
        if self.best is None:
            improved = value == value  # NaN never improves
        else:
            improved = value > self.best + self.min_delta if rises else value < self.best - self.min_delta
        if improved:
            self.best, self.best_epoch, self._wait = value, record["epoch"], 0
            if self.restore_best:
                if self._best_params is None:
                    self._best_params = np.empty_like(params)
                np.copyto(self._best_params, params)
            return False
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = record["epoch"]
            return True
        return False

    def finish(self, state, last_epoch):
        """End of the fit: put the best epoch's parameters back into ``state`` if they are not the last ones."""
        if self.restore_best and self._best_params is not None and self.best_epoch != last_epoch:
            np.copyto(state.params, self._best_params)
            state.backup_valid = False  # the rollback copy belongs to other parameters now
            self.restored = True
        self._best_params = None

    def __repr__(self):
        return (f"EarlyStopping(patience={self.patience}, monitor={self.monitor!r}, min_delta={self.min_delta}, "
                f"restore_best={self.restore_best})")


def resume(path, state, architecture, fit_config, order, indices):
    """Load the checkpoint ``path`` into ``state``; returns its record (``position``, ``history``...).

    Checks that it was written by a fit with the settings ``fit_config``
    (:meth:`FitSettings.checkpoint_config`) over the examples of ``order``,
    and puts its order of the current epoch into ``indices``.
    """
    record = checkpoint_mod.load(path)
    saved = record["position"].get("config")
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
    checkpoint_mod.restore(state, record, path, architecture)
    np.copyto(indices, saved_order)
    return record


def index_list(indices, limit=20):
    """``[3, 17, 42]``, or the first ``limit`` and how many more."""
    shown = ", ".join(str(int(i)) for i in indices[:limit])
    more = f", ... ({indices.size - limit} more)" if indices.size > limit else ""
    return f"[{shown}{more}]"


def diverged(state, cost, where, lr, data=None, examples=None):
    """Raise ``FloatingPointError`` for a non-finite ``cost`` at ``where`` (a step of an epoch).

    With the batch's ``data`` and ``examples`` it tells bad inputs (the
    step changed nothing: the parameters stay) from divergence (the
    parameters and optimizer state are rolled back to the last finite
    state).
    """
    bad = None
    if data is not None:
        examples = np.asarray(examples)
        # Only on this failure path: a copy of the batch's columns, to tell bad data from divergence.
        finite = data.finite_examples(examples)
        if data.Y is not None:
            finite &= np.isfinite(np.asarray(data.Y[:, examples])).all(axis=0)
        bad = examples[~finite]
    shown = "" if examples is None else f"; the batch held the examples {index_list(examples)}"
    if bad is not None and bad.size:
        # The batch's data, not the parameters, went bad: the step changed nothing, keep them.
        state.backup_valid = False
        raise FloatingPointError(
            f"non-finite data: the cost became {cost} at {where} because the inputs of the examples "
            f"{index_list(bad)} hold NaN or infinity{shown}; the parameters were not changed by this batch "
            f"(they are the last finite state). The data changed after fit checked it."
        )
    rolled = state.rollback()
    outcome = ("the parameters and the optimizer state were rolled back to the last state whose cost was finite"
               if rolled else "the parameters were not changed (no update had been made in this fit)")
    raise FloatingPointError(
        f"training diverged: the cost became {cost} at {where} (learning rate {lr}){shown}; {outcome}. "
        f"Try a smaller learning rate, standardised inputs, or float64."
    )


def check_last_update(state, epoch):
    """After the last epoch (``epoch`` counted from 0): an update not followed by a cost may have broken the parameters.

    Rolls back and raises ``FloatingPointError`` when a parameter is NaN or infinite.
    """
    if v._count_non_finite(state.params):
        state.rollback()
        raise FloatingPointError(
            f"training diverged: the last update (epoch {epoch + 1}) made some parameters NaN or "
            f"infinite; they were rolled back to the state before it. Try a smaller learning rate."
        )


class Checkpoints:
    """A fit's checkpoint file (:mod:`fastdnn.checkpoint`): resumed from, written at epoch ends and every N steps.

    Parameters
    ----------
    settings : FitSettings
    state : fastdnn.state.ModelState
    net : fastdnn.Network
        For its public records: ``architecture``, ``history``, ``metadata``.
    m, batch : int
        Examples of the fit and of each step (recorded, checked on resume).
    indices : ndarray
        The epoch's order of the examples (written with each checkpoint).
    writer : bool
        Whether this process writes the file (MPI: rank 0 only).
    """

    def __init__(self, settings, state, net, m, batch, indices, writer=True):
        self.path = settings.checkpoint
        self.every = settings.checkpoint_every
        self.state, self.net, self.indices, self.writer = state, net, indices, writer
        self.config = None if self.path is None else settings.checkpoint_config(m, batch)
        self.resuming = bool(self.path is not None and settings.resume and os.path.exists(self.path))

    def resume(self, order):
        """Load the file into the state and the network when resuming; returns ``(epoch, step, sums, history)``.

        ``sums`` are the running ``(total, correct)`` of the interrupted
        epoch, ``history`` the fit's records so far; ``(0, 0, (0.0, 0.0),
        {})`` when there is nothing to resume.
        """
        if not self.resuming:
            return 0, 0, (0.0, 0.0), {}
        record = resume(self.path, self.state, self.net.architecture, self.config, order, self.indices)
        self.net.history = record["history"]
        self.net.metadata = record["architecture"].get("metadata") or {}
        position = record["position"]
        return int(position["epoch"]), int(position["step"]), (position["total"], position["correct"]), \
            position["history"]

    def due(self):
        """Whether the step just taken is one of every ``checkpoint_every``."""
        return self.every is not None and self.state.n_steps % self.every == 0

    def save(self, epoch_done, step_done, sums, history):
        """Write the file: ``epoch_done`` epochs and ``step_done`` steps of the next, its running ``sums``."""
        if self.path is None or not self.writer:
            return
        position = {"epoch": epoch_done, "step": step_done, "total": float(sums[0]), "correct": float(sums[1]),
                    "history": history, "config": self.config}
        checkpoint_mod.save(self.path, self.state, self.net.architecture, self.net.history, position, self.indices)


def epoch_record(net_history, total, correct, answers, lr, seconds):
    """The record of an epoch: ``epoch`` (counted over the network's life), ``cost``, ``accuracy``, ``learning_rate``, ``seconds``.

    ``answers`` is the epoch's number of answers (examples times answers
    per example), ``None`` for an output that is not counted.
    """
    record = {"epoch": len(net_history.get("epoch", ())) + 1, "cost": float(total)}
    if answers is not None:
        record["accuracy"] = float(correct) / answers
    record["learning_rate"] = lr
    record["seconds"] = max(seconds, 0.0)
    return record


def add_scores(record, scores):
    """Add an evaluation's ``cost`` and ``accuracy`` to ``record`` as ``val_cost`` and ``val_accuracy``."""
    record["val_cost"] = scores["cost"]
    if "accuracy" in scores:
        record["val_accuracy"] = scores["accuracy"]


def append_record(record, *histories):
    """Append each value of ``record`` to its list in every history."""
    for history in histories:
        for key, value in record.items():
            history.setdefault(key, []).append(value)
