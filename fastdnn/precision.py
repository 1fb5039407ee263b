"""bfloat16 products: float32 values rounded to bfloat16 operands, sums kept in float32.

``Network(dtype=np.float32, precision="bf16")`` keeps its parameters, the
optimizer's state, costs, sums and the update in float32 and multiplies
bfloat16 copies of the weights, activations and ``dZ`` (round to nearest
even), accumulating in float32.  The product is MKL's
``cblas_gemm_bf16bf16f32`` from the ``mkl`` package on PyPI (the extra
``fastdnn[mkl]``), loaded lazily from the installed wheel: NumPy's OpenBLAS
has no bfloat16 product.

Where the products run fast depends on the CPU, so this module says what the
machine has (:func:`hardware`) and :func:`choose` measures before
``precision="auto"`` takes bf16: on an Intel Xeon with AMX, MKL's bf16 product
ran 2-4x NumPy's float32 product; on an AMD EPYC with AVX512_BF16 MKL takes
neither AVX-512 nor its bf16 path, and bf16 ran at a fifth of float32
(docs/bf16_products.md).
"""

import ctypes
import glob
import os
import sys
import threading
import time

import numpy as np

from .blas import _ROW_MAJOR, _address, _operand

#: The precisions a network can take; ``"auto"`` measures (:func:`choose`).
PRECISIONS = ("float", "bf16", "auto")

_lock = threading.Lock()
_measuring = threading.Lock()
_library: dict = {}
_choices: dict = {}


def hardware():
    """The CPU's bfloat16 instructions: ``"amx"``, ``"avx512_bf16"``, or ``""`` (emulated).

    Read from LLVM's view of the host CPU (the one Numba compiles for), so it
    holds on every operating system Numba runs on.
    """
    try:
        import llvmlite.binding as llvm

        features = llvm.get_host_cpu_features()
    except Exception:  # no feature query on this platform: say nothing we cannot check
        return ""
    if features.get("amx-bf16", False):
        return "amx"
    if features.get("avx512bf16", False):
        return "avx512_bf16"
    return ""


def _candidates():
    # The mkl wheel puts its libraries in <prefix>/lib (Linux) or <prefix>/Library/bin (Windows).
    prefixes = [sys.prefix, getattr(sys, "base_prefix", sys.prefix)]
    try:
        import site

        prefixes.append(site.getuserbase())
    except Exception:
        pass
    patterns = ("lib/libmkl_rt.so*", "Library/bin/mkl_rt*.dll", "lib/libmkl_rt*.dylib")
    found = []
    for prefix in dict.fromkeys(prefixes):
        for pattern in patterns:
            found.extend(sorted(glob.glob(os.path.join(prefix, pattern))))
    return found


class MissingProvider(ImportError):
    """No bfloat16 product is installed: the message names the extra that brings one."""


def mkl():
    """MKL's runtime library (a ``ctypes.CDLL``) with its bf16 gemm typed, or raise :class:`MissingProvider`."""
    with _lock:
        if "mkl" in _library:
            library = _library["mkl"]
        else:
            library = None
            for path in _candidates():
                try:
                    library = ctypes.CDLL(path)
                except OSError:
                    continue
                if hasattr(library, "cblas_gemm_bf16bf16f32_64") or hasattr(library, "cblas_gemm_bf16bf16f32"):
                    break
                library = None
            if library is not None:
                _type_gemm(library)
            _library["mkl"] = library
    if library is None:
        raise MissingProvider(
            "precision='bf16' needs a bfloat16 matrix product, which NumPy's OpenBLAS does not have: "
            "install MKL's with  pip install \"fastdnn[mkl]\"  (no libmkl_rt found under "
            f"{sys.prefix})")
    return library


def _type_gemm(library):
    # The 64-bit-integer interface where MKL has it (2023 and later), so no size can overflow.
    i64 = hasattr(library, "cblas_gemm_bf16bf16f32_64")
    gemm = library.cblas_gemm_bf16bf16f32_64 if i64 else library.cblas_gemm_bf16bf16f32
    integer = ctypes.c_int64 if i64 else ctypes.c_int32
    ptr = ctypes.c_void_p
    gemm.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int, integer, integer, integer, ctypes.c_float, ptr,
                     integer, ptr, integer, ctypes.c_float, ptr, integer]
    gemm.restype = None
    library.fastdnn_gemm = gemm
    library.fastdnn_limit = 2 ** 63 - 1 if i64 else 2 ** 31 - 1


def available():
    """Whether a bfloat16 product is installed here (MKL's)."""
    try:
        mkl()
    except MissingProvider:
        return False
    return True


def product(A, B, C, alpha=1.0, beta=0.0):
    """``C <- alpha A B + beta C`` with bfloat16 operands and float32 sums.

    Parameters
    ----------
    A : ndarray of uint16, shape (n, k)
        bfloat16 bits (:func:`fastdnn.kernels.bfloat16.round_into`); C- or
        F-contiguous (a transposed C array is F-contiguous).
    B : ndarray of uint16, shape (k, p)
    C : ndarray of float32, shape (n, p)
        C-contiguous, written in place.
    alpha, beta : float

    Notes
    -----
    .. math:: C \\leftarrow \\alpha\\, \\mathrm{bf16}(A)\\, \\mathrm{bf16}(B) + \\beta C
    """
    library = mkl()
    if A.dtype != np.uint16 or B.dtype != np.uint16 or C.dtype != np.float32:
        raise TypeError(f"bf16 product: operands must be uint16 (bfloat16 bits) and C float32, got {A.dtype}, "
                        f"{B.dtype} and {C.dtype}")
    n, k = A.shape
    p = B.shape[1]
    if B.shape[0] != k or C.shape != (n, p):
        raise ValueError(f"bf16 product: shapes {A.shape} @ {B.shape} do not give C's {C.shape}")
    if not C.flags.c_contiguous or not C.flags.writeable:
        raise ValueError("bf16 product: C must be a writeable C-contiguous float32 array")
    if n == 0 or p == 0:
        return
    if k == 0:
        C *= beta
        return
    if max(n, p, k, A.size, B.size, C.size) > library.fastdnn_limit:
        raise ValueError(f"bf16 product: {A.shape} @ {B.shape} is too large for this MKL's 32-bit interface")
    a, b = _operand(A), _operand(B)
    for X, layout in ((A, a), (B, b)):
        if layout is None:
            raise ValueError(f"bf16 product: an operand of shape {X.shape} and strides {X.strides} is not contiguous")
    (trans_a, lda), (trans_b, ldb) = a, b
    # (Addresses through the array interface: X.ctypes leaves reference-cycle garbage at every call.)
    library.fastdnn_gemm(_ROW_MAJOR, trans_a, trans_b, n, p, k, alpha, _address(A), lda, _address(B), ldb, beta,
                         _address(C), p)


def product_reference(A, B):
    """The float64 product of the bfloat16 values of ``A`` and ``B`` (uint16 bits): what :func:`product` rounds."""
    return decode(A).astype(np.float64) @ decode(B).astype(np.float64)


def decode(bits):
    """The float32 values of bfloat16 ``bits`` (uint16), exactly."""
    bits = np.asarray(bits, dtype=np.uint16)
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _median_seconds(call, repeats=5):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


#: ``precision="auto"`` takes bf16 when its product ran at least this much faster than float32's.
AUTO_MIN_SPEEDUP = 1.3


def measure(n=1024, k=1024, p=2048):
    """Seconds of one float32 product (NumPy's BLAS) and one bf16 product (MKL's), of ``(n, k) @ (k, p)``.

    Medians of 5 calls after one warm call each; the bf16 calls first, then
    (after a pause for MKL's threads to go idle) the float32 calls.
    """
    rng = np.random.default_rng(0)
    A = rng.standard_normal((n, k), dtype=np.float32)
    B = rng.standard_normal((k, p), dtype=np.float32)
    C = np.empty((n, p), dtype=np.float32)
    from .kernels import bfloat16

    A16, B16 = bfloat16.rounded(A), bfloat16.rounded(B)
    # Each library's threads keep spinning a moment after its product and would tax the other's:
    # one library's calls together, a pause, then the other's.
    product(A16, B16, C)
    bf16 = _median_seconds(lambda: product(A16, B16, C))
    time.sleep(0.1)
    np.matmul(A, B, out=C)
    float32 = _median_seconds(lambda: np.matmul(A, B, out=C))
    return float32, bf16


def choose(precision, dtype):
    """``(precision, why)``: what a network asked for ``precision`` in ``dtype`` runs, in words.

    ``"auto"`` takes ``"bf16"`` only for float32 networks, on a CPU with
    bfloat16 instructions, with MKL installed, and when MKL's bf16 product
    measured at least :data:`AUTO_MIN_SPEEDUP` times NumPy's float32 product
    (once a process).  An explicit ``"bf16"`` runs wherever MKL is installed;
    without the instructions MKL emulates them, and the reason says so.
    """
    if precision == "float":
        return "float", ""
    dtype = np.dtype(dtype)
    machine = hardware()
    if precision == "bf16":
        if dtype != np.float32:
            raise ValueError(f"precision='bf16' keeps float32 parameters: it needs dtype=float32, not {dtype}")
        mkl()  # raises, naming the extra, when it is missing
        if machine:
            return "bf16", f"bf16 products on {machine.upper()} through MKL"
        return "bf16", "bf16 products emulated by MKL: this CPU has neither AMX nor AVX512_BF16"
    if dtype != np.float32:
        return "float", f"auto: {dtype} networks multiply in {dtype}"
    if not machine:
        return "float", "auto: this CPU has no bfloat16 instructions"
    if not available():
        return "float", "auto: no bfloat16 product installed (pip install \"fastdnn[mkl]\")"
    with _measuring:
        # Once a process; a thread asking meanwhile waits for the answer rather than take a guess.
        if "speed" not in _choices:
            try:
                float32, bf16 = measure()
                _choices["speed"] = float32 / bf16
            except Exception as exc:  # an MKL that fails here would fail in every step: stay in float
                _choices["speed"] = exc
        speed = _choices["speed"]
    if isinstance(speed, Exception):
        return "float", f"auto: MKL's bf16 product failed when measured ({speed})"
    if speed >= AUTO_MIN_SPEEDUP:
        return "bf16", f"auto: MKL's bf16 product measured {speed:.1f}x NumPy's float32 product on {machine.upper()}"
    return "float", f"auto: MKL's bf16 product measured only {speed:.2f}x NumPy's float32 product here"
