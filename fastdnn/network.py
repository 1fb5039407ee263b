"""The trainer: a fully-connected network that owns its memory.

All parameters live in one contiguous arena (each ``W{l}``, ``b{l}`` is a
view into it), the gradients in a second arena of the same layout, and the
activations of a batch in a workspace that is allocated once per batch size
and reused.  A training step only runs kernels over these buffers: it
allocates nothing.
"""

import numpy as np

from . import layers
from . import validation as v
from .kernels import activation as act
from .kernels import loss
from .kernels import update

HIDDEN = ("relu", "tanh", "sigmoid", "leaky_relu")
OUTPUTS = ("sigmoid", "softmax", "linear")
INITS = ("scaled", "small", "he", "xavier")


def arena_layout(layer_dims):
    """Offsets of every ``W{l}`` and ``b{l}`` in a flat parameter arena.

    Returns
    -------
    list of (slice, tuple, slice, tuple)
        For each layer: the slice and shape of ``W``, the slice and shape of ``b``.
    int
        Total number of parameters.
    """
    layout = []
    offset = 0
    for l in range(1, len(layer_dims)):
        n, n_prev = layer_dims[l], layer_dims[l - 1]
        w = slice(offset, offset + n * n_prev)
        offset = w.stop
        b = slice(offset, offset + n)
        offset = b.stop
        layout.append((w, (n, n_prev), b, (n, 1)))
    return layout, offset


def _views(arena, layout):
    return [(arena[w].reshape(ws), arena[b].reshape(bs)) for w, ws, b, bs in layout]


class _Workspace:
    """Activation and gradient buffers for one batch size ``m``.

    ``A[l]`` holds layer ``l``'s activation for ``l >= 1`` (the input batch
    is passed to each step, so it may be the caller's array itself); two scratch buffers hold the
    backward pass's ``dA``/``dZ`` of consecutive layers in turn.
    """

    def __init__(self, layer_dims, m, dtype):
        self.m = m
        L = len(layer_dims) - 1
        self.A = [None] + [np.empty((layer_dims[l], m), dtype=dtype) for l in range(1, L + 1)]
        widest = max(layer_dims[1:])
        flat = [np.empty(widest * m, dtype=dtype) for _ in range(2)]
        # Layer l's dZ lives in scratch l % 2; dA of layer l - 1 in the other.
        self.dZ = [None] + [flat[l % 2][: layer_dims[l] * m].reshape(layer_dims[l], m) for l in range(1, L + 1)]
        self.cost = np.zeros(1, dtype=np.float64)


class Network:
    """A fully-connected feed-forward network in the course's layout.

    Parameters
    ----------
    layer_dims : sequence of int
        ``[n_x, n_1, ..., n_L]``.
    hidden : {"relu", "tanh", "sigmoid", "leaky_relu"}, default "relu"
        Activation of the hidden layers.
    output : {"sigmoid", "softmax", "linear"}, default "sigmoid"
        Output layer and cost: binary cross-entropy from logits, softmax
        cross-entropy, or mean squared error (halved).
    dtype : {np.float64, np.float32}, default np.float64
    init : {"scaled", "small", "he", "xavier"}, default "scaled"
        As :func:`fastdnn.initialize_parameters_deep`; the same seed gives the
        same weights (drawn from a private ``RandomState``, so the global
        NumPy generator is left alone).
    seed : int, default 1
    leaky_slope : float, default 0.01
        Negative-side slope of leaky relu.

    Attributes
    ----------
    params : ndarray of shape (n_parameters,)
        The parameter arena.
    grads : ndarray of shape (n_parameters,)
        The gradient arena, same layout.
    """

    def __init__(self, layer_dims, hidden="relu", output="sigmoid", dtype=np.float64, init="scaled", seed=1,
                 leaky_slope=0.01):
        self.layer_dims = v.layer_dims("layer_dims", layer_dims)
        self.hidden = v.choice("hidden", hidden, HIDDEN)
        self.output = v.choice("output", output, OUTPUTS)
        self.init = v.choice("init", init, INITS)
        self.dtype = np.dtype(dtype)
        if self.dtype not in v.FLOAT_DTYPES:
            raise TypeError(f"dtype must be float32 or float64, got {self.dtype}")
        self.seed = None if seed is None else v.non_negative_int("seed", seed)
        self.leaky_slope = v.finite_float("leaky_slope", leaky_slope)
        self._hidden_code = act.CODES[self.hidden]
        self._layout, n_params = arena_layout(self.layer_dims)
        self.params = np.zeros(n_params, dtype=self.dtype)
        self.grads = np.zeros(n_params, dtype=self.dtype)
        self._layers = _views(self.params, self._layout)
        self._grad_layers = _views(self.grads, self._layout)
        self._workspaces = {}
        self.history = []
        self._initialize()

    # ------------------------------------------------------------ parameters

    def _initialize(self):
        from .course import scale_initial_weights

        rng = np.random.RandomState(self.seed)
        for (W, b), l in zip(self._layers, range(1, len(self.layer_dims))):
            draws = rng.randn(self.layer_dims[l], self.layer_dims[l - 1])
            W[...] = scale_initial_weights(draws, self.init)
            b[...] = 0.0

    @property
    def n_layers(self):
        """Number of layers with parameters, ``L``."""
        return len(self.layer_dims) - 1

    @property
    def parameters(self):
        """``{"W1": ..., "b1": ...}``: views into the arena, accepted by the course functions.

        Writing into these arrays changes the network.
        """
        out = {}
        for l, (W, b) in enumerate(self._layers, start=1):
            out[f"W{l}"] = W
            out[f"b{l}"] = b
        return out

    @property
    def gradients(self):
        """``{"dW1": ..., "db1": ...}``: views into the gradient arena."""
        out = {}
        for l, (dW, db) in enumerate(self._grad_layers, start=1):
            out[f"dW{l}"] = dW
            out[f"db{l}"] = db
        return out

    # ------------------------------------------------------------ buffers

    def _workspace(self, m):
        ws = self._workspaces.get(m)
        if ws is None:
            ws = _Workspace(self.layer_dims, m, self.dtype)
            self._workspaces[m] = ws
        return ws

    # ------------------------------------------------------------ the step

    def _forward(self, X, ws):
        """Fill ``ws.A`` for input ``X``; the output layer keeps its logits."""
        A_prev = X
        L = self.n_layers
        for l in range(1, L + 1):
            W, b = self._layers[l - 1]
            code = self._hidden_code if l < L else act.LINEAR
            layers.dense_forward(A_prev, W, b, code, self.leaky_slope, ws.A[l], ws.A[l])
            A_prev = ws.A[l]
        return ws.A[L]

    def _output_and_cost(self, Y, ws, scale):
        """Turn the logits into outputs, write ``dZ`` of the last layer and the cost."""
        L = self.n_layers
        Z = ws.A[L]
        dZ = ws.dZ[L]
        if self.output == "sigmoid":
            loss.sigmoid_cross_entropy(Z, Y, scale, Z, dZ, ws.cost)
        elif self.output == "softmax":
            loss.softmax_cross_entropy(Z, Y, scale, Z, dZ, ws.cost)
        else:
            np.subtract(Z, Y, out=dZ)
            ws.cost[0] = 0.5 * float(np.vdot(dZ, dZ)) / Z.shape[1]
            np.multiply(dZ, scale, out=dZ)
        return ws.cost[0]

    def _backward(self, X, ws):
        """Fill the gradient arena from ``ws.dZ[L]`` (already scaled by ``1/m``)."""
        L = self.n_layers
        W, _ = self._layers[L - 1]
        dW, db = self._grad_layers[L - 1]
        dZ = ws.dZ[L]
        A_prev = ws.A[L - 1] if L > 1 else X
        act.row_sums(dZ, 1.0, db)
        layers.linear_backward_into(dZ, A_prev, W, 1.0, dW, ws.dZ[L - 1] if L > 1 else None)
        for l in range(L - 1, 0, -1):
            W, _ = self._layers[l - 1]
            dW, db = self._grad_layers[l - 1]
            dA = ws.dZ[l]
            A_prev = ws.A[l - 1] if l > 1 else X
            layers.dense_backward(dA, ws.A[l], False, self._hidden_code, self.leaky_slope, A_prev, W, 1.0,
                                  dA, dW, db, ws.dZ[l - 1] if l > 1 else None)

    def _gradient_step(self, X, Y, ws):
        """Forward, cost and backward on one batch; returns the cost."""
        self._forward(X, ws)
        cost = self._output_and_cost(Y, ws, 1.0 / X.shape[1])
        self._backward(X, ws)
        return cost

    def train_step(self, X, Y, learning_rate):
        """One gradient-descent step on the batch ``(X, Y)``.

        Parameters
        ----------
        X : ndarray of shape (n_x, m)
            C-contiguous, of the network's dtype (use :meth:`fit` for
            anything else).
        Y : ndarray of shape (n_L, m)
        learning_rate : float

        Returns
        -------
        float
            The cost before the step.
        """
        ws = self._workspace(X.shape[1])
        cost = self._gradient_step(X, Y, ws)
        update.sgd(self.params, self.grads, learning_rate, self.params)
        return cost

    # ------------------------------------------------------------ data

    def _check_data(self, X, Y=None):
        X_arr = v.as_array("X", X, ndim=2)
        if X_arr.shape[0] != self.layer_dims[0]:
            raise ValueError(
                f"X has {X_arr.shape[0]} rows (features) but the network expects {self.layer_dims[0]}: "
                f"X must have shape ({self.layer_dims[0]}, m)"
            )
        Xc = v.prepare(X_arr, self.dtype)
        v.check_finite("X", Xc)
        if Y is None:
            return Xc, None
        Y_arr = v.as_array("Y", Y)
        if Y_arr.ndim == 1 and self.layer_dims[-1] == 1:
            Y_arr = Y_arr.reshape(1, -1)
        v.check_shape("Y", Y_arr, (self.layer_dims[-1], X_arr.shape[1]), "(n_out, m), one column per example of X")
        Yc = v.prepare(Y_arr, self.dtype)
        v.check_finite("Y", Yc)
        if self.output == "sigmoid":
            v.check_binary_labels("Y", Yc)
        return Xc, Yc

    # ------------------------------------------------------------ training

    def fit_course(self, X, Y, learning_rate=0.0075, num_iterations=3000, print_cost=False):
        """Full-batch gradient descent exactly as the course's ``L_layer_model`` runs it.

        Parameters
        ----------
        X : array_like of shape (n_x, m)
        Y : array_like of shape (n_L, m)
        learning_rate : float
        num_iterations : int
        print_cost : bool
            Print ``Cost after iteration i: ...`` every 100 iterations and at the last.

        Returns
        -------
        list of float
            The cost every 100 iterations and at the last one.
        """
        Xc, Yc = self._check_data(X, Y)
        costs = []
        ws = self._workspace(Xc.shape[1])
        for i in range(num_iterations):
            cost = self.train_step(Xc, Yc, learning_rate)
            if not np.isfinite(cost):
                raise FloatingPointError(f"the cost became {cost} at iteration {i}")
            if i % 100 == 0 or i == num_iterations - 1:
                costs.append(float(cost))
                if print_cost:
                    print(f"Cost after iteration {i}: {cost}")
        del ws
        self.history.extend(costs)
        return costs

    # ------------------------------------------------------------ inference

    def predict_proba(self, X):
        """Output of the network: probabilities (sigmoid, softmax) or values (linear).

        Parameters
        ----------
        X : array_like of shape (n_x, m)

        Returns
        -------
        ndarray of shape (n_L, m)
        """
        Xc, _ = self._check_data(X)
        ws = _Workspace(self.layer_dims, Xc.shape[1], self.dtype)
        Z = self._forward(Xc, ws)
        out = np.empty_like(Z)
        if self.output == "sigmoid":
            act.activation_forward(Z, act.SIGMOID, 0.0, out)
        elif self.output == "softmax":
            rows = np.empty((Z.shape[1], Z.shape[0]), dtype=self.dtype)
            loss.softmax_rows(np.ascontiguousarray(Z.T), rows)
            out[...] = rows.T
        else:
            out[...] = Z
        return out

    def predict(self, X):
        """Predicted labels: 0/1 for sigmoid, class index for softmax, values for linear.

        Parameters
        ----------
        X : array_like of shape (n_x, m)

        Returns
        -------
        ndarray of shape (n_L, m) (sigmoid, linear) or (m,) (softmax)
        """
        P = self.predict_proba(X)
        if self.output == "sigmoid":
            return (P > 0.5).astype(self.dtype)
        if self.output == "softmax":
            return np.argmax(P, axis=0)
        return P
