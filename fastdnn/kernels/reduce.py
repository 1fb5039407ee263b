"""Sums whose rounding does not depend on how the compiler vectorised them.

A sum written ``total += x[j]`` vectorises only when LLVM may reassociate it
(fastmath ``reassoc``), and then its rounding follows LLVM's choice of vector
width and unrolling -- which was measured to differ between a kernel compiled
in the running process and the same kernel loaded from Numba's cache (bias
gradients differing in the last bit, so two runs of one seed drifted apart).
Here the order is written out, and the function is compiled without
``reassoc`` (its flags travel with its instructions when LLVM inlines it): eight interleaved partial sums, combined in a
fixed tree.  The eight lanes are independent, so the loop still runs as SIMD
without any reassociation, and every compilation gives the same bits.
"""

from numba import njit

from .. import config


@njit(**config.JIT_EXACT)
def row_sum(X, i):
    """Sum of row ``i`` of a 2-D array in a fixed order.

    The row is read through ``X[i, j]`` rather than passed as a view: a view
    handed to a function that is not inlined costs a reference count per
    call, which dominated the bias gradients of narrow layers.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    i : int

    Returns
    -------
    float
        ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`` plus the tail,
        where ``s_k`` sums ``X[i, k], X[i, k + 8], ...`` in order.
    """
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    m = X.shape[1]
    m8 = m - m % 8
    for j in range(0, m8, 8):
        s0 += X[i, j]
        s1 += X[i, j + 1]
        s2 += X[i, j + 2]
        s3 += X[i, j + 3]
        s4 += X[i, j + 4]
        s5 += X[i, j + 5]
        s6 += X[i, j + 6]
        s7 += X[i, j + 7]
    tail = 0.0
    for j in range(m8, m):
        tail += X[i, j]
    return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail
