"""The course's "Optimization methods" assignment: mini-batches, momentum, Adam, learning-rate decay.

``from fastdnn.improving.optimization import *`` stands for the notebook's
own functions and its ``from opt_utils_v1a import ...``: same names,
arguments, returns and printed lines, on fastdnn's kernels (see
:mod:`fastdnn.improving`).  The gradients' keys are lower case (``dz3``)
with ``1/m`` on ``dz`` of the output, and :func:`compute_cost` returns the
*sum* over the batch (the model divides by ``m`` once per epoch), as in the
course's helper file.  :func:`update_parameters_with_adam` returns the
newest course's five values, or the older three when the caller unpacks
three.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import validation as v
from ..validation import finite_float  # by name: the steps' velocity argument is called v, as the course's
from ..plots import plot_decision_boundary
from . import _common, _core, _models

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from numpy.typing import ArrayLike

__all__ = [
    "sigmoid",
    "relu",
    "load_params_and_grads",
    "initialize_parameters",
    "forward_propagation",
    "backward_propagation",
    "compute_cost",
    "predict",
    "predict_dec",
    "plot_decision_boundary",
    "load_dataset",
    "update_parameters_with_gd",
    "random_mini_batches",
    "initialize_velocity",
    "update_parameters_with_momentum",
    "initialize_adam",
    "update_parameters_with_adam",
    "update_lr",
    "schedule_lr_decay",
    "model",
]

CONVENTION = _core.Convention(scale_first=True, lower_case=True)
#: The optimizers of :func:`model`, by the course's names.
OPTIMIZERS = tuple(_core.OPTIMIZERS)

sigmoid = _common.sigmoid
relu = _common.relu
predict = _common.predict
predict_dec = _common.predict_dec


def load_params_and_grads(seed: int = 1) -> tuple[np.ndarray, ...]:
    """Random ``W1 (2, 3), b1 (2, 1), W2 (3, 3), b2 (3, 1)`` and gradients of those shapes (the helper file's draws).

    Returns
    -------
    W1, b1, W2, b2, dW1, db1, dW2, db2 : tuple of ndarray
    """
    np.random.seed(_core.as_int("seed", seed))
    shapes = ((2, 3), (2, 1), (3, 3), (3, 1))
    params = [np.random.randn(*s) for s in shapes]
    grads = [np.random.randn(*s) for s in shapes]
    return tuple(params + grads)


def initialize_parameters(layer_dims: Sequence[int]) -> dict[str, np.ndarray]:
    """He initialization after ``np.random.seed(3)``: ``W = randn * sqrt(2 / n_prev)``, zero biases."""
    return _common.initialize(layer_dims, lambda n: np.sqrt(2 / n), name="layer_dims")


def forward_propagation(X: ArrayLike, parameters: dict[str, Any]) -> tuple[np.ndarray, tuple[Any, ...]]:
    """LINEAR -> RELU -> ... -> LINEAR -> SIGMOID: ``(a3, cache)``, cache ``(z1, a1, W1, b1, ...)``."""
    return _common.forward_propagation(X, parameters)


def backward_propagation(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any]) -> dict[str, np.ndarray]:
    """Gradients of the mean cost: ``dz3, dW3, db3, da2, ...`` (``1/m`` folded into ``dz3``)."""
    return _common.backward_propagation(X, Y, cache, CONVENTION)


def compute_cost(a3: ArrayLike, Y: ArrayLike) -> np.float64:
    """The cross-entropy *summed* over the examples (the model averages per epoch); a numpy.float64."""
    total, _ = _common.log_loss_sum(a3, Y, False)
    return total


def load_dataset(plot: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The course's moons: 300 points of scikit-learn's ``make_moons(noise=.2)`` after ``np.random.seed(3)``.

    Returns
    -------
    train_X : ndarray of shape (2, 300)
    train_Y : ndarray of shape (1, 300)
    """
    make_moons = _models.sklearn_datasets().make_moons
    np.random.seed(3)
    train_X, train_Y = make_moons(n_samples=300, noise=.2)
    if plot:
        _models.scatter(train_X, train_Y)
    return train_X.T, train_Y.reshape(1, -1)


# ---------------------------------------------------------------- the optimizers' steps


def update_parameters_with_gd(parameters: dict[str, Any], grads: dict[str, Any],
                              learning_rate: float) -> dict[str, np.ndarray]:
    """One gradient-descent step, ``W - learning_rate * dW``: new arrays put into ``parameters``, which is returned."""
    return _common.update_parameters(parameters, grads, learning_rate)


def initialize_velocity(parameters: dict[str, Any]) -> dict[str, np.ndarray]:
    """Zero velocities ``dW1, db1, ...`` shaped as the parameters."""
    L = _core.n_layers(parameters)
    out = {}
    for l in range(1, L + 1):
        for p in (f"W{l}", f"b{l}"):
            out[f"d{p}"] = np.zeros(np.shape(parameters[p]))
    return out


def update_parameters_with_momentum(parameters: dict[str, Any], grads: dict[str, Any], v: dict[str, Any], beta: float,
                                    learning_rate: float) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """One momentum step: ``(parameters, v)``, new arrays put into both dicts.

    Notes
    -----
    .. math:: v \\leftarrow \\beta v + (1 - \\beta)\\, dW,\\qquad W \\leftarrow W - \\alpha v
    """
    beta = finite_float("beta", beta)
    lr = _core.check_learning_rate(learning_rate)
    _common.optimizer_step(_core.MOMENTUM, parameters, grads, (v,), (lr, beta, 0.0, 1.0, 1.0, 0.0), ("v",))
    return parameters, v


def initialize_adam(parameters: dict[str, Any]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Adam's zero moving averages ``(v, s)``, each with keys ``dW1, db1, ...``."""
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters: dict[str, Any], grads: dict[str, Any], v: dict[str, Any], s: dict[str, Any],
                                t: int, learning_rate: float = 0.01, beta1: float = 0.9, beta2: float = 0.999,
                                epsilon: float = 1e-8) -> tuple[dict[str, np.ndarray], ...]:
    """One Adam step with bias correction; new arrays put into ``parameters``, ``v`` and ``s``.

    Parameters
    ----------
    t : int
        Number of this step, from 1 (the bias correction's exponent).

    Returns
    -------
    parameters, v, s, v_corrected, s_corrected
        The newest course's five values; the older course's ``(parameters, v,
        s)`` when the calling statement unpacks exactly three.

    Notes
    -----
    .. math:: v \\leftarrow \\beta_1 v + (1-\\beta_1) g,\\quad s \\leftarrow \\beta_2 s + (1-\\beta_2) g^2,\\quad
              W \\leftarrow W - \\alpha \\frac{v / (1-\\beta_1^t)}{\\sqrt{s / (1-\\beta_2^t)} + \\epsilon}
    """
    t = _core.as_int("t", t)
    if t < 1:
        raise ValueError(f"t must count the Adam steps from 1, got {t} (the bias correction divides by 1 - beta**t)")
    lr = _core.check_learning_rate(learning_rate)
    beta1, beta2 = finite_float("beta1", beta1), finite_float("beta2", beta2)
    epsilon = finite_float("epsilon", epsilon)
    if beta1 == 1 or beta2 == 1:
        raise ValueError(f"beta1 and beta2 must differ from 1 (the bias correction divides by 1 - beta**t); got "
                         f"{beta1}, {beta2}")
    hyper = (lr, beta1, beta2, 1 - beta1 ** t, 1 - beta2 ** t, epsilon)
    v_corrected, s_corrected = _common.optimizer_step(_core.ADAM, parameters, grads, (v, s), hyper, ("v", "s"))
    if _common.unpacked_count() == 3:
        return parameters, v, s
    return parameters, v, s, v_corrected, s_corrected


def random_mini_batches(X: ArrayLike, Y: ArrayLike, mini_batch_size: int = 64,
                        seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """The examples shuffled (``np.random.seed(seed)``, ``np.random.permutation``) and cut into batches.

    Returns
    -------
    list of (mini_batch_X, mini_batch_Y)
        Batches of ``mini_batch_size`` columns in the shuffled order, the
        last one shorter when ``m`` is not a multiple; each a new
        C-contiguous array of the input's dtype.
    """
    X_arr, Y_arr = _core.check_data(X, Y)
    size = v.positive_int("mini_batch_size", mini_batch_size)
    np.random.seed(_core.as_int("seed", seed))
    m = X_arr.shape[1]
    order = np.random.permutation(m)
    batches = []
    for k in range(math.ceil(m / size)):
        start, stop = k * size, min((k + 1) * size, m)
        batches.append((_take(X_arr, order, start, stop), _take(Y_arr, order, start, stop)))
    return batches


def _take(arr, order, start, stop):
    if arr.dtype.kind == "f" and arr.dtype.itemsize >= 4:
        return _common.gather_batch(arr, order, start, stop - start, arr.dtype)
    return np.ascontiguousarray(arr[:, order[start:stop]])


def update_lr(learning_rate0: float, epoch_num: int, decay_rate: float) -> float:
    """``learning_rate0 / (1 + decay_rate * epoch_num)``."""
    return 1 / (1 + decay_rate * epoch_num) * learning_rate0


def schedule_lr_decay(learning_rate0: float, epoch_num: int, decay_rate: float,
                      time_interval: int = 1000) -> np.float64:
    """``learning_rate0 / (1 + decay_rate * floor(epoch_num / time_interval))``: a step per ``time_interval`` epochs."""
    if time_interval == 0:
        raise ValueError("time_interval must not be 0")
    return 1 / (1 + decay_rate * np.floor(epoch_num / time_interval)) * learning_rate0


def model(X: ArrayLike, Y: ArrayLike, layers_dims: Sequence[int], optimizer: str, learning_rate: float = 0.0007,
          mini_batch_size: int = 64, beta: float = 0.9, beta1: float = 0.9, beta2: float = 0.999, epsilon: float = 1e-8,
          num_epochs: int = 5000, print_cost: bool = True, decay: Callable[[float, int, float], float] | None = None,
          decay_rate: float = 1, *, return_costs: bool = False) -> Any:
    """The assignment's model: mini-batch training with ``"gd"``, ``"momentum"`` or ``"adam"``.

    Parameters
    ----------
    X : array_like of shape (n_x, m)
    Y : array_like of shape (1, m)
    layers_dims : sequence of int
        The network's sizes (the course's ``[n_x, 5, 2, 1]``).
    optimizer : {"gd", "momentum", "adam"}
    learning_rate : float, default 0.0007
    mini_batch_size : int, default 64
    beta : float, default 0.9
        Momentum's.
    beta1, beta2, epsilon : float
        Adam's.
    num_epochs : int, default 5000
    print_cost : bool, default True
        Print ``Cost after epoch i: cost`` every 1000 epochs (and the learning rate when decaying).
    decay : callable, optional
        ``decay(learning_rate0, epoch, decay_rate)``, applied after each
        epoch (:func:`update_lr`, :func:`schedule_lr_decay` or the caller's).
    decay_rate : float, default 1
    return_costs : bool, default False
        Also return the mean costs of epochs 0, 100, 200, ...

    Returns
    -------
    parameters : dict
    costs : list of float, only when ``return_costs``

    Notes
    -----
    As the course: :func:`initialize_parameters` (seed 3), the shuffle of
    epoch ``i`` seeded with ``11 + i`` (so the batches are the course's),
    Adam's step count ``t`` over all batches.  Each epoch's batches run in
    one compiled call that gathers them, passes them forward and back and
    steps the optimizer over all parameters at once.
    """
    X_arr, Y_arr = _core.check_data(X, Y)
    dims = v.layer_dims("layers_dims", layers_dims)
    if dims[0] != X_arr.shape[0] or dims[-1] != Y_arr.shape[0]:
        raise ValueError(f"layers_dims {dims} must start with X's {X_arr.shape[0]} rows and end with Y's "
                         f"{Y_arr.shape[0]}")
    parameters = initialize_parameters(dims)
    parameters, costs = _models.minibatch(X_arr, Y_arr, parameters, optimizer, learning_rate, mini_batch_size, beta,
                                          beta1, beta2, epsilon, num_epochs, print_cost, decay, decay_rate)
    return (parameters, costs) if return_costs else parameters
