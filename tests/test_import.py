"""What importing fastdnn does to the process and the disk: nothing the user did not ask for.

Each case runs in a fresh interpreter, since this one imported fastdnn long ago.
"""

import json
import os
import subprocess
import sys
import textwrap

import pytest

import fastdnn

PACKAGE = os.path.dirname(os.path.abspath(fastdnn.__file__))


def _python(code, env=None, cwd=None):
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=600)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _tree(root):
    """Every file under ``root`` with its size and modification time."""
    listing = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            listing[path] = (st.st_size, st.st_mtime_ns)
    return listing


def test_import_leaves_the_environment_and_the_files_as_they_were(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    env.pop("OMP_WAIT_POLICY", None)
    before = _tree(PACKAGE)
    out = _python("""
        import json, os
        before = dict(os.environ)
        import fastdnn
        print(json.dumps([before, dict(os.environ)]))
    """, env=env)
    environ_before, environ_after = json.loads(out)
    assert environ_after == environ_before
    assert _tree(PACKAGE) == before
    # Numba makes the cache folders when a cached kernel is defined; no file goes in at import.
    assert _tree(tmp_path / "cache") == {}


def test_numba_threads_start_passive_and_leave_the_environment_alone(tmp_path):
    # Numba's OpenMP workers must sleep as soon as a parallel kernel ends (they
    # would take a core from the next BLAS product): the wait policy is set
    # only while Numba's pool starts, then os.environ is as it was.
    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    out = _python("""
        import json, os
        import numpy as np
        import fastdnn
        from fastdnn import threads
        from fastdnn.kernels import update
        before = dict(os.environ)
        p = np.ones(1 << 21); g = np.ones(1 << 21)
        update.sgd(p, g, 0.5, p)  # large enough for the parallel kernel: starts Numba's pool
        import numba.np.ufunc.parallel as parallel
        print(json.dumps([parallel._is_initialized, threads.numba_wait_policy(), before == dict(os.environ),
                          "OMP_WAIT_POLICY" in os.environ, float(p[0])]))
    """, env=env)
    started, policy, unchanged, present, value = json.loads(out)
    assert started and unchanged and not present
    assert policy == "PASSIVE"
    assert value == 0.5


def test_a_wait_policy_the_user_set_is_kept(tmp_path):
    env = dict(os.environ, OMP_WAIT_POLICY="ACTIVE")
    out = _python("""
        import os
        import numpy as np
        from fastdnn import threads
        from fastdnn.kernels import update
        p = np.ones(1 << 21); update.sgd(p, p.copy(), 0.5, p)
        print(threads.numba_wait_policy(), os.environ["OMP_WAIT_POLICY"])
    """, env=env)
    assert out.split() == ["ACTIVE", "ACTIVE"]


def test_a_kernel_compiles_again_when_a_helper_it_inlines_changes(tmp_path):
    # Numba compares a cached kernel with its own file only; the helper lives
    # in another file of the package, as fastdnn's reduce/scalar helpers do.
    package = tmp_path / "stalepkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    helper = package / "helper.py"
    helper.write_text("from numba import njit\n\n@njit(inline='always')\ndef g():\n    return 1.0\n")
    (package / "kernel.py").write_text(
        "from numba import njit\nfrom .helper import g\n\n@njit(cache=True)\ndef f(x):\n    return x + g()\n")
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"),
               PYTHONPATH=os.pathsep.join([str(tmp_path), os.path.dirname(PACKAGE)]))
    code = """
        from fastdnn import caching
        caching.key_caches_by_package(%r)
        from stalepkg.kernel import f
        print(f(1.0), sum(f.stats.cache_hits.values()))
    """ % str(package)
    assert _python(code, env=env).split() == ["2.0", "0"]
    assert _python(code, env=env).split() == ["2.0", "1"]  # the cache is used ...
    helper.write_text("from numba import njit\n\n@njit(inline='always')\ndef g():\n    return 5.0\n")
    assert _python(code, env=env).split() == ["6.0", "0"]  # ... and not after the helper changed
    assert _python(code, env=env).split() == ["6.0", "1"]


@pytest.mark.parametrize("name", ["distributed", "MLPClassifier"])
def test_lazy_names_do_not_load_their_modules_at_import(name):
    out = _python(f"""
        import sys
        import fastdnn
        print("fastdnn.{'estimator' if name == 'MLPClassifier' else name}" in sys.modules, "mpi4py" in sys.modules)
    """)
    assert out.split() == ["False", "False"]
