"""The course's training loops as its students write them, over any set of helpers.

In the course's assignments the student writes the loop and imports the
helpers: ``L_layer_model`` and ``two_layer_model`` call
``L_model_forward``, ``compute_cost``, ``L_model_backward`` (or
``linear_activation_forward``/``_backward``) and ``update_parameters``;
week 2's ``optimize`` calls ``propagate``; week 3's ``nn_model`` calls
``forward_propagation``, ``compute_cost``, ``backward_propagation`` and
``update_parameters``; the second part's optimization notebook writes its
``model`` with ``random_mini_batches``, ``forward_propagation``,
``compute_cost``, ``backward_propagation`` and
``update_parameters_with_adam``.  Each loop here is written the way the course writes
it -- fresh dictionaries every iteration, NumPy for the student's own
lines -- against a *helpers* object holding those names, so the same loop
runs on fastdnn's helpers and on :mod:`fastdnn.reference`'s.  The
benchmarks (``benchmarks/test_bench_student_loops.py``) and
``fastdnn bench --course`` time them side by side.  Each loop takes
``between``: a callable run between every two iterations (the student's
own NumPy work, for ``fastdnn bench --course --short``).
"""

import numpy as np

from . import course, logistic, planar, reference
from .improving import optimization, regularization

def _between(between, i):
    # The student's own NumPy work between two iterations (a benchmark's stand-in for a notebook's).
    if between is not None and i > 0:
        between()


#: The helpers of each loop: fastdnn's and the plain-NumPy reference's.
HELPERS = {
    "deep": {"fastdnn": course, "reference": reference},
    "logistic": {"fastdnn": logistic, "reference": reference.logistic},
    "planar": {"fastdnn": planar, "reference": reference.planar},
    "optimization": {"fastdnn": optimization, "reference": reference.optimization},
    "regularization": {"fastdnn": regularization, "reference": reference.regularization},
}


def L_layer_loop(h, X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False, between=None):
    """The application's ``L_layer_model``, with the helpers of ``h``.

    Returns
    -------
    parameters : dict
    costs : list of float
        Every 100th iteration's cost, as the course records them.
    """
    costs = []
    parameters = h.initialize_parameters_deep(layers_dims)
    for i in range(num_iterations):
        _between(between, i)
        AL, caches = h.L_model_forward(X, parameters)
        cost = h.compute_cost(AL, Y)
        grads = h.L_model_backward(AL, Y, caches)
        parameters = h.update_parameters(parameters, grads, learning_rate)
        if print_cost and (i % 100 == 0 or i == num_iterations - 1):
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
        if i % 100 == 0 or i == num_iterations:
            costs.append(cost)
    return parameters, costs


def two_layer_loop(h, X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000, print_cost=False,
                   between=None):
    """The application's ``two_layer_model``: the student's own ``dA2`` and the layer helpers of ``h``."""
    grads = {}
    costs = []
    n_x, n_h, n_y = layers_dims
    parameters = h.initialize_parameters(n_x, n_h, n_y)
    W1 = parameters["W1"]
    b1 = parameters["b1"]
    W2 = parameters["W2"]
    b2 = parameters["b2"]
    for i in range(num_iterations):
        _between(between, i)
        A1, cache1 = h.linear_activation_forward(X, W1, b1, "relu")
        A2, cache2 = h.linear_activation_forward(A1, W2, b2, "sigmoid")
        cost = h.compute_cost(A2, Y)
        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, dW2, db2 = h.linear_activation_backward(dA2, cache2, "sigmoid")
        dA0, dW1, db1 = h.linear_activation_backward(dA1, cache1, "relu")
        grads["dW1"] = dW1
        grads["db1"] = db1
        grads["dW2"] = dW2
        grads["db2"] = db2
        parameters = h.update_parameters(parameters, grads, learning_rate)
        W1 = parameters["W1"]
        b1 = parameters["b1"]
        W2 = parameters["W2"]
        b2 = parameters["b2"]
        if print_cost and (i % 100 == 0 or i == num_iterations - 1):
            print("Cost after iteration {}: {}".format(i, np.squeeze(cost)))
        if i % 100 == 0 or i == num_iterations:
            costs.append(cost)
    return parameters, costs


def optimize_loop(h, w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False, between=None):
    """Week 2's ``optimize``: gradient descent written around ``h.propagate``."""
    costs = []
    for i in range(num_iterations):
        _between(between, i)
        grads, cost = h.propagate(w, b, X, Y)
        dw = grads["dw"]
        db = grads["db"]
        w = w - learning_rate * dw
        b = b - learning_rate * db
        if i % 100 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))
    return {"w": w, "b": b}, {"dw": dw, "db": db}, costs


def planar_loop(h, X, Y, n_h, num_iterations=10000, print_cost=False, between=None):
    """Week 3's ``nn_model``: the planar helpers of ``h`` in the student's loop."""
    np.random.seed(3)
    n_x = X.shape[0]
    n_y = Y.shape[0]
    parameters = h.initialize_parameters(n_x, n_h, n_y)
    costs = []
    for i in range(num_iterations):
        _between(between, i)
        A2, cache = h.forward_propagation(X, parameters)
        cost = h.compute_cost(A2, Y)
        grads = h.backward_propagation(parameters, cache, X, Y)
        parameters = h.update_parameters(parameters, grads)
        if i % 1000 == 0:
            costs.append(cost)
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))
    return parameters, costs


def adam_loop(h, X, Y, layers_dims, learning_rate=0.0007, mini_batch_size=64, num_epochs=5000, print_cost=False,
              between=None):
    """The optimization notebook's ``model`` with Adam: the helpers of ``h`` in the student's epochs."""
    parameters = h.initialize_parameters(layers_dims)
    v, s = h.initialize_adam(parameters)
    m = X.shape[1]
    t, seed, costs = 0, 10, []
    for i in range(num_epochs):
        _between(between, i)
        seed = seed + 1
        cost_total = 0
        for minibatch_X, minibatch_Y in h.random_mini_batches(X, Y, mini_batch_size, seed):
            a3, caches = h.forward_propagation(minibatch_X, parameters)
            cost_total += h.compute_cost(a3, minibatch_Y)
            grads = h.backward_propagation(minibatch_X, minibatch_Y, caches)
            t = t + 1
            parameters, v, s, _, _ = h.update_parameters_with_adam(parameters, grads, v, s, t, learning_rate)
        cost_avg = cost_total / m
        if i % 100 == 0:
            costs.append(cost_avg)
            if print_cost:
                print("Cost after epoch %i: %f" % (i, cost_avg))
    return parameters, costs
