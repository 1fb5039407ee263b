"""Plain-NumPy twins of :mod:`fastdnn.improving`: the slow baseline of the course's second part.

The arithmetic is the course's, in its order (``1/m`` where the course puts
it, ``np.nansum`` where it skips ``0 * log 0``), so that these functions give
the course's printed values; the tests compare fastdnn's functions with them
and the benchmarks time them.  They are written for any number of layers
(the course's networks have three), take no shortcuts and validate nothing.
``fastdnn.reference.initialization``, ``.regularization``,
``.gradient_checking`` and ``.optimization`` name them by assignment.
"""

import math

import numpy as np

# ---------------------------------------------------------------- shared pieces


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def relu(x):
    return np.maximum(0, x)


def _layers(parameters):
    return len(parameters) // 2


def _forward(X, parameters):
    # The cache is (Z1, A1, W1, b1, Z2, ...).
    L = _layers(parameters)
    cache = []
    A = X
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = np.dot(W, A) + b
        A = sigmoid(Z) if l == L else relu(Z)
        cache += [Z, A, W, b]
    return A, tuple(cache)


def _split_cache(cache, with_masks):
    # Groups of four (Z, A, W, b); with dropout every hidden layer has a D after its Z.
    if not with_masks:
        return [cache[k:k + 4] for k in range(0, len(cache), 4)], None
    L = (len(cache) + 1) // 5
    rows = [cache[5 * k:5 * k + 5] for k in range(L - 1)]
    last = cache[5 * (L - 1):]
    return [(r[0], r[2], r[3], r[4]) for r in rows] + [tuple(last)], [r[1] for r in rows]


def _backward(X, Y, cache, scale_first, lower_case, lambd=0.0, keep_prob=1.0, with_masks=False):
    m = X.shape[1]
    rows, masks = _split_cache(cache, with_masks)
    L = len(rows)
    z, a = ("dz", "da") if lower_case else ("dZ", "dA")
    grads = {}
    A_out = rows[-1][1]
    dZ = 1. / m * (A_out - Y) if scale_first else A_out - Y
    for l in range(L, 0, -1):
        Z, A, W, b = rows[l - 1]
        A_prev = X if l == 1 else rows[l - 2][1]
        if scale_first:
            dW = np.dot(dZ, A_prev.T)
            db = np.sum(dZ, axis=1, keepdims=True)
        else:
            dW = 1. / m * np.dot(dZ, A_prev.T)
            db = 1. / m * np.sum(dZ, axis=1, keepdims=True)
        if lambd:
            dW = dW + lambd / m * W
        grads[f"{z}{l}"], grads[f"dW{l}"], grads[f"db{l}"] = dZ, dW, db
        if l > 1:
            dA = np.dot(W.T, dZ)
            if with_masks:
                dA = dA * masks[l - 2]
                dA = dA / keep_prob
            grads[f"{a}{l - 1}"] = dA
            dZ = np.multiply(dA, np.int64(rows[l - 2][1] > 0))
    return grads


def _log_probs(A, Y):
    return np.multiply(-np.log(A), Y) + np.multiply(-np.log(1 - A), 1 - Y)


def _update(parameters, grads, learning_rate):
    for l in range(1, _layers(parameters) + 1):
        parameters[f"W{l}"] = parameters[f"W{l}"] - learning_rate * grads[f"dW{l}"]
        parameters[f"b{l}"] = parameters[f"b{l}"] - learning_rate * grads[f"db{l}"]
    return parameters


def predict(X, y, parameters):
    a, _ = _forward(X, parameters)
    p = (a > 0.5).astype(np.int64)
    print("Accuracy: " + str(np.mean(p[0, :] == y[0, :])))
    return p


def predict_dec(parameters, X):
    a, _ = _forward(X, parameters)
    return a > 0.5


def _initialize(layers_dims, scale, seed=3):
    np.random.seed(seed)
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters[f"W{l}"] = np.random.randn(layers_dims[l], layers_dims[l - 1]) * scale(layers_dims[l - 1])
        parameters[f"b{l}"] = np.zeros((layers_dims[l], 1))
    return parameters


# ---------------------------------------------------------------- initialization


def initialize_parameters_zeros(layers_dims):
    parameters = {}
    for l in range(1, len(layers_dims)):
        parameters[f"W{l}"] = np.zeros((layers_dims[l], layers_dims[l - 1]))
        parameters[f"b{l}"] = np.zeros((layers_dims[l], 1))
    return parameters


def initialize_parameters_random(layers_dims):
    return _initialize(layers_dims, lambda n: 10)


def initialize_parameters_he(layers_dims):
    return _initialize(layers_dims, lambda n: np.sqrt(2. / n))


def init_forward_propagation(X, parameters):
    return _forward(X, parameters)


def init_backward_propagation(X, Y, cache):
    return _backward(X, Y, cache, scale_first=True, lower_case=True)


def compute_loss(a3, Y):
    m = Y.shape[1]
    return 1. / m * np.nansum(_log_probs(a3, Y))


def init_model(X, Y, learning_rate=0.01, num_iterations=15000, print_cost=True, initialization="he",
               return_costs=False):
    layers_dims = [X.shape[0], 10, 5, 1]
    start = {"zeros": initialize_parameters_zeros, "random": initialize_parameters_random,
             "he": initialize_parameters_he}[initialization]
    parameters = start(layers_dims)
    costs = []
    for i in range(num_iterations):
        a3, cache = _forward(X, parameters)
        cost = compute_loss(a3, Y)
        grads = init_backward_propagation(X, Y, cache)
        parameters = _update(parameters, grads, learning_rate)
        if i % 1000 == 0:
            if print_cost:
                print("Cost after iteration {}: {}".format(i, cost))
            costs.append(cost)
    return (parameters, costs) if return_costs else parameters


# ---------------------------------------------------------------- regularization


def reg_initialize_parameters(layer_dims):
    return _initialize(layer_dims, lambda n: 1 / np.sqrt(n))


def reg_forward_propagation(X, parameters):
    return _forward(X, parameters)


def reg_backward_propagation(X, Y, cache):
    return _backward(X, Y, cache, scale_first=False, lower_case=False)


def reg_compute_cost(a3, Y):
    m = Y.shape[1]
    return 1. / m * np.nansum(_log_probs(a3, Y))


def compute_cost_with_regularization(A3, Y, parameters, lambd):
    m = Y.shape[1]
    squares = sum(np.sum(np.square(parameters[f"W{l}"])) for l in range(1, _layers(parameters) + 1))
    return reg_compute_cost(A3, Y) + (1. / m * lambd / 2) * squares


def backward_propagation_with_regularization(X, Y, cache, lambd):
    return _backward(X, Y, cache, scale_first=False, lower_case=False, lambd=lambd)


def forward_propagation_with_dropout(X, parameters, keep_prob=0.5):
    np.random.seed(1)
    L = _layers(parameters)
    masks = []
    A = X
    cache = []
    for l in range(1, L + 1):
        W, b = parameters[f"W{l}"], parameters[f"b{l}"]
        Z = np.dot(W, A) + b
        if l == L:
            A = sigmoid(Z)
            cache += [Z, A, W, b]
        else:
            A = relu(Z)
            D = (np.random.rand(A.shape[0], A.shape[1]) < keep_prob).astype(int)
            A = A * D
            A = A / keep_prob
            masks.append(D)
            cache += [Z, D, A, W, b]
    return A, tuple(cache)


def backward_propagation_with_dropout(X, Y, cache, keep_prob):
    return _backward(X, Y, cache, scale_first=False, lower_case=False, keep_prob=keep_prob, with_masks=True)


def reg_model(X, Y, learning_rate=0.3, num_iterations=30000, print_cost=True, lambd=0, keep_prob=1,
              return_costs=False):
    layers_dims = [X.shape[0], 20, 3, 1]
    parameters = reg_initialize_parameters(layers_dims)
    costs = []
    for i in range(num_iterations):
        if keep_prob == 1:
            a3, cache = _forward(X, parameters)
        else:
            a3, cache = forward_propagation_with_dropout(X, parameters, keep_prob)
        cost = reg_compute_cost(a3, Y) if lambd == 0 else compute_cost_with_regularization(a3, Y, parameters, lambd)
        grads = _backward(X, Y, cache, scale_first=False, lower_case=False, lambd=lambd, keep_prob=keep_prob,
                          with_masks=keep_prob < 1)
        parameters = _update(parameters, grads, learning_rate)
        if print_cost and i % 10000 == 0:
            print("Cost after iteration {}: {}".format(i, cost))
        if i % 1000 == 0:
            costs.append(cost)
    return (parameters, costs) if return_costs else parameters


# ---------------------------------------------------------------- gradient checking


def gc_forward_propagation(x, theta):
    return np.dot(theta, x)


def gc_backward_propagation(x, theta):
    return x


def _difference(grad, gradapprox):
    numerator = np.linalg.norm(grad - gradapprox)
    denominator = np.linalg.norm(grad) + np.linalg.norm(gradapprox)
    return numerator / denominator


def gradient_check(x, theta, epsilon=1e-7, print_msg=False):
    J_plus = gc_forward_propagation(x, theta + epsilon)
    J_minus = gc_forward_propagation(x, theta - epsilon)
    gradapprox = (J_plus - J_minus) / (2 * epsilon)
    return _difference(gc_backward_propagation(x, theta), gradapprox)


def dictionary_to_vector(parameters):
    keys, columns = [], []
    for l in range(1, _layers(parameters) + 1):
        for key in (f"W{l}", f"b{l}"):
            column = np.reshape(parameters[key], (-1, 1))
            keys += [key] * column.shape[0]
            columns.append(column)
    return np.concatenate(columns, axis=0), keys


def vector_to_dictionary(theta, layers_dims=(4, 5, 3, 1)):
    parameters, start = {}, 0
    for l in range(1, len(layers_dims)):
        for key, shape in ((f"W{l}", (layers_dims[l], layers_dims[l - 1])), (f"b{l}", (layers_dims[l], 1))):
            size = shape[0] * shape[1]
            parameters[key] = theta[start:start + size].reshape(shape)
            start += size
    return parameters


def gradients_to_vector(gradients):
    L = 0
    while f"dW{L + 1}" in gradients:
        L += 1
    columns = [np.reshape(gradients[f"{k}{l}"], (-1, 1)) for l in range(1, L + 1) for k in ("dW", "db")]
    return np.concatenate(columns, axis=0)


def forward_propagation_n(X, Y, parameters):
    A, cache = _forward(X, parameters)
    m = X.shape[1]
    cost = 1. / m * np.sum(_log_probs(A, Y))
    return cost, cache


def backward_propagation_n(X, Y, cache):
    return _backward(X, Y, cache, scale_first=False, lower_case=False)


def gradient_check_n(parameters, gradients, X, Y, epsilon=1e-7, print_msg=False):
    values, _ = dictionary_to_vector(parameters)
    grad = gradients_to_vector(gradients)
    dims = [parameters["W1"].shape[1]] + [parameters[f"W{l}"].shape[0] for l in range(1, _layers(parameters) + 1)]
    n = values.shape[0]
    gradapprox = np.zeros((n, 1))
    for i in range(n):
        plus = np.copy(values)
        plus[i] = plus[i] + epsilon
        J_plus, _ = forward_propagation_n(X, Y, vector_to_dictionary(plus, dims))
        minus = np.copy(values)
        minus[i] = minus[i] - epsilon
        J_minus, _ = forward_propagation_n(X, Y, vector_to_dictionary(minus, dims))
        gradapprox[i] = (J_plus - J_minus) / (2 * epsilon)
    return _difference(grad, gradapprox)


# ---------------------------------------------------------------- optimization


def update_parameters_with_gd(parameters, grads, learning_rate):
    return _update(parameters, grads, learning_rate)


def random_mini_batches(X, Y, mini_batch_size=64, seed=0):
    np.random.seed(seed)
    m = X.shape[1]
    permutation = list(np.random.permutation(m))
    shuffled_X = X[:, permutation]
    shuffled_Y = Y[:, permutation].reshape((Y.shape[0], m))
    batches = []
    for k in range(math.ceil(m / mini_batch_size)):
        cut = slice(k * mini_batch_size, min((k + 1) * mini_batch_size, m))
        batches.append((shuffled_X[:, cut], shuffled_Y[:, cut]))
    return batches


def initialize_velocity(parameters):
    v = {}
    for l in range(1, _layers(parameters) + 1):
        v[f"dW{l}"] = np.zeros(parameters[f"W{l}"].shape)
        v[f"db{l}"] = np.zeros(parameters[f"b{l}"].shape)
    return v


def update_parameters_with_momentum(parameters, grads, v, beta, learning_rate):
    for l in range(1, _layers(parameters) + 1):
        for p, d in ((f"W{l}", f"dW{l}"), (f"b{l}", f"db{l}")):
            v[d] = beta * v[d] + (1 - beta) * grads[d]
            parameters[p] = parameters[p] - learning_rate * v[d]
    return parameters, v


def initialize_adam(parameters):
    return initialize_velocity(parameters), initialize_velocity(parameters)


def update_parameters_with_adam(parameters, grads, v, s, t, learning_rate=0.01, beta1=0.9, beta2=0.999,
                                epsilon=1e-8):
    v_corrected, s_corrected = {}, {}
    for l in range(1, _layers(parameters) + 1):
        for p, d in ((f"W{l}", f"dW{l}"), (f"b{l}", f"db{l}")):
            v[d] = beta1 * v[d] + (1 - beta1) * grads[d]
            v_corrected[d] = v[d] / (1 - beta1 ** t)
            s[d] = beta2 * s[d] + (1 - beta2) * np.power(grads[d], 2)
            s_corrected[d] = s[d] / (1 - beta2 ** t)
            parameters[p] = parameters[p] - learning_rate * v_corrected[d] / (np.sqrt(s_corrected[d]) + epsilon)
    return parameters, v, s, v_corrected, s_corrected


def update_lr(learning_rate0, epoch_num, decay_rate):
    return 1 / (1 + decay_rate * epoch_num) * learning_rate0


def schedule_lr_decay(learning_rate0, epoch_num, decay_rate, time_interval=1000):
    return 1 / (1 + decay_rate * np.floor(epoch_num / time_interval)) * learning_rate0


def opt_initialize_parameters(layer_dims):
    return _initialize(layer_dims, lambda n: np.sqrt(2 / n))


def opt_compute_cost(a3, Y):
    return np.sum(_log_probs(a3, Y))


def opt_backward_propagation(X, Y, cache):
    return _backward(X, Y, cache, scale_first=True, lower_case=True)


def opt_model(X, Y, layers_dims, optimizer, learning_rate=0.0007, mini_batch_size=64, beta=0.9, beta1=0.9,
              beta2=0.999, epsilon=1e-8, num_epochs=5000, print_cost=True, decay=None, decay_rate=1,
              return_costs=False):
    costs = []
    t = 0
    seed = 10
    m = X.shape[1]
    learning_rate0 = learning_rate
    parameters = opt_initialize_parameters(layers_dims)
    if optimizer == "momentum":
        v = initialize_velocity(parameters)
    elif optimizer == "adam":
        v, s = initialize_adam(parameters)
    for i in range(num_epochs):
        seed = seed + 1
        cost_total = 0
        for batch_X, batch_Y in random_mini_batches(X, Y, mini_batch_size, seed):
            a3, cache = _forward(batch_X, parameters)
            cost_total += opt_compute_cost(a3, batch_Y)
            grads = opt_backward_propagation(batch_X, batch_Y, cache)
            if optimizer == "gd":
                parameters = update_parameters_with_gd(parameters, grads, learning_rate)
            elif optimizer == "momentum":
                parameters, v = update_parameters_with_momentum(parameters, grads, v, beta, learning_rate)
            else:
                t = t + 1
                parameters, v, s, _, _ = update_parameters_with_adam(parameters, grads, v, s, t, learning_rate,
                                                                     beta1, beta2, epsilon)
        cost_avg = cost_total / m
        if decay:
            learning_rate = decay(learning_rate0, i, decay_rate)
        if print_cost and i % 1000 == 0:
            print("Cost after epoch %i: %f" % (i, cost_avg))
            if decay:
                print("learning rate after epoch %i: %f" % (i, learning_rate))
        if i % 100 == 0:
            costs.append(cost_avg)
    return (parameters, costs) if return_costs else parameters
