"""The week-4 step-by-step notebook's ``dnn_utils_v2``: the activations and their gradients, in the course's form.

``sigmoid`` and ``relu`` return ``(A, cache)`` with ``cache = Z``;
``sigmoid_backward`` and ``relu_backward`` take ``(dA, cache)``.
"""

from ..course import relu, relu_backward, sigmoid, sigmoid_backward

__all__ = ["sigmoid", "sigmoid_backward", "relu", "relu_backward"]
