"""The week-4 step-by-step notebook's test cases, as the course's files build them.

Each builder seeds NumPy's global generator and draws its inputs in the
course's order, so the notebook's cells print the course's values.  Two
generations of the file differ in two builders: the newest (``testCases``,
``testCases_v4a``) labels ``compute_cost``'s case ``[[1, 1, 0]]`` and draws a
``(3, 4)`` ``dZ`` for ``linear_backward``; the older ``testCases_v3`` labels
it ``[[1, 1, 1]]`` and draws a ``(1, 2)`` one.
"""

import numpy as np


def _draws(seed, *shapes):
    np.random.seed(seed)
    return [np.random.randn(*shape) for shape in shapes]


def linear_forward_test_case():
    A, W, b = _draws(1, (3, 2), (1, 3), (1, 1))
    return A, W, b


def linear_activation_forward_test_case():
    A_prev, W, b = _draws(2, (3, 2), (1, 3), (1, 1))
    return A_prev, W, b


def _parameters(arrays):
    return {f"{kind}{l}": arrays[2 * (l - 1) + (kind == "b")] for l in range(1, len(arrays) // 2 + 1)
            for kind in ("W", "b")}


def L_model_forward_test_case():
    X, *layers = _draws(1, (4, 2), (3, 4), (3, 1), (1, 3), (1, 1))
    return X, _parameters(layers)


def L_model_forward_test_case_2hidden():
    X, *layers = _draws(6, (5, 4), (4, 5), (4, 1), (3, 4), (3, 1), (1, 3), (1, 1))
    return X, _parameters(layers)


def compute_cost_test_case(newest=True):
    Y = np.asarray([[1, 1, 0]]) if newest else np.asarray([[1, 1, 1]])
    aL = np.array([[.8, .9, 0.4]])
    return Y, aL


def linear_backward_test_case(newest=True):
    shapes = [(3, 4), (5, 4), (3, 5), (3, 1)] if newest else [(1, 2), (3, 2), (1, 3), (1, 1)]
    dZ, A, W, b = _draws(1, *shapes)
    return dZ, (A, W, b)


def linear_activation_backward_test_case():
    dA, A, W, b, Z = _draws(2, (1, 2), (3, 2), (1, 3), (1, 1), (1, 2))
    return dA, ((A, W, b), Z)


def L_model_backward_test_case():
    np.random.seed(3)
    AL = np.random.randn(1, 2)
    Y = np.array([[1, 0]])
    A1, W1, b1, Z1 = (np.random.randn(*s) for s in ((4, 2), (3, 4), (3, 1), (3, 2)))
    A2, W2, b2, Z2 = (np.random.randn(*s) for s in ((3, 2), (1, 3), (1, 1), (1, 2)))
    return AL, Y, (((A1, W1, b1), Z1), ((A2, W2, b2), Z2))


def print_grads(grads):
    """Print ``dW1``, ``db1`` and ``dA1`` of ``grads``, as the course's notebook shows them."""
    for key in ("dW1", "db1", "dA1"):
        print(f"{key} = {grads[key]}")


def update_parameters_test_case():
    W1, b1, W2, b2 = _draws(2, (3, 4), (3, 1), (1, 3), (1, 1))
    dW1, db1, dW2, db2 = _draws(3, (3, 4), (3, 1), (1, 3), (1, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}, {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


__all__ = [
    "linear_forward_test_case",
    "linear_activation_forward_test_case",
    "L_model_forward_test_case",
    "L_model_forward_test_case_2hidden",
    "compute_cost_test_case",
    "linear_backward_test_case",
    "linear_activation_backward_test_case",
    "L_model_backward_test_case",
    "print_grads",
    "update_parameters_test_case",
]
