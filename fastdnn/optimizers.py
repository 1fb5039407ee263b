"""Optimizers: how a gradient becomes a parameter update.

Each optimizer is one fused Numba kernel over the whole parameter arena
(:mod:`fastdnn.kernels.update`), with its state (velocity, moments) in a
third arena the :class:`~fastdnn.Network` owns next to the parameters and the
gradients.  L2 weight decay is folded into the same pass.

Pass an instance to :meth:`fastdnn.Network.fit` to choose the
hyper-parameters, or a name (``"sgd"``, ``"momentum"``, ``"adam"``,
``"adamw"``) for the defaults.
"""

from typing import NamedTuple

import numpy as np

from . import validation as v
from .kernels import update

#: Codes of the updates the native column blocks run themselves (:mod:`fastdnn.native_blocks`).
SGD_CODE = 0
MOMENTUM_CODE = 1
ADAM_CODE = 2


class NativeForm(NamedTuple):
    """An optimizer's update as the native kernels run it: a code and its scalars."""

    code: int
    beta1: float = 0.0
    beta2: float = 0.0
    eps: float = 1.0
    nesterov: bool = False


class Optimizer:
    """Base class: a name, a number of state slots and a fused update.

    Subclasses set :attr:`name` and :attr:`n_slots` and implement
    :meth:`step`.  Two optimizers are equal when they are of the same class
    with the same hyper-parameters; the network keeps its optimizer state
    across :meth:`~fastdnn.Network.fit` calls as long as the optimizer stays
    equal.
    """

    #: Name accepted by :func:`get_optimizer`.
    name = "optimizer"
    #: Arrays of the parameters' size this optimizer keeps between steps.
    n_slots = 0
    #: Whether :meth:`step` takes ``keep`` (the built-in optimizers copy the
    #: old parameters and state inside their kernel; for a subclass without
    #: it, the network copies them before calling :meth:`step`).
    takes_keep = False

    def get_config(self):
        """The hyper-parameters, as a dict of plain Python values."""
        return {}

    def native_form(self):
        """The :class:`NativeForm` of this update, or ``None`` when only :meth:`step` can run it.

        The native column blocks take the step themselves, on every thread,
        for an optimizer that has one; one without it gets its gradients
        summed there and steps here, in Python (:meth:`fastdnn.Network.plan`
        says which).  A subclass that changes :meth:`step` loses the form
        of the class it came from unless it describes its own.
        """
        return None

    def numpy_form(self):
        """Whether :meth:`numpy_step` runs this update (the route ``numpy``, which compiles nothing).

        As with :meth:`native_form`, a subclass that changes :meth:`step`
        loses the NumPy step of the class it came from.
        """
        return False

    def numpy_step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        """:meth:`step` in NumPy calls, without ``keep`` (the caller copies the old values first)."""
        raise NotImplementedError

    def _steps_as(self, cls):
        # The form of cls holds only while step is cls's own.
        return type(self).step is cls.step

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        """Apply one update to ``params`` in place.

        Parameters
        ----------
        params : ndarray of shape (p,)
            The parameter arena; written in place.
        grads : ndarray of shape (p,)
        slots : tuple of ndarray of shape (p,)
            ``n_slots`` state arrays (views into the state arena), written in place.
        learning_rate : float
        decay : float
            L2 decay per unit of weight, ``lambda / m``; 0 for none.
        n_decay : int
            The leading ``n_decay`` entries of the arena (the weights) decay.
        t : int
            Number of this update, counting from 1.
        keep : ndarray of shape ((1 + n_slots) p,), optional
            Written in place with ``params`` and then each slot as they were
            before the update (only when :attr:`takes_keep`).
        """
        raise NotImplementedError

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self):
        return hash((type(self).__name__, tuple(sorted(self.get_config().items()))))

    def __repr__(self):
        args = ", ".join(f"{k}={val!r}" for k, val in self.get_config().items())
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Plain gradient descent.

    Notes
    -----
    .. math:: \\theta \\leftarrow \\theta - \\alpha\\,(g + d\\,\\theta_{weights})
    """

    name = "sgd"
    n_slots = 0
    takes_keep = True

    def native_form(self):
        return NativeForm(SGD_CODE) if self._steps_as(SGD) else None

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        if decay == 0.0 and keep is None:
            # The very kernel of the course's update_parameters.
            update.sgd(params, grads, learning_rate, params)
        else:
            # With decay 0 the same bits: g + 0 * p is g.
            update.sgd_l2(params, grads, learning_rate, decay, n_decay, keep)

    def numpy_form(self):
        return self._steps_as(SGD)

    def numpy_step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        params -= learning_rate * _decayed(params, grads, decay, n_decay)


class Momentum(Optimizer):
    """Gradient descent with momentum, in the course's form.

    Parameters
    ----------
    beta : float, default 0.9
        Weight of the past in the running average of the gradients, in ``[0, 1)``.
    nesterov : bool, default False
        Step from the look-ahead velocity.

    Notes
    -----
    .. math:: v \\leftarrow \\beta v + (1 - \\beta) g, \\qquad \\theta \\leftarrow \\theta - \\alpha v

    scikit-learn's form ``u \\leftarrow \\mu u - \\eta g`` is the same update
    with ``\\eta = \\alpha (1 - \\beta)``.
    """

    name = "momentum"
    n_slots = 1
    takes_keep = True

    def __init__(self, beta=0.9, nesterov=False):
        self.beta = _fraction("beta", beta)
        self.nesterov = bool(nesterov)

    def get_config(self):
        return {"beta": self.beta, "nesterov": self.nesterov}

    def native_form(self):
        if not self._steps_as(Momentum):
            return None
        return NativeForm(MOMENTUM_CODE, beta1=float(self.beta), nesterov=bool(self.nesterov))

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        update.momentum(params, grads, slots[0], learning_rate, self.beta, self.nesterov, decay, n_decay, keep)

    def numpy_form(self):
        return self._steps_as(Momentum)

    def numpy_step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        g = _decayed(params, grads, decay, n_decay)
        velocity = slots[0]
        velocity *= self.beta
        velocity += (1.0 - self.beta) * g
        if self.nesterov:
            params -= learning_rate * (self.beta * velocity + (1.0 - self.beta) * g)
        else:
            params -= learning_rate * velocity


class Adam(Optimizer):
    """Adam with bias correction, in the course's form.

    Parameters
    ----------
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    eps : float, default 1e-8

    Notes
    -----
    .. math:: v \\leftarrow \\beta_1 v + (1-\\beta_1) g,\\quad s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
              \\theta \\leftarrow \\theta - \\alpha \\frac{v/(1-\\beta_1^t)}{\\sqrt{s/(1-\\beta_2^t)} + \\epsilon}
    """

    name = "adam"
    n_slots = 2
    takes_keep = True

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8):
        self.beta1 = _fraction("beta1", beta1)
        self.beta2 = _fraction("beta2", beta2)
        self.eps = v.positive_float("eps", eps)

    def get_config(self):
        return {"beta1": self.beta1, "beta2": self.beta2, "eps": self.eps}

    def native_form(self):
        if not self._steps_as(Adam):
            return None
        return NativeForm(ADAM_CODE, beta1=float(self.beta1), beta2=float(self.beta2), eps=float(self.eps))

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        update.adam(params, grads, slots[0], slots[1], learning_rate, self.beta1, self.beta2, self.eps, t,
                    decay, n_decay, keep)

    def numpy_form(self):
        return self._steps_as(Adam)

    def numpy_step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        g = _decayed(params, grads, decay, n_decay)
        first, second = slots
        first *= self.beta1
        first += (1.0 - self.beta1) * g
        second *= self.beta2
        second += (1.0 - self.beta2) * (g * g)
        correction1, correction2 = update.adam_corrections(self.beta1, self.beta2, t)
        params -= learning_rate * (first * correction1) / (np.sqrt(second * correction2) + self.eps)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov and Hutter), as PyTorch's ``torch.optim.AdamW``.

    The decay shrinks the weights directly instead of entering the
    gradient, so Adam's scaling does not weaken it where gradients are large.

    Parameters
    ----------
    beta1 : float, default 0.9
    beta2 : float, default 0.999
    eps : float, default 1e-8
    weight_decay : float, default 0.01
        Fraction of each weight removed per unit of learning rate.
    decay_biases : bool, default False
        Decay the biases too.  PyTorch decays every parameter of the group
        it is given (``AdamW(model.parameters())``); fastdnn's L2 and this
        default leave the biases alone, as most training recipes do.

    Notes
    -----
    .. math:: \\theta \\leftarrow \\theta - \\alpha\\,\\lambda\\,\\theta
              - \\alpha \\frac{v/(1-\\beta_1^t)}{\\sqrt{s/(1-\\beta_2^t)} + \\epsilon}

    with :math:`v, s` Adam's moments of the gradient (which holds no decay
    term; ``l2`` given to :meth:`~fastdnn.Network.fit` still adds a coupled
    one).  The native column blocks have no form of this step: they sum the
    gradients and the step runs here (``net.plan`` says so).
    """

    name = "adamw"

    def __init__(self, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.01, decay_biases=False):
        super().__init__(beta1, beta2, eps)
        self.weight_decay = v.finite_float("weight_decay", weight_decay, minimum=0.0)
        self.decay_biases = bool(decay_biases)

    def get_config(self):
        return {**super().get_config(), "weight_decay": self.weight_decay, "decay_biases": self.decay_biases}

    def native_form(self):
        return None

    def step(self, params, grads, slots, learning_rate, decay, n_decay, t, keep=None):
        rate = learning_rate * self.weight_decay
        n = params.size if self.decay_biases else n_decay
        if rate != 0.0 and keep is None:
            update.decoupled_decay(params, params, rate, n)
        super().step(params, grads, slots, learning_rate, decay, n_decay, t, keep)
        if rate != 0.0 and keep is not None:
            # keep holds the parameters the step started from.
            update.decoupled_decay(params, keep, rate, n)

    def numpy_form(self):
        return self._steps_as(AdamW)

    def numpy_step(self, params, grads, slots, learning_rate, decay, n_decay, t):
        # As step with keep (how a fit calls it): Adam's L2 term and the decay both read the weights the
        # step started from.
        n = params.size if self.decay_biases else n_decay
        start = params[:n].copy()
        super().numpy_step(params, grads, slots, learning_rate, decay, n_decay, t)
        params[:n] -= (learning_rate * self.weight_decay) * start


#: Optimizer classes by name.
OPTIMIZERS = {cls.name: cls for cls in (SGD, Momentum, Adam, AdamW)}


def get_optimizer(optimizer):
    """An :class:`Optimizer` from a name or an instance.

    Parameters
    ----------
    optimizer : {"sgd", "momentum", "adam", "adamw"} or Optimizer

    Returns
    -------
    Optimizer
    """
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        return OPTIMIZERS[v.choice("optimizer", optimizer, tuple(OPTIMIZERS))]()
    raise TypeError(
        f"optimizer must be one of {', '.join(repr(k) for k in OPTIMIZERS)} or a fastdnn.optimizers.Optimizer, "
        f"got {optimizer!r} ({type(optimizer).__name__})"
    )


def from_config(name, config):
    """Rebuild an optimizer saved as ``(name, get_config())``."""
    return OPTIMIZERS[v.choice("optimizer", name, tuple(OPTIMIZERS))](**config)


def _decayed(params, grads, decay, n_decay):
    """The gradient with the L2 term ``decay * W`` on the leading ``n_decay`` entries (a copy when it has one)."""
    if decay == 0.0:
        return grads
    g = grads.copy()
    g[:n_decay] += decay * params[:n_decay]
    return g


def _fraction(name, value):
    value = v.finite_float(name, value, minimum=0.0)
    if value >= 1.0:
        raise ValueError(f"{name} must lie in [0, 1), got {value}")
    return value
