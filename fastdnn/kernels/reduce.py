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
def lane_sum(x):
    """Sum of a 1-D array in a fixed order.

    Parameters
    ----------
    x : ndarray of shape (n,)

    Returns
    -------
    float
        ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`` plus the tail,
        where ``s_k`` sums ``x[k], x[k + 8], ...`` in order.
    """
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    n8 = x.size - x.size % 8
    for j in range(0, n8, 8):
        s0 += x[j]
        s1 += x[j + 1]
        s2 += x[j + 2]
        s3 += x[j + 3]
        s4 += x[j + 4]
        s5 += x[j + 5]
        s6 += x[j + 6]
        s7 += x[j + 7]
    tail = 0.0
    for j in range(n8, x.size):
        tail += x[j]
    return (((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))) + tail
