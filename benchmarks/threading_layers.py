"""Numba's threading layers side by side for fastdnn: omp, tbb and workqueue.

Usage::

    python benchmarks/threading_layers.py [--layers omp,tbb,workqueue] [--tbb-lib DIR] [--json FILE]

Each layer runs in a fresh process (``NUMBA_THREADING_LAYER``) with its own
empty ``NUMBA_CACHE_DIR``, and measures, in order:

* the first plain-route ``train_step`` of ``[784, 1024, 1024, 1]`` float32 at
  m = 2048 (its passes between the products run on Numba's threads) and the
  compile time in it (``fastdnn.compiling``);
* that step's median over 30 steps, and the median of a parallel Adam update
  of a 4M-parameter arena;
* a ``fork`` after those kernels ran: the child's step (time, or how it
  failed);
* two Python threads calling parallel kernels at once (a layer that is not
  thread-safe ends the process: reported as such).

``--tbb-lib`` points at a folder holding ``libtbb.so.12`` (the ``tbb`` wheel's
``lib``) when TBB is not installed in the environment; it is put on
``LD_LIBRARY_PATH`` of the tbb run only.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

# Timed steps are the compiled routes', also on a cold cache (not a first use's NumPy steps, fastdnn.plan.first_use).
os.environ.setdefault("FASTDNN_FIRST_USE_SECONDS", "0")

CHILD = textwrap.dedent("""
    import json, os, select, threading, time
    import numpy as np
    import numba
    import fastdnn
    from fastdnn import compiling
    from fastdnn.kernels import update
    from fastdnn.network import Network

    def say(**values):
        print("RESULT " + json.dumps(values), flush=True)

    rng = np.random.default_rng(0)
    net = Network([784, 1024, 1024, 1], dtype=np.float32, strategy="plain", seed=0)
    X = rng.standard_normal((784, 2048)).astype(np.float32)
    Y = (rng.random((1, 2048)) > 0.5).astype(np.float32)
    started = time.perf_counter()
    net.train_step(X, Y, 0.01)
    first = time.perf_counter() - started
    compiling.settle()
    say(layer=numba.threading_layer(), first_step_s=first, compile_s=compiling.seconds())
    times = []
    for _ in range(30):
        t = time.perf_counter()
        net.train_step(X, Y, 0.01)
        times.append(time.perf_counter() - t)
    p = rng.standard_normal(1 << 22)
    g, m1, m2 = rng.standard_normal(1 << 22), np.zeros(1 << 22), np.zeros(1 << 22)
    update.adam(p, g, m1, m2, 1e-3, 0.9, 0.999, 1e-8, 1, 0.0, 0)
    adam = []
    for t_step in range(2, 22):
        t = time.perf_counter()
        update.adam(p, g, m1, m2, 1e-3, 0.9, 0.999, 1e-8, t_step, 0.0, 0)
        adam.append(time.perf_counter() - t)
    say(step_ms=1e3 * float(np.median(times)), adam_4m_ms=1e3 * float(np.median(adam)))

    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        t = time.perf_counter()
        net.train_step(X, Y, 0.01)
        net.train_step(X, Y, 0.01)
        os.write(write, f"{(time.perf_counter() - t) / 2 * 1e3}".encode())
        os._exit(0)
    os.close(write)
    deadline = time.time() + 60
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done or time.time() > deadline:
            break
        time.sleep(0.05)
    if not done:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        say(fork="hung (killed after 60 s)")
    else:
        text = os.read(read, 100).decode()
        say(fork=f"child step {float(text):.1f} ms" if text else f"child failed (status {status})")

    def hammer(n):
        a = rng.standard_normal(1 << 21) if n else p
        b, c, d = np.zeros_like(a), np.zeros_like(a), np.zeros_like(a)
        for t_step in range(1, 30):
            update.adam(a, b + 1.0, c, d, 1e-3, 0.9, 0.999, 1e-8, t_step, 0.0, 0)

    workers = [threading.Thread(target=hammer, args=(k,)) for k in range(2)]
    t = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    say(threads=f"two threads of parallel kernels: done in {time.perf_counter() - t:.2f} s")
""")


def run(layer, tbb_lib):
    with tempfile.TemporaryDirectory(prefix=f"fastdnn-{layer}-") as cache:
        env = dict(os.environ, NUMBA_THREADING_LAYER=layer, NUMBA_CACHE_DIR=cache)
        env.pop("OPENBLAS_CORETYPE", None)
        env.pop("OPENBLAS_L2_SIZE", None)
        if layer == "tbb" and tbb_lib:
            env["LD_LIBRARY_PATH"] = tbb_lib + os.pathsep + env.get("LD_LIBRARY_PATH", "")
        proc = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, timeout=900)
    results = {"returncode": proc.returncode}
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            results.update(json.loads(line[7:]))
    if proc.returncode:
        results["stderr"] = proc.stderr.strip().splitlines()[-3:]
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", default="omp,tbb,workqueue")
    parser.add_argument("--tbb-lib", help="folder holding libtbb.so.12 (when TBB is not installed)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    import platform

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores")
    everything = {}
    for layer in args.layers.split(","):
        everything[layer] = result = run(layer, args.tbb_lib)
        print(f"{layer}: {json.dumps(result)}", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f, indent=1)


if __name__ == "__main__":
    main()
