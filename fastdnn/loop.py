"""The epoch loop of a fit: what runs between the executors' steps.

A :class:`TrainLoop` runs one fit's epochs over prepared examples with the
executors the network chose for each size of batch: shuffling, the
batches, the divergence check, the cost and accuracy sums, checkpoints
and resumption, validation, callbacks, the history and the progress bar.
It knows nothing of which route a step takes.
"""

import math
import sys
import time

import numpy as np

from . import compiling
from . import fitting
from .executors.base import Batch


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
        ``(X, Y)`` of a full-batch fit (one step an epoch), else ``None``.
    evaluate : callable, optional
        ``evaluate()`` returns the validation scores after each epoch.

    Notes
    -----
    The constructor loads a checkpoint when resuming, so the executors are
    opened after it, on the parameters and optimizer they will train.
    """

    def __init__(self, net, state, data, settings, indices, whole=None, evaluate=None):
        self.state, self.data, self.settings, self.net = state, data, settings, net
        self.indices = indices
        self.order = indices.copy()
        self.m = m = indices.size
        self.whole = whole
        self.batch = m if whole is not None else settings.batch_size
        self.count = settings.track_accuracy and state.head.counts
        self.answers = m * state.head.answers_per_example(net.layer_dims[-1]) if self.count else None
        self.evaluate = evaluate
        self.workspaces = {b: state.workspace(b) for b in self.sizes()}
        self.checkpoints = fitting.Checkpoints(settings, state, net, m, self.batch, indices)
        self.first_epoch, self.first_step, self.resumed_sums, self.history = self.checkpoints.resume(self.order)

    def sizes(self):
        """The sizes of the fit's batches: the batch size, then the last batch's if smaller."""
        return [b for b in (self.batch, self.m % self.batch) if b]

    def run(self, executors):
        """Train every epoch with ``executors`` (``{batch size: executor}``); returns this call's records."""
        settings = self.settings
        running = executors[self.batch]
        if settings.verbose:
            print(f"fastdnn: {running.plan}")
        if self.whole is not None or running.gathers:
            # Their batches are not gathered by take: the whole scan now, before the first step.
            self.data.check_X()
        bar = progress_bar(settings.progress, settings.epochs * self.m)
        try:
            for epoch in range(self.first_epoch, settings.epochs):
                record = self.epoch(epoch, executors, bar, running.plan.route)
                if settings.callback is not None and settings.callback(epoch, dict(record)):
                    break
            if self.first_epoch < settings.epochs:
                # The last update is not followed by a cost: check it here.
                fitting.check_last_update(self.state, epoch)
        finally:
            if bar is not None:
                bar.close()
        return self.history

    def epoch(self, epoch, executors, bar, route):
        """One epoch's steps and its record (appended to the histories and returned)."""
        settings, m, batch, indices = self.settings, self.m, self.batch, self.indices
        lr = settings.rate(epoch)
        started = time.perf_counter() - compiling.seconds()
        total = correct = 0.0
        skip = 0
        if epoch == self.first_epoch and self.first_step > 0:
            # Resumed in the middle of this epoch: its order and sums come from the checkpoint.
            skip = self.first_step
            total, correct = self.resumed_sums
        if bar is not None:
            bar.set_description(f"epoch {epoch + 1}/{settings.epochs} [{route}]", refresh=False)
        if settings.shuffle and not skip and self.whole is None:
            # From the same starting order each epoch, so that two fit calls continue exactly like one.
            np.copyto(indices, self.order)
            self.state.rng.shuffle(indices)
        n_steps = (m + batch - 1) // batch
        shown = started
        for step in range(skip, n_steps):
            start = step * batch
            b = min(batch, m - start)
            ws = self.workspaces[b]
            cost = self.step(executors[b], start, b, ws, lr)
            if not math.isfinite(cost):
                fitting.diverged(self.state, cost, f"epoch {epoch + 1} of {settings.epochs}, step {step + 1} of "
                                 f"{n_steps}", lr, self.data, indices[start:start + b])
            total += cost * (b / m)
            correct += ws.count[0]
            if self.checkpoints.due():
                self.checkpoints.save(epoch, step + 1, (total, correct), self.history)
            if bar is not None:
                bar.update(b)
                now = time.perf_counter()
                if now - shown > 0.5:
                    bar.set_postfix(loss=f"{total * m / (start + b):.4g}", refresh=False)
                    shown = now
        # Every example has been gathered, and checked on the way, once.
        self.data.unchecked = None
        return self.close_epoch(epoch, total, correct, lr, started, bar)

    def step(self, executor, start, b, ws, lr):
        """The step on ``indices[start:start + b]`` (the whole batch in a full-batch fit); returns its cost."""
        settings = self.settings
        if self.whole is not None:
            batch = Batch(self.whole[0], self.whole[1], 0, b)
        else:
            batch = executor.take(self.data, self.indices, start, b, ws)
        return executor.train(batch, ws, lr, settings.l2, settings.keep_prob, self.count)

    def close_epoch(self, epoch, total, correct, lr, started, bar):
        """The epoch's record, with validation scores; appended, checkpointed, shown."""
        net = self.net
        # Training time: a first epoch's kernel compiles are left out.
        # (The process's compiles: another thread's may fall in this epoch, hence the floor.)
        record = fitting.epoch_record(net.history, total, correct, self.answers, lr,
                                      time.perf_counter() - compiling.seconds() - started)
        if self.evaluate is not None:
            fitting.add_scores(record, self.evaluate())
        fitting.append_record(record, self.history, net.history)
        self.checkpoints.save(epoch + 1, 0, (0.0, 0.0), self.history)
        if bar is not None:
            shown = {"loss": f"{record['cost']:.4g}"}
            if "val_accuracy" in record:
                shown["val_acc"] = f"{record['val_accuracy']:.4f}"
            bar.set_postfix(shown, refresh=True)
        return record


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
