"""The vectorisable scalar math of ``fastdnn.kernels.scalar`` against NumPy.

Each function is mapped over large input sets in a small ``@njit`` loop (once
with default flags, once with the kernels' fastmath flags, which is how the
kernels inline them) and compared with NumPy's float64 function: at most
2 ulp apart (tanh: 4 ulp; sigmoid against its formula's exact value) over the whole float64 range -- random bit
patterns, subnormals, signed zeros, infinities, NaN and the overflow and
underflow edges of exp.  Special values must match exactly.
"""

import numpy as np
import pytest
from numba import njit

from fastdnn import config
from fastdnn.kernels import scalar

FLAG_SETS = {
    "plain": {"cache": False},
    "kernel-flags": dict(config.JIT, cache=False),
}


def _make_mappers(flags):
    @njit(**flags)
    def map_exp(x, out):
        for i in range(x.size):
            out[i] = scalar.exp(x[i])

    @njit(**flags)
    def map_log(x, out):
        for i in range(x.size):
            out[i] = scalar.log(x[i])

    @njit(**flags)
    def map_log1p(x, out):
        for i in range(x.size):
            out[i] = scalar.log1p(x[i])

    @njit(**flags)
    def map_tanh(x, out):
        for i in range(x.size):
            out[i] = scalar.tanh(x[i])

    @njit(**flags)
    def map_sigmoid(x, out):
        for i in range(x.size):
            out[i] = scalar.sigmoid(x[i])

    return {"exp": map_exp, "log": map_log, "log1p": map_log1p, "tanh": map_tanh, "sigmoid": map_sigmoid}


MAPPERS = {name: _make_mappers(flags) for name, flags in FLAG_SETS.items()}

EXP_MAX = 709.782712893384
EXP_MIN = -745.1332191019412
TINY = np.finfo(np.float64).tiny  # smallest normal
SUBNORMAL_MIN = 5e-324
HUGE = np.finfo(np.float64).max


LONG_DOUBLE_IS_WIDER = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant


def numpy_sigmoid(x):
    """The course's formula ``1 / (1 + exp(-x))``, evaluated in long double when it is wider.

    In float64 the formula itself is off by up to 3 ulp (``1 + e`` rounds,
    then ``exp``'s own error), which would blur a 2-ulp check; long double
    gives its exact value.  Where ``exp(-x)`` overflows float64 (x < -709.78)
    the formula's float64 result is 0, and that is what the kernels promise.
    """
    with np.errstate(over="ignore"):
        float64_formula = 1.0 / (1.0 + np.exp(-x))
        if not LONG_DOUBLE_IS_WIDER:
            return float64_formula
        xl = np.asarray(x, dtype=np.longdouble)
        exact = (1 / (1 + np.exp(-xl))).astype(np.float64)
    return np.where(x < -EXP_MAX, float64_formula, exact)


def numpy_log1p(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log1p(x)


def numpy_log(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(x)


def numpy_exp(x):
    with np.errstate(over="ignore", under="ignore"):
        return np.exp(x)


NUMPY = {"exp": numpy_exp, "log": numpy_log, "log1p": numpy_log1p, "tanh": np.tanh, "sigmoid": numpy_sigmoid}
MAX_ULP = {"exp": 2, "log": 2, "log1p": 2, "tanh": 4, "sigmoid": 2 if LONG_DOUBLE_IS_WIDER else 4}



def ordered(x):
    """float64 -> int64 so that adjacent floats are adjacent integers (+0 and -0 both map to 0)."""
    i = np.asarray(x, dtype=np.float64).view(np.int64)
    return np.where(i < 0, -(i & np.int64(0x7FFFFFFFFFFFFFFF)), i)


def ulp_distance(a, b):
    """Number of float64 steps between a and b (both finite)."""
    oa, ob = ordered(a), ordered(b)
    same_sign = (oa >= 0) == (ob >= 0)
    # Same sign: the difference cannot overflow.  Opposite signs: far apart
    # anyway unless both are near zero, where the sum is small.
    with np.errstate(over="ignore"):
        d = np.where(same_sign, np.abs(oa - ob), np.abs(oa.astype(np.float64)) + np.abs(ob.astype(np.float64)))
    return d.astype(np.float64)


def random_bit_patterns(rng, n):
    """Doubles drawn uniformly over their bit patterns: every binade equally often."""
    bits = rng.integers(np.iinfo(np.int64).min, np.iinfo(np.int64).max, size=n, dtype=np.int64)
    x = bits.view(np.float64)
    return x[np.isfinite(x)]


def neighbours(x, k=40):
    """``x`` and its ``k`` float64 neighbours on each side."""
    out = [x]
    up = down = x
    for _ in range(k):
        up = np.nextafter(up, np.inf)
        down = np.nextafter(down, -np.inf)
        out += [up, down]
    return np.array(out)


SPECIALS = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, SUBNORMAL_MIN, -SUBNORMAL_MIN, TINY, -TINY,
                     TINY / 3, -TINY / 3, HUGE, -HUGE, 1.0, -1.0, 0.5, -0.5])


def inputs_for(name, rng):
    """The whole float64 range plus the regions where ``name`` is delicate."""
    parts = [SPECIALS, random_bit_patterns(rng, 200_000),
             rng.uniform(-800, 800, 50_000), np.geomspace(SUBNORMAL_MIN, 1e3, 20_000),
             -np.geomspace(SUBNORMAL_MIN, 1e3, 20_000)]
    if name == "exp":
        parts += [neighbours(EXP_MAX), neighbours(EXP_MIN), neighbours(-708.3964185322641),  # results turn subnormal
                  rng.uniform(-746, 710, 100_000), rng.uniform(-1, 1, 50_000)]
    elif name in ("log", "log1p"):
        parts += [np.abs(random_bit_patterns(rng, 100_000)), 1.0 + rng.uniform(-1e-3, 1e-3, 50_000),
                  neighbours(1.0), neighbours(-1.0), -1.0 + np.geomspace(1e-16, 1.0, 20_000),
                  rng.uniform(0, 10, 50_000), neighbours(TINY), neighbours(SUBNORMAL_MIN)]
    elif name == "tanh":
        parts += [rng.uniform(-25, 25, 100_000), np.geomspace(1e-10, 1, 20_000), neighbours(19.06), neighbours(0.55)]
    elif name == "sigmoid":
        parts += [rng.uniform(-750, 750, 100_000), rng.uniform(-40, 40, 100_000), neighbours(-EXP_MAX),
                  neighbours(-EXP_MIN), neighbours(36.7)]
    return np.ascontiguousarray(np.concatenate(parts))


def run(mappers, name, x):
    out = np.empty_like(x)
    mappers[name](x, out)
    return out


# log1p is exact-ish at -1 and inf only through special handling NumPy has; see
# test_log1p_special_values below for those two points.
LOG1P_KNOWN_SPECIALS = np.array([-1.0, np.inf])


@pytest.mark.parametrize("flags", list(FLAG_SETS))
@pytest.mark.parametrize("name", list(NUMPY))
def test_scalar_function_within_ulp_of_numpy(name, flags):
    rng = np.random.default_rng(12345)
    x = inputs_for(name, rng)
    if name == "log1p":
        x = x[~np.isin(x, LOG1P_KNOWN_SPECIALS)]
    got = run(MAPPERS[flags], name, x)
    want = NUMPY[name](x)
    # Special results (NaN, +-inf) must match exactly.
    special = ~np.isfinite(want)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (
        f"{name}: NaN mismatch at x = {x[np.isnan(got) != np.isnan(want)][:5]}")
    inf_want = np.isinf(want)
    np.testing.assert_array_equal(got[inf_want], want[inf_want], err_msg=f"{name}: infinite results")
    finite = ~special
    assert np.all(np.isfinite(got[finite])), f"{name}: non-finite result where NumPy's is finite"
    d = ulp_distance(got[finite], want[finite])
    worst = int(np.argmax(d))
    assert d.max() <= MAX_ULP[name], (
        f"{name}({x[finite][worst]!r}) = {got[finite][worst]!r}, NumPy {want[finite][worst]!r}: "
        f"{d.max():.0f} ulp apart (limit {MAX_ULP[name]})")


@pytest.mark.parametrize("name", list(NUMPY))
def test_scalar_function_is_odd_or_exact_at_special_points(name):
    m = MAPPERS["plain"]
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan])
    got = run(m, name, x)
    expected = {
        "exp": [1.0, 1.0, np.inf, 0.0, np.nan],
        "log": [-np.inf, -np.inf, np.inf, np.nan, np.nan],
        "log1p": [0.0, 0.0, np.inf, np.nan, np.nan],
        "tanh": [0.0, -0.0, 1.0, -1.0, np.nan],
        "sigmoid": [0.5, 0.5, 1.0, 0.0, np.nan],
    }[name]
    if name == "log1p":
        got, expected, x = got[[0, 1, 3, 4]], [0.0, 0.0, np.nan, np.nan], x[[0, 1, 3, 4]]  # inf: see below
    np.testing.assert_array_equal(got, expected, err_msg=f"{name} at {x}")
    if name == "tanh":
        assert np.signbit(got[1]), "tanh(-0.0) must keep the sign of zero"


def test_exp_overflow_and_underflow_edges():
    m = MAPPERS["plain"]
    x = np.array([EXP_MAX, np.nextafter(EXP_MAX, np.inf), EXP_MIN, np.nextafter(EXP_MIN, -np.inf), -1000.0, 1000.0])
    got = run(m, "exp", x)
    assert np.isfinite(got[0]) and got[0] > 1.79e308
    assert got[1] == np.inf and got[5] == np.inf
    assert got[3] == 0.0 and got[4] == 0.0
    assert ulp_distance(got[2], numpy_exp(x[2])) <= 1  # the smallest subnormal, or 0 next to it


def test_log_of_subnormals_is_accurate():
    x = np.array([SUBNORMAL_MIN, 2 * SUBNORMAL_MIN, TINY / 2, TINY / 1024, np.nextafter(TINY, 0)])
    got = run(MAPPERS["plain"], "log", x)
    assert ulp_distance(got, np.log(x)).max() <= 2


def test_log1p_special_values():
    got = run(MAPPERS["plain"], "log1p", np.array([-1.0, np.inf]))
    np.testing.assert_array_equal(got, [-np.inf, np.inf])


def test_mappers_vectorise_the_same_results_as_one_call_at_a_time():
    """The loop over an array gives what a single call gives (no lane-dependent result)."""
    rng = np.random.default_rng(7)
    x = np.ascontiguousarray(rng.uniform(-30, 30, 1001))

    @njit(cache=False)
    def one(name_code, v):
        if name_code == 0:
            return scalar.exp(v)
        if name_code == 1:
            return scalar.tanh(v)
        return scalar.sigmoid(v)

    for code, name in enumerate(["exp", "tanh", "sigmoid"]):
        looped = run(MAPPERS["kernel-flags"], name, x)
        single = np.array([one(code, v) for v in x[:50]])
        np.testing.assert_array_equal(looped[:50], single)


# ---------------------------------------------------------------- float32 twins
#
# The float32 kernels call exp_native / tanh_native / sigmoid_native, which
# pick exp32 / tanh32 / sigmoid32 for float32 input.  These are compared with
# NumPy's float32 functions: at most 4 float32 ulp apart.


def _make_native_mappers(flags):
    @njit(**flags)
    def map_exp(x, out):
        for i in range(x.size):
            out[i] = scalar.exp_native(x[i])

    @njit(**flags)
    def map_tanh(x, out):
        for i in range(x.size):
            out[i] = scalar.tanh_native(x[i])

    @njit(**flags)
    def map_sigmoid(x, out):
        for i in range(x.size):
            out[i] = scalar.sigmoid_native(x[i])

    return {"exp": map_exp, "tanh": map_tanh, "sigmoid": map_sigmoid}


NATIVE_MAPPERS = {name: _make_native_mappers(flags) for name, flags in FLAG_SETS.items()}
F32 = np.float32
EXP_MAX_32 = F32(88.72283)  # largest float32 with a finite exp
EXP_MIN_32 = F32(-103.97208)  # exp rounds to 0 below
EXP_SUBNORMAL_32 = F32(-87.33655)  # exp turns subnormal below


def numpy_sigmoid32(x):
    """The course's formula in float32: exact value rounded once, 0 where ``exp(-x)`` overflows float32."""
    with np.errstate(all="ignore"):
        exact = (1.0 / (1.0 + np.exp(-x.astype(np.float64)))).astype(np.float32)
    return np.where(x < -EXP_MAX_32, F32(0.0), exact)


def numpy_exp32(x):
    with np.errstate(all="ignore"):
        return np.exp(x)


NUMPY32 = {"exp": numpy_exp32, "tanh": np.tanh, "sigmoid": numpy_sigmoid32}


def ulp_distance32(a, b):
    """Number of float32 steps between a and b (both finite)."""
    def ordered32(x):
        i = np.asarray(x, dtype=np.float32).view(np.int32).astype(np.int64)
        return np.where(i < 0, -(i & 0x7FFFFFFF), i)

    return np.abs(ordered32(a) - ordered32(b))


def neighbours32(x, k=40):
    out = [F32(x)]
    up = down = F32(x)
    for _ in range(k):
        up = np.nextafter(up, F32(np.inf))
        down = np.nextafter(down, F32(-np.inf))
        out += [up, down]
    return np.array(out, dtype=np.float32)


def inputs32(rng):
    bits = rng.integers(0, 2**32, size=400_000, dtype=np.uint64).astype(np.uint32).view(np.float32)
    tiny = np.finfo(np.float32).tiny
    specials = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-45, -1e-45, tiny, -tiny, tiny / 3,
                         np.finfo(np.float32).max, -np.finfo(np.float32).max, 1.0, -1.0], dtype=np.float32)
    parts = [specials, bits, rng.uniform(-110, 95, 200_000).astype(np.float32),
             rng.uniform(-20, 20, 200_000).astype(np.float32),
             np.geomspace(1e-45, 100, 20_000).astype(np.float32),
             -np.geomspace(1e-45, 100, 20_000).astype(np.float32)]
    for edge in (EXP_MAX_32, EXP_MIN_32, EXP_SUBNORMAL_32, -EXP_MAX_32, -EXP_MIN_32, 9.0, -9.0, 0.55, 0.0):
        parts.append(neighbours32(edge))
    return np.ascontiguousarray(np.concatenate(parts))


@pytest.mark.parametrize("flags", list(FLAG_SETS))
@pytest.mark.parametrize("name", list(NUMPY32))
def test_float32_twin_within_4_ulp_of_numpy_float32(name, flags):
    x = inputs32(np.random.default_rng(2024))
    got = np.empty_like(x)
    NATIVE_MAPPERS[flags][name](x, got)
    assert got.dtype == np.float32
    want = NUMPY32[name](x)
    nan_mismatch = np.isnan(got) != np.isnan(want)
    assert not nan_mismatch.any(), f"{name}: NaN mismatch at {x[nan_mismatch][:5]}"
    inf_want = np.isinf(want)
    np.testing.assert_array_equal(got[inf_want], want[inf_want], err_msg=f"{name}: infinite results")
    finite = np.isfinite(want)
    assert np.all(np.isfinite(got[finite])), f"{name}: non-finite result where NumPy's is finite"
    d = ulp_distance32(got[finite], want[finite])
    worst = int(np.argmax(d))
    assert d.max() <= 4, (f"{name}({x[finite][worst]!r}) = {got[finite][worst]!r}, NumPy {want[finite][worst]!r}: "
                          f"{d.max()} float32 ulp apart")
    # Signs of zero: tanh is odd, exp and sigmoid are never negative.
    nonnan = ~np.isnan(want)
    np.testing.assert_array_equal(np.signbit(got[nonnan]), np.signbit(want[nonnan]), err_msg=f"{name}: sign")


def test_float32_twin_edges_exactly():
    m = NATIVE_MAPPERS["plain"]
    x = np.array([EXP_MAX_32, np.nextafter(EXP_MAX_32, F32(np.inf)), np.nextafter(EXP_MIN_32, F32(-np.inf)),
                  F32(-1000.0), F32(1000.0), F32(0.0), F32(-0.0)], dtype=np.float32)
    got = np.empty_like(x)
    m["exp"](x, got)
    assert np.isfinite(got[0]) and got[0] > F32(3.4e38)
    np.testing.assert_array_equal(got[1:], np.array([np.inf, 0.0, 0.0, np.inf, 1.0, 1.0], dtype=np.float32))
    m["tanh"](x, got)
    np.testing.assert_array_equal(got[3:], np.array([-1.0, 1.0, 0.0, -0.0], dtype=np.float32))
    assert np.signbit(got[6])


def test_native_helpers_keep_float64_on_the_float64_path():
    """float64 input goes to the float64 helpers: bitwise the same results."""
    x = np.random.default_rng(3).uniform(-30, 30, 2001)
    for name in ("exp", "tanh", "sigmoid"):
        a, b = np.empty_like(x), np.empty_like(x)
        NATIVE_MAPPERS["kernel-flags"][name](x, a)
        MAPPERS["kernel-flags"][name](x, b)
        np.testing.assert_array_equal(a, b, err_msg=name)


@njit(**dict(config.JIT, cache=False))
def _finite_flags(x, b):
    # Computed values, as a kernel sees them: a sum, a product, a loop's total.
    total = 0.0
    for k in range(x.size):
        total += x[k] * x[k]
    return (scalar.is_finite(x[0] + b), scalar.is_finite(x[0] * 2.0), scalar.is_finite(total + b),
            scalar.is_finite(x[1] + b))


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan])
def test_is_finite_sees_non_finite_sums_under_the_kernel_flags(value):
    assert _finite_flags(np.array([value, 1.5, 2.0]), 0.5) == (False, False, False, True)
