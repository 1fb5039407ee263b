"""Sparse inputs: the first layer's products on the nonzeros, against the same fit on the dense array."""

import tracemalloc
import warnings

import numpy as np
import pytest

sp = pytest.importorskip("scipy.sparse", reason="sparse inputs are scipy.sparse matrices")

import fastdnn  # noqa: E402
from conftest import assert_close, rtol_for  # noqa: E402
from fastdnn.kernels import sparse as kernels  # noqa: E402
from fastdnn.network import Network  # noqa: E402

OUTPUTS = {"sigmoid": 1, "softmax": 3, "linear": 2}


def _sparse_data(rng, n_x=40, m=150, density=0.1, output="softmax"):
    X = rng.standard_normal((n_x, m)) * (rng.random((n_x, m)) < density)
    X[:, 3] = 0.0  # an example with no nonzero at all
    k = OUTPUTS[output]
    if output == "softmax":
        Y = np.eye(k)[:, rng.integers(0, k, m)]
    elif output == "sigmoid":
        Y = (rng.random((1, m)) < 0.5).astype(float)
    else:
        Y = rng.standard_normal((k, m))
    return X, Y


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_kernels_are_the_dense_products(dtype, index_dtype, rng):
    X, _ = _sparse_data(rng)
    rows = sp.csr_matrix(X.T.astype(dtype))
    rows.indices = rows.indices.astype(index_dtype)
    rows.indptr = rows.indptr.astype(index_dtype)
    batch = np.array([5, 3, 3, 140, 0, 77], dtype=np.int64)  # repeats and an empty example
    W = rng.standard_normal((7, X.shape[0])).astype(dtype)
    out = np.full((7, batch.size), np.nan, dtype=dtype)
    kernels.left_product(W, rows.indptr, rows.indices, rows.data, batch, out)
    Xb = X[:, batch].astype(dtype)
    assert_close(out, W.astype(np.float64) @ Xb, dtype=dtype)
    dZ = rng.standard_normal((7, batch.size)).astype(dtype)
    dW = np.full_like(W, np.nan)
    kernels.weight_gradient(dZ, rows.indptr, rows.indices, rows.data, batch, 0.5, dW)
    assert_close(dW, 0.5 * dZ.astype(np.float64) @ Xb.T, dtype=dtype)


@pytest.mark.parametrize("output", sorted(OUTPUTS))
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("batch_size", [None, 32])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("fmt", ["csc", "csr"])
def test_a_sparse_fit_takes_the_dense_fits_steps(output, dtype, batch_size, optimizer, fmt, rng):
    X, Y = _sparse_data(rng, output=output)
    k = OUTPUTS[output]
    options = dict(epochs=3, batch_size=batch_size, optimizer=optimizer, learning_rate=0.05, l2=0.1, dropout=0.1,
                   progress=False)
    dense = Network([40, 9, 5, k], output=output, dtype=dtype, strategy="plain", seed=2)
    sparse = Network([40, 9, 5, k], output=output, dtype=dtype, seed=2)
    hd = dense.fit(X, Y, **options)
    hs = sparse.fit(getattr(sp, f"{fmt}_matrix")(X), Y, **options)
    assert sparse.last_plan.route == "plain" and "sparse" in sparse.last_plan.reason
    rtol = rtol_for(dtype) * 100
    np.testing.assert_allclose(hs["cost"], hd["cost"], rtol=rtol)
    assert_close(sparse.params, dense.params, rtol=rtol)
    assert_close(sparse.predict_proba(sp.csr_matrix(X)), dense.predict_proba(X), rtol=rtol)


def test_held_strategies_and_mpi_refuse_sparse_inputs_by_name(rng):
    X, Y = _sparse_data(rng)
    with pytest.raises(ValueError, match="sparse inputs take the plain route"):
        Network([40, 9, 3], output="softmax", strategy="native").fit(sp.csc_matrix(X), Y, batch_size=32,
                                                                      progress=False)
    net = Network([40, 9, 3], output="softmax")
    with pytest.raises(ValueError, match="has 39 rows"):
        net.fit(sp.csc_matrix(X[:39]), Y, progress=False)
    bad = sp.csc_matrix(X)
    bad.data[4] = np.nan
    before = bad.copy()
    with pytest.raises(ValueError, match="NaN or infinity among its stored values"):
        net.fit(bad, Y, batch_size=32, progress=False)
    assert (bad != before).nnz == 1  # only the NaN differs from itself: nothing was written


def test_a_large_sparse_x_is_never_densified(rng):
    n_x, m = 20000, 2000
    X = sp.random(n_x, m, density=0.001, format="csc", random_state=1, dtype=np.float32)
    y = rng.integers(0, 2, m)
    net = Network([n_x, 4, 1], dtype=np.float32, seed=0)
    net.fit(X, y, epochs=1, batch_size=200, optimizer="adam", progress=False)  # compile, workspaces
    tracemalloc.start()
    try:
        net.fit(X, y, epochs=2, batch_size=200, optimizer="adam", progress=False)
        net.predict_proba(X)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    dense_bytes = n_x * m * 4  # 160 MB
    assert peak < dense_bytes / 20, f"peak {peak / 1e6:.1f} MB"


@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_estimators_take_sparse_x_as_scikit_learns(fmt, rng):
    pytest.importorskip("sklearn")
    X, Y = _sparse_data(rng, m=200)
    Xs = getattr(sp, f"{fmt}_matrix")(X.T)  # rows are samples
    y = Y.argmax(axis=0)
    for solver, extra in (("adam", dict(max_iter=20)), ("lbfgs", dict(max_iter=15)), ("sgd", dict(
            max_iter=10, early_stopping=True))):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            a = fastdnn.MLPClassifier(hidden_layer_sizes=(8,), solver=solver, random_state=0, **extra).fit(Xs, y)
            b = fastdnn.MLPClassifier(hidden_layer_sizes=(8,), solver=solver, random_state=0, **extra).fit(X.T, y)
        for mine, dense in zip(a.coefs_, b.coefs_):
            np.testing.assert_allclose(mine, dense, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(a.predict_proba(Xs), b.predict_proba(X.T), rtol=1e-8, atol=1e-10)
    reg = fastdnn.MLPRegressor(hidden_layer_sizes=(8,), max_iter=10, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(Xs, Y[:2].T)
    assert reg.predict(Xs).shape == (200, 2)
