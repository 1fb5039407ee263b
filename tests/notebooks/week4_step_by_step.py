"""Week 4, building a deep neural network step by step: the notebook's cells."""

import numpy as np

# from testCases_v4a import *
# from dnn_utils_v2 import sigmoid, sigmoid_backward, relu, relu_backward
# (and the notebook's own functions)
from fastdnn.helpers.step_by_step import *  # noqa: F403

np.random.seed(1)

parameters = initialize_parameters(3, 2, 1)  # noqa: F405
print("W1 = " + str(parameters["W1"]))
print("W2 = " + str(parameters["W2"]))

parameters = initialize_parameters_deep([5, 4, 3])  # noqa: F405
print("W1 = " + str(parameters["W1"]))

t_A, t_W, t_b = linear_forward_test_case()  # noqa: F405
t_Z, t_linear_cache = linear_forward(t_A, t_W, t_b)  # noqa: F405
print("Z = " + str(t_Z))

t_A_prev, t_W, t_b = linear_activation_forward_test_case()  # noqa: F405
t_A, t_cache = linear_activation_forward(t_A_prev, t_W, t_b, activation="sigmoid")  # noqa: F405
print("With sigmoid: A = " + str(t_A))
t_A, t_cache = linear_activation_forward(t_A_prev, t_W, t_b, activation="relu")  # noqa: F405
print("With ReLU: A = " + str(t_A))

t_X, t_parameters = L_model_forward_test_case_2hidden()  # noqa: F405
t_AL, t_caches = L_model_forward(t_X, t_parameters)  # noqa: F405
print("AL = " + str(t_AL))

t_Y, t_AL = compute_cost_test_case()  # noqa: F405
t_cost = compute_cost(t_AL, t_Y)  # noqa: F405
print("Cost: " + str(t_cost))

t_dZ, t_linear_cache = linear_backward_test_case()  # noqa: F405
t_dA_prev, t_dW, t_db = linear_backward(t_dZ, t_linear_cache)  # noqa: F405
print("db = " + str(t_db))

t_dAL, t_linear_activation_cache = linear_activation_backward_test_case()  # noqa: F405
t_dA_prev, t_dW, t_db = linear_activation_backward(t_dAL, t_linear_activation_cache, activation="sigmoid")  # noqa
print("With sigmoid: dW = " + str(t_dW))
t_dA_prev, t_dW, t_db = linear_activation_backward(t_dAL, t_linear_activation_cache, activation="relu")  # noqa
print("With relu: db = " + str(t_db))

t_AL, t_Y_assess, t_caches = L_model_backward_test_case()  # noqa: F405
grads = L_model_backward(t_AL, t_Y_assess, t_caches)  # noqa: F405
print_grads(grads)  # noqa: F405

t_parameters, grads = update_parameters_test_case()  # noqa: F405
t_parameters = update_parameters(t_parameters, grads, 0.1)  # noqa: F405
print("b2 = " + str(t_parameters["b2"]))
