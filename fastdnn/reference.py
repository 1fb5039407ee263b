"""Plain-NumPy reference implementation of the course functions.

This module is the *slow* baseline of fastdnn: every function of the
course-compatible API (SPEC section 1) written with nothing but NumPy, with the
course's names, argument order, return values and cache structures, and the
course's arithmetic in the course's order so that it reproduces the course's
published figures.  The tests compare the fast kernels against it and the
benchmarks time it.

It is deliberately naive: no Numba, no preallocated buffers, and no input
validation beyond what NumPy itself does.  The validating, fast versions live
in the rest of the package.  No function here mutates an array it was given.

Layout is the course's: ``X`` has shape ``(n_features, m)``, ``Y`` has shape
``(n_outputs, m)``, ``W{l}`` has shape ``(n[l], n[l-1])`` and ``b{l}`` has
shape ``(n[l], 1)``.
"""

import os

import numpy as np

__all__ = [
    "sigmoid",
    "relu",
    "tanh",
    "sigmoid_backward",
    "relu_backward",
    "tanh_backward",
    "softmax",
    "normalize_rows",
    "initialize_parameters",
    "initialize_parameters_deep",
    "linear_forward",
    "linear_activation_forward",
    "L_model_forward",
    "compute_cost",
    "linear_backward",
    "linear_activation_backward",
    "L_model_backward",
    "update_parameters",
    "predict",
    "two_layer_model",
    "L_layer_model",
    "layer_sizes",
    "load_planar_dataset",
    "nn_model",
    "load_catvnoncat",
]

ACTIVATIONS = ("relu", "sigmoid", "tanh")
INITS = ("scaled", "small", "he", "xavier", "glorot")


# ---------------------------------------------------------------------------
# Activations
# ---------------------------------------------------------------------------

def sigmoid(Z):
    """Logistic sigmoid, element-wise.

    .. math:: A = \\frac{1}{1 + e^{-Z}}

    Parameters
    ----------
    Z : ndarray of any shape
        Pre-activation.

    Returns
    -------
    A : ndarray of the shape of ``Z``
        Activation.
    cache : ndarray
        ``Z`` itself, kept for the backward pass.
    """
    # exp(-Z) overflows to inf for Z < -709; 1/(1+inf) = 0 is the right limit,
    # so the overflow warning is noise.
    with np.errstate(over="ignore"):
        A = 1 / (1 + np.exp(-Z))
    return A, Z


def relu(Z):
    """Rectified linear unit, element-wise.

    .. math:: A = \\max(0, Z)

    Parameters
    ----------
    Z : ndarray of any shape
        Pre-activation.

    Returns
    -------
    A : ndarray of the shape of ``Z``
        Activation.
    cache : ndarray
        ``Z`` itself, kept for the backward pass.
    """
    A = np.maximum(0, Z)
    return A, Z


def tanh(Z):
    """Hyperbolic tangent, element-wise.

    Parameters
    ----------
    Z : ndarray of any shape
        Pre-activation.

    Returns
    -------
    A : ndarray of the shape of ``Z``
        Activation.
    cache : ndarray
        ``Z`` itself, kept for the backward pass.
    """
    A = np.tanh(Z)
    return A, Z


def sigmoid_backward(dA, cache):
    """Backward pass of a sigmoid unit.

    .. math:: dZ = dA \\, s (1 - s), \\quad s = \\sigma(Z)

    Parameters
    ----------
    dA : ndarray of the shape of ``Z``
        Gradient of the cost with respect to the activation.
    cache : ndarray
        ``Z``, as returned by :func:`sigmoid`.

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
        Gradient of the cost with respect to ``Z``.
    """
    Z = cache
    # Same overflow-to-the-right-limit as in sigmoid().
    with np.errstate(over="ignore"):
        s = 1 / (1 + np.exp(-Z))
    dZ = dA * s * (1 - s)
    return dZ


def relu_backward(dA, cache):
    """Backward pass of a ReLU unit.

    The gradient is taken as 0 where ``Z <= 0`` (including at 0), as the course
    does.

    Parameters
    ----------
    dA : ndarray of the shape of ``Z``
        Gradient of the cost with respect to the activation.
    cache : ndarray
        ``Z``, as returned by :func:`relu`.

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
        Gradient of the cost with respect to ``Z``.
    """
    Z = cache
    dZ = np.array(dA, copy=True)  # a copy: the caller's dA must not change
    dZ[Z <= 0] = 0
    return dZ


def tanh_backward(dA, cache):
    """Backward pass of a tanh unit.

    .. math:: dZ = dA \\, (1 - \\tanh^2 Z)

    Parameters
    ----------
    dA : ndarray of the shape of ``Z``
        Gradient of the cost with respect to the activation.
    cache : ndarray
        ``Z``, as returned by :func:`tanh`.

    Returns
    -------
    dZ : ndarray of the shape of ``Z``
        Gradient of the cost with respect to ``Z``.
    """
    Z = cache
    dZ = dA * (1 - np.tanh(Z) ** 2)
    return dZ


def softmax(x):
    """Row-wise softmax (along the last axis), numerically stable.

    .. math:: s_{ij} = \\frac{e^{x_{ij} - \\max_k x_{ik}}}{\\sum_k e^{x_{ik} - \\max_k x_{ik}}}

    Subtracting the row maximum does not change the result mathematically but
    keeps ``exp`` from overflowing for large inputs.

    Parameters
    ----------
    x : ndarray of shape (n, k)
        Scores, one row per example (any number of dimensions is accepted; the
        softmax runs along the last axis).

    Returns
    -------
    s : ndarray of shape (n, k)
        Each row is non-negative and sums to 1.
    """
    x = np.asarray(x)
    shifted = x - np.max(x, axis=-1, keepdims=True)
    x_exp = np.exp(shifted)
    return x_exp / np.sum(x_exp, axis=-1, keepdims=True)


def normalize_rows(x):
    """Divide each row of ``x`` by its Euclidean norm.

    Parameters
    ----------
    x : ndarray of shape (n, k)

    Returns
    -------
    x_normalized : ndarray of shape (n, k)
        A new array; a zero row gives NaNs, as in the course.
    """
    x_norm = np.linalg.norm(x, ord=2, axis=1, keepdims=True)
    return x / x_norm


# ---------------------------------------------------------------------------
# Initialisation
# ---------------------------------------------------------------------------

def initialize_parameters(n_x, n_h, n_y, seed=1):
    """Initialise a two-layer network as the course's week-4 helper does.

    Parameters
    ----------
    n_x : int
        Size of the input layer.
    n_h : int
        Size of the hidden layer.
    n_y : int
        Size of the output layer.
    seed : int, default 1
        Passed to ``np.random.seed`` (the course's value is 1).  Note that this
        reseeds NumPy's *global* generator, as the course does.

    Returns
    -------
    parameters : dict
        ``"W1"`` of shape (n_h, n_x), ``"b1"`` of shape (n_h, 1),
        ``"W2"`` of shape (n_y, n_h), ``"b2"`` of shape (n_y, 1);
        weights are ``randn * 0.01``, biases are zero.
    """
    np.random.seed(seed)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def initialize_parameters_deep(layer_dims, init="scaled", seed=1):
    """Initialise an L-layer network.

    For every layer ``l = 1 .. L-1`` draws ``randn(n[l], n[l-1])`` from NumPy's
    global generator (reseeded with ``seed``) and scales it:

    * ``"scaled"`` (the course's deep-network default):
      ``/ np.sqrt(n[l-1])``;
    * ``"small"`` (the course's step-by-step notebook): ``* 0.01``;
    * ``"he"``: ``* np.sqrt(2 / n[l-1])``;
    * ``"xavier"``: ``* np.sqrt(1 / n[l-1])`` -- the same distribution as
      ``"scaled"`` (variance ``1/n[l-1]``); only the last bit of rounding may
      differ because it multiplies instead of dividing.

    Biases are zero.

    Parameters
    ----------
    layer_dims : sequence of int of length L
        ``[n_x, n_1, ..., n_y]``.
    init : {"scaled", "small", "he", "xavier"}, default "scaled"
    seed : int, default 1

    Returns
    -------
    parameters : dict
        ``"W{l}"`` of shape (n[l], n[l-1]) and ``"b{l}"`` of shape (n[l], 1)
        for ``l = 1 .. L-1``.

    Raises
    ------
    ValueError
        If ``init`` is not one of the names above.
    """
    if init not in INITS:
        raise ValueError(
            f"init must be one of {', '.join(repr(n) for n in INITS)}; got {init!r}"
        )
    np.random.seed(seed)
    parameters = {}
    for l in range(1, len(layer_dims)):
        n_prev, n_cur = layer_dims[l - 1], layer_dims[l]
        W = np.random.randn(n_cur, n_prev)
        if init == "scaled":
            W = W / np.sqrt(n_prev)
        elif init == "small":
            W = W * 0.01
        elif init == "he":
            W = W * np.sqrt(2 / n_prev)
        elif init == "glorot":
            W = W * np.sqrt(2 / (n_prev + n_cur))
        else:  # "xavier"
            W = W * np.sqrt(1 / n_prev)
        parameters["W" + str(l)] = W
        parameters["b" + str(l)] = np.zeros((n_cur, 1))
    return parameters


# ---------------------------------------------------------------------------
# Forward propagation
# ---------------------------------------------------------------------------

def linear_forward(A, W, b):
    """Linear part of a layer's forward pass.

    .. math:: Z = W A + b

    Parameters
    ----------
    A : ndarray of shape (n_prev, m)
        Activations of the previous layer (or the input).
    W : ndarray of shape (n, n_prev)
    b : ndarray of shape (n, 1)

    Returns
    -------
    Z : ndarray of shape (n, m)
    cache : tuple
        ``(A, W, b)``, for the backward pass.
    """
    Z = np.dot(W, A) + b
    return Z, (A, W, b)


_FORWARD = {"relu": relu, "sigmoid": sigmoid, "tanh": tanh}
_BACKWARD = {"relu": relu_backward, "sigmoid": sigmoid_backward, "tanh": tanh_backward}


def _check_activation(activation):
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"activation must be one of {', '.join(repr(n) for n in ACTIVATIONS)}; "
            f"got {activation!r}"
        )


def linear_activation_forward(A_prev, W, b, activation):
    """Forward pass of one LINEAR->ACTIVATION layer.

    .. math:: A = g(W A_{prev} + b)

    Parameters
    ----------
    A_prev : ndarray of shape (n_prev, m)
    W : ndarray of shape (n, n_prev)
    b : ndarray of shape (n, 1)
    activation : {"relu", "sigmoid", "tanh"}

    Returns
    -------
    A : ndarray of shape (n, m)
    cache : tuple
        ``((A_prev, W, b), Z)``: the linear cache and the activation cache.

    Raises
    ------
    ValueError
        If ``activation`` is not one of the names above.
    """
    _check_activation(activation)  # fail before any arithmetic
    Z, linear_cache = linear_forward(A_prev, W, b)
    A, activation_cache = _FORWARD[activation](Z)
    return A, (linear_cache, activation_cache)


def L_model_forward(X, parameters):
    """Forward pass of ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    parameters : dict
        ``"W1", "b1", ..., "WL", "bL"`` (``L = len(parameters) // 2``).

    Returns
    -------
    AL : ndarray of shape (n_y, m)
        Output of the sigmoid layer (the predicted probabilities).
    caches : list of length L
        One ``((A_prev, W, b), Z)`` cache per layer, first layer first.
    """
    caches = []
    A = X
    L = len(parameters) // 2
    for l in range(1, L):
        A, cache = linear_activation_forward(
            A, parameters["W" + str(l)], parameters["b" + str(l)], "relu"
        )
        caches.append(cache)
    AL, cache = linear_activation_forward(
        A, parameters["W" + str(L)], parameters["b" + str(L)], "sigmoid"
    )
    caches.append(cache)
    return AL, caches


# ---------------------------------------------------------------------------
# Cost
# ---------------------------------------------------------------------------

def _xlogy(x, y):
    """``x * log(y)`` with ``0 * log(0)`` (indeed ``0 * log(anything)``) = 0."""
    x = np.asarray(x)
    y = np.asarray(y)
    dtype = np.result_type(x.dtype, y.dtype, 1.0)
    x, y = np.broadcast_arrays(x, y)
    # log is only evaluated where the weight is non-zero, so a saturated but
    # correct prediction (y = 0 with x = 0) gives no -inf and no warning.
    log_y = np.log(y.astype(dtype, copy=False), out=np.zeros(y.shape, dtype),
                   where=(x != 0))
    return x * log_y


def compute_cost(AL, Y):
    """Binary cross-entropy cost, averaged over the examples.

    .. math:: J = -\\frac{1}{m} \\sum \\left[ Y \\log A^{[L]}
              + (1 - Y) \\log (1 - A^{[L]}) \\right]

    with ``0 * log(0)`` counted as 0, so saturated but correct predictions give
    a finite cost and no warning.  A saturated *wrong* prediction gives
    ``inf``, which is the true value.

    Parameters
    ----------
    AL : ndarray of shape (n_y, m)
        Predicted probabilities.
    Y : ndarray of shape (n_y, m)
        Labels (0/1).

    Returns
    -------
    cost : ndarray of shape ()
        A 0-d array, as the course's ``np.squeeze`` of its ``(1, 1)`` product.
    """
    m = Y.shape[1]
    # The course's (1/m) * (-Y.log(AL)^T - (1-Y).log(1-AL)^T), written as sums
    # so that it also covers n_y > 1 and the 0*log(0) case.
    pos = np.sum(_xlogy(Y, AL))
    neg = np.sum(_xlogy(1 - Y, 1 - AL))
    cost = (1.0 / m) * (-pos - neg)
    return np.asarray(cost)  # a 0-d array, as the course's squeeze of its (1, 1) product


# ---------------------------------------------------------------------------
# Backward propagation
# ---------------------------------------------------------------------------

def linear_backward(dZ, cache):
    """Linear part of a layer's backward pass.

    .. math:: dW = \\frac{1}{m} dZ A_{prev}^T, \\quad
              db = \\frac{1}{m} \\sum_i dZ_{:, i}, \\quad
              dA_{prev} = W^T dZ

    Parameters
    ----------
    dZ : ndarray of shape (n, m)
        Gradient of the cost with respect to this layer's ``Z``.
    cache : tuple
        ``(A_prev, W, b)`` from :func:`linear_forward`.

    Returns
    -------
    dA_prev : ndarray of shape (n_prev, m)
    dW : ndarray of shape (n, n_prev)
    db : ndarray of shape (n, 1)
    """
    A_prev, W, b = cache
    m = A_prev.shape[1]
    dW = 1.0 / m * np.dot(dZ, A_prev.T)
    db = 1.0 / m * np.sum(dZ, axis=1, keepdims=True)
    dA_prev = np.dot(W.T, dZ)
    return dA_prev, dW, db


def linear_activation_backward(dA, cache, activation):
    """Backward pass of one LINEAR->ACTIVATION layer.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
        Gradient of the cost with respect to this layer's output.
    cache : tuple
        ``((A_prev, W, b), Z)`` from :func:`linear_activation_forward`.
    activation : {"relu", "sigmoid", "tanh"}

    Returns
    -------
    dA_prev : ndarray of shape (n_prev, m)
    dW : ndarray of shape (n, n_prev)
    db : ndarray of shape (n, 1)

    Raises
    ------
    ValueError
        If ``activation`` is not one of the names above.
    """
    _check_activation(activation)
    linear_cache, activation_cache = cache
    dZ = _BACKWARD[activation](dA, activation_cache)
    return linear_backward(dZ, linear_cache)


def L_model_backward(AL, Y, caches):
    """Backward pass of ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Starts, as the course does, from the derivative of the cross-entropy with
    respect to ``AL``

    .. math:: dA^{[L]} = -\\left(\\frac{Y}{A^{[L]}} - \\frac{1 - Y}{1 - A^{[L]}}\\right)

    and then uses the ``Z`` stored in each cache, so it gives the course's
    numbers even for caches built by hand.

    Parameters
    ----------
    AL : ndarray of shape (n_y, m)
        Output of :func:`L_model_forward`.
    Y : ndarray of shape (n_y, m)
        Labels (reshaped to ``AL.shape``).
    caches : list of length L
        From :func:`L_model_forward`.

    Returns
    -------
    grads : dict
        ``"dA{l-1}"``, ``"dW{l}"``, ``"db{l}"`` for ``l = 1 .. L``
        (so ``"dA0"`` is the gradient with respect to ``X``).
    """
    grads = {}
    L = len(caches)
    Y = Y.reshape(AL.shape)
    dAL = -(np.divide(Y, AL) - np.divide(1 - Y, 1 - AL))

    dA_prev, dW, db = linear_activation_backward(dAL, caches[L - 1], "sigmoid")
    grads["dA" + str(L - 1)] = dA_prev
    grads["dW" + str(L)] = dW
    grads["db" + str(L)] = db

    for l in reversed(range(L - 1)):
        dA_prev, dW, db = linear_activation_backward(
            grads["dA" + str(l + 1)], caches[l], "relu"
        )
        grads["dA" + str(l)] = dA_prev
        grads["dW" + str(l + 1)] = dW
        grads["db" + str(l + 1)] = db
    return grads


def update_parameters(parameters, grads, learning_rate):
    """One step of gradient descent.

    .. math:: W^{[l]} \\leftarrow W^{[l]} - \\alpha\\, dW^{[l]}, \\quad
              b^{[l]} \\leftarrow b^{[l]} - \\alpha\\, db^{[l]}

    Parameters
    ----------
    parameters : dict
        ``"W1", "b1", ..., "WL", "bL"``.
    grads : dict
        At least ``"dW1", "db1", ..., "dWL", "dbL"``.
    learning_rate : float

    Returns
    -------
    parameters : dict
        A **new** dict holding new arrays; the caller's dict and arrays are
        left untouched.
    """
    new = dict(parameters)
    L = len(parameters) // 2
    for l in range(1, L + 1):
        new["W" + str(l)] = parameters["W" + str(l)] - learning_rate * grads["dW" + str(l)]
        new["b" + str(l)] = parameters["b" + str(l)] - learning_rate * grads["db" + str(l)]
    return new


# ---------------------------------------------------------------------------
# Prediction and the course's models
# ---------------------------------------------------------------------------

def predict(X, y, parameters, verbose=True):
    """Predict 0/1 labels with an L-layer network and report the accuracy.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    y : ndarray of shape (1, m)
        True labels, used only for the printed accuracy.
    parameters : dict
        Trained parameters.
    verbose : bool, default True
        Print ``Accuracy: ...`` as the course does.

    Returns
    -------
    p : ndarray of shape (1, m), float
        1.0 where the predicted probability is above 0.5, else 0.0.
    """
    m = X.shape[1]
    probas, _ = L_model_forward(X, parameters)
    p = np.zeros((1, m))
    p[0, probas[0, :] > 0.5] = 1
    if verbose:
        print("Accuracy: " + str(np.sum((p == y) / m)))
    return p


def two_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                    print_cost=False, return_costs=False):
    """The course's two-layer model: ``LINEAR->RELU->LINEAR->SIGMOID``.

    Initialised with :func:`initialize_parameters` (seed 1) and trained by
    full-batch gradient descent.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (1, m)
    layers_dims : tuple of int
        ``(n_x, n_h, n_y)``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print ``Cost after iteration i: cost`` each time a cost is recorded.
    return_costs : bool, default False
        Also return the recorded costs.

    Returns
    -------
    parameters : dict
        Trained ``"W1", "b1", "W2", "b2"``.
    costs : list of float
        Only when ``return_costs``: the cost at every 100th iteration and at
        the last one.
    """
    costs = []
    n_x, n_h, n_y = layers_dims
    parameters = initialize_parameters(n_x, n_h, n_y)
    for i in range(num_iterations):
        W1, b1 = parameters["W1"], parameters["b1"]
        W2, b2 = parameters["W2"], parameters["b2"]

        A1, cache1 = linear_activation_forward(X, W1, b1, "relu")
        A2, cache2 = linear_activation_forward(A1, W2, b2, "sigmoid")
        cost = compute_cost(A2, Y)

        dA2 = -(np.divide(Y, A2) - np.divide(1 - Y, 1 - A2))
        dA1, dW2, db2 = linear_activation_backward(dA2, cache2, "sigmoid")
        _, dW1, db1 = linear_activation_backward(dA1, cache1, "relu")
        grads = {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}

        parameters = update_parameters(parameters, grads, learning_rate)

        if i % 100 == 0 or i == num_iterations - 1:
            if print_cost:
                print("Cost after iteration {}: {}".format(i, cost))
            costs.append(cost)
    if return_costs:
        return parameters, costs
    return parameters


def L_layer_model(X, Y, layers_dims, learning_rate=0.0075, num_iterations=3000,
                  print_cost=False, return_costs=False):
    """The course's L-layer model: ``[LINEAR->RELU]*(L-1) -> LINEAR->SIGMOID``.

    Initialised with :func:`initialize_parameters_deep` (``"scaled"``, seed 1)
    and trained by full-batch gradient descent.  Nothing is plotted.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (1, m)
    layers_dims : sequence of int
        ``[n_x, n_1, ..., 1]``.
    learning_rate : float, default 0.0075
    num_iterations : int, default 3000
    print_cost : bool, default False
        Print ``Cost after iteration i: cost`` each time a cost is recorded.
    return_costs : bool, default False
        Also return the recorded costs.

    Returns
    -------
    parameters : dict
        Trained ``"W1", "b1", ...``.
    costs : list of float
        Only when ``return_costs``: the cost at every 100th iteration and at
        the last one.
    """
    costs = []
    parameters = initialize_parameters_deep(layers_dims)
    for i in range(num_iterations):
        AL, caches = L_model_forward(X, parameters)
        cost = compute_cost(AL, Y)
        grads = L_model_backward(AL, Y, caches)
        parameters = update_parameters(parameters, grads, learning_rate)

        if i % 100 == 0 or i == num_iterations - 1:
            if print_cost:
                print("Cost after iteration {}: {}".format(i, cost))
            costs.append(cost)
    if return_costs:
        return parameters, costs
    return parameters


# ---------------------------------------------------------------------------
# Week 3: planar data, one hidden tanh layer
# ---------------------------------------------------------------------------

def layer_sizes(X, Y):
    """Layer sizes of the course's planar model.

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (n_y, m)

    Returns
    -------
    n_x, n_h, n_y : int
        Input size, hidden size (fixed to 4 as in the course), output size.
    """
    n_x = X.shape[0]
    n_h = 4
    n_y = Y.shape[0]
    return n_x, n_h, n_y


def load_planar_dataset(seed=1):
    """The course's two-class "flower" data set.

    Two petals-interleaved classes of 200 points each, drawn from NumPy's
    global generator reseeded with ``seed``.

    Parameters
    ----------
    seed : int, default 1

    Returns
    -------
    X : ndarray of shape (2, 400), float64
    Y : ndarray of shape (1, 400), uint8
    """
    np.random.seed(seed)
    m = 400
    N = m // 2  # points per class
    D = 2
    a = 4  # maximum ray of the flower
    X = np.zeros((m, D))
    Y = np.zeros((m, 1), dtype="uint8")
    for j in range(2):
        ix = range(N * j, N * (j + 1))
        t = np.linspace(j * 3.12, (j + 1) * 3.12, N) + np.random.randn(N) * 0.2  # theta
        r = a * np.sin(4 * t) + np.random.randn(N) * 0.2  # radius
        X[ix] = np.c_[r * np.sin(t), r * np.cos(t)]
        Y[ix] = j
    return X.T, Y.T


def nn_model(X, Y, n_h, num_iterations=10000, print_cost=False, return_costs=False):
    """The course's week-3 model: ``LINEAR->TANH->LINEAR->SIGMOID``.

    Weights are ``randn * 0.01`` drawn after ``np.random.seed(2)`` (the seed of
    the course's planar ``initialize_parameters``), biases are zero, and the
    network is trained by full-batch gradient descent with learning rate 1.2:

    .. math:: dZ^{[2]} = A^{[2]} - Y, \\quad
              dZ^{[1]} = W^{[2]T} dZ^{[2]} \\odot (1 - A^{[1]2})

    Parameters
    ----------
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (n_y, m)
    n_h : int
        Size of the hidden layer.
    num_iterations : int, default 10000
    print_cost : bool, default False
        Print ``Cost after iteration i: cost`` (6 decimals) every 1000
        iterations.
    return_costs : bool, default False
        Also return the costs recorded every 1000 iterations.

    Returns
    -------
    parameters : dict
        Trained ``"W1", "b1", "W2", "b2"``.
    costs : list of float
        Only when ``return_costs``.
    """
    learning_rate = 1.2
    n_x, _, n_y = layer_sizes(X, Y)
    m = X.shape[1]

    np.random.seed(2)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))

    costs = []
    for i in range(num_iterations):
        # forward
        Z1 = np.dot(W1, X) + b1
        A1 = np.tanh(Z1)
        Z2 = np.dot(W2, A1) + b2
        A2, _ = sigmoid(Z2)

        # cost, in the course's week-3 form (0*log(0) counted as 0)
        logprobs = _xlogy(Y, A2) + _xlogy(1 - Y, 1 - A2)
        cost = float(-np.sum(logprobs) / m)

        # backward
        dZ2 = A2 - Y
        dW2 = (1 / m) * np.dot(dZ2, A1.T)
        db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
        dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
        dW1 = (1 / m) * np.dot(dZ1, X.T)
        db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)

        # update (rebinding: the arrays are ours, but keep them fresh anyway)
        W1 = W1 - learning_rate * dW1
        b1 = b1 - learning_rate * db1
        W2 = W2 - learning_rate * dW2
        b2 = b2 - learning_rate * db2

        if i % 1000 == 0:
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))
            costs.append(cost)

    parameters = {"W1": W1, "b1": b1, "W2": W2, "b2": b2}
    if return_costs:
        return parameters, costs
    return parameters


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def load_catvnoncat(directory):
    """Load the course's cat/non-cat images.

    Parameters
    ----------
    directory : str or os.PathLike
        Folder holding ``train_catvnoncat.h5`` and ``test_catvnoncat.h5``.

    Returns
    -------
    train_x_orig : ndarray of shape (209, 64, 64, 3), uint8
    train_y : ndarray of shape (1, 209)
    test_x_orig : ndarray of shape (50, 64, 64, 3), uint8
    test_y : ndarray of shape (1, 50)
    classes : ndarray of shape (2,), bytes
        ``[b"non-cat", b"cat"]``.

    Raises
    ------
    ImportError
        If h5py, an optional dependency, is not installed.
    """
    try:
        import h5py  # optional dependency, only this loader needs it
    except ImportError as exc:
        raise ImportError(
            "load_catvnoncat needs h5py: pip install 'fastdnn[data]'"
        ) from exc

    with h5py.File(os.path.join(directory, "train_catvnoncat.h5"), "r") as f:
        train_x_orig = np.array(f["train_set_x"][:])
        train_y = np.array(f["train_set_y"][:])
        classes = np.array(f["list_classes"][:])
    with h5py.File(os.path.join(directory, "test_catvnoncat.h5"), "r") as f:
        test_x_orig = np.array(f["test_set_x"][:])
        test_y = np.array(f["test_set_y"][:])

    train_y = train_y.reshape((1, train_y.shape[0]))
    test_y = test_y.reshape((1, test_y.shape[0]))
    return train_x_orig, train_y, test_x_orig, test_y, classes


# ---------------------------------------------------------------------------
# Week 2 (logistic regression) and week 3's step functions (planar model).
#
# Their course names clash with the deep-network functions above
# (``sigmoid`` returns no cache, ``predict`` and ``initialize_parameters``
# take other arguments), so they are grouped in two namespaces that mirror
# the fast modules: ``reference.logistic.f`` is the baseline of
# ``fastdnn.logistic.f`` and ``reference.planar.f`` of ``fastdnn.planar.f``.
# ---------------------------------------------------------------------------

def _logistic_sigmoid(z):
    """Week 2's sigmoid: ``1 / (1 + exp(-z))``, the value only (no cache)."""
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-z))


def _initialize_with_zeros(dim):
    """``w`` of shape (dim, 1) and ``b = 0.0``."""
    return np.zeros((dim, 1)), 0.0


def _propagate(w, b, X, Y):
    """Logistic-regression cost and gradient, the course's arithmetic.

    Returns ``({"dw": (n_x, 1), "db": float}, cost)``; the cost counts
    ``0 * log(0)`` as 0.
    """
    m = X.shape[1]
    A = _logistic_sigmoid(np.dot(w.T, X) + b)
    cost = -1 / m * np.sum(_xlogy(Y, A) + _xlogy(1 - Y, 1 - A))
    dw = 1 / m * np.dot(X, (A - Y).T)
    db = 1 / m * np.sum(A - Y)
    return {"dw": dw, "db": db}, np.float64(cost)


def _optimize(w, b, X, Y, num_iterations=100, learning_rate=0.009, print_cost=False):
    """Gradient descent with :func:`_propagate`; a cost every 100 iterations.

    Returns ``(params, grads, costs)``; the grads are the last iteration's.
    The caller's ``w`` is not modified.
    """
    w = np.array(w, dtype=float, copy=True)
    costs = []
    for i in range(num_iterations):
        grads, cost = _propagate(w, b, X, Y)
        dw, db = grads["dw"], grads["db"]
        w = w - learning_rate * dw
        b = b - learning_rate * db
        if i % 100 == 0:
            costs.append(float(cost))
            if print_cost:
                print("Cost after iteration %i: %f" % (i, cost))
    return {"w": w, "b": b}, {"dw": dw, "db": db}, costs


def _logistic_predict(w, b, X):
    """1.0 where ``sigmoid(w^T X + b) > 0.5``, else 0.0; shape (1, m)."""
    m = X.shape[1]
    w = w.reshape(X.shape[0], 1)
    A = _logistic_sigmoid(np.dot(w.T, X) + b)
    Y_prediction = np.zeros((1, m))
    Y_prediction[A > 0.5] = 1
    return Y_prediction


def _logistic_model(X_train, Y_train, X_test, Y_test, num_iterations=2000, learning_rate=0.5,
                    print_cost=False):
    """The course's week-2 model; returns its dict (costs, predictions, w, b, ...)."""
    w, b = _initialize_with_zeros(X_train.shape[0])
    params, grads, costs = _optimize(w, b, X_train, Y_train, num_iterations, learning_rate, print_cost)
    w, b = params["w"], params["b"]
    Y_prediction_test = _logistic_predict(w, b, X_test)
    Y_prediction_train = _logistic_predict(w, b, X_train)
    train_accuracy = 100 - np.mean(np.abs(Y_prediction_train - Y_train)) * 100
    test_accuracy = 100 - np.mean(np.abs(Y_prediction_test - Y_test)) * 100
    if print_cost:
        print("train accuracy: {} %".format(train_accuracy))
        print("test accuracy: {} %".format(test_accuracy))
    return {"costs": costs, "Y_prediction_test": Y_prediction_test, "Y_prediction_train": Y_prediction_train,
            "w": w, "b": b, "learning_rate": learning_rate, "num_iterations": num_iterations,
            "train_accuracy": float(train_accuracy), "test_accuracy": float(test_accuracy)}


def _planar_initialize_parameters(n_x, n_h, n_y):
    """Week 3's initialization: ``np.random.seed(2)``, ``randn * 0.01``, zero biases."""
    np.random.seed(2)
    W1 = np.random.randn(n_h, n_x) * 0.01
    b1 = np.zeros((n_h, 1))
    W2 = np.random.randn(n_y, n_h) * 0.01
    b2 = np.zeros((n_y, 1))
    return {"W1": W1, "b1": b1, "W2": W2, "b2": b2}


def _forward_propagation(X, parameters):
    """``LINEAR->TANH->LINEAR->SIGMOID``; returns ``A2`` and ``{"Z1", "A1", "Z2", "A2"}``."""
    Z1 = np.dot(parameters["W1"], X) + parameters["b1"]
    A1 = np.tanh(Z1)
    Z2 = np.dot(parameters["W2"], A1) + parameters["b2"]
    A2 = _logistic_sigmoid(Z2)
    return A2, {"Z1": Z1, "A1": A1, "Z2": Z2, "A2": A2}


def _planar_compute_cost(A2, Y, parameters=None):
    """Week 3's cross-entropy (``parameters`` is accepted and unused, as in the course)."""
    m = Y.shape[1]
    logprobs = _xlogy(Y, A2) + _xlogy(1 - Y, 1 - A2)
    return float(-np.sum(logprobs) / m)


def _backward_propagation(parameters, cache, X, Y):
    """Week 3's gradients from the cache's ``A1`` and ``A2``: ``{"dW1", "db1", "dW2", "db2"}``."""
    m = X.shape[1]
    W2 = parameters["W2"]
    A1, A2 = cache["A1"], cache["A2"]
    dZ2 = A2 - Y
    dW2 = (1 / m) * np.dot(dZ2, A1.T)
    db2 = (1 / m) * np.sum(dZ2, axis=1, keepdims=True)
    dZ1 = np.multiply(np.dot(W2.T, dZ2), 1 - np.power(A1, 2))
    dW1 = (1 / m) * np.dot(dZ1, X.T)
    db1 = (1 / m) * np.sum(dZ1, axis=1, keepdims=True)
    return {"dW1": dW1, "db1": db1, "dW2": dW2, "db2": db2}


def _planar_update_parameters(parameters, grads, learning_rate=1.2):
    """One gradient-descent step; new arrays, the caller's are untouched."""
    return {name: parameters[name] - learning_rate * grads["d" + name] for name in ("W1", "b1", "W2", "b2")}


def _planar_predict(parameters, X):
    """Predictions 1 where ``A2 > 0.5``, else 0, of shape (n_y, m) (integers: see :func:`fastdnn.planar.predict`)."""
    A2, _ = _forward_propagation(X, parameters)
    return (A2 > 0.5).astype(np.int64)


def _hidden_layer_sweep(X, Y, hidden_sizes=(1, 2, 3, 4, 5, 20, 50), num_iterations=5000):
    """Training accuracy in percent of :func:`nn_model` for each hidden size: ``{n_h: accuracy}``."""
    accuracies = {}
    for n_h in hidden_sizes:
        parameters = nn_model(X, Y, n_h, num_iterations=num_iterations)
        predictions = _planar_predict(parameters, X)
        accuracies[n_h] = float(np.mean(predictions == Y) * 100)
    return accuracies


class _Namespace:
    """A read-only bag of functions with the course's names."""

    def __init__(self, name, **functions):
        self.__dict__.update(functions)
        self._name = name

    def __repr__(self):
        names = ", ".join(k for k in self.__dict__ if not k.startswith("_"))
        return f"<fastdnn.reference.{self._name}: {names}>"


#: Week 2's logistic regression: the baseline of :mod:`fastdnn.logistic`.
logistic = _Namespace(
    "logistic",
    sigmoid=_logistic_sigmoid,
    initialize_with_zeros=_initialize_with_zeros,
    propagate=_propagate,
    optimize=_optimize,
    predict=_logistic_predict,
    model=_logistic_model,
)

#: Week 3's planar model: the baseline of :mod:`fastdnn.planar`.
planar = _Namespace(
    "planar",
    load_planar_dataset=load_planar_dataset,
    layer_sizes=layer_sizes,
    initialize_parameters=_planar_initialize_parameters,
    forward_propagation=_forward_propagation,
    compute_cost=_planar_compute_cost,
    backward_propagation=_backward_propagation,
    update_parameters=_planar_update_parameters,
    nn_model=nn_model,
    predict=_planar_predict,
    hidden_layer_sweep=_hidden_layer_sweep,
)


# ---------------------------------------------------------------- the trainer's mini-batch epoch (SPEC section 2)


def minibatch_epoch(X_rows, labels, parameters, adam_state, order, batch_size, learning_rate=1e-3, beta1=0.9,
                    beta2=0.999, epsilon=1e-8, t=0):
    """One epoch of mini-batch Adam on ``[LINEAR->RELU]*(L-1) -> LINEAR->SOFTMAX``, as NumPy users write it.

    The plain-NumPy baseline of :meth:`fastdnn.Network.fit` with
    ``output="softmax"``, ``optimizer="adam"`` and a ``batch_size``: the same
    work (gather each batch, one-hot its labels, forward, stable softmax
    cross-entropy, backward, the course's bias-corrected Adam), each step in
    NumPy's usual style, one temporary array per operation.

    Parameters
    ----------
    X_rows : ndarray of shape (m, n_x)
        One example per row (the layout files store); a batch is
        ``X_rows[batch].T``.
    labels : ndarray of shape (m,), int
        Class numbers in ``[0, n_L)``.
    parameters : dict
        ``W1, b1, ..., WL, bL`` in the course's shapes; updated in place.
    adam_state : dict
        ``{"v": {...}, "s": {...}}`` with arrays shaped like ``parameters``
        (zeros at the start); updated in place.
    order : ndarray of shape (m,), int
        The order of the examples in this epoch (a permutation for shuffling).
    batch_size : int
    learning_rate, beta1, beta2, epsilon : float
    t : int
        Adam steps made before this epoch.

    Returns
    -------
    cost : float
        Mean of the batch costs, weighted by batch size.
    t : int
        Adam steps made after this epoch.

    Notes
    -----
    .. math:: J = -\\frac{1}{m}\\sum_j \\ln p_{y_j j},\\qquad
              \\theta \\leftarrow \\theta - \\alpha \\frac{v/(1-\\beta_1^t)}{\\sqrt{s/(1-\\beta_2^t)}+\\epsilon}
    """
    L = len(parameters) // 2
    m = len(order)
    k = parameters[f"W{L}"].shape[0]
    dtype = parameters["W1"].dtype
    total = 0.0
    for start in range(0, m, batch_size):
        batch = order[start:start + batch_size]
        b = len(batch)
        A = X_rows[batch].T.astype(dtype, copy=False)
        Y = np.zeros((k, b), dtype=dtype)
        Y[labels[batch], np.arange(b)] = 1
        activations = [A]
        for l in range(1, L + 1):
            Z = parameters[f"W{l}"] @ activations[-1] + parameters[f"b{l}"]
            activations.append(np.maximum(Z, 0) if l < L else Z)
        Z = activations[-1]
        shifted = Z - Z.max(axis=0, keepdims=True)
        log_norm = np.log(np.exp(shifted).sum(axis=0, keepdims=True))
        log_p = shifted - log_norm
        total += float(-(Y * log_p).sum()) * (1.0 / m)
        dZ = (np.exp(log_p) - Y) / b
        t += 1
        for l in range(L, 0, -1):
            A_prev = activations[l - 1]
            dW = dZ @ A_prev.T
            db = dZ.sum(axis=1, keepdims=True)
            if l > 1:
                dA = parameters[f"W{l}"].T @ dZ
                dZ = dA * (A_prev > 0)
            for name, grad in ((f"W{l}", dW), (f"b{l}", db)):
                v = adam_state["v"][name]
                s = adam_state["s"][name]
                v *= beta1
                v += (1 - beta1) * grad
                s *= beta2
                s += (1 - beta2) * grad ** 2
                v_hat = v / (1 - beta1 ** t)
                s_hat = s / (1 - beta2 ** t)
                parameters[name] -= learning_rate * v_hat / (np.sqrt(s_hat) + epsilon)
    return total, t


# ---------------------------------------------------------------- any network's step (the routes' baseline)

_HIDDEN_FORWARD = {
    "relu": lambda Z, slope: np.maximum(Z, 0),
    "tanh": lambda Z, slope: np.tanh(Z),
    "sigmoid": lambda Z, slope: 1 / (1 + np.exp(-Z)),
    "leaky_relu": lambda Z, slope: np.where(Z > 0, Z, slope * Z),
    "linear": lambda Z, slope: Z,
}

# The derivative of each activation, from its input Z and output A.
_HIDDEN_DERIVATIVE = {
    "relu": lambda Z, A, slope: (Z > 0).astype(Z.dtype),
    "tanh": lambda Z, A, slope: 1 - A ** 2,
    "sigmoid": lambda Z, A, slope: A * (1 - A),
    "leaky_relu": lambda Z, A, slope: np.where(Z > 0, 1.0, slope).astype(Z.dtype),
    "linear": lambda Z, A, slope: np.ones_like(Z),
}


def network_cost_and_gradients(parameters, X, Y, hidden="relu", output="sigmoid", leaky_slope=0.01, l2=0.0):
    """Cost and gradients of ``[LINEAR->hidden]*(L-1) -> LINEAR->output``, written out in NumPy.

    The baseline of every route of :meth:`fastdnn.Network.fit`: the same
    math in the textbook's order, one temporary per operation.

    Parameters
    ----------
    parameters : dict
        ``W1, b1, ..., WL, bL``.
    X : ndarray of shape (n_x, m)
    Y : ndarray of shape (n_L, m)
        0/1 labels (sigmoid), one-hot columns (softmax), values (linear) or
        counts (poisson).
    hidden : {"relu", "tanh", "sigmoid", "leaky_relu", "linear"}
    output : {"sigmoid", "softmax", "linear", "poisson"}
    leaky_slope : float
    l2 : float
        L2 strength :math:`\\lambda` on the weights (not the biases).

    Returns
    -------
    cost : float
    grads : dict
        ``dW1, db1, ..., dWL, dbL``, the L2 term included.

    Notes
    -----
    .. math:: J = \\frac{1}{m}\\sum_j \\ell(a_j, y_j) + \\frac{\\lambda}{2m}\\sum_l \\|W_l\\|^2,\\qquad
              \\ell = \\begin{cases} -y\\ln a-(1-y)\\ln(1-a) & \\text{sigmoid}\\\\
              -\\sum_k y_k \\ln a_k & \\text{softmax}\\\\ \\tfrac12\\|a-y\\|^2 & \\text{linear}\\\\
              \\sum_k y_k \\ln(y_k/a_k) - y_k + a_k & \\text{poisson}\\end{cases}
    """
    L = len(parameters) // 2
    m = X.shape[1]
    Zs, As = [None], [X]
    for l in range(1, L + 1):
        Z = parameters[f"W{l}"] @ As[-1] + parameters[f"b{l}"]
        Zs.append(Z)
        As.append(_HIDDEN_FORWARD[hidden](Z, leaky_slope) if l < L else Z)
    Z = Zs[L]
    if output == "sigmoid":
        # From the logits: ln(1 + e^z) - y z, stable for either sign of z.
        cost = float(np.sum(np.logaddexp(0, Z) - Y * Z)) / m
        dZ = (1 / (1 + np.exp(-Z)) - Y) / m
    elif output == "softmax":
        log_p = Z - Z.max(axis=0, keepdims=True)
        log_p = log_p - np.log(np.exp(log_p).sum(axis=0, keepdims=True))
        cost = float(-np.sum(Y * log_p)) / m
        dZ = (np.exp(log_p) - Y) / m
    elif output == "poisson":
        # Exponential means and the halved Poisson deviance (y ln y is 0 at y = 0).
        mu = np.exp(Z)
        y_log_y = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1.0)), 0.0)
        cost = float(np.sum(y_log_y - Y * Z - Y + mu)) / m
        dZ = (mu - Y) / m
    else:
        cost = 0.5 * float(np.sum((Z - Y) ** 2)) / m
        dZ = (Z - Y) / m
    cost += l2 / (2 * m) * sum(float(np.sum(parameters[f"W{l}"] ** 2)) for l in range(1, L + 1))
    grads = {}
    for l in range(L, 0, -1):
        grads[f"dW{l}"] = dZ @ As[l - 1].T + (l2 / m) * parameters[f"W{l}"]
        grads[f"db{l}"] = dZ.sum(axis=1, keepdims=True)
        if l > 1:
            dZ = (parameters[f"W{l}"].T @ dZ) * _HIDDEN_DERIVATIVE[hidden](Zs[l - 1], As[l - 1], leaky_slope)
    return cost, grads


def optimizer_step(parameters, grads, state, optimizer, learning_rate, t, beta=0.9, beta1=0.9, beta2=0.999,
                   epsilon=1e-8):
    """One step of ``"sgd"``, ``"momentum"`` or ``"adam"`` in the course's forms; returns new parameters.

    ``state`` (a dict, empty at the first step) holds the velocities and
    moments and is updated in place; ``t`` counts the steps from 1.

    .. math:: v \\leftarrow \\beta v + (1-\\beta) g,\\quad \\theta \\leftarrow \\theta - \\alpha v;\\qquad
              \\theta \\leftarrow \\theta - \\alpha \\frac{v/(1-\\beta_1^t)}{\\sqrt{s/(1-\\beta_2^t)}+\\epsilon}
    """
    new = {}
    for name, p in parameters.items():
        g = grads["d" + name]
        if optimizer == "sgd":
            new[name] = p - learning_rate * g
        elif optimizer == "momentum":
            v = state[name] = beta * state.get(name, 0.0) + (1 - beta) * g
            new[name] = p - learning_rate * v
        else:
            v = state["v" + name] = beta1 * state.get("v" + name, 0.0) + (1 - beta1) * g
            s = state["s" + name] = beta2 * state.get("s" + name, 0.0) + (1 - beta2) * g ** 2
            new[name] = p - learning_rate * (v / (1 - beta1 ** t)) / (np.sqrt(s / (1 - beta2 ** t)) + epsilon)
    return new


# ---------------------------------------------------------------- the course's second part

from .improving import reference as _improving  # noqa: E402  (plain NumPy, imports nothing of fastdnn)

#: The "Initialization" assignment: the baseline of :mod:`fastdnn.improving.initialization`.
initialization = _Namespace(
    "initialization",
    sigmoid=_improving.sigmoid,
    relu=_improving.relu,
    forward_propagation=_improving.init_forward_propagation,
    backward_propagation=_improving.init_backward_propagation,
    update_parameters=_improving.update_parameters_with_gd,
    compute_loss=_improving.compute_loss,
    predict=_improving.predict,
    predict_dec=_improving.predict_dec,
    initialize_parameters_zeros=_improving.initialize_parameters_zeros,
    initialize_parameters_random=_improving.initialize_parameters_random,
    initialize_parameters_he=_improving.initialize_parameters_he,
    model=_improving.init_model,
)

#: The "Regularization" assignment: the baseline of :mod:`fastdnn.improving.regularization`.
regularization = _Namespace(
    "regularization",
    sigmoid=_improving.sigmoid,
    relu=_improving.relu,
    initialize_parameters=_improving.reg_initialize_parameters,
    forward_propagation=_improving.reg_forward_propagation,
    backward_propagation=_improving.reg_backward_propagation,
    update_parameters=_improving.update_parameters_with_gd,
    compute_cost=_improving.reg_compute_cost,
    compute_cost_with_regularization=_improving.compute_cost_with_regularization,
    backward_propagation_with_regularization=_improving.backward_propagation_with_regularization,
    forward_propagation_with_dropout=_improving.forward_propagation_with_dropout,
    backward_propagation_with_dropout=_improving.backward_propagation_with_dropout,
    predict=_improving.predict,
    predict_dec=_improving.predict_dec,
    model=_improving.reg_model,
)

#: The "Gradient checking" assignment: the baseline of :mod:`fastdnn.improving.gradient_checking`.
gradient_checking = _Namespace(
    "gradient_checking",
    forward_propagation=_improving.gc_forward_propagation,
    backward_propagation=_improving.gc_backward_propagation,
    gradient_check=_improving.gradient_check,
    dictionary_to_vector=_improving.dictionary_to_vector,
    vector_to_dictionary=_improving.vector_to_dictionary,
    gradients_to_vector=_improving.gradients_to_vector,
    forward_propagation_n=_improving.forward_propagation_n,
    backward_propagation_n=_improving.backward_propagation_n,
    gradient_check_n=_improving.gradient_check_n,
)

#: The "Optimization methods" assignment: the baseline of :mod:`fastdnn.improving.optimization`.
optimization = _Namespace(
    "optimization",
    sigmoid=_improving.sigmoid,
    relu=_improving.relu,
    initialize_parameters=_improving.opt_initialize_parameters,
    forward_propagation=_improving.init_forward_propagation,
    backward_propagation=_improving.opt_backward_propagation,
    compute_cost=_improving.opt_compute_cost,
    predict=_improving.predict,
    predict_dec=_improving.predict_dec,
    update_parameters_with_gd=_improving.update_parameters_with_gd,
    random_mini_batches=_improving.random_mini_batches,
    initialize_velocity=_improving.initialize_velocity,
    update_parameters_with_momentum=_improving.update_parameters_with_momentum,
    initialize_adam=_improving.initialize_adam,
    update_parameters_with_adam=_improving.update_parameters_with_adam,
    update_lr=_improving.update_lr,
    schedule_lr_decay=_improving.schedule_lr_decay,
    model=_improving.opt_model,
)
