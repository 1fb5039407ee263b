"""Scalar math that vectorises: exp, log, sigmoid, tanh and their friends.

LLVM cannot vectorise a loop that calls the C library's ``exp`` (Numba ships no
vector math library), so an activation kernel would run one element at a
time.  These helpers compute the same functions from additions,
multiplications, ``floor`` and a bit cast only, which LLVM turns into SIMD
code once they are inlined into a kernel loop.  ``exp``, ``log``, ``tanh``...
work in float64; their float32 twins (``exp32``, ``tanh32``, ``sigmoid32``)
work in float32 so that float32 kernels use twice the SIMD lanes.  Kernels
call ``exp_native`` / ``tanh_native`` / ``sigmoid_native``, which pick the
twin from the argument's type at compile time.

Accuracy (measured in ``tests/test_scalar.py`` against NumPy): float64
within 2 ulp of the correctly rounded result (tanh 4) over the whole range,
including the overflow and underflow edges and NaN; float32 twins within
4 float32 ulp of NumPy's float32 functions.
"""

import math

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic, overload

from ..config import JIT_EXACT


@intrinsic
def _int64_bits_as_float64(typingctx, bits):
    """Reinterpret the bits of an int64 as a float64 (no conversion)."""
    if bits != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@intrinsic
def _float64_bits_as_int64(typingctx, value):
    """Reinterpret the bits of a float64 as an int64 (no conversion)."""
    if value != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


# Cody-Waite split of ln(2): LN2_HI has its low bits zero, so k * LN2_HI is
# exact for every |k| < 2**11 that exp can need.
_LOG2_E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01
_LN2_LO = 1.90821492927058770002e-10
# exp(x) overflows above this and is below the smallest subnormal under the next.
_EXP_MAX = 709.782712893384
_EXP_MIN = -745.1332191019412

# 1/n! for n = 2..13: the Taylor series of exp on |r| <= ln(2)/2 truncated
# after r**13 has a remainder below 2e-18, under a quarter of an ulp.
_C2 = 1.0 / 2.0
_C3 = 1.0 / 6.0
_C4 = 1.0 / 24.0
_C5 = 1.0 / 120.0
_C6 = 1.0 / 720.0
_C7 = 1.0 / 5040.0
_C8 = 1.0 / 40320.0
_C9 = 1.0 / 362880.0
_C10 = 1.0 / 3628800.0
_C11 = 1.0 / 39916800.0
_C12 = 1.0 / 479001600.0
_C13 = 1.0 / 6227020800.0


@njit(**JIT_EXACT)
def _expm1_reduced(r):
    """``exp(r) - 1`` for ``|r| <= ln(2)/2``, accurate also near zero."""
    # Estrin's scheme: four independent chains instead of one of depth 12,
    # so the out-of-order core overlaps them.
    r2 = r * r
    r4 = r2 * r2
    r8 = r4 * r4
    q0 = (_C2 + _C3 * r) + (_C4 + _C5 * r) * r2
    q1 = (_C6 + _C7 * r) + (_C8 + _C9 * r) * r2
    q2 = (_C10 + _C11 * r) + (_C12 + _C13 * r) * r2
    p = q0 + q1 * r4 + q2 * r8
    return r + r2 * p


@njit(**JIT_EXACT)
def exp(x):
    """``e**x`` for a float64, branch-free so that a loop over it vectorises.

    Parameters
    ----------
    x : float

    Returns
    -------
    float
        ``inf`` above 709.78, ``0.0`` below -745.13, NaN for NaN.

    Notes
    -----
    .. math:: e^x = 2^k\\,e^r,\\quad k = \\lfloor x / \\ln 2 \\rceil,\\quad r = x - k\\ln 2
    """
    xc = min(max(x, _EXP_MIN), _EXP_MAX)
    k = math.floor(xc * _LOG2_E + 0.5)
    r = (xc - k * _LN2_HI) - k * _LN2_LO
    er = 1.0 + _expm1_reduced(r)
    # 2**k in two factors, each a normal number, so that results in the
    # subnormal range are rounded once, by the last product.
    ki = np.int64(k)
    k1 = ki >> 1
    k2 = ki - k1
    s1 = _int64_bits_as_float64((k1 + 1023) << 52)
    s2 = _int64_bits_as_float64((k2 + 1023) << 52)
    y = er * s1 * s2
    y = math.inf if x > _EXP_MAX else y
    y = 0.0 if x < _EXP_MIN else y
    return x if x != x else y


@njit(**JIT_EXACT)
def is_finite(x):
    """Whether ``x`` is neither NaN nor an infinity, in a kernel compiled with fastdnn's fastmath flags.

    With ``nsz`` and ``reassoc`` together, LLVM folds ``np.isfinite`` of a
    sum or a product to True (``math.isfinite(a + b)`` with ``a = inf``); an
    ordered comparison of the magnitude keeps its meaning.
    """
    return abs(x) < math.inf


@njit(**JIT_EXACT)
def sigmoid(z):
    """The logistic function ``1 / (1 + e**-z)``, as the course writes it."""
    return 1.0 / (1.0 + exp(-z))


@njit(**JIT_EXACT)
def _expm1_nonpositive(y):
    r"""``e**y - 1`` for ``y <= 0``, accurate near zero where ``exp(y) - 1`` is not.

    With :math:`y = k\ln 2 + r`: :math:`e^y - 1 = 2^k (e^r - 1) + (2^k - 1)`,
    and both terms are exact enough because :math:`-60 < k \le 0`.
    """
    yc = max(y, -40.0)  # e**-40 - 1 rounds to -1
    k = math.floor(yc * _LOG2_E + 0.5)
    r = (yc - k * _LN2_HI) - k * _LN2_LO
    s = _int64_bits_as_float64((np.int64(k) + 1023) << 52)
    return s * _expm1_reduced(r) + (s - 1.0)


@njit(**JIT_EXACT)
def tanh(z):
    r"""Hyperbolic tangent, within a few ulp everywhere.

    .. math:: \tanh z = \operatorname{sign}(z)\,\frac{-u}{2 + u},\quad u = e^{-2|z|} - 1
    """
    u = _expm1_nonpositive(-2.0 * abs(z))
    t = math.copysign(-u / (2.0 + u), z)
    return z if z != z else t


_TWO_52 = 4503599627370496.0
# 1/(2n+1): the artanh series.  Written as constants so that no division
# is left in the loop (there is no fastmath to turn them into products).
_R3, _R5, _R7, _R9 = 1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0
_R11, _R13, _R15, _R17 = 1.0 / 11.0, 1.0 / 13.0, 1.0 / 15.0, 1.0 / 17.0
_R19, _R21, _R23 = 1.0 / 19.0, 1.0 / 21.0, 1.0 / 23.0


@njit(**JIT_EXACT)
def log(x):
    r"""Natural logarithm of a float64, branch-free so that a loop over it vectorises.

    Returns ``-inf`` at 0, NaN below 0 and for NaN, ``inf`` at ``inf``.

    Notes
    -----
    With :math:`x = 2^k m`, :math:`\sqrt{1/2} \le m < \sqrt 2` and
    :math:`f = (m - 1)/(m + 1)`:

    .. math:: \ln x = k \ln 2 + 2\,\operatorname{artanh} f
              = k \ln 2 + 2 f \sum_{n \ge 0} f^{2n} / (2n + 1)
    """
    # Subnormals are scaled into the normal range first.
    tiny = x < 2.2250738585072014e-308
    xs = x * _TWO_52 if tiny else x
    bits = _float64_bits_as_int64(xs)
    k = ((bits >> 52) & 0x7FF) - 1023
    m = _int64_bits_as_float64((bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000)
    big = m > 1.4142135623730951
    m = m * 0.5 if big else m
    k = k + 1 if big else k
    kf = np.float64(k) - (52.0 if tiny else 0.0)
    f = (m - 1.0) / (m + 1.0)
    f2 = f * f
    f4 = f2 * f2
    f8 = f4 * f4
    # |f| <= 0.1716, so f**2 <= 0.0295 and eleven terms leave < 1e-18.
    q0 = (_R3 + _R5 * f2) + (_R7 + _R9 * f2) * f4
    q1 = (_R11 + _R13 * f2) + (_R15 + _R17 * f2) * f4
    q2 = (_R19 + _R21 * f2) + _R23 * f4
    series = f2 * (q0 + q1 * f8 + q2 * (f8 * f8))
    # 2f = (m - 1) - f (m - 1): keeps the leading term exact for m near 1.
    g = m - 1.0
    y = kf * _LN2_HI + (g - f * g + (2.0 * f * series + kf * _LN2_LO))
    y = -math.inf if x == 0.0 else y
    y = math.inf if x == math.inf else y
    return math.nan if (x < 0.0 or x != x) else y


@njit(**JIT_EXACT)
def log1p(t):
    r"""``log(1 + t)`` for ``t > -1``, accurate also for tiny ``t``.

    The rounding error of ``u = 1 + t`` is put back to first order:
    :math:`\ln(1+t) \approx \ln u - ((u - 1) - t)/u`.
    """
    u = 1.0 + t
    y = log(u) - ((u - 1.0) - t) / u
    # At u = 0 and u = inf the correction is 0/0 or inf/inf: log(u) is exact there.
    return log(u) if (u == 0.0 or u == math.inf) else y


# ------------------------------------------------- float32 twins
#
# A float32 kernel that widens to float64 runs half as many SIMD lanes and
# needs the float64 polynomials, twice as long as float32 needs.  These twins
# keep every operation in float32 (the constants are np.float32, so Numba
# does not promote).  Accuracy: within 4 ulp of NumPy's float32 functions,
# measured in tests/test_scalar.py.


@intrinsic
def _int32_bits_as_float32(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (no conversion).

    Numba widens int32 arithmetic to int64, hence any integer width here.
    """
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        low = args[0]
        if bits.bitwidth > 32:
            low = builder.trunc(low, ir.IntType(32))
        elif bits.bitwidth < 32:
            low = builder.sext(low, ir.IntType(32))
        return builder.bitcast(low, ir.FloatType())

    return types.float32(bits), codegen


_F32 = np.float32
_LOG2_E_32 = _F32(1.4426950408889634)
# ln(2) split so that k * _LN2_HI_32 is exact for |k| < 2**8 (8 significant bits).
_LN2_HI_32 = _F32(0.693359375)
_LN2_LO_32 = _F32(-2.12194440e-4)
# Largest x with finite expf, and the point below which expf rounds to 0.
_EXP_MAX_32 = _F32(88.72283)
_EXP_MIN_32 = _F32(-103.97208)
_HALF_32 = _F32(0.5)
_ONE_32 = _F32(1.0)
_TWO_32 = _F32(2.0)
_ZERO_32 = _F32(0.0)
_INF_32 = _F32(np.inf)
# 1/n! for n = 2..7: on |r| <= ln(2)/2 the Taylor remainder after r**7 is
# below 6e-9 (a fifth of float32's ulp at the interval's ends, relatively
# less inside it).
_D2, _D3, _D4 = _F32(1 / 2), _F32(1 / 6), _F32(1 / 24)
_D5, _D6, _D7 = _F32(1 / 120), _F32(1 / 720), _F32(1 / 5040)


@njit(**JIT_EXACT)
def _expm1_reduced32(r):
    """``exp(r) - 1`` in float32 for ``|r| <= ln(2)/2``."""
    r2 = r * r
    r4 = r2 * r2
    p = (_D2 + _D3 * r) + (_D4 + _D5 * r) * r2 + (_D6 + _D7 * r) * r4
    return r + r2 * p


@njit(**JIT_EXACT)
def exp32(x):
    """``e**x`` of a float32 in float32 arithmetic (see :func:`exp`)."""
    xc = min(max(x, _EXP_MIN_32), _EXP_MAX_32)
    k = np.floor(xc * _LOG2_E_32 + _HALF_32)
    r = (xc - k * _LN2_HI_32) - k * _LN2_LO_32
    er = _ONE_32 + _expm1_reduced32(r)
    ki = np.int32(k)
    k1 = ki >> 1
    k2 = ki - k1
    s1 = _int32_bits_as_float32((k1 + 127) << 23)
    s2 = _int32_bits_as_float32((k2 + 127) << 23)
    y = er * s1 * s2
    y = _INF_32 if x > _EXP_MAX_32 else y
    y = _ZERO_32 if x < _EXP_MIN_32 else y
    return x if x != x else y


@njit(**JIT_EXACT)
def _expm1_nonpositive32(y):
    """``e**y - 1`` in float32 for ``y <= 0`` (see :func:`_expm1_nonpositive`)."""
    yc = max(y, _F32(-18.0))  # e**-18 - 1 rounds to -1 in float32
    k = np.floor(yc * _LOG2_E_32 + _HALF_32)
    r = (yc - k * _LN2_HI_32) - k * _LN2_LO_32
    s = _int32_bits_as_float32((np.int32(k) + 127) << 23)
    return s * _expm1_reduced32(r) + (s - _ONE_32)


@njit(**JIT_EXACT)
def tanh32(z):
    """Hyperbolic tangent of a float32 in float32 arithmetic (see :func:`tanh`)."""
    u = _expm1_nonpositive32(_F32(-2.0) * abs(z))
    t = math.copysign(-u / (_TWO_32 + u), z)
    return z if z != z else t


@njit(**JIT_EXACT)
def sigmoid32(z):
    """The logistic function of a float32 in float32 arithmetic."""
    return _ONE_32 / (_ONE_32 + exp32(-z))


def exp_native(x):
    """``e**x`` in the precision of ``x``: :func:`exp32` for float32, :func:`exp` otherwise."""
    return math.exp(x)


def tanh_native(x):
    """Hyperbolic tangent in the precision of ``x``."""
    return math.tanh(x)


def sigmoid_native(x):
    """The logistic function in the precision of ``x``."""
    return 1.0 / (1.0 + math.exp(-x))


def _pick(native32, native64):
    def typer(x):
        if x == types.float32:
            return lambda x: native32(x)
        if isinstance(x, (types.Float, types.Integer)):
            return lambda x: native64(x)
        return None

    return typer


overload(exp_native, jit_options=JIT_EXACT)(_pick(exp32, exp))
overload(tanh_native, jit_options=JIT_EXACT)(_pick(tanh32, tanh))
overload(sigmoid_native, jit_options=JIT_EXACT)(_pick(sigmoid32, sigmoid))


def like(value, template):
    """``value`` converted to the floating type of ``template`` (inside kernels only)."""
    return type(template)(value)


@overload(like, jit_options=JIT_EXACT)
def _like(value, template):
    if template == types.float32:
        return lambda value, template: np.float32(value)
    if template == types.float64:
        return lambda value, template: np.float64(value)
    return None
