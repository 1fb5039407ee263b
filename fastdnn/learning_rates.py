"""Built-in learning-rate schedules: callables of a step (or epoch) count that return a rate.

Pass one to :meth:`fastdnn.Network.fit` as ``step_schedule`` (called before
every step with the fit's step count, from 0) or as ``schedule`` (called
before every epoch with the epoch, from 0)::

    from fastdnn import learning_rates as lr
    net.fit(X, Y, epochs=20, batch_size=128, optimizer="adamw",
            step_schedule=lr.warmup(lr.cosine(1e-3, steps=20 * 469), steps=500))

Any callable ``f(count) -> float`` does as well; these are the ones PyTorch
users reach for first (``StepLR``, ``CosineAnnealingLR``, a linear
warm-up).
"""

import math

from . import validation as v


def _rate(name, value):
    return v.finite_float(name, value, minimum=0.0)


_count = v.positive_int


class _Schedule:
    """A schedule: ``schedule(count)`` is the rate at ``count``; its repr says how it was made."""

    def __repr__(self):
        args = ", ".join(f"{k}={val!r}" for k, val in vars(self).items())
        return f"{type(self).__name__}({args})"


class step_decay(_Schedule):
    """``rate * gamma ** (count // every)``: the rate cut by ``gamma`` every ``every`` counts (PyTorch's ``StepLR``).

    Parameters
    ----------
    rate : float
        The rate at count 0.
    every : int
        Counts (steps or epochs) between two cuts.
    gamma : float, default 0.1
        The factor of each cut, in ``(0, 1]``.
    """

    def __init__(self, rate, every, gamma=0.1):
        self.rate = _rate("rate", rate)
        self.every = _count("every", every)
        self.gamma = v.finite_float("gamma", gamma, minimum=0.0)
        if not 0.0 < self.gamma <= 1.0:
            raise ValueError(f"gamma must lie in (0, 1], got {self.gamma}")

    def __call__(self, count):
        return self.rate * self.gamma ** (count // self.every)


class cosine(_Schedule):
    """Half a cosine from ``rate`` down to ``final`` over ``steps`` counts, then ``final`` (PyTorch's ``CosineAnnealingLR``).

    .. math:: \\eta_t = \\eta_{final} + \\tfrac12(\\eta - \\eta_{final})(1 + \\cos(\\pi\\, t / T))

    Parameters
    ----------
    rate : float
    steps : int
        ``T``: the counts the decay lasts.
    final : float, default 0.0
    """

    def __init__(self, rate, steps, final=0.0):
        self.rate = _rate("rate", rate)
        self.steps = _count("steps", steps)
        self.final = _rate("final", final)

    def __call__(self, count):
        t = min(count, self.steps)
        return self.final + 0.5 * (self.rate - self.final) * (1.0 + math.cos(math.pi * t / self.steps))


class warmup(_Schedule):
    """A linear warm-up from ``start`` over ``steps`` counts, then ``then``.

    Parameters
    ----------
    then : float or callable
        The rate after the warm-up, or a schedule that takes over (called
        with the count, so a cosine after a warm-up of 500 steps starts its
        decay at count 500 unless it is made to start at 0).
    steps : int
        Counts of the warm-up; at count ``steps`` the rate is ``then``'s.
    start : float, default 0.0
        The rate at count 0.
    """

    def __init__(self, then, steps, start=0.0):
        if not callable(then):
            then = _rate("then", then)
        self.then = then
        self.steps = _count("steps", steps)
        self.start = _rate("start", start)

    def __call__(self, count):
        target = self.then(count) if callable(self.then) else self.then
        if count >= self.steps:
            return target
        return self.start + (target - self.start) * (count / self.steps)


__all__ = ["step_decay", "cosine", "warmup"]
