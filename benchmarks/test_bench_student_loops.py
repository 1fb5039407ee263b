"""The course's loops as its students write them, on fastdnn's helpers and on the reference's.

Each group times one loop of :mod:`fastdnn.student_loops` -- the
application's ``L_layer_model`` and ``two_layer_model`` on the cat images,
week 2's ``optimize`` written with ``propagate``, week 3's ``nn_model`` on
the planar flower, and the second part's models (Adam on the moons, L2
and dropout) -- with ``fastdnn``'s helpers and with
``reference``'s (the course's NumPy), on the course's own arrays (the cat
``X`` is F-ordered, as ``reshape(m, -1).T / 255`` makes it).  The costs the
two record must agree, so the timed work is the same work.
``fastdnn bench --course`` prints the same comparison as a table.
"""

import time

import numpy as np
import pytest

from fastdnn import bench, bench_course, student_loops

IMPLEMENTATIONS = ("reference", "fastdnn")


@pytest.fixture(scope="module")
def loop_data(cat_data):
    X, Y = cat_data
    data, _ = bench_course.course_data()
    data.update(X=X, Y=Y)
    return data


@pytest.mark.parametrize("impl", IMPLEMENTATIONS)
@pytest.mark.parametrize("loop", list(bench_course.LOOPS))
def test_student_loop(benchmark, loop_data, loop, impl):
    kind, iterations, call, what = bench_course.LOOPS[loop]
    helpers = student_loops.HELPERS[kind]
    benchmark.group = f"student loop {loop}: {iterations} iterations ({what})"
    call(helpers[impl], loop_data, 1)  # compile (or load the cache) first
    time.sleep(bench.SETTLE_SECONDS)  # OpenBLAS's threads spin for ~0.1 s after the previous test's products
    costs = benchmark.pedantic(lambda: call(helpers[impl], loop_data, iterations), rounds=5, iterations=1)
    expected = call(helpers["reference"], loop_data, iterations)
    np.testing.assert_allclose(costs, expected, rtol=1e-9)
