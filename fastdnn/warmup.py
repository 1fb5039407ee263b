"""``fastdnn warmup``: compile fastdnn's kernels for this machine ahead of time.

Numba compiles each kernel on its first call with each signature (dtype,
memory layout, and, for some kernels, whether the work is large enough for
the parallel variant) and keeps the machine code in its on-disk cache.  A
Docker image, a CI job or a cluster node can pay that once, up front:
``fastdnn warmup`` runs small steps through every route a training step can
take (:mod:`fastdnn.plan`) on sizes on both sides of the parallel
thresholds, in each dtype asked for, and prints the time and where the cache
is.  ``--all`` adds every hidden activation, output and optimizer, dropout,
row-per-example data and the course's helpers.
"""

import itertools
import time

import numpy as np

from . import compiling, config

DTYPES = ("float64", "float32")


def add_arguments(parser):
    parser.add_argument("--dtype", default=",".join(DTYPES),
                        help="float64, float32 or both, comma-separated (default: both)")
    parser.add_argument("--all", action="store_true",
                        help="every hidden activation, output, optimizer, dropout, data layout and the course's "
                             "helpers, not only the trainer's steps as fastdnn bench and fit run them by default")


def _dtypes(text):
    names = [name.strip() for name in text.split(",") if name.strip()]
    bad = [name for name in names if name not in DTYPES]
    if bad or not names:
        raise ValueError(f"--dtype takes float64 and/or float32, got {text!r}")
    return [np.dtype(name) for name in names]


def _targets(rng, output, k, m, dtype):
    if output == "softmax":
        return rng.integers(0, k, m)
    if output == "sigmoid":
        return (rng.random((k, m)) > 0.5).astype(dtype)
    if output == "poisson":
        return rng.poisson(2.0, (k, m)).astype(dtype)  # counts: a poisson output refuses negative targets
    return rng.standard_normal((k, m)).astype(dtype)


def _steps(dtype, hidden, output, optimizer, dropout, layouts, large, rng):
    """One small fit per strategy and kind of step (whole batch, mini-batches) for these settings.

    ``large`` adds a network past every parallel threshold (the activation
    is a kernel argument, not a type: one hidden activation is enough for it).
    """
    from . import plan as plan_mod
    from .network import Network

    k = 3 if output == "softmax" else 1
    # A small network, and one large enough for every parallel kernel (activations, and an
    # arena for the update) and for plain SGD's step inside the product.
    wide = max(config.STEP_PARALLEL_MIN_ELEMENTS // 1024 + 8, 1024)
    n_x = max(config.FUSED_UPDATE_MIN_WEIGHTS // 1024, config.STEP_PARALLEL_MIN_ELEMENTS // 1024 + 1)
    shapes = (([12, 16, k], 96, 32), ([n_x, 1024, k], wide, None))[:2 if large else 1]
    for (dims, m, batch), strategy, layout in itertools.product(shapes, plan_mod.STRATEGIES, layouts):
        if strategy in ("dual", "numpy"):
            continue  # the dual form compiles with the course's helpers; the numpy route compiles nothing
        X = rng.standard_normal((dims[0], m)).astype(dtype)
        if layout == "rows":
            X = np.ascontiguousarray(X.T).T
        Y = _targets(rng, output, k, m, dtype)
        net = Network(dims, hidden=hidden, output=output, dtype=dtype, strategy=strategy, seed=0)
        for size in (batch, None) if batch else (None,):
            try:
                net.fit(X, Y, epochs=1, batch_size=size, optimizer=optimizer, dropout=dropout, progress=False)
            except plan_mod.StrategyRefused:
                continue  # a forced strategy that cannot serve this case: nothing to compile
        net.predict(X)
        if output == "sigmoid" and optimizer == "sgd" and not dropout and layout == "columns":
            Yc = Y if Y.ndim == 2 else None
            if Yc is not None:
                net.train_step(np.ascontiguousarray(X), Yc, 0.01)
                net.fit_course(np.ascontiguousarray(X[:, :8]), Yc[:, :8], num_iterations=1, dual=True)


def _course_helpers(dtype, rng):
    """The course's helpers on test-case sizes and on sizes past the parallel threshold."""
    from . import course, logistic, planar

    for n, m in ((4, 3), (1024, config.PARALLEL_MIN_ELEMENTS // 1024 + 8),
                 (1024, config.STEP_PARALLEL_MIN_ELEMENTS // 1024 + 8)):
        X = rng.standard_normal((n, m)).astype(dtype)
        Y = (rng.random((1, m)) > 0.5).astype(dtype)
        params = course.initialize_parameters_deep([n, 7, 1])
        params = {key: value.astype(dtype) for key, value in params.items()}
        AL, caches = course.L_model_forward(X, params)
        course.compute_cost(AL, Y)
        grads = course.L_model_backward(AL, Y, caches)
        course.update_parameters(params, dict(grads), 0.01)
        for name in ("sigmoid", "relu", "tanh"):
            A, cache = getattr(course, name)(X)
            getattr(course, f"{name}_backward")(A, cache)
        course.L_layer_model(X, Y, [n, 5, 1], num_iterations=1)
        course.two_layer_model(X, Y, (n, 4, 1), num_iterations=1)
        logistic.optimize(np.zeros((n, 1), dtype=dtype), 0.0, X, Y, num_iterations=1)
        planar.nn_model(X.astype(np.float64), Y.astype(np.float64), 4, num_iterations=1)
    # The routes measured once a machine (fastdnn.machine_choices): measured and kept now, not in a student's loop.
    course.skinny_pays()
    logistic.one_pass_pays()


def warm(dtypes, everything=False, seed=0):
    """Compile the kernels of the trainer's steps (and with ``everything``, all of them) for ``dtypes``.

    Returns
    -------
    (seconds, kernels) : (float, int)
        Time spent compiling and kernels compiled (cache misses) by this call.
    """
    from . import options

    # Compile, rather than take the numpy route of a first use (fastdnn.plan.first_use).
    with options(first_use_seconds=0):
        return _warm(dtypes, everything, seed)


def _warm(dtypes, everything, seed):
    rng = np.random.default_rng(seed)
    seconds, kernels = compiling.seconds(), compiling.kernels()
    if everything:
        from .network import HIDDEN, OUTPUTS

        settings = itertools.product(HIDDEN, OUTPUTS, ("sgd", "momentum", "adam"), (0.0, 0.25))
        layouts = ("columns", "rows")
    else:
        settings = [("relu", output, optimizer, 0.0) for output in ("sigmoid", "softmax", "linear")
                    for optimizer in ("sgd", "adam")]
        layouts = ("columns",)
    settings = list(settings)
    for dtype in dtypes:
        for hidden, output, optimizer, dropout in settings:
            _steps(dtype, hidden, output, optimizer, dropout, layouts, hidden == "relu", rng)
        if everything:
            _course_helpers(dtype, rng)
    return compiling.seconds() - seconds, compiling.kernels() - kernels


def cache_location():
    """Where Numba keeps fastdnn's compiled kernels (the folder of one of them)."""
    from .kernels import update

    for kernel in vars(update).values():
        path = compiling._cache_location(kernel)
        if path:
            return path
    return "unknown"


def run(args):
    import sys

    try:
        dtypes = _dtypes(args.dtype)
    except ValueError as error:
        print(f"fastdnn warmup: {error}", file=sys.stderr)
        return 2
    import logging

    names = ", ".join(d.name for d in dtypes)
    print(f"compiling fastdnn's kernels for this machine, {names}: a minute or two from an empty cache...",
          file=sys.stderr, flush=True)
    started = time.perf_counter()
    # One line of our own instead of the notice of each run of compiles.
    logger = logging.getLogger("fastdnn")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        seconds, kernels = warm(dtypes, args.all)
    finally:
        compiling.settle()  # while still quiet: its closing line would repeat ours
        logger.setLevel(level)
    took = time.perf_counter() - started
    what = "every kernel" if args.all else "the trainer's kernels"
    print(f"warmed {what} for {names} in {took:.1f} s "
          f"({kernels} compiled in {seconds:.1f} s, the rest were already cached)")
    print(f"cache: {cache_location()} (NUMBA_CACHE_DIR moves it)")
    return 0
