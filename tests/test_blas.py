"""``fastdnn.blas.add_product`` against the product written out and added."""

import numpy as np
import pytest

from fastdnn import blas, layers
from fastdnn.kernels import update

TOL = {np.float64: 1e-13, np.float32: 2e-5}


def _operand(rng, shape, layout, dtype):
    X = rng.standard_normal(shape).astype(dtype)
    if layout == "F":
        return np.asfortranarray(X)
    if layout == "T":  # a transposed C array, as A_prev.T is
        return np.ascontiguousarray(X.T).T
    return X


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(20, 209, 300), (7, 600, 20), (1, 1, 1), (3, 5, 1), (64, 1, 64)])
@pytest.mark.parametrize("layouts", [("C", "C"), ("C", "T"), ("F", "C"), ("T", "F")])
def test_add_product_adds_alpha_times_the_product(dtype, shape, layouts, rng):
    if not blas.available(dtype):
        pytest.skip("NumPy's BLAS here has no 64-bit-integer CBLAS gemm; the callers take the unfused path")
    n, k, p = shape
    A = _operand(rng, (n, k), layouts[0], dtype)
    B = _operand(rng, (k, p), layouts[1], dtype)
    C = rng.standard_normal((n, p)).astype(dtype)
    ref = C.astype(np.float64) - 0.25 * (A.astype(np.float64) @ B.astype(np.float64))
    out = C.copy()
    assert blas.add_product(-0.25, A, B, out)
    scale = np.abs(C).max() + 0.25 * np.abs(A).max() * np.abs(B).max() * k
    np.testing.assert_allclose(out, ref, rtol=0, atol=TOL[dtype] * scale)


def test_add_product_declines_what_it_cannot_do_and_leaves_C_alone(rng):
    A = rng.standard_normal((4, 6))
    B = rng.standard_normal((6, 5))
    C = rng.standard_normal((4, 5))
    before = C.copy()
    assert not blas.add_product(1.0, A[:, ::2], B[::2], C)  # strided operands
    assert not blas.add_product(1.0, A.astype(np.float32), B, C)  # mixed dtypes
    assert not blas.add_product(1.0, A, B, np.asfortranarray(C))  # C not C-contiguous
    np.testing.assert_array_equal(C, before)
    with pytest.raises(ValueError, match=r"shapes \(4, 6\) @ \(5, 5\)"):
        blas.add_product(1.0, A, B[:5], C)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("fused", [True, False])
def test_linear_backward_with_a_learning_rate_takes_the_step(dtype, fused, rng, monkeypatch):
    # Fused or not (no BLAS gemm found), the same step: dA_prev from the old W,
    # then W -= lr * scale * dZ A_prev^T.
    if not fused:
        monkeypatch.setattr(blas, "add_product", lambda *args: False)
    dZ = rng.standard_normal((30, 400)).astype(dtype)
    A_prev = rng.standard_normal((50, 400)).astype(dtype)
    W = rng.standard_normal((30, 50)).astype(dtype)
    W0 = W.copy()
    dW = np.empty_like(W)
    dA_prev = np.empty_like(A_prev)
    layers.linear_backward_into(dZ, A_prev, W, 0.5, dW, dA_prev, learning_rate=0.1)
    np.testing.assert_allclose(dA_prev, W0.T @ dZ, rtol=TOL[dtype] * 10, atol=TOL[dtype] * 100)
    np.testing.assert_allclose(W, W0 - 0.1 * 0.5 * (dZ @ A_prev.T), rtol=TOL[dtype] * 10, atol=TOL[dtype] * 100)


def test_the_fused_step_matches_product_then_update_where_the_sum_is_one_block(rng):
    # K = 209 (one block of OpenBLAS's k-loop): the fused entry is C - lr * (A B)
    # rounded once, as the product written out then a fused multiply-add.
    if not blas.available(np.float64):
        pytest.skip("NumPy's BLAS here has no 64-bit-integer CBLAS gemm")
    dZ = rng.standard_normal((20, 209)) / 209
    X = rng.random((3000, 209))
    W = rng.standard_normal((20, 3000)) * 0.01
    unfused = W.copy()
    dW = dZ @ X.T
    update.sgd(unfused.reshape(-1), dW.reshape(-1), 0.0075, unfused.reshape(-1))
    assert blas.add_product(-0.0075, dZ, X.T, W)
    np.testing.assert_allclose(W, unfused, rtol=1e-15, atol=1e-18)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(20, 209, 300), (1, 1, 1), (3, 5, 1), (64, 1, 64)])
@pytest.mark.parametrize("transposes", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("beta", [0.0, 1.0])
def test_product_from_numba_code(dtype, shape, transposes, beta, rng):
    # blas.product is what the native column blocks call from inside Numba.
    gemm = blas.gemm_address(dtype)
    if not gemm:
        pytest.skip("NumPy's BLAS here has no 64-bit-integer CBLAS gemm; native column blocks do not run")
    n, k, p = shape
    ta, tb = transposes
    A = rng.standard_normal((k, n) if ta else (n, k)).astype(dtype)
    B = rng.standard_normal((p, k) if tb else (k, p)).astype(dtype)
    C = rng.standard_normal((n, p)).astype(dtype)
    expected = (A.T if ta else A) @ (B.T if tb else B) + beta * C
    blas.product(gemm, A, ta, B, tb, C, beta)
    np.testing.assert_allclose(C, expected, rtol=TOL[dtype], atol=TOL[dtype] * max(1.0, np.abs(expected).max()) * k)
