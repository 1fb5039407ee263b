"""Week 4, the deep neural network application on the cat images: the notebook's cells."""

import matplotlib.pyplot as plt
import numpy as np

# from dnn_app_utils_v3 import *
# (and the notebook's own models)
from fastdnn.helpers.application import *  # noqa: F403

plt.rcParams["figure.figsize"] = (5.0, 4.0)
np.random.seed(1)

train_x_orig, train_y, test_x_orig, test_y, classes = load_data()  # noqa: F405
train_x = train_x_orig.reshape(train_x_orig.shape[0], -1).T / 255.
test_x = test_x_orig.reshape(test_x_orig.shape[0], -1).T / 255.
print("train_x's shape: " + str(train_x.shape))

n_x, n_h, n_y = 12288, 7, 1
learning_rate = 0.0075
parameters, costs = two_layer_model(train_x, train_y, layers_dims=(n_x, n_h, n_y), num_iterations=2500,  # noqa
                                    print_cost=True)
predictions_train = predict(train_x, train_y, parameters)  # noqa: F405
predictions_test = predict(test_x, test_y, parameters)  # noqa: F405

layers_dims = [12288, 20, 7, 5, 1]
parameters, costs = L_layer_model(train_x, train_y, layers_dims, num_iterations=2500, print_cost=True)  # noqa
pred_train = predict(train_x, train_y, parameters)  # noqa: F405
pred_test = predict(test_x, test_y, parameters)  # noqa: F405
print_mislabeled_images(classes, test_x, test_y, pred_test)  # noqa: F405
plt.close("all")
