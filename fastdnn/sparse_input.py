"""Sparse inputs: a scipy.sparse ``X`` trained on without densifying it.

A sparse ``X`` of shape ``(n_x, m)`` (examples as columns, as
:meth:`fastdnn.Network.fit` takes them -- the transpose of scikit-learn's
CSR rows, which is the same memory) is held as one CSR row per example,
in the network's dtype.  A batch is a :class:`SparseColumns`: the indices
of its examples, nothing copied; the first layer's products read the
nonzeros in place (:mod:`fastdnn.kernels.sparse`), every other layer is
dense as usual.  scipy is imported only by whoever made the sparse matrix.
"""

import sys

import numpy as np

from .kernels import sparse as kernels


def is_sparse(X):
    """Whether ``X`` is a scipy.sparse matrix or array (scipy itself is not imported for this)."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and module.issparse(X)


def stored_values_finite(X):
    """Whether every value a scipy.sparse ``X`` stores is finite (its implicit zeros are)."""
    return bool(kernels.all_finite(X.data))


class SparseInputs:
    """``X`` of shape ``(n_x, m)`` as CSR rows of examples (``rows``: ``(m, n_x)``)."""

    ndim = 2

    def __init__(self, rows):
        self.rows = rows
        self.indptr, self.indices, self.values = rows.indptr, rows.indices, rows.data
        self.shape = (rows.shape[1], rows.shape[0])
        self.dtype = rows.dtype

    @classmethod
    def of(cls, X, dtype, name="X"):
        """The examples (columns) of the sparse ``X``, ``(n_x, m)``, in ``dtype``: no copy when ``X.T`` is
        already CSR of that dtype (the transpose of a scikit-learn CSR ``X``)."""
        if X.ndim != 2:
            raise ValueError(f"{name} must be 2-D, got shape {X.shape}")
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must have a real numeric dtype, got {X.dtype}")
        rows = X.T.tocsr()
        if rows.dtype != dtype:
            rows = rows.astype(dtype)
        return cls(rows)

    def all_finite(self):
        return stored_values_finite(self.rows)

    def columns(self, examples):
        """The batch of these examples (int64 indices), as the first layer's products read it."""
        return SparseColumns(self, np.asarray(examples, dtype=np.int64))


class SparseColumns:
    """A batch of sparse examples: ``(n_x, b)``, column ``j`` the CSR row ``rows[j]`` of its :class:`SparseInputs`."""

    ndim = 2

    def __init__(self, inputs, rows):
        self.inputs, self.rows = inputs, rows
        self.indptr, self.indices, self.values = inputs.indptr, inputs.indices, inputs.values
        self.shape = (inputs.shape[0], rows.size)
        self.dtype = inputs.dtype

    def left_product(self, W, out):
        """``out = W @ self``: the first layer's pre-activations, ``(n, b)``."""
        kernels.left_product(W, self.indptr, self.indices, self.values, self.rows, out)

    def weight_gradient(self, dZ, scale, dW):
        """``dW = scale * dZ @ self.T``: the first layer's weight gradient, ``(n, n_x)``."""
        kernels.weight_gradient(dZ, self.indptr, self.indices, self.values, self.rows, scale, dW)
