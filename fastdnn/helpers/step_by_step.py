"""The week-4 step-by-step notebook's own functions, with its conventions, and the names it imports.

``from fastdnn.helpers.step_by_step import *`` gives what the notebook's cells
use: its graded functions (``initialize_parameters``, seed 1 and ``* 0.01``;
``initialize_parameters_deep``, seed **3** and ``* 0.01``, the notebook's and
not the application's; ``linear_forward`` ... ``update_parameters``, fastdnn's
course helpers), the activations of ``dnn_utils_v2`` and the test cases of
``testCases_v4a``.
"""

from .. import course
from ..course import (  # noqa: F401
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialize_parameters,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    update_parameters,
)
from . import _week4_cases
from ._week4_cases import *  # noqa: F401,F403
from .dnn_utils_v2 import relu, relu_backward, sigmoid, sigmoid_backward  # noqa: F401

__all__ = [
    "sigmoid",
    "sigmoid_backward",
    "relu",
    "relu_backward",
    "initialize_parameters",
    "initialize_parameters_deep",
    "initialise_parameters",
    "initialise_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
] + list(_week4_cases.__all__)


def initialize_parameters_deep(layer_dims):
    """The step-by-step notebook's start: ``np.random.seed(3)``, then ``W = randn * 0.01``, zero biases.

    (The application's, seed 1 and ``randn / sqrt(n_prev)``, is
    :func:`fastdnn.initialize_parameters_deep` and
    :func:`fastdnn.helpers.dnn_app_utils_v3.initialize_parameters_deep`.)
    """
    return course.initialize_parameters_deep(layer_dims, init="small", seed=3)


#: The spelling of some versions of the notebook.
initialise_parameters = initialize_parameters
initialise_parameters_deep = initialize_parameters_deep
