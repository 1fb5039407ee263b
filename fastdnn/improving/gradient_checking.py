"""The course's "Gradient checking" assignment: two-sided differences against backpropagation.

``from fastdnn.improving.gradient_checking import *`` stands for the
assignment's ``from gc_utils import ...`` and its own functions, with the
course's names, arguments, returns and printed lines.  Its
:func:`backward_propagation_n` is the correct one (the course's has two
planted mistakes for the student to find), so :func:`gradient_check_n` of
the course's test case prints that the backward pass is fine.  The checks
run every perturbed forward pass inside one compiled call.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from .. import validation as v
from . import _common, _core

if TYPE_CHECKING:
    from collections.abc import Sequence

    from numpy.typing import ArrayLike

__all__ = [
    "sigmoid",
    "relu",
    "forward_propagation",
    "backward_propagation",
    "gradient_check",
    "dictionary_to_vector",
    "vector_to_dictionary",
    "gradients_to_vector",
    "forward_propagation_n",
    "backward_propagation_n",
    "gradient_check_n",
]

CONVENTION = _core.Convention(scale_first=False, lower_case=False)
#: A relative difference above this says the backward pass is wrong (the course's threshold).
THRESHOLD = 2e-7
#: The layer sizes :func:`vector_to_dictionary` assumes unless told (the course's hard-coded network).
COURSE_LAYERS_DIMS = (4, 5, 3, 1)

_X = TypeVar("_X")

sigmoid = _common.sigmoid
relu = _common.relu


def forward_propagation(x: ArrayLike, theta: ArrayLike) -> np.ndarray | np.number:
    """The one-parameter "network" ``J = theta x``."""
    return np.dot(theta, x)


def backward_propagation(x: _X, theta: ArrayLike) -> _X:
    """``dJ/dtheta = x``."""
    return x


def _difference(grad, gradapprox, print_msg):
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    difference = numerator / denominator
    if print_msg:
        if difference > THRESHOLD:
            print("\033[93m" + "There is a mistake in the backward propagation! difference = " + str(difference)
                  + "\033[0m")
        else:
            print("\033[92m" + "Your backward propagation works perfectly fine! difference = " + str(difference)
                  + "\033[0m")
    return difference


def gradient_check(x: ArrayLike, theta: float | np.ndarray, epsilon: float = 1e-7,
                   print_msg: bool = False) -> np.floating:
    """Relative difference of :func:`backward_propagation` and the two-sided difference of :func:`forward_propagation`.

    Notes
    -----
    .. math:: \\frac{\\lVert g - \\tilde g \\rVert}{\\lVert g \\rVert + \\lVert \\tilde g \\rVert},\\qquad
              \\tilde g = \\frac{J(\\theta + \\epsilon) - J(\\theta - \\epsilon)}{2 \\epsilon}
    """
    epsilon = v.finite_float("epsilon", epsilon)
    if epsilon == 0:
        raise ValueError("epsilon must not be 0: the difference divides by 2 * epsilon")
    gradapprox = (forward_propagation(x, theta + epsilon) - forward_propagation(x, theta - epsilon)) / (2 * epsilon)
    return _difference(backward_propagation(x, theta), gradapprox, print_msg)


def dictionary_to_vector(parameters: dict[str, Any]) -> tuple[np.ndarray, list[str]]:
    """Every parameter in one column ``(n, 1)``, ``W1, b1, W2, ...`` each row by row; and each entry's key.

    Returns
    -------
    theta : ndarray of shape (n, 1)
    keys : list of str
        ``keys[i]`` names the parameter ``theta[i]`` came from.
    """
    layers = _core.check_parameters(parameters)
    columns, keys = [], []
    for l, (W, b) in enumerate(layers, start=1):
        for key, arr in ((f"W{l}", W), (f"b{l}", b)):
            columns.append(np.reshape(arr, (-1, 1)))
            keys += [key] * arr.size
    return np.concatenate(columns, axis=0), keys


def vector_to_dictionary(theta: ArrayLike, layers_dims: Sequence[int] = COURSE_LAYERS_DIMS) -> dict[str, np.ndarray]:
    """The parameters dict back from :func:`dictionary_to_vector`'s column.

    Parameters
    ----------
    theta : array_like of shape (n, 1) or (n,)
    layers_dims : sequence of int, default (4, 5, 3, 1)
        The network's sizes (the course's function knows only its own).
    """
    dims = v.layer_dims("layers_dims", layers_dims)
    arr = v.as_array("theta", theta)
    sizes = [(dims[l], dims[l - 1]) for l in range(1, len(dims))]
    n = sum(r * c + r for r, c in sizes)
    if arr.size != n or (arr.ndim == 2 and arr.shape[1] != 1) or arr.ndim > 2:
        raise ValueError(f"theta of shape {arr.shape} must hold the {n} parameters of a network {dims} in one "
                         f"column")
    flat = arr.reshape(-1)
    parameters, start = {}, 0
    for l, (r, c) in enumerate(sizes, start=1):
        parameters[f"W{l}"] = flat[start:start + r * c].reshape(r, c)
        start += r * c
        parameters[f"b{l}"] = flat[start:start + r].reshape(r, 1)
        start += r
    return parameters


def gradients_to_vector(gradients: dict[str, Any]) -> np.ndarray:
    """``dW1, db1, dW2, ...`` in one column ``(n, 1)`` (other keys, such as ``dZ3``, are ignored)."""
    if not isinstance(gradients, dict):
        raise TypeError(f"gradients must be a dict with keys 'dW1', 'db1', ...; got {type(gradients).__name__}")
    L = 0
    while f"dW{L + 1}" in gradients:
        L += 1
    if L == 0 or any(f"db{l}" not in gradients for l in range(1, L + 1)):
        raise ValueError(f"gradients must hold dW1, db1, ..., dWL, dbL; got keys {sorted(map(str, gradients))}")
    columns = [np.reshape(v.as_array(f"{k}{l}", gradients[f"{k}{l}"]), (-1, 1))
               for l in range(1, L + 1) for k in ("dW", "db")]
    return np.concatenate(columns, axis=0)


def forward_propagation_n(X: ArrayLike, Y: ArrayLike, parameters: dict[str, Any]) -> tuple[np.float64, tuple[Any, ...]]:
    """The forward pass and its mean cost (``np.sum``, no NaN left out): ``(cost, cache)``."""
    A, cache = _common.forward_propagation(X, parameters)
    total, m = _common.log_loss_sum(A, Y, False, a_name="A3")
    return 1. / m * total, cache


def backward_propagation_n(X: ArrayLike, Y: ArrayLike, cache: tuple[Any, ...] | list[Any]) -> dict[str, np.ndarray]:
    """The gradients of :func:`forward_propagation_n`'s cost: ``dZ3, dW3, db3, dA2, ...``."""
    return _common.backward_propagation(X, Y, cache, CONVENTION)


def gradient_check_n(parameters: dict[str, Any], gradients: dict[str, Any], X: ArrayLike, Y: ArrayLike,
                     epsilon: float = 1e-7, print_msg: bool = False) -> np.float64:
    """Relative difference of ``gradients`` and the two-sided differences of :func:`forward_propagation_n`'s cost.

    Every parameter is moved by ``+epsilon`` and ``-epsilon`` in turn (two
    forward passes each), all inside one compiled call.

    Returns
    -------
    numpy.float64
        Below 2e-7 the backward pass is taken to be right; ``print_msg`` prints the course's verdict.
    """
    epsilon = v.finite_float("epsilon", epsilon)
    if epsilon == 0:
        raise ValueError("epsilon must not be 0: the difference divides by 2 * epsilon")
    X_arr, Y_arr = _core.check_data(X, Y)
    layers = _core.check_parameters(parameters, n_x=X_arr.shape[0])
    _core.check_output_rows(layers, Y_arr)
    grad = gradients_to_vector(gradients)
    n = sum(W.size + b.size for W, b in layers)
    if grad.shape[0] != n:
        raise ValueError(f"gradients hold {grad.shape[0]} values for the {n} parameters")
    dtype = np.dtype(np.float64)  # differences of 1e-7 need float64 whatever the inputs
    v.check_label_values("Y", Y_arr, dtype)
    Xc, = _core.prepared(dtype, [("X", X_arr)])
    Yc = v.prepare(Y_arr, dtype)
    params, Ws, bs = _core.parameter_arena(layers, dtype)
    v.check_finite("parameters", params)
    m = Xc.shape[1]
    Zs = tuple(np.empty((W.shape[0], m), dtype=dtype) for W in Ws)
    As = tuple(np.empty_like(Z) for Z in Zs)
    J_plus, J_minus = np.empty((n, 1)), np.empty((n, 1))
    with np.errstate(all="ignore"):
        _core.perturbed_costs(Xc, Yc, params, Ws, bs, Zs, As, epsilon, J_plus.reshape(-1), J_minus.reshape(-1))
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    return _difference(grad, gradapprox, print_msg)
