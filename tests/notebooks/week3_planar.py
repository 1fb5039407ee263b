"""Week 3, planar data classification with one hidden layer: the notebook's cells (sklearn's baseline aside)."""

import numpy as np

# from testCases_v2 import *
# from planar_utils import plot_decision_boundary, sigmoid, load_planar_dataset, load_extra_datasets
from fastdnn.helpers.testCases_v2 import *  # noqa: F403
from fastdnn.helpers.planar_utils import load_planar_dataset  # noqa: F401
# (the notebook's own functions)
from fastdnn.planar import (backward_propagation, compute_cost, forward_propagation, initialize_parameters,
                            layer_sizes, nn_model, predict, update_parameters)

np.random.seed(1)
X, Y = load_planar_dataset()
print("The shape of X is: " + str(X.shape))
print("The shape of Y is: " + str(Y.shape))
print("I have m = %d training examples!" % (X.shape[1]))

t_X, t_Y = layer_sizes_test_case()  # noqa: F405
(n_x, n_h, n_y) = layer_sizes(t_X, t_Y)
print("The size of the input layer is: n_x = " + str(n_x))
print("The size of the hidden layer is: n_h = " + str(n_h))
print("The size of the output layer is: n_y = " + str(n_y))

np.random.seed(2)
n_x, n_h, n_y = initialize_parameters_test_case()  # noqa: F405
parameters = initialize_parameters(n_x, n_h, n_y)
print("W1 = " + str(parameters["W1"]))
print("W2 = " + str(parameters["W2"]))

t_X, parameters = forward_propagation_test_case()  # noqa: F405
A2, cache = forward_propagation(t_X, parameters)
print("A2 = " + str(A2))

A2, t_Y = compute_cost_test_case()  # noqa: F405
cost = compute_cost(A2, t_Y)
print("cost = " + str(compute_cost(A2, t_Y)))

parameters, cache, t_X, t_Y = backward_propagation_test_case()  # noqa: F405
grads = backward_propagation(parameters, cache, t_X, t_Y)
print("dW1 = " + str(grads["dW1"]))
print("db2 = " + str(grads["db2"]))

parameters, grads = update_parameters_test_case()  # noqa: F405
parameters = update_parameters(parameters, grads)
print("W2 = " + str(parameters["W2"]))

parameters, t_X = predict_test_case()  # noqa: F405
predictions = predict(parameters, t_X)
print("Predictions: " + str(predictions))

t_X, t_Y = nn_model_test_case()  # noqa: F405
np.random.seed(3)
parameters = nn_model(t_X, t_Y, n_h=4, num_iterations=10000, print_cost=True)
print("W1 = " + str(parameters["W1"]))

parameters = nn_model(X, Y, n_h=4, num_iterations=10000, print_cost=True)
predictions = predict(parameters, X)
# The notebook's line, but for [0, 0]: NumPy 2.4 refuses float() of the (1, 1) array its products give.
print('Accuracy: %d' % float((np.dot(Y, predictions.T) + np.dot(1 - Y, 1 - predictions.T))[0, 0] / float(Y.size)
                             * 100) + '%')
