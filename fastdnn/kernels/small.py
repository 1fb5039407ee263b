"""Whole layers of the course's test-case sizes, each in one kernel call.

At the sizes of the course's test cases and of its week-3 planar model
(a few units, a few hundred examples) a layer is a few thousand
multiply-adds: BLAS's call overhead, NumPy's temporaries and one Numba
dispatch per pass cost more than the arithmetic.  Here the product, the
bias, the activation (or its derivative) and the bias sums of one layer run
in a single call, which also reports whether everything it wrote is finite,
so the caller needs no second pass to check.

Arrays are C-contiguous (the callers copy the few that are not: at these
sizes a copy costs less than a second compiled layout).  The activations
are those of :mod:`fastdnn.kernels.activation`; only the loops are new.
"""

from numba import njit

from .. import config
from .activation import _bias_activation_rows, _derivative_times_rows


@njit(**config.JIT)
def dense_forward(A, W, b, code, Z, out, in_place):
    """``Z = W A + b`` and ``out = g(Z)``; True when every entry of ``Z`` is finite.

    Parameters
    ----------
    A : ndarray of shape (k, m)
    W : ndarray of shape (n, k)
    b : ndarray of shape (n, 1)
    code : int
        Activation code (:data:`fastdnn.kernels.activation.CODES`).
    Z : ndarray of shape (n, m)
        Written in place.
    out : ndarray of shape (n, m)
        Written in place with ``g(Z)``.
    in_place : bool
        ``out`` is ``Z`` (the linear part only).

    Returns
    -------
    bool

    Notes
    -----
    .. math:: Z = W A + b, \\qquad A_{out} = g(Z)

    A NaN or an infinity in ``A``, ``W`` or ``b`` reaches ``Z`` (``0 * inf``
    is NaN), so a finite ``Z`` vouches for the inputs too.
    """
    _product(A, W, Z)
    _bias_activation_rows(Z, b, code, 0.0, out, in_place, 0, W.shape[0])
    return _all_finite(Z)


@njit(**config.JIT)
def linear_forward(A, W, b, Z):
    """``Z = W A + b`` (:func:`dense_forward` without an activation); True when ``Z`` is finite.

    Parameters
    ----------
    A : ndarray of shape (k, m)
    W : ndarray of shape (n, k)
    b : ndarray of shape (n, 1)
    Z : ndarray of shape (n, m)
        Written in place.

    Returns
    -------
    bool

    Notes
    -----
    .. math:: Z = W A + b

    Four arguments rather than :func:`dense_forward`'s seven: at the course's
    test-case sizes the dispatch is a third of the call.
    """
    _product(A, W, Z)
    n, m = Z.shape
    for i in range(n):
        bias = b[i, 0]
        for j in range(m):
            Z[i, j] += bias
    return _all_finite(Z)


@njit(**config.JIT_ROW)
def _product(A, W, Z):
    # Z = W A.  Fewer than 8 examples (the test cases' 2): one dot product per
    # entry, in a register (20 x 7 by 2: 0.38 us against 0.71); more: a row of
    # Z at a time, vectorised along the examples.
    n, k = W.shape
    m = A.shape[1]
    if m < 8:
        for i in range(n):
            for j in range(m):
                acc = 0.0
                for p in range(k):
                    acc += W[i, p] * A[p, j]
                Z[i, j] = acc
        return
    for i in range(n):
        for j in range(m):
            Z[i, j] = 0.0
        for p in range(k):
            w = W[i, p]
            for j in range(m):
                Z[i, j] += w * A[p, j]


@njit(**config.JIT)
def dense_backward(dA, H, from_pre_activation, A_prev, W, code, scale, dZ, dW, db, dA_prev, with_dA_prev):
    """One layer's gradients from ``dA`` and the cache; True when all of them are finite.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
    H : ndarray of shape (n, m)
        The pre-activation ``Z`` (the course's activation cache) when
        ``from_pre_activation``, else the activation ``g(Z)`` (week 3's
        ``1 - A1**2``).
    from_pre_activation : bool
    A_prev : ndarray of shape (k, m)
    W : ndarray of shape (n, k)
    code : int
        Activation code; ``LINEAR`` takes ``dZ = dA``.
    scale : float
        ``1/m``.
    dZ : ndarray of shape (n, m)
        Written in place with ``dA * g'(Z)``.
    dW : ndarray of shape (n, k)
    db : ndarray of shape (n, 1)
    dA_prev : ndarray of shape (k, m)
        Written in place with ``W^T dZ`` when ``with_dA_prev``.
    with_dA_prev : bool

    Returns
    -------
    bool

    Notes
    -----
    .. math:: dZ = dA \\odot g'(Z),\\quad dW = s\\,dZ A_{prev}^T,\\quad
              db = s \\sum_j dZ_{:,j},\\quad dA_{prev} = W^T dZ
    """
    n, k = W.shape
    m = dA.shape[1]
    _derivative_times_rows(dA, H, from_pre_activation, code, 0.0, scale, dZ, db, True, 0, n)
    for i in range(n):
        for p in range(k):
            acc = 0.0
            for j in range(m):
                acc += dZ[i, j] * A_prev[p, j]
            dW[i, p] = acc * scale
    # dA and H, not dZ: a relu's mask would hide a NaN in either.
    finite = _all_finite(dA) and _all_finite(H) and _all_finite(db) and _all_finite(dW)
    if with_dA_prev:
        for p in range(k):
            for j in range(m):
                dA_prev[p, j] = 0.0
        for i in range(n):
            for p in range(k):
                w = W[i, p]
                for j in range(m):
                    dA_prev[p, j] += w * dZ[i, j]
        finite = finite and _all_finite(dA_prev)
    else:
        finite = finite and _all_finite(W)  # nothing else read W
    return finite


@njit(**config.JIT_ROW)
def _all_finite(X):
    # x * 0 is 0 for a finite x and NaN for inf or NaN.
    check = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            check += X[i, j] * 0.0
    return check == 0.0


@njit(**config.JIT)
def relu_backward(dA, Z, dZ):
    """``dZ = dA`` where ``Z > 0``, else 0, for 2-D arrays of one shape.

    Parameters
    ----------
    dA : ndarray of shape (n, m)
    Z : ndarray of shape (n, m)
    dZ : ndarray of shape (n, m)
        Written in place.

    Notes
    -----
    As the course's ``dZ[Z <= 0] = 0``: a NaN in ``Z`` keeps ``dA``, and a
    zeroed entry is +0.  Three arguments rather than
    :func:`fastdnn.kernels.activation.activation_backward`'s ten: at the
    course's test-case sizes the dispatch is most of the call.
    """
    for i in range(dA.shape[0]):
        for j in range(dA.shape[1]):
            dZ[i, j] = 0.0 if Z[i, j] <= 0.0 else dA[i, j]


@njit(**config.JIT)
def binary_labels(Y):
    """True when every entry of the C-contiguous 2-D ``Y`` is 0 or 1."""
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            y = Y[i, j]
            if y != 0 and y != 1:
                return False
    return True


@njit(**config.JIT)
def bias_activation(Z, b, code, out, in_place):
    """The epilogue of a BLAS product: ``Z += b``, ``out = g(Z)``; True when ``Z`` is finite.

    Parameters
    ----------
    Z : ndarray of shape (n, m)
        ``W @ A`` on entry, ``W @ A + b`` on exit.
    b : ndarray of shape (n, 1)
    code : int
    out : ndarray of shape (n, m)
    in_place : bool
        ``out`` is ``Z``.

    Returns
    -------
    bool

    Notes
    -----
    The serial epilogue and the check in one call, while ``Z`` is in cache;
    for arrays too large for one thread the caller runs
    :func:`fastdnn.kernels.activation.bias_activation_forward` instead.
    """
    _bias_activation_rows(Z, b, code, 0.0, out, in_place, 0, Z.shape[0])
    return _all_finite(Z)
