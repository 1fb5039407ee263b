"""The epoch loop: what runs between the executors' steps, for every face.

A :class:`TrainLoop` runs one fit's epochs over prepared examples with the
executors the network chose for each size of batch: shuffling, the
batches, the divergence check, the cost and accuracy sums, checkpoints
and resumption, validation, callbacks, the history and the progress bar.
It knows nothing of which route a step takes.  Over MPI a reducer
(:class:`fastdnn.distributed.Reducer`) gives each process its shard of
every batch, sums the gradients between each step's gradient pass and its
update, and has one process write, show and decide for all.
:class:`CourseLoop` is the same loop as the course's ``L_layer_model``
runs it (:meth:`fastdnn.Network.fit_course`).
"""

import logging
import math
import sys
import time

import numpy as np

from . import compiling
from . import fitting
from . import plan as plan_mod
from .executors.base import Batch
from .kernels import loss

log = logging.getLogger("fastdnn")


class NoExamples:
    """The workspace of a process whose shard of a batch is empty (fewer examples than MPI ranks)."""

    m = 0

    def __init__(self):
        self.count = np.zeros(1, dtype=np.float64)
        self.square_sum = np.zeros(1, dtype=np.float64)


class TrainLoop:
    """One fit's epochs.

    Parameters
    ----------
    net : fastdnn.Network
        The face whose ``history``, ``metadata`` and ``architecture`` the
        records and checkpoints keep.
    state : fastdnn.state.ModelState
    data : fastdnn.examples.Examples
    settings : fastdnn.fitting.FitSettings
    indices : ndarray of int64
        The examples of the fit in their first order (shuffled in place).
    whole : (ndarray, ndarray) or None
        ``(X, Y)`` of a full-batch fit read as given (one step an epoch), else ``None``.
    evaluate : callable, optional
        ``evaluate()`` returns the validation scores after each epoch.
    reducer : fastdnn.distributed.Reducer, optional
        Data-parallel training over MPI: this process trains on its shard of each batch.

    Notes
    -----
    :meth:`resume` loads a checkpoint when resuming: the executors are
    opened after it, on the parameters and optimizer they will train.
    """

    def __init__(self, net, state, data, settings, indices, whole=None, evaluate=None, reducer=None):
        self.state, self.data, self.settings, self.net = state, data, settings, net
        self.indices = indices
        self.order = indices.copy()
        self.m = m = indices.size
        self.whole = whole
        self.reducer = reducer
        self.batch = m if settings.batch_size is None or settings.batch_size >= m else settings.batch_size
        self.count = settings.track_accuracy and state.head.counts
        self.answers = m * state.head.answers_per_example(net.layer_dims[-1]) if self.count else None
        self.evaluate = evaluate
        if settings.early_stopping is not None and reducer is not None:
            raise ValueError("early_stopping is not available over MPI: stop from the callback, which the "
                             "leading process's decides for all")
        self._start_early_stopping()
        self._weigh(data, indices, whole)
        # The batch sizes in order, so that the smaller batch's workspace shares the larger one's buffers.
        self.workspaces = {}
        for b in self.sizes():
            local = self.local(b)
            self.workspaces[b] = state.workspace(local) if local else NoExamples()
        self.checkpoints = fitting.Checkpoints(settings, state, net, m, self.batch, indices,
                                               writer=reducer is None or reducer.leads)
        self.first_epoch, self.first_step, self.resumed_sums, self.history = 0, 0, (0.0, 0.0), {}

    def _start_early_stopping(self):
        """Tell the fit's early stopping (if any) which keys its records will hold."""
        self.early_stopping = self.settings.early_stopping
        if self.early_stopping is None:
            return
        keys = {"epoch", "cost", "learning_rate", "seconds"} | ({"accuracy"} if self.count else set())
        if self.evaluate is not None:
            keys |= {"val_cost", "val_accuracy"} if self.state.head.counts else {"val_cost"}
        self.early_stopping.start(keys)

    def _weigh(self, data, indices, whole):
        """Make room for the sample weights of each batch (``batch_weights``), normalised to a mean of 1.

        A full batch's are normalised once; a mini-batch's are gathered into
        the buffer at each step (:meth:`weights_of`), where the native
        sessions read them too.
        """
        weights = None if data is None else data.weights
        self.weights = weights
        self.batch_weights = None
        self._weight_views = {}
        if weights is None:
            return
        self.batch_weights = np.empty(self.batch, dtype=np.float64)
        if whole is not None:
            self.whole_weight_sum = loss.normalise_weights(np.take(weights, indices), self.batch_weights)

    def weights_of(self, start, b, lo=0, hi=None):
        """Gather and normalise the weights of the batch ``indices[start:start + b]``; returns
        ``(weights of its columns lo:hi, the batch's sum of weights)`` -- the same view object for the same
        columns, so that a session holding them is kept."""
        if self.whole is not None:
            total = self.whole_weight_sum
        else:
            into = self.batch_weights[:b]
            np.take(self.weights, self.indices[start:start + b], out=into, mode="clip")
            total = loss.normalise_weights(into, into)
        hi = b if hi is None else hi
        view = self._weight_views.get((lo, hi))
        if view is None:
            view = self._weight_views[(lo, hi)] = self.batch_weights[lo:hi]
        return view, total

    def resume(self):
        """Load the checkpoint when the settings resume from one (before the executors are opened)."""
        if self.reducer is not None:
            self.reducer.agree_on_resuming(self.checkpoints)
        self.first_epoch, self.first_step, self.resumed_sums, self.history = self.checkpoints.resume(self.order)

    def rate(self, epoch):
        """The learning rate of ``epoch`` (the settings' schedule)."""
        return self.settings.rate(epoch)

    def steps_left(self):
        """The steps this fit asks for (before a callback or early stopping ends it sooner)."""
        per_epoch = (self.m + self.batch - 1) // self.batch
        return max(0, self.settings.epochs - self.first_epoch) * per_epoch - self.first_step

    def sizes(self):
        """The sizes of the fit's batches: the batch size, then the last batch's if smaller."""
        return [b for b in (self.batch, self.m % self.batch) if b]

    def local(self, b):
        """Examples of a batch of ``b`` that this process trains on (its shard over MPI)."""
        return b if self.reducer is None else self.reducer.local(b)

    def run(self, executors):
        """Train every epoch with ``executors`` (``{batch size: executor}``); returns this call's records."""
        settings, reducer = self.settings, self.reducer
        running = executors[self.batch]
        state = self.state
        log.debug("fastdnn fit of %s %s on %d examples%s: %s", state.layer_dims, state.dtype.name, self.m,
                  "" if self.batch == self.m else f" in batches of {self.batch}", running.plan)
        if settings.verbose and (reducer is None or reducer.leads):
            print(f"fastdnn: {running.plan}")
        if self.data is not None and (self.whole is not None or running.gathers):
            # Their batches are not gathered by take: the whole scan now, before the first step.
            self.data.check_X()
        bar = progress_bar(settings.progress and (reducer is None or reducer.leads), settings.epochs * self.m)
        try:
            # The bar says so while kernels compile (a first run's first steps).
            with compiling.listening(_compile_note(bar)):
                self.epochs(executors, bar, running.plan.route)
            if self.first_epoch < settings.epochs:
                self.finish()
        except BaseException as error:
            if reducer is not None:
                reducer.failed(error)
            raise
        finally:
            if bar is not None:
                bar.close()
        return self.history

    def epochs(self, executors, bar, route):
        """The epochs from the first (or the resumed one) until the last or the callback's stop."""
        for epoch in range(self.first_epoch, self.settings.epochs):
            self._epoch = epoch
            record = self.epoch(epoch, executors, bar, route)
            if self.stop(epoch, record):
                break

    def epoch(self, epoch, executors, bar, route):
        """One epoch's steps and its record (appended to the histories and returned)."""
        settings, m, batch, indices = self.settings, self.m, self.batch, self.indices
        lr = self.rate(epoch)
        started = time.perf_counter() - compiling.seconds()
        total = correct = 0.0
        skip = 0
        if epoch == self.first_epoch and self.first_step > 0:
            # Resumed in the middle of this epoch: its order and sums come from the checkpoint.
            skip = self.first_step
            total, correct = self.resumed_sums
        if bar is not None:
            bar.set_description(f"epoch {epoch + 1}/{settings.epochs} [{route}]", refresh=False)
        if settings.shuffle and not skip and batch < m:
            # From the same starting order each epoch, so that two fit calls continue exactly like one.
            np.copyto(indices, self.order)
            self.state.rng.shuffle(indices)
        n_steps = (m + batch - 1) // batch
        shown = started
        for step in range(skip, n_steps):
            start = step * batch
            b = min(batch, m - start)
            if settings.step_schedule is not None:
                lr = settings.step_rate(epoch * n_steps + step)
            ws = self.workspaces[b]
            cost = self.step(executors[b], start, b, ws, lr)
            if not math.isfinite(cost):
                self.diverged(cost, f"epoch {epoch + 1} of {settings.epochs}, step {step + 1} of {n_steps}", lr,
                              start, b)
            total += cost * (b / m)
            correct += ws.count[0]
            if self.reducer is not None:
                self.reducer.after_step(self.state)
            if self.checkpoints.due():
                self.checkpoints.save(epoch, step + 1, (total, correct), self.history)
            if bar is not None:
                bar.update(b)
                now = time.perf_counter()
                if now - shown > 0.5:
                    bar.set_postfix(loss=f"{total * m / (start + b):.4g}", refresh=False)
                    shown = now
        if self.data is not None:
            # Every example has been gathered, and checked on the way, once.
            self.data.unchecked = None
        return self.close_epoch(epoch, total, correct, lr, started, bar)

    def after_last_epoch(self, epoch):
        """The last update is not followed by a cost: check it here (:func:`fastdnn.fitting.check_last_update`)."""
        fitting.check_last_update(self.state, epoch)

    def finish(self):
        """After the epoch the loop ended on: the last update's check, and early stopping's best epoch back."""
        self.after_last_epoch(self._epoch)
        if self.early_stopping is not None:
            self.early_stopping.finish(self.state, self.net.history["epoch"][-1])

    def step(self, executor, start, b, ws, lr):
        """The step on ``indices[start:start + b]`` (the whole batch in a full-batch fit); returns its cost."""
        settings, reducer = self.settings, self.reducer
        lo, hi = start, start + b  # this process's columns of the batch
        if self.whole is not None:
            batch = Batch(self.whole[0], self.whole[1], 0, b)
        elif reducer is None:
            batch = executor.take(self.data, self.indices, start, b, ws)
        else:
            lo, hi = reducer.shard(start, b)
            batch = executor.take(self.data, self.indices, lo, hi - lo, ws) if hi > lo else Batch(None, None, lo, 0)
            batch = batch._replace(offset=lo - start, total=b)
        if self.weights is not None:
            # (Over MPI every process holds the whole batch's weights: each normalises by the same sum.)
            weights, total = self.weights_of(start, b, lo - start, hi - start)
            batch = batch._replace(weights=weights, weight_sum=total)
        return executor.train(batch, ws, lr, settings.l2, settings.keep_prob, self.count, reducer)

    def diverged(self, cost, where, lr, start, b):
        """A step's cost is not finite: roll back and raise (:func:`fastdnn.fitting.diverged`).

        (Over MPI the batch's data are not read again to tell bad inputs from
        divergence: a full batch would be the whole data set on every rank.)
        """
        data = self.data if self.reducer is None else None
        fitting.diverged(self.state, cost, where, lr, data, self.indices[start:start + b])

    def close_epoch(self, epoch, total, correct, lr, started, bar):
        """The epoch's record, with validation scores; appended, checkpointed, shown."""
        net, reducer = self.net, self.reducer
        # Training time: a first epoch's kernel compiles are left out.
        # (The process's compiles: another thread's may fall in this epoch, hence the floor.)
        record = fitting.epoch_record(net.history, total, correct, self.answers, lr,
                                      time.perf_counter() - compiling.seconds() - started)
        if reducer is not None:
            reducer.end_epoch(self.state)
        if self.evaluate is not None:
            fitting.add_scores(record, self.evaluate() if reducer is None else reducer.scores(self.evaluate))
        fitting.append_record(record, self.history, net.history)
        self.checkpoints.save(epoch + 1, 0, (0.0, 0.0), self.history)
        if bar is not None:
            shown = {"loss": f"{record['cost']:.4g}"}
            if "val_accuracy" in record:
                shown["val_acc"] = f"{record['val_accuracy']:.4f}"
            bar.set_postfix(shown, refresh=True)
        return record

    def stop(self, epoch, record):
        """Whether early stopping or the callback stops the fit after ``epoch`` (over MPI, the leading
        process's callback decides)."""
        callback = self.settings.callback
        if self.reducer is None:
            stop = self.early_stopping is not None and self.early_stopping.after_epoch(record, self.state.params)
            return bool(callback is not None and callback(epoch, dict(record))) or stop
        return self.reducer.stop(lambda: callback is not None and bool(callback(epoch, dict(record))))


class CourseLoop(TrainLoop):
    """The loop of the course's ``L_layer_model``: full-batch gradient descent, one step an epoch.

    Each step is :meth:`fastdnn.executors.Executor.descend` (plain
    gradient descent, no optimizer binding, no rollback copy); the cost is
    kept every 100 iterations and at the last (and printed with
    ``print_cost``), nothing goes into the network's history, and a cost
    that is not finite stops the loop with ``FloatingPointError``.
    """

    def __init__(self, net, state, X, Y, iterations, learning_rate, print_cost=False):
        m = X.shape[1]
        settings = fitting.FitSettings(epochs=max(iterations, 1), shuffle=False, progress=False,
                                       track_accuracy=False)
        super().__init__(net, state, None, settings, np.arange(m, dtype=np.int64), (X, Y))
        self.resume()
        # The rate as given, unchecked and of its own type, as the course's loop takes it.
        self.learning_rate = learning_rate
        self.print_cost = print_cost
        self.costs = []

    def rate(self, epoch):
        return self.learning_rate

    def step(self, executor, start, b, ws, lr):
        return executor.descend(Batch(self.whole[0], self.whole[1], 0, b), ws, lr)

    def diverged(self, cost, where, lr, start, b):
        raise FloatingPointError(f"the cost became {cost} at iteration {self._epoch}")

    def after_last_epoch(self, epoch):
        # No rollback copy to go back to; but no silent inf either (the last update is followed by no cost).
        if not np.all(np.isfinite(self.state.params)):
            raise FloatingPointError(f"the last update (iteration {epoch}) made some parameters NaN or infinite "
                                     f"(learning rate {self.learning_rate})")

    def close_epoch(self, epoch, total, correct, lr, started, bar):
        if epoch % 100 == 0 or epoch == self.settings.epochs - 1:
            self.costs.append(float(total))
            if self.print_cost:
                print(f"Cost after iteration {epoch}: {total}")
        return {"cost": total}


_COMPILING = "compiling kernels for this machine, first use only"


def _compile_note(bar):
    """What a progress bar shows while kernels compile (:func:`fastdnn.compiling.listening`); then what it showed."""
    shown = [""]

    def note(compiling_now):
        if bar is None:
            return
        if compiling_now:
            shown[0] = bar.postfix or ""
            bar.set_postfix_str(_COMPILING, refresh=True)
        elif bar.postfix == _COMPILING:
            # (Only the note: a loss shown since stays.)
            bar.set_postfix_str(shown[0], refresh=True)

    return note


def _stream_is_terminal(stream):
    try:
        return stream is not None and stream.isatty()
    except (AttributeError, ValueError):
        return False


def progress_bar(progress, total):
    """A tqdm bar counting examples, or ``None`` when off or when the output is not a terminal."""
    if not progress or not _stream_is_terminal(sys.stderr):
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="ex", unit_scale=True, dynamic_ncols=True, leave=True)


class StreamLoop(TrainLoop):
    """A fit on batches that arrive one by one: an iterable of ``(X, Y)`` or ``(X, Y, sample_weight)``.

    Each epoch iterates ``batches`` once more; each batch is checked as
    :meth:`fastdnn.Network.prepare` checks data and trained as a whole
    batch on the route its size calls for (:meth:`fastdnn.schedule.Schedule.plan_for`),
    so a data loader's batches take the steps a mini-batch fit over the
    same batches would.  Records, validation, early stopping, callbacks
    and the progress bar are the other loops'; there are no checkpoints
    (the stream's position is not the loop's to keep).

    Parameters
    ----------
    net : fastdnn.Network
    schedule : fastdnn.schedule.Schedule
    settings : fastdnn.fitting.FitSettings
    batches : iterable
        Read again each epoch (one epoch only for an iterator, which reads once).
    layout : {"columns", "rows"}
        Each batch's ``X``: one example per column (``(n_x, b)``, as
        :meth:`~fastdnn.Network.fit` takes it) or per row (``(b, n_x)``, as
        PyTorch's data loaders and scikit-learn give them).
    evaluate : callable, optional
    """

    def __init__(self, net, schedule, settings, batches, layout, evaluate=None):
        state = net.model_state
        self.state, self.settings, self.net, self.schedule = state, settings, net, schedule
        self.batches, self.layout, self.evaluate = batches, layout, evaluate
        self.reducer, self.whole, self.data = None, None, None
        self.count = settings.track_accuracy and state.head.counts
        self._start_early_stopping()
        self.first_epoch, self.history, self.n_steps = 0, {}, 0
        self.checkpoints = _NoCheckpoints()  # the stream's position is not the loop's to keep
        self.opt_kind = plan_mod.optimizer_kind(state.optimizer, settings.clip is not None)

    def run(self, executors=None):
        """Train every epoch; returns this call's records."""
        settings = self.settings
        bar = progress_bar(settings.progress, None)
        try:
            with compiling.listening(_compile_note(bar)):
                self.epochs(None, bar, "stream")
            self.finish()
        finally:
            if bar is not None:
                bar.close()
            self.schedule.release()
        return self.history

    def epoch(self, epoch, executors, bar, route):
        settings, state = self.settings, self.state
        lr = self.rate(epoch)
        started = time.perf_counter() - compiling.seconds()
        total = correct = 0.0
        m = 0
        if bar is not None:
            bar.set_description(f"epoch {epoch + 1}/{settings.epochs}", refresh=False)
        for step, item in enumerate(self.batches):
            if settings.step_schedule is not None:
                lr = settings.step_rate(self.n_steps)
            data = self.batch_data(item, epoch, step)
            b = data.m
            X, Y = self.schedule.whole_batch(data, np.arange(b, dtype=np.int64), True)
            case = self.schedule.fit_whole_case(X, Y, settings, self.opt_kind)
            executor = self.schedule.executor(self.schedule.plan_for(case, steps=1))
            batch = Batch(X, Y, 0, b)
            if data.weights is not None:
                batch = batch.weighed(data.weights)
            ws = state.workspace(b)
            cost = executor.train(batch, ws, lr, settings.l2, settings.keep_prob, self.count)
            if not math.isfinite(cost):
                fitting.diverged(state, cost, f"epoch {epoch + 1} of {settings.epochs}, batch {step + 1}", lr,
                                 data, np.arange(b))
            self.n_steps += 1
            total += cost * b
            correct += ws.count[0]
            m += b
            if bar is not None:
                bar.update(b)
                bar.set_postfix(loss=f"{total / m:.4g}", refresh=False)
        if m == 0:
            raise ValueError(f"batches gave no examples in epoch {epoch + 1}" +
                             (" (an iterator is read once: pass a list or a data loader, which read again each "
                              "epoch)" if epoch else ""))
        self.answers = m * state.head.answers_per_example(self.net.layer_dims[-1]) if self.count else None
        return self.close_epoch(epoch, total / m, correct, lr, started, bar)

    def batch_data(self, item, epoch, step):
        """One item of the stream as :class:`fastdnn.examples.Examples` (checked as ``prepare`` checks)."""
        where = f"batch {step + 1} of epoch {epoch + 1}"
        if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
            raise TypeError(f"{where}: each item of batches must be a pair (X, Y) or a triple "
                            f"(X, Y, sample_weight), got {type(item).__name__}")
        X, Y = np.asarray(item[0]), np.asarray(item[1])
        if self.layout == "rows":
            if X.ndim != 2:
                raise ValueError(f"{where}: X must be 2-D (examples as rows), got shape {X.shape}")
            X = X.T
            if Y.ndim == 2:
                Y = Y.T
        weights = item[2] if len(item) == 3 else None
        return self.net.prepare(X, Y, names=(f"X of {where}", f"Y of {where}"), sample_weight=weights)



class _NoCheckpoints:
    """What :meth:`TrainLoop.close_epoch` saves to in a :class:`StreamLoop`: nothing."""

    def save(self, *args):
        pass
