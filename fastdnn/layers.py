"""One dense layer, forward and backward, over buffers the caller owns.

This is the single implementation of a layer's math.  The course functions
call it with arrays they allocate (and build the course's caches around it);
the trainer calls it with views into its arenas and workspace.  Matrix
products go to BLAS through ``np.matmul(..., out=...)``; everything else is a
fused kernel from :mod:`fastdnn.kernels.activation`.
"""

import numpy as np

from . import blas
from .kernels import activation, update


def dense_forward(A_prev, W, b, code, slope, Z, A, parallel=True):
    """Forward pass of one layer into preallocated buffers.

    Parameters
    ----------
    A_prev : ndarray of shape (n_prev, m), or fastdnn.sparse_input.SparseColumns
        The inputs; sparse ones only for the first layer.
    W : ndarray of shape (n, n_prev)
    b : ndarray of shape (n, 1)
    code : int
        Activation code (:data:`fastdnn.kernels.activation.CODES`).
    slope : float
        Leaky relu's negative slope.
    Z : ndarray of shape (n, m)
        Written in place with the pre-activation ``W @ A_prev + b``.
    A : ndarray of shape (n, m)
        Written in place with ``g(Z)``; may be ``Z`` to keep only the activation.
    parallel : bool, default True
        Let large epilogues use Numba's threads; ``False`` for callers that
        run this layer on their own thread (a column block).

    Notes
    -----
    .. math:: Z = W A_{prev} + b, \\qquad A = g(Z)
    """
    if isinstance(A_prev, np.ndarray):
        np.matmul(W, A_prev, out=Z)
    else:
        A_prev.left_product(W, Z)  # sparse inputs (fastdnn.sparse_input.SparseColumns)
    activation.bias_activation_forward(Z, b, code, slope, A, parallel)


def dense_backward(dA, H, from_pre_activation, code, slope, A_prev, W, scale, dZ, dW, db, dA_prev, parallel=True,
                   learning_rate=None):
    """Backward pass of one layer into preallocated buffers.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
        Gradient with respect to the layer's output.
    H : ndarray of shape (n, m)
        ``Z`` if ``from_pre_activation`` else ``A = g(Z)``.
    from_pre_activation : bool
    code : int
    slope : float
    A_prev : ndarray of shape (n_prev, m)
    W : ndarray of shape (n, n_prev)
    scale : float
        Factor of ``dW`` and ``db``: ``1/m`` for the course, 1 when the
        caller folded ``1/m`` into ``dA`` already.
    dZ : ndarray of shape (n, m)
        Written in place with ``dA * g'(Z)``; may be ``dA``.
    dW : ndarray of shape (n, n_prev)
        Written in place.
    db : ndarray of shape (n, 1)
        Written in place.
    dA_prev : ndarray of shape (n_prev, m) or None
        Written in place with ``W.T @ dZ``; ``None`` skips it (the input
        layer needs no ``dA``).
    parallel : bool, default True
        Let the large epilogue use Numba's threads.
    learning_rate : float, optional
        Take the gradient-descent step on ``W`` inside the product (see
        :func:`linear_backward_into`).

    Notes
    -----
    .. math:: dZ = dA \\odot g'(Z),\\quad dW = s\\,dZ A_{prev}^T,\\quad
              db = s \\sum_j dZ_{:,j},\\quad dA_{prev} = W^T dZ
    """
    activation.activation_backward(dA, H, from_pre_activation, code, slope, scale, dZ, db, True, parallel)
    linear_backward_into(dZ, A_prev, W, scale, dW, dA_prev, learning_rate)


def linear_backward_into(dZ, A_prev, W, scale, dW, dA_prev, learning_rate=None):
    """The products of a layer's backward pass: ``dW`` and ``dA_prev`` (not ``db``).

    Parameters
    ----------
    dZ : ndarray of shape (n, m)
    A_prev : ndarray of shape (n_prev, m)
    W : ndarray of shape (n, n_prev)
    scale : float
    dW : ndarray of shape (n, n_prev)
        Written in place with ``scale * dZ @ A_prev.T`` -- or left
        unspecified when the step went into the product.
    dA_prev : ndarray of shape (n_prev, m) or None
        Written in place with ``W.T @ dZ`` unless ``None`` (with the ``W``
        of before the step).
    learning_rate : float, optional
        Also take the plain gradient-descent step ``W -= learning_rate * dW``
        (written in place): one BLAS product that adds into ``W``
        (:func:`fastdnn.blas.add_product`) where NumPy's BLAS offers it,
        otherwise the product into ``dW`` and the update kernel.

    Notes
    -----
    .. math:: dA_{prev} = W^T dZ, \\qquad W \\leftarrow W - \\alpha\\, s\\, dZ A_{prev}^T
    """
    if not isinstance(A_prev, np.ndarray):
        # Sparse inputs (the first layer: no dA_prev; the plan never fuses a step into this product).
        if learning_rate is not None or dA_prev is not None:
            raise ValueError("sparse inputs take the plain route: no dA of the inputs, no step in the product")
        A_prev.weight_gradient(dZ, scale, dW)
        return
    if learning_rate is None:
        np.matmul(dZ, A_prev.T, out=dW)
        if scale != 1.0:
            np.multiply(dW, scale, out=dW)
        if dA_prev is not None:
            np.matmul(W.T, dZ, out=dA_prev)
        return
    if dA_prev is not None:
        np.matmul(W.T, dZ, out=dA_prev)
    if not blas.add_product(-learning_rate * scale, dZ, A_prev.T, W):
        np.matmul(dZ, A_prev.T, out=dW)
        if scale != 1.0:
            np.multiply(dW, scale, out=dW)
        flat_W, flat_dW = W.reshape(-1), dW.reshape(-1)
        update.sgd(flat_W, flat_dW, learning_rate, flat_W)
