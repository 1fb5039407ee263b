"""What a network runs: the plans of its steps, decided once per case, and the executors that carry them out.

A :class:`Schedule` belongs to one network (:class:`fastdnn.Network`) and
its :class:`~fastdnn.state.ModelState`.  It keeps the strategy the network
is held to, the plan of each case (:func:`fastdnn.plan.decide`, decided
on first use and again when :data:`fastdnn.options` change a threshold),
the executor of each plan (:mod:`fastdnn.executors`), and what ran
(``last_plan``, ``steps_by_route``).  It decides; the executors run; the
loop (:mod:`fastdnn.loop`) drives them.
"""

import functools
import logging
import time

import numpy as np

from . import caching
from . import compiling
from . import config
from . import executors
from . import plan as plan_mod
from . import precision as precision_mod

#: Why a network with a different activation per hidden layer gets no native blocks.
MIXED_HIDDEN = "its hidden layers have different activations (native blocks run one)"

log = logging.getLogger("fastdnn")


#: Seconds of steps this process gave the route ``numpy`` (estimated, :func:`fastdnn.plan.first_use`).
_first_use_spent = [0.0]
#: ``(strategy, dtype)`` of the routes found compiled (they stay so).
_compiled_routes: set = set()
#: ``{(strategy, dtype): (kernels compiled by this process, time)}`` of the routes last found not compiled.
_not_compiled: dict = {}
#: How long a route found not compiled is taken as such without reading the cache's index again
#: (unless this process compiles meanwhile): another process may fill the cache.
NOT_COMPILED_SECONDS = 10.0


def _route_kernels(strategy):
    """Groups of kernels whose compile stands for a strategy's (its longest, docs/cold_start.md).

    The route counts as compiled when a kernel of each group is: a serial
    kernel and its parallel twin serve the same steps (which one runs
    depends on the sizes).
    """
    if strategy == "native":
        from . import native_blocks

        return ((native_blocks._worker_loop,),)
    from .kernels import activation

    return ((activation.bias_activation_serial, activation._bias_activation_parallel),
            (activation.activation_backward_serial, activation._activation_backward_parallel))


def route_compiled(strategy, dtype):
    """Whether the kernels of ``strategy``'s steps in ``dtype`` are compiled here or cached for this CPU."""
    key = (strategy, np.dtype(dtype).name)
    if key in _compiled_routes:
        return True
    seen = _not_compiled.get(key)
    now = time.monotonic()
    if seen is not None and seen[0] == compiling.kernels() and now - seen[1] < NOT_COMPILED_SECONDS:
        return False
    if all(any(caching.compiled_for(kernel, dtype) for kernel in group) for group in _route_kernels(strategy)):
        _compiled_routes.add(key)
        _not_compiled.pop(key, None)
        return True
    _not_compiled[key] = (compiling.kernels(), now)
    return False


class Schedule:
    """The plans and executors of one network's steps.

    Parameters
    ----------
    state : fastdnn.state.ModelState
    """

    def __init__(self, state):
        self.state = state
        self.strategy = "auto"
        self.precision = "float"
        self._precision_choice = None
        self.last_plan = None
        self.steps_by_route = {}
        self.calls = 0  # calls of the network under way (see Network's one-at-a-time lock)
        self._plans = {}
        self._generation = config.GENERATION
        self._executors = {}
        self._retired = []

    # ------------------------------------------------------------ plans

    def hold_to(self, strategy):
        """Hold the steps to ``strategy`` (checked by the caller) from the next call on."""
        if strategy != self.strategy:
            with self.state.lock:
                self.strategy = strategy
                self._plans.clear()
                self.retire()

    def hold_precision(self, precision):
        """Take the products in ``precision`` (checked by the caller) from the next call on."""
        if precision != self.precision:
            with self.state.lock:
                self.precision = precision
                self._precision_choice = None
                self._plans.clear()
                self.retire()

    def precision_choice(self):
        """``(precision, why)`` that the steps run (:func:`fastdnn.precision.choose`), decided on first use."""
        choice = self._precision_choice
        if choice is None:
            choice = self._precision_choice = precision_mod.choose(self.precision, self.state.dtype)
        return choice

    def ran(self, plan):
        """What ran, said where users and tests look (``last_plan``, ``steps_by_route``)."""
        self.last_plan = plan
        self.steps_by_route[plan.route] = self.steps_by_route.get(plan.route, 0) + 1

    def plan_for(self, case, busy=False, steps=None):
        """The plan of ``case`` (a :class:`fastdnn.plan.Case`), decided on first use and kept.

        ``busy``: the plan while another fit holds the native blocks' threads
        (:func:`fastdnn.plan.when_busy`).  ``steps``: how many steps of the
        case the caller is about to run, when it may run them on the route
        ``numpy`` while the plan's kernels are not compiled
        (:func:`fastdnn.plan.first_use`); ``None`` never does.
        """
        # Keyed by the strategy read once: a plan decided while another thread
        # changes the strategy is filed under the one it was decided for.
        strategy = self.strategy
        if self.precision != "float":
            precision, why = self.precision_choice()
            case = case._replace(precision=precision, precision_why=why, precision_auto=self.precision == "auto")
        if self.state.mixed_hidden:
            # Native blocks run one hidden activation for every layer.
            case = case._replace(data=case.data or MIXED_HIDDEN, batch_data=case.batch_data or MIXED_HIDDEN)
        # And by the threads a parent allows now (config.block_workers): a fit inside threadpool_limits(1)
        # gets the plan of one thread, the next one outside it the plan of all.
        key = (strategy, case, busy, config.block_workers())
        if self._generation != config.GENERATION:
            # fastdnn.options changed a threshold: the plans are decided again.
            self._plans.clear()
            self.retire()
            self._generation = config.GENERATION
        plan = self._plans.get(key)
        if plan is None:
            state = self.state
            decide = plan_mod.when_busy if busy else plan_mod.decide
            plan = decide(state.layer_dims, state.dtype, strategy, case, plan_mod.machine(state.dtype))
            log.debug("fastdnn plan for %s %s, %s step of %d: %s", state.layer_dims, state.dtype.name, case.kind,
                      case.batch, plan)
            self._plans[key] = plan
        if steps is not None and not busy and strategy == "auto":
            plan = self._first_use(plan, case, steps)
        return plan

    def _first_use(self, plan, case, steps):
        """``plan``, or the route ``numpy`` for ``steps`` steps while ``plan``'s kernels are not compiled."""
        state = self.state
        choice = plan_mod.first_use(plan, state.layer_dims, case, plan_mod.machine(state.dtype), steps,
                                    lambda: route_compiled(plan.strategy, state.dtype), _first_use_spent[0])
        if choice is not plan:
            if not _first_use_spent[0]:
                # Once a process: what runs, and how to have the compiled route from the first call on.
                log.warning("fastdnn: the %s route is not compiled for this machine yet; short runs take NumPy "
                            "calls meanwhile (`fastdnn warmup` compiles every route once)", plan.route)
            _first_use_spent[0] += plan_mod.numpy_seconds(state.layer_dims, case.batch, steps)
            log.debug("fastdnn plan for %s %s, %d steps of %d: %s", state.layer_dims, state.dtype.name, steps,
                      case.batch, choice)
        return choice

    def whole_batch_case(self, X, Y, keep_prob=1.0, optimizer="sgd", l2=0.0):
        """The :class:`fastdnn.plan.Case` of a step on the whole batch ``(X, Y)`` as given (with ``fit``'s options)."""
        dtype = self.state.dtype
        if not isinstance(X, np.ndarray):
            return plan_mod.Case("whole", X.shape[1], keep_prob < 1.0, optimizer, l2 > 0.0, "X is sparse",
                                 sparse=True)
        if X.ndim != 2 or Y.ndim != 2 or not X.flags.c_contiguous or X.dtype != dtype or Y.dtype != dtype:
            data = f"X is not a C-ordered {dtype.name} matrix, or Y not {dtype.name}"
        else:
            data = ""
        return plan_mod.Case("whole", X.shape[1], keep_prob < 1.0, optimizer, l2 > 0.0, data)

    def fit_whole_case(self, X, Y, settings, opt_kind):
        """The :class:`fastdnn.plan.Case` of a fit's step on the whole batch ``(X, Y)``: the fit's options
        (``settings``, :class:`fastdnn.fitting.FitSettings`) and its optimizer's."""
        case = self.whole_batch_case(X, Y, settings.keep_prob, opt_kind, settings.l2)
        return case._replace(numpy_optimizer=self._numpy_optimizer())

    def _numpy_optimizer(self):
        # Whether the fit's optimizer has a NumPy step, which the route numpy needs.
        return bool(self.state.optimizer.numpy_form())

    def fit_plans(self, data, whole, loop):
        """The plan of each size of batch of a fit (a :class:`fastdnn.loop.TrainLoop`): ``{size: plan}``.

        Full batch (``whole``: its ``(X, Y)``): the plan of the step on it.
        Mini-batches: the plan of the fit for every size when its executor
        gathers the batches itself, else a plan for each size (the last
        batch's too: a forced strategy that cannot serve it says so now, not
        after an epoch).  Over MPI (``loop.reducer``): the plan of this
        process's shard of each size, gathered and reduced.
        """
        settings = loop.settings
        opt_kind = plan_mod.optimizer_kind(self.state.optimizer, settings.clip is not None)
        dropout, l2 = settings.keep_prob < 1.0, settings.l2 > 0.0
        if whole is not None:
            return {loop.m: self.plan_for(self.fit_whole_case(whole[0], whole[1], settings, opt_kind),
                                          steps=loop.steps_left())}
        numpy_optimizer = self._numpy_optimizer()
        sizes = loop.sizes()
        if loop.reducer is not None:
            # Planned for the widest shard, so that every rank decides (or refuses) alike; each shard is
            # gathered in the order its route reads (native blocks: C order).
            return {b: self.plan_for(plan_mod.Case("whole", loop.reducer.widest(b), dropout, opt_kind, l2,
                                                   reduced=True, numpy_optimizer=numpy_optimizer)) for b in sizes}
        case = plan_mod.Case("mini-batches", loop.batch, dropout, opt_kind, l2, data.session_problem(self.state.dtype),
                             data.batch_problem(), sparse=data.sparse, numpy_optimizer=numpy_optimizer)
        plan = self.plan_for(case, steps=loop.steps_left())
        if plan.route == "numpy":
            # (The first use of a route: every size of batch on the numpy route.)
            return {b: plan._replace(batch=b) for b in sizes}
        if executors.EXECUTORS[plan.route].gathers:
            return {b: plan for b in sizes}
        return {b: self.plan_for(case._replace(kind="whole", batch=b, data=case.batch_data)) for b in sizes}

    def whole_batch(self, data, indices, every):
        """The full batch of a fit, ``(X, Y)``: the caller's arrays when a product can read them, else one copy.

        ``every``: ``indices`` are all the examples in order.  The copy is
        made once per fit, not per epoch.
        """
        state = self.state
        m = indices.size
        X = data.X if every and data.direct_X(state.dtype) else data.gather_all_X(indices, state.dtype)
        if every and data.direct_Y(state.dtype):
            Y = data.Y
        else:
            Y = np.empty((state.layer_dims[-1], m), dtype=state.dtype)
            data.gather_Y(indices, 0, Y)
        if plan_mod.needs_c_order(self.strategy) and isinstance(X, np.ndarray) and not X.flags.c_contiguous:
            # One copy for the fit, so that the held strategy can serve it.
            X = np.ascontiguousarray(X)
        return X, Y

    # ------------------------------------------------------------ executors

    def executor(self, plan):
        """The executor of ``plan``, opened on first use and kept until the strategy or the options change.

        Not for executors that bind one call's data (``binds_data``: opened per call).
        """
        executor = self._executors.get(plan)
        if executor is None:
            executor = executors.open_executor(plan, self.state, report=self.ran,
                                               fallback=functools.partial(self.busy_executor, plan.case))
            self._executors[plan] = executor
        return executor

    def busy_executor(self, case):
        """The executor of ``case`` while another fit holds the native threads (:func:`fastdnn.plan.when_busy`)."""
        return self.executor(self.plan_for(case, busy=True))

    def fit_executors(self, plans, loop, opened):
        """The executor of each size of batch: ``{size: executor}``; those opened for this fit go in ``opened``."""
        runners = {}
        busy = False
        for b, plan in plans.items():
            if not executors.EXECUTORS[plan.route].binds_data:
                runners[b] = self.executor(plan)
                continue
            executor = opened.get(plan)
            if executor is None and not busy:
                executor = executors.open_executor(plan, self.state, report=self.ran, data=loop.data,
                                                   indices=loop.indices, count=loop.count,
                                                   weights=loop.batch_weights)
            if executor is None:
                # Another fit holds the native threads.
                busy = True
                runners[b] = self.busy_executor(plan.case._replace(batch=b))
            else:
                opened[plan] = runners[b] = executor
        return runners

    def course_executor(self, m, dual, X, Y):
        """The executor of ``fit_course``'s steps on ``(X, Y)`` and whether it was opened for them (close it after)."""
        plan = self.plan_for(plan_mod.Case("course", m, dual=dual if isinstance(dual, str) else bool(dual)))
        if executors.EXECUTORS[plan.route].binds_data:
            return executors.open_executor(plan, self.state, report=self.ran, X=X), True
        # Not the dual form: the steps are train_step's (a forced strategy that cannot serve them says so now).
        return self.executor(self.plan_for(self.whole_batch_case(X, Y))), False

    def retire(self):
        """Put the executors aside: closed now, or when the call running them (a fit whose callback changed the strategy) ends."""
        self._retired.extend(self._executors.values())
        self._executors = {}
        # Without waiting: a fit running on another thread closes them when it ends.
        if self.state.lock.acquire(blocking=False):
            try:
                if not self.calls:
                    self.close_retired()
            finally:
                self.state.lock.release()

    def close_retired(self):
        """Close the executors :meth:`retire` put aside."""
        retired, self._retired = self._retired, []
        try:
            for executor in retired:
                executor.close()
        finally:
            # Also after an interrupted close: what the state keeps lets the caller's batch go.
            executors.release(self.state)

    @property
    def has_retired(self):
        return bool(self._retired)

    @property
    def open_executors(self):
        """The executors kept for the next steps (a copy)."""
        return dict(self._executors)

    def release(self):
        """The executors that keep a caller's batch between steps let it go (after a fit, ``fit_course``)."""
        executors.release(self.state)
