"""Week 2, logistic regression with a neural-network mindset: the notebook's cells."""

import numpy as np

# from lr_utils import load_dataset
from fastdnn.helpers.lr_utils import load_dataset
# (the notebook's own functions)
from fastdnn.logistic import initialize_with_zeros, model, optimize, predict, propagate, sigmoid

train_set_x_orig, train_set_y, test_set_x_orig, test_set_y, classes = load_dataset()
m_train, m_test, num_px = train_set_x_orig.shape[0], test_set_x_orig.shape[0], train_set_x_orig.shape[1]
print("Number of training examples: m_train = " + str(m_train))
print("Number of testing examples: m_test = " + str(m_test))
print("Height/Width of each image: num_px = " + str(num_px))

train_set_x_flatten = train_set_x_orig.reshape(train_set_x_orig.shape[0], -1).T
test_set_x_flatten = test_set_x_orig.reshape(test_set_x_orig.shape[0], -1).T
print("train_set_x_flatten shape: " + str(train_set_x_flatten.shape))
train_set_x = train_set_x_flatten / 255.
test_set_x = test_set_x_flatten / 255.

print("sigmoid([0, 2]) = " + str(sigmoid(np.array([0, 2]))))

dim = 2
w, b = initialize_with_zeros(dim)
print("w = " + str(w))
print("b = " + str(b))

w = np.array([[1.], [2.]])
b = 2.
X = np.array([[1., 2., -1.], [3., 4., -3.2]])
Y = np.array([[1, 0, 1]])
grads, cost = propagate(w, b, X, Y)
print("dw = " + str(grads["dw"]))
print("db = " + str(grads["db"]))
print("cost = " + str(cost))

params, grads, costs = optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False)
print("w = " + str(params["w"]))
print("b = " + str(params["b"]))

w = np.array([[0.1124579], [0.23106775]])
b = -0.3
X = np.array([[1., -1.1, -3.2], [1.2, 2., 0.1]])
print("predictions = " + str(predict(w, b, X)))

logistic_regression_model = model(train_set_x, train_set_y, test_set_x, test_set_y, num_iterations=2000,
                                  learning_rate=0.005, print_cost=True)
