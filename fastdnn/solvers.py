"""Full-batch solvers: the whole data set's cost and gradient as a function of the parameter vector.

The parameters live in one flat arena (:attr:`fastdnn.Network.params`), so
a quasi-Newton method from :mod:`scipy.optimize` can drive them directly:
:class:`FullBatchObjective` gives ``(cost, gradient)`` at a point through
the same gradient pass and route a full-batch :meth:`fastdnn.Network.fit`
takes, and :func:`lbfgs` runs SciPy's L-BFGS-B on it (the estimators'
``solver="lbfgs"``).  SciPy is imported only here, when called.
"""

import math

import numpy as np

from .executors.base import Batch
from .kernels import regularization as reg


class FullBatchObjective:
    """``objective(theta) -> (cost, gradient)`` of a network over prepared examples, for ``scipy.optimize``.

    Parameters
    ----------
    net : fastdnn.Network
    data : fastdnn.examples.Examples
        From :meth:`fastdnn.Network.prepare` (its ``weights`` weigh the
        examples, as in :meth:`~fastdnn.Network.fit`).
    l2 : float, default 0.0
        L2 strength: adds :math:`\\frac{\\lambda}{2 S}\\sum W^2`, ``S`` the
        examples' count or sum of weights.
    indices : ndarray of int, optional
        The examples to use (default: all).
    scale : float, default 1.0
        Multiplies the data term (not the L2 term): ``1 / n_outputs`` makes
        the squared error a mean over the outputs too, as scikit-learn's
        regressor has it.

    Notes
    -----
    Each call writes ``theta`` into the network's parameters, runs one
    gradient pass on the whole batch and returns the cost with a float64
    copy of the gradient (kept in one buffer: the caller must not hold it
    across calls).  The batch and the executor are set up once; call
    :meth:`close` (or use ``with``) to let the batch go.
    """

    def __init__(self, net, data, l2=0.0, indices=None, scale=1.0):
        self.net, self.state = net, net.model_state
        schedule = net._schedule
        every = indices is None
        indices = np.arange(data.m, dtype=np.int64) if every else np.asarray(indices, dtype=np.int64)
        self.X, self.Y = schedule.whole_batch(data, indices, every)
        m = indices.size
        self.batch = Batch(self.X, self.Y, 0, m)
        if data.weights is not None:
            self.batch = self.batch.weighed(np.take(data.weights, indices))
        self.l2, self.scale = float(l2), float(scale)
        # No optimizer steps inside the pass: the gradient must come out whole.
        case = schedule.whole_batch_case(self.X, self.Y, 1.0, "python", self.l2)
        self.executor = schedule.executor(schedule.plan_for(case))
        self.ws = self.state.workspace(m)
        self.grad = np.empty(self.state.params.size, dtype=np.float64)

    def __call__(self, theta):
        state, n_weights = self.state, self.state.n_weights
        state.params[...] = theta
        cost = self.executor.gradient(self.batch, self.ws) * self.scale
        np.multiply(state.grads, self.scale, out=self.grad)
        l2, count = reg.l2_divisor(self.l2, self.batch.l2_count)
        if l2:
            cost = self.state.regularized_cost(cost, self.ws, l2, count)
            self.grad[:n_weights] += (l2 / count) * state.params[:n_weights]
        return (float(cost) if math.isfinite(cost) else math.inf), self.grad

    def close(self):
        """Let the executors drop the batch they hold."""
        self.net._schedule.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def lbfgs(net, data, l2=0.0, max_iter=200, max_fun=15000, tol=1e-4, indices=None, scale=1.0, callback=None):
    """Train ``net`` by SciPy's L-BFGS-B on the whole of ``data``; returns SciPy's ``OptimizeResult``.

    Parameters
    ----------
    net : fastdnn.Network
    data : fastdnn.examples.Examples
    l2, indices, scale
        As for :class:`FullBatchObjective`.
    max_iter : int, default 200
        Iterations at most (``maxiter``).
    max_fun : int, default 15000
        Evaluations of the cost at most (``maxfun``).
    tol : float, default 1e-4
        ``gtol``: stop when every entry of the projected gradient is below it.
    callback : callable, optional
        ``callback(iteration, cost)`` after each iteration.

    Returns
    -------
    scipy.optimize.OptimizeResult
        ``x`` (also written into ``net.params``), ``fun``, ``nit``, ``nfev``,
        ``status`` (0 when converged), ``message``.
    """
    try:
        from scipy import optimize
    except ImportError:
        raise ImportError("the lbfgs solver needs SciPy (pip install scipy; scikit-learn installs it)") from None
    state = net.model_state
    iteration = [0]

    def after_iteration(intermediate_result):
        iteration[0] += 1
        if callback is not None:
            callback(iteration[0], float(intermediate_result.fun))

    with state.lock, FullBatchObjective(net, data, l2, indices, scale) as objective:
        result = optimize.minimize(objective, state.params.astype(np.float64), method="L-BFGS-B", jac=True,
                                   callback=after_iteration,
                                   options={"maxiter": int(max_iter), "maxfun": int(max_fun), "gtol": float(tol)})
        state.params[...] = result.x
        state.backup_valid = False  # no rollback copy belongs to these parameters
    return result
