"""Weight initializations: the course's and the usual ones, shared by the course API and Network."""

import numpy as np

#: Names accepted by ``init``.
INITS = ("scaled", "small", "he", "xavier", "glorot")


def scale_initial_weights(W, init):
    """Scale a matrix of standard normal draws for ``init``.

    Parameters
    ----------
    W : ndarray of shape (n, n_prev)
        Draws of ``randn(n, n_prev)``.
    init : {"scaled", "small", "he", "xavier", "glorot"}

    Returns
    -------
    ndarray of shape (n, n_prev)
        ``W / sqrt(n_prev)`` (the course's deep initialization), ``W * 0.01``,
        ``W * sqrt(2 / n_prev)``, ``W * sqrt(1 / n_prev)`` or ``W * sqrt(2 /
        (n_prev + n))`` (Glorot's variance, which scikit-learn's MLPs draw
        from a uniform distribution).
    """
    n_prev = W.shape[1]
    if init == "scaled":
        return W / np.sqrt(n_prev)
    if init == "small":
        return W * 0.01
    if init == "he":
        return W * np.sqrt(2.0 / n_prev)
    if init == "glorot":
        return W * np.sqrt(2.0 / (n_prev + W.shape[0]))
    return W * np.sqrt(1.0 / n_prev)
