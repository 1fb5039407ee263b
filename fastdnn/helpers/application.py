"""The week-4 application notebook's functions: ``dnn_app_utils_v3`` and its two models.

``from fastdnn.helpers.application import *`` gives the names of
``dnn_app_utils_v3`` and the notebook's graded ``two_layer_model`` and
``L_layer_model`` (:mod:`fastdnn.course`'s: they return ``(parameters,
costs)`` as the newest course's do, print ``Cost after iteration i: cost``
every 100 iterations and at the last when ``print_cost`` is on), and
``plot_costs``.  The models leave NumPy's global generator as the course's
leave it (seeded with 1, then the weights drawn), although fastdnn's network
draws its own.
"""

import numpy as np

from ..course import L_layer_model as _L_layer_model
from ..course import two_layer_model as _two_layer_model
from ..plots import pyplot
from . import dnn_app_utils_v3 as _utils
from .dnn_app_utils_v3 import *  # noqa: F401,F403

__all__ = list(_utils.__all__) + ["two_layer_model", "L_layer_model", "plot_costs"]


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False):
    """The course's two-layer model: ``(parameters, costs)`` (see :func:`fastdnn.two_layer_model`)."""
    _utils.initialize_parameters(*layers_dims)  # the course's draws from the global generator
    return _course_costs(_two_layer_model(X, Y, layers_dims, learning_rate, num_iterations, print_cost,
                                          return_costs=True), num_iterations)


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False):
    """The course's L-layer model: ``(parameters, costs)`` (see :func:`fastdnn.L_layer_model`)."""
    _utils.initialize_parameters_deep(layers_dims)  # the course's draws from the global generator
    return _course_costs(_L_layer_model(X, Y, layers_dims, learning_rate, num_iterations, print_cost,
                                        return_costs=True), num_iterations)


def _course_costs(result, num_iterations):
    # fastdnn records the last iteration's cost too; the course's list holds the costs of iterations 0, 100,
    # 200, ... only, each the 0-d array its compute_cost returns (its public tests check the type).
    parameters, costs = result
    return parameters, [np.array(cost) for cost in costs[:len(range(0, num_iterations, 100))]]


def plot_costs(costs, learning_rate=0.0075):
    """The course's cost curve (one point per 100 iterations) into pyplot's current figure."""
    plt = pyplot()
    plt.plot(np.squeeze(costs))
    plt.ylabel("cost")
    plt.xlabel("iterations (per hundreds)")
    plt.title("Learning rate =" + str(learning_rate))
    plt.show()
