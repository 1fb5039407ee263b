"""A matrix product that adds into its output: ``C <- C + alpha A B``, through NumPy's own BLAS.

``np.matmul`` always overwrites its output.  Plain gradient descent on a
layer's weights, ``W <- W - lr dZ A_prev^T``, can instead run as one BLAS
``gemm`` with ``alpha = -lr`` and ``beta = 1``: the gradient is never
written to memory and read back, and the separate update pass over ``W``
disappears (measured on the course's 20 x 12288 first layer: 1.29-1.34 ms
for the fused product against 1.52-1.63 ms for product and update).

The ``gemm`` is the one inside the BLAS library NumPy already loaded, looked
up by name through NumPy's extension module (its dependencies are searched
too), so it runs with the same kernels and the same threads as
``np.matmul``.  Only the 64-bit-integer interface of OpenBLAS as NumPy's
wheels ship it (``scipy_cblas_dgemm64_``) or under its usual name
(``cblas_dgemm64_``) is used: there the argument types are known for sure.
Anywhere else :func:`add_product` returns ``False`` and the caller takes
the unfused path.
"""

import ctypes

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from . import config

_ROW_MAJOR = 101
_NO_TRANS = 111
_TRANS = 112

#: Names of the 64-bit-integer CBLAS gemm, by dtype, tried in order.
_NAMES = {
    np.dtype(np.float64): ("scipy_cblas_dgemm64_", "cblas_dgemm64_"),
    np.dtype(np.float32): ("scipy_cblas_sgemm64_", "cblas_sgemm64_"),
}

_found: dict = {}


def _gemm(dtype):
    """The CBLAS gemm of NumPy's BLAS for ``dtype`` (a ctypes function), or ``None``."""
    dtype = np.dtype(dtype)
    if dtype in _found:
        return _found[dtype]
    function = None
    names = _NAMES.get(dtype, ())
    if names:
        try:
            from numpy._core import _multiarray_umath as module
        except ImportError:  # NumPy 1.x
            from numpy.core import _multiarray_umath as module
        try:
            library = ctypes.CDLL(module.__file__)
        except OSError:
            library = None
        for name in names if library is not None else ():
            function = getattr(library, name, None)
            if function is not None:
                scalar = ctypes.c_double if dtype == np.float64 else ctypes.c_float
                i64, ptr = ctypes.c_int64, ctypes.c_void_p
                function.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, i64, i64, i64, scalar, ptr, i64,
                                     ptr, i64, scalar, ptr, i64]
                function.restype = None
                break
    _found[dtype] = function
    return function


def available(dtype):
    """Whether :func:`add_product` can run for ``dtype`` here."""
    return _gemm(dtype) is not None


def _operand(X):
    """``(transpose flag, leading dimension)`` of a row-major view of ``X``, or ``None``."""
    if X.flags.c_contiguous:
        return _NO_TRANS, max(X.shape[1], 1)
    if X.flags.f_contiguous:
        return _TRANS, max(X.shape[0], 1)
    return None


def add_product(alpha, A, B, C):
    """Add ``alpha * A @ B`` to ``C`` in one BLAS call, if NumPy's BLAS offers it.

    Parameters
    ----------
    alpha : float
    A : ndarray of shape (n, k)
        C- or F-contiguous (a transposed C array is F-contiguous).
    B : ndarray of shape (k, p)
        C- or F-contiguous.
    C : ndarray of shape (n, p)
        C-contiguous; written in place.

    Returns
    -------
    bool
        ``False`` (and ``C`` untouched) when the product cannot run here:
        no suitable gemm in NumPy's BLAS, mixed dtypes, or strided operands.

    Notes
    -----
    .. math:: C \\leftarrow C + \\alpha\\, A B

    The result agrees with the product written out and then added to within
    rounding, not bit for bit: OpenBLAS adds ``alpha`` times each block of
    the sum over ``k`` into ``C`` as it goes (with a single block -- the
    course's 209 examples -- the float64 bits came out the same).
    """
    dtype = C.dtype
    if A.dtype != dtype or B.dtype != dtype or not C.flags.c_contiguous or not C.flags.writeable:
        return False
    n, k = A.shape
    p = B.shape[1]
    if B.shape[0] != k or C.shape != (n, p):
        raise ValueError(f"add_product: shapes {A.shape} @ {B.shape} do not give C's {C.shape}")
    gemm = _gemm(dtype)
    a, b = _operand(A), _operand(B)
    if gemm is None or a is None or b is None:
        return False
    if n == 0 or p == 0 or k == 0 or alpha == 0.0:
        return True
    gemm(_ROW_MAJOR, a[0], b[0], n, p, k, alpha, _address(A), a[1], _address(B), b[1], 1.0, _address(C), max(p, 1))
    return True


def _address(X):
    # Not X.ctypes.data: that helper object lives in a reference cycle, so
    # each call left garbage for the cycle collector.
    return X.__array_interface__["data"][0]


def gemm_address(dtype):
    """Address of NumPy's CBLAS gemm for ``dtype`` (for :func:`product`), or 0 when there is none."""
    function = _gemm(dtype)
    return 0 if function is None else ctypes.cast(function, ctypes.c_void_p).value


@intrinsic
def _call_gemm(typingctx, address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc):
    # The function is reached through its address, an argument: nothing
    # process-specific is compiled in, so the kernels that call it cache.
    int_args = (trans_a, trans_b, m, n, k, lda, ldb, ldc)
    if not all(isinstance(t, types.Integer) for t in (address, a, b, c) + int_args):
        return None
    if not isinstance(alpha, types.Float) or alpha != beta:
        return None

    def codegen(context, builder, signature, args):
        i32, i64 = ir.IntType(32), ir.IntType(64)
        pointer = ir.IntType(8).as_pointer()
        real = context.get_value_type(signature.args[6])
        fnty = ir.FunctionType(ir.VoidType(), [i32, i32, i32, i64, i64, i64, real, pointer, i64, pointer, i64, real,
                                               pointer, i64])
        function = builder.inttoptr(args[0], fnty.as_pointer())

        def integer(index, width):
            return context.cast(builder, args[index], signature.args[index], types.int64) if width == 64 else \
                builder.trunc(context.cast(builder, args[index], signature.args[index], types.int64), i32)

        def address_of(index):
            return builder.inttoptr(context.cast(builder, args[index], signature.args[index], types.int64), pointer)

        builder.call(function, [ir.Constant(i32, _ROW_MAJOR), integer(1, 32), integer(2, 32), integer(3, 64),
                                integer(4, 64), integer(5, 64), args[6], address_of(7), integer(8, 64),
                                address_of(9), integer(10, 64), args[11], address_of(12), integer(13, 64)])
        return context.get_dummy_value()

    return types.void(address, trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc), codegen


@njit(**config.JIT)
def product(gemm, A, transpose_a, B, transpose_b, C, beta):
    """``C <- op(A) op(B) + beta C`` from Numba code, through the gemm at address ``gemm``.

    Parameters
    ----------
    gemm : int
        :func:`gemm_address` of the arrays' dtype (not checked here).
    A, B : ndarray
        Rows contiguous (C-contiguous, or a block of columns of a
        C-contiguous array); used as they are or transposed
        (``transpose_a``, ``transpose_b``).
    C : ndarray of shape (m, n), C-contiguous
        Written in place.
    beta : float
        0 to overwrite ``C``.
    """
    m, n = C.shape
    k = A.shape[0] if transpose_a else A.shape[1]
    if m == 0 or n == 0:
        return
    alpha = C.dtype.type(1.0)
    _call_gemm(gemm, _TRANS if transpose_a else _NO_TRANS, _TRANS if transpose_b else _NO_TRANS, m, n, k, alpha,
               A.ctypes.data, _leading(A), B.ctypes.data, _leading(B), C.dtype.type(beta), C.ctypes.data,
               _leading(C))


@njit(**config.JIT)
def _leading(X):
    # The distance between rows, in elements (a block of columns keeps its parent's).
    return max(X.strides[0] // X.itemsize, X.shape[1], 1) if X.shape[0] > 1 else max(X.shape[1], 1)
