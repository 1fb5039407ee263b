"""Data loaders: .npz, .npy (memory-mapped), the course's .h5 files, idx(.gz); clear errors."""

import gzip

import numpy as np
import pytest

from fastdnn import data
from fastdnn.network import Network


def write_idx(path, arr, type_code, compress=False):
    dtype = {0x08: ">u1", 0x0B: ">i2", 0x0D: ">f4"}[type_code]
    header = bytes([0, 0, type_code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    payload = header + arr.astype(dtype).tobytes()
    if compress:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return payload


# ---------------------------------------------------------------- npz / npy


def test_load_npz_round_trip_and_errors(tmp_path, rng):
    X = rng.standard_normal((12, 5))
    y = rng.integers(0, 3, 12)
    path = tmp_path / "d.npz"
    np.savez(path, X=X, y=y, extra=np.zeros(2))
    X2, y2 = data.load_npz(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    assert data.load_npz(path, y_key=None)[1] is None

    with pytest.raises(ValueError, match=r"d.npz has no array named 'labels'; it has: X, y, extra"):
        data.load_npz(path, y_key="labels")
    with pytest.raises(FileNotFoundError, match="nothere.npz"):
        data.load_npz(tmp_path / "nothere.npz")

    short = tmp_path / "short.npz"
    short.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="short.npz.*damaged or truncated"):
        data.load_npz(short)
    text = tmp_path / "text.npz"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.npz"):
        data.load_npz(text)
    mismatched = tmp_path / "mismatched.npz"
    np.savez(mismatched, X=X, y=y[:5])
    with pytest.raises(ValueError, match="12 examples but 5 labels"):
        data.load_npz(mismatched)


def test_load_npy_maps_the_file_read_only(tmp_path, rng):
    X = rng.standard_normal((30, 4)).astype(np.float32)
    path = tmp_path / "X.npy"
    np.save(path, X)
    mapped = data.load_npy(path)
    assert isinstance(mapped, np.memmap) and not mapped.flags.writeable
    np.testing.assert_array_equal(mapped, X)
    assert not isinstance(data.load_npy(path, mmap=False), np.memmap)

    raw = path.read_bytes()
    for cut, mmap in ((len(raw) // 2, True), (len(raw) // 2, False), (40, True)):
        bad = tmp_path / f"cut{cut}{mmap}.npy"
        bad.write_bytes(raw[:cut])
        with pytest.raises(ValueError, match=f"cut{cut}{mmap}.npy.*truncated"):
            data.load_npy(bad, mmap=mmap)


def test_a_memory_mapped_data_set_trains_without_being_read_whole(tmp_path, rng):
    X = rng.standard_normal((200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    Xm, ym = data.load_data(tmp_path / "X.npy", labels=tmp_path / "y.npy")
    assert isinstance(Xm, np.memmap)
    a = Network([6, 5, 1], dtype=np.float32, seed=3)
    b = Network([6, 5, 1], dtype=np.float32, seed=3)
    a.fit(Xm.T, ym, epochs=2, batch_size=64, optimizer="adam", learning_rate=0.01, progress=False)
    b.fit(X.T, y, epochs=2, batch_size=64, optimizer="adam", learning_rate=0.01, progress=False)
    np.testing.assert_array_equal(a.params, b.params)


# ---------------------------------------------------------------- h5


def test_load_h5_finds_the_course_keys(tmp_path, rng):
    h5py = pytest.importorskip("h5py", reason="h5py (the 'data' extra) is needed for .h5 files")
    path = tmp_path / "train_things.h5"
    X = rng.integers(0, 256, size=(7, 4, 4, 3)).astype(np.uint8)
    y = rng.integers(0, 2, 7)
    with h5py.File(path, "w") as f:
        f["train_set_x"] = X
        f["train_set_y"] = y
        f["list_classes"] = np.array([b"a", b"b"])
    X2, y2 = data.load_h5(path)
    np.testing.assert_array_equal(X2, X)
    np.testing.assert_array_equal(y2, y)
    flat, labels = data.load_data(path)
    assert flat.shape == (7, 48)
    np.testing.assert_array_equal(flat, X.reshape(7, -1))

    ambiguous = tmp_path / "ambiguous.h5"
    with h5py.File(ambiguous, "w") as f:
        f["a_x"] = X
        f["b_x"] = X
        f["a_y"] = y
    with pytest.raises(ValueError, match="exactly one dataset whose name ends in '_x'"):
        data.load_h5(ambiguous)
    not_h5 = tmp_path / "not.h5"
    not_h5.write_bytes(b"plain bytes" * 20)
    with pytest.raises(ValueError, match="not.h5.*HDF5"):
        data.load_h5(not_h5)
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(ValueError, match="truncated.h5"):
        data.load_h5(truncated)


def test_load_h5_reads_the_signs_file(data_dir):
    X, y = data.load_h5(data_dir / "test_signs.h5")
    assert X.shape == (120, 64, 64, 3) and X.dtype == np.uint8
    assert y.shape == (120,) and set(np.unique(y)) == set(range(6))


# ---------------------------------------------------------------- idx


@pytest.mark.parametrize("compress", [False, True], ids=["raw", "gz"])
def test_load_idx_reads_every_header_form(tmp_path, rng, compress):
    suffix = ".gz" if compress else ""
    images = rng.integers(0, 256, size=(5, 3, 4)).astype(np.uint8)
    write_idx(tmp_path / f"x-images-idx3-ubyte{suffix}", images, 0x08, compress)
    np.testing.assert_array_equal(data.load_idx(tmp_path / f"x-images-idx3-ubyte{suffix}"), images)
    shorts = np.array([-2, 300, 7], dtype=np.int16)
    write_idx(tmp_path / f"s.idx{suffix}", shorts, 0x0B, compress)
    loaded = data.load_idx(tmp_path / f"s.idx{suffix}")
    np.testing.assert_array_equal(loaded, shorts)
    assert loaded.dtype.isnative
    floats = rng.standard_normal((2, 3)).astype(np.float32)
    write_idx(tmp_path / f"f.idx{suffix}", floats, 0x0D, compress)
    np.testing.assert_array_equal(data.load_idx(tmp_path / f"f.idx{suffix}"), floats)

    labels = rng.integers(0, 10, 5).astype(np.uint8)
    write_idx(tmp_path / f"x-labels-idx1-ubyte{suffix}", labels, 0x08, compress)
    X, y = data.load_data(tmp_path / f"x-images-idx3-ubyte{suffix}")
    assert X.shape == (5, 12)
    np.testing.assert_array_equal(y, labels)


def test_load_idx_errors(tmp_path, rng):
    images = rng.integers(0, 256, size=(5, 3, 4)).astype(np.uint8)
    payload = write_idx(tmp_path / "ok.idx", images, 0x08)
    (tmp_path / "short.idx").write_bytes(payload[:-7])
    with pytest.raises(ValueError, match=r"short.idx is truncated: .*shape \(5, 3, 4\) \(60 bytes.*only 53"):
        data.load_idx(tmp_path / "short.idx")
    (tmp_path / "header.idx").write_bytes(payload[:9])
    with pytest.raises(ValueError, match="header.idx is truncated"):
        data.load_idx(tmp_path / "header.idx")
    (tmp_path / "magic.idx").write_bytes(b"\x01\x02" + payload[2:])
    with pytest.raises(ValueError, match="magic.idx is not an idx file"):
        data.load_idx(tmp_path / "magic.idx")
    (tmp_path / "type.idx").write_bytes(b"\x00\x00\x07" + payload[3:])
    with pytest.raises(ValueError, match="unknown type code 0x07"):
        data.load_idx(tmp_path / "type.idx")
    gz = gzip.compress(payload)
    (tmp_path / "cut.idx.gz").write_bytes(gz[: len(gz) // 2])
    with pytest.raises(ValueError, match="cut.idx.gz"):
        data.load_idx(tmp_path / "cut.idx.gz")


def test_load_idx_reads_the_digits(data_dir):
    X, y = data.load_data(data_dir / "t10k-images-idx3-ubyte.gz")
    assert X.shape == (10000, 784) and X.dtype == np.uint8
    assert y.shape == (10000,)
    np.testing.assert_array_equal(y[:5], [7, 2, 1, 0, 4])
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


# ---------------------------------------------------------------- dispatcher


def test_load_data_formats_and_errors(tmp_path, rng):
    with pytest.raises(ValueError, match=r"cannot tell the format of data.parquet.*\.npz"):
        data.load_data("data.parquet")
    X = rng.standard_normal((4, 2, 3))
    np.save(tmp_path / "X3.npy", X)
    flat, y = data.load_data(tmp_path / "X3.npy")
    assert y is None and flat.shape == (4, 6) and isinstance(flat, np.memmap)
    np.save(tmp_path / "y_bad.npy", np.zeros(3))
    with pytest.raises(ValueError, match="4 examples but 3 labels"):
        data.load_data(tmp_path / "X3.npy", labels=tmp_path / "y_bad.npy")
    np.savez(tmp_path / "nolabels.npz", X=X[:, 0])
    X2, y2 = data.load_data(tmp_path / "nolabels.npz")
    assert y2 is None and X2.shape == (4, 3)
    np.save(tmp_path / "vector.npy", np.zeros(5))
    with pytest.raises(ValueError, match="1-D"):
        data.load_data(tmp_path / "vector.npy")


def test_a_npy_header_that_does_not_parse_is_a_clear_error(tmp_path):
    # Found by the fuzz test: NumPy parses the header as a Python literal, and a
    # damaged one failed in the tokenizer (tokenize.TokenError), not as a ValueError.
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((3, 2)))
    raw = bytearray(good.read_bytes())
    raw[raw.index(b"}")] = ord("(")
    for name in ("header.npy", "header.npz"):
        bad = tmp_path / name
        if name.endswith(".npz"):
            import zipfile

            with zipfile.ZipFile(bad, "w") as archive:
                archive.writestr("X.npy", bytes(raw))
            loader = data.load_npz
        else:
            bad.write_bytes(bytes(raw))
            loader = data.load_npy
        with pytest.raises(ValueError, match=name):
            loader(bad)


def test_hdf5_internals_reported_as_runtime_error_are_a_clear_error(tmp_path, monkeypatch):
    # Found by the fuzz test: h5py reports some damaged files as RuntimeError
    # ("Link iteration failed (bad local heap signature)").
    h5py = pytest.importorskip("h5py", reason="h5py (the 'data' extra) is needed")
    path = tmp_path / "damaged.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")

    def damaged(*args, **kwargs):
        raise RuntimeError("Link iteration failed (bad local heap signature)")

    monkeypatch.setattr(h5py, "File", damaged)
    with pytest.raises(ValueError, match=r"damaged\.h5.*bad local heap"):
        data.load_h5(path)


def test_csv_with_and_without_a_header(tmp_path):
    from fastdnn.data import load_csv, load_data

    (tmp_path / "a.csv").write_text("x1,x2,species\n1.5,2,setosa\n3,4.25,virginica\n\n")
    X, y = load_data(tmp_path / "a.csv")
    np.testing.assert_array_equal(X, [[1.5, 2.0], [3.0, 4.25]])
    assert y.tolist() == ["setosa", "virginica"]
    (tmp_path / "c.csv").write_text("target,t\n1,2\n3,4\n")
    X, y = load_csv(tmp_path / "c.csv", "target")  # a column by name
    assert X.tolist() == [[2.0], [4.0]] and y.tolist() == [1.0, 3.0]
    (tmp_path / "b.csv").write_text("0,1,2\n3,4,5\n")
    X, y = load_data(tmp_path / "b.csv", label_column=0)
    np.testing.assert_array_equal(X, [[1, 2], [4, 5]])
    assert y.dtype == np.float64 and y.tolist() == [0.0, 3.0]
    X, y = load_csv(tmp_path / "b.csv", None)
    assert X.shape == (2, 3) and y is None


def test_csv_errors_name_the_place(tmp_path):
    from fastdnn.data import load_data

    (tmp_path / "bad.csv").write_text("1,2,0\n3,x,1\n")
    with pytest.raises(ValueError, match=r"row 2, column 2: 'x' is not a number"):
        load_data(tmp_path / "bad.csv")
    (tmp_path / "ragged.csv").write_text("1,2,0\n3,1\n")
    with pytest.raises(ValueError, match="row 2: 2 fields where the first row has 3"):
        load_data(tmp_path / "ragged.csv")
    (tmp_path / "named.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no column named 'label'"):
        load_data(tmp_path / "named.csv", label_column="label")


def test_csv_review_findings(tmp_path):
    from fastdnn.data import load_data

    # No header, text labels: every row is an example (the labels' text is not a header).
    (tmp_path / "iris.csv").write_text("5.1,3.5,setosa\n4.9,3.0,setosa\n6.3,3.3,virginica\n")
    X, y = load_data(tmp_path / "iris.csv")
    assert X.shape == (3, 2) and y.tolist() == ["setosa", "setosa", "virginica"]
    # A byte-order mark is not part of the first name (or number).
    (tmp_path / "bom.csv").write_bytes("\ufefflabel,a\n1,2\n0,3\n".encode("utf-8"))
    X, y = load_data(tmp_path / "bom.csv", label_column="label")
    assert X.tolist() == [[2.0], [3.0]] and y.tolist() == [1.0, 0.0]
    (tmp_path / "semi.csv").write_text("1;2;0\n3;4;1\n")
    with pytest.raises(ValueError, match="semicolons"):
        load_data(tmp_path / "semi.csv")
