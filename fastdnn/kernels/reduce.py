"""Sums whose rounding does not depend on how the compiler vectorised them.

A sum written ``total += x[j]`` vectorises only when LLVM may reassociate it
(fastmath ``reassoc``), and then its rounding follows LLVM's choice of vector
width and unrolling -- which was measured to differ between a kernel compiled
in the running process and the same kernel loaded from Numba's cache (bias
gradients differing in the last bit, so two runs of one seed drifted apart).

Here the order is written out: eight interleaved partial sums in float64
(lane ``k`` adds ``x[k], x[k + 8], ...`` in order), combined in a fixed tree,
plus the tail.  Written as eight scalar accumulators LLVM left the loop
scalar (about two elements a cycle: 4.9 of the 17 ms of the float64 relu
gradient with its bias sums at 256 x 65536), so for C-contiguous rows the
loop is emitted directly as one 8-wide vector add per step
(:func:`_vector_row_sum`), with no fast-math flag: each lane rounds exactly
as its scalar accumulator would, and the bits are the same.
"""

from llvmlite import ir
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic, overload

from .. import config

_LANES = 8


@intrinsic
def _vector_row_sum(typingctx, X, i):
    """The fixed-order sum of row ``i`` of a C-contiguous float array, as explicit 8-lane vector code."""
    if not (isinstance(X, types.Array) and X.ndim == 2 and X.layout == "C"
            and X.dtype in (types.float64, types.float32) and isinstance(i, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        array_type, _ = signature.args
        array = context.make_array(array_type)(context, builder, args[0])
        row = builder.sext(args[1], ir.IntType(64)) if args[1].type.width < 64 else args[1]
        m = cgutils.unpack_tuple(builder, array.shape, 2)[1]
        element = context.get_data_type(array_type.dtype)
        double = ir.DoubleType()
        wide = ir.VectorType(double, _LANES)
        base = builder.gep(array.data, [builder.mul(row, m)])
        m8 = builder.sub(m, builder.srem(m, m.type(_LANES)))
        accumulator = cgutils.alloca_once_value(builder, ir.Constant(wide, [0.0] * _LANES))
        with cgutils.for_range_slice(builder, m.type(0), m8, m.type(_LANES)) as (j, _):
            pointer = builder.bitcast(builder.gep(base, [j]), ir.VectorType(element, _LANES).as_pointer())
            chunk = builder.load(pointer, align=array_type.dtype.bitwidth // 8)
            if element != double:
                chunk = builder.fpext(chunk, wide)
            builder.store(builder.fadd(builder.load(accumulator), chunk), accumulator)
        lanes = builder.load(accumulator)
        s = [builder.extract_element(lanes, ir.Constant(ir.IntType(32), k)) for k in range(_LANES)]
        total = builder.fadd(builder.fadd(builder.fadd(s[0], s[1]), builder.fadd(s[2], s[3])),
                             builder.fadd(builder.fadd(s[4], s[5]), builder.fadd(s[6], s[7])))
        tail = cgutils.alloca_once_value(builder, ir.Constant(double, 0.0))
        with cgutils.for_range_slice(builder, m8, m, m.type(1)) as (j, _):
            value = builder.load(builder.gep(base, [j]))
            if element != double:
                value = builder.fpext(value, double)
            builder.store(builder.fadd(builder.load(tail), value), tail)
        return builder.fadd(total, builder.load(tail))

    return types.float64(X, i), codegen


@njit(**config.JIT_EXACT)
def _scalar_row_sum(X, i):
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


def row_sum(X, i):
    """Sum of row ``i`` of a 2-D array in a fixed order.

    The row is read in place (a view handed to a function that is not
    inlined costs a reference count per call).  C-contiguous float rows take
    the vector loop, any other layout the same sum written in scalars; both
    give the same bits.

    Parameters
    ----------
    X : ndarray of shape (n, m)
    i : int

    Returns
    -------
    float
        ``((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))`` plus the tail,
        where ``s_k`` sums ``X[i, k], X[i, k + 8], ...`` in order, in float64.
    """
    return _scalar_row_sum(X, i)


@overload(row_sum, jit_options=config.JIT_EXACT)
def _row_sum_overload(X, i):
    if isinstance(X, types.Array) and X.layout == "C" and X.dtype in (types.float64, types.float32):
        return lambda X, i: _vector_row_sum(X, i)
    return lambda X, i: _scalar_row_sum(X, i)
