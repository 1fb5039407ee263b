"""fastdnn: fully-connected deep neural networks on the CPU, fast.

``import fastdnn as dnn`` gives the course's functions (same names, same
arguments, same numbers) on fused Numba kernels, and :class:`Network`, a
trainer that owns its memory.
"""

import importlib

# First: sets how Numba's thread pool waits, before any kernel starts it.
from . import threads  # noqa: F401  isort: skip
# Before any kernel is called: a first call that compiles says so (fastdnn.compiling).
from . import compiling  # isort: skip

compiling.install()
from .course import (
    L_layer_model,
    L_model_backward,
    L_model_forward,
    compute_cost,
    initialize_parameters,
    initialize_parameters_deep,
    linear_activation_backward,
    linear_activation_forward,
    linear_backward,
    linear_forward,
    normalize_rows,
    predict,
    relu,
    relu_backward,
    sigmoid,
    sigmoid_backward,
    softmax,
    tanh,
    tanh_backward,
    two_layer_model,
    update_parameters,
)
from .data import load_catvnoncat
from .data import load_data, load_h5, load_idx, load_npy, load_npz
from .fitting import EarlyStopping, FitSettings
from . import config as _config
from .tuning import Options as _Options
from .network import Network
from .optimizers import SGD, Adam, AdamW, Momentum, Optimizer


#: Names imported on first use, (module, attribute or None for the module itself):
#: the estimator imports scikit-learn when it is installed, distributed mpi4py when called.
_LAZY = {
    "MLPClassifier": (".estimator", "MLPClassifier"),
    "MLPRegressor": (".estimator", "MLPRegressor"),
    "estimator": (".estimator", None),
    "distributed": (".distributed", None),
    "interop": (".interop", None),
    # The course's second part (its modules import the course's data sets' libraries only when called).
    "improving": (".improving", None),
}


def __getattr__(name):
    if name in _LAZY:
        module_name, attribute = _LAZY[name]
        module = importlib.import_module(module_name, __name__)
        value = module if attribute is None else getattr(module, attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'fastdnn' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


# The course's other weeks: logistic regression (week 2), the planar model
# (week 3, whose helpers SPEC section 1 also lists at the top level), figures
# and image helpers.
from . import images, learning_rates, logistic, planar, plots  # noqa: E402
from .planar import layer_sizes, load_planar_dataset, nn_model  # noqa: E402

#: The thresholds in force (``fastdnn.options.blocked_min_flops``), and a scoped override
#: (``with fastdnn.options(blocked_min_flops=1e12): ...``); see :mod:`fastdnn.tuning`.
options = _Options(_config)

__version__ = "0.1.0"
