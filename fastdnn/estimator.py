"""``MLPClassifier``: the scikit-learn estimator convention on top of :class:`fastdnn.Network`.

Rows are examples, as in scikit-learn.  The network reads ``X.T``, a view
(no copy): its batch gather reads one row per example straight from the
caller's array.  Constructor parameters are named as in
``sklearn.neural_network.MLPClassifier``, so switching is a change of
import.

scikit-learn is optional: when it is importable the class derives from its
``ClassifierMixin`` and ``BaseEstimator`` (so it works in a ``Pipeline``,
``cross_val_score``, ``GridSearchCV``, ``clone``) and validates inputs with
scikit-learn's own helpers; without it, a small built-in base provides
``get_params``/``set_params``/``score`` and plain NumPy checks.
"""

from __future__ import annotations

import copy
import inspect
import numbers
import warnings

import numpy as np
from numpy.typing import ArrayLike

from . import optimizers
from . import precision as precision_mod
from . import sparse_input
from . import validation as v
from .fitting import FitSettings
from .network import Network

try:  # scikit-learn is an optional extra ('fastdnn[sklearn]')
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import ConvergenceWarning, NotFittedError
    from sklearn.utils.multiclass import check_classification_targets

    try:
        from sklearn.utils.validation import validate_data as _sk_validate_data
    except ImportError:  # scikit-learn < 1.6
        def _sk_validate_data(estimator, *args, **kwargs):
            return estimator._validate_data(*args, **kwargs)

    HAVE_SKLEARN = True
except ImportError:
    HAVE_SKLEARN = False

    class NotFittedError(ValueError, AttributeError):  # type: ignore[no-redef]
        """The estimator is used before :meth:`fit`."""

    class ConvergenceWarning(UserWarning):  # type: ignore[no-redef]
        """Training stopped at ``max_iter`` before it converged."""

    class _FallbackBase:
        """``get_params``/``set_params``/``score`` for when scikit-learn is not installed."""

        @classmethod
        def _get_param_names(cls):
            signature = inspect.signature(cls.__init__)
            return sorted(p.name for p in signature.parameters.values()
                          if p.name != "self" and p.kind != p.VAR_KEYWORD)

        def get_params(self, deep=True):
            return {name: getattr(self, name) for name in self._get_param_names()}

        def set_params(self, **params):
            valid = self._get_param_names()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(f"invalid parameter {name!r} for {type(self).__name__}; valid: {valid}")
                setattr(self, name, value)
            return self

        def score(self, X, y, sample_weight=None):
            """Mean accuracy of :meth:`predict` on ``(X, y)`` (a regressor's: :math:`R^2`), weighted by ``sample_weight``."""
            if getattr(self, "_estimator_type", "") == "regressor":
                return r2_score(y, self.predict(X), sample_weight)
            right = self.predict(X) == np.asarray(y)
            if right.ndim == 2:
                right = right.all(axis=1)  # multilabel: every label of a sample right (subset accuracy)
            return float(np.average(right, weights=sample_weight))

        def __repr__(self):
            defaults = inspect.signature(type(self).__init__).parameters
            changed = [f"{k}={val!r}" for k, val in self.get_params().items()
                       if not (defaults[k].default is val or _equal(defaults[k].default, val))]
            return f"{type(self).__name__}({', '.join(changed)})"

    def _equal(a, b):
        try:
            return bool(a == b)
        except Exception:
            return False

_BASES = (ClassifierMixin, BaseEstimator) if HAVE_SKLEARN else (_FallbackBase,)
_REGRESSOR_BASES = (RegressorMixin, BaseEstimator) if HAVE_SKLEARN else (_FallbackBase,)


def r2_score(y, prediction, sample_weight=None):
    """The coefficient of determination, averaged uniformly over the outputs (scikit-learn's default).

    With ``sample_weight``, both sums of squares are weighted and the mean is the weighted mean.
    """
    y = np.asarray(y, dtype=np.float64).reshape(len(prediction), -1)
    prediction = np.asarray(prediction, dtype=np.float64).reshape(y.shape)
    w = np.ones((len(y), 1)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64).reshape(-1, 1)
    residual = np.sum(w * (y - prediction) ** 2, axis=0)
    total = np.sum(w * (y - np.average(y, axis=0, weights=w[:, 0])) ** 2, axis=0)
    scores = np.where(total > 0, 1.0 - residual / np.where(total > 0, total, 1.0),
                      np.where(residual > 0, 0.0, 1.0))
    return float(np.mean(scores))

#: scikit-learn's activation names -> fastdnn's.
#: MLPRegressor's losses.
LOSSES = ("squared_error", "poisson")
ACTIVATIONS = {"identity": "linear", "logistic": "sigmoid", "tanh": "tanh", "relu": "relu",
               "leaky_relu": "leaky_relu"}
SOLVERS = ("adam", "sgd", "lbfgs")
#: The solvers that train by epochs of mini-batches (partial_fit, learning rates, early stopping).
STOCHASTIC_SOLVERS = ("adam", "sgd")
LEARNING_RATES = ("constant", "invscaling", "adaptive")


def _is_indicator_matrix(y):
    """Whether ``y`` is a multilabel indicator matrix: 2-D, more than one column, 0/1 values only."""
    if hasattr(y, "toarray"):
        y = y.toarray()
    try:
        y = np.asarray(y)
    except Exception:  # ragged sequences and the like: not a matrix, left to the usual checks
        return False
    if y.ndim != 2 or y.shape[1] < 2 or y.dtype.kind not in "biuf":
        return False
    return bool(np.all((y == 0) | (y == 1)))


def _check_random_state(random_state):
    """The random number source of ``random_state``, as scikit-learn's ``check_random_state`` (and a
    ``np.random.Generator`` as it is): ``None`` is NumPy's global ``RandomState``."""
    if random_state is None:
        return np.random.mtrand._rand
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return np.random.RandomState(int(random_state))
    if isinstance(random_state, (np.random.RandomState, np.random.Generator)):
        return random_state
    raise ValueError(f"random_state must be None, an int, a RandomState or a Generator, got {random_state!r}")


def _train_test_indices(n, fraction, random_state, stratify=None, groups=None):
    """``(train, validation)`` indices of ``n`` samples, ``fraction`` of them held out.

    With scikit-learn and a ``RandomState``: its ``train_test_split`` (the
    same split, and errors, as its MLPs for the same ``random_state``).
    Otherwise: stratified by ``groups`` when given, else a permutation.
    """
    if HAVE_SKLEARN and isinstance(random_state, np.random.RandomState):
        from sklearn.model_selection import train_test_split

        train, val = train_test_split(np.arange(n), random_state=random_state, test_size=fraction,
                                      stratify=stratify)
    elif groups is not None:
        train, val = [], []
        for c in np.unique(groups):
            members = random_state.permutation(np.flatnonzero(groups == c))
            n_val = int(round(fraction * len(members)))
            val.append(members[:n_val])
            train.append(members[n_val:])
        train, val = np.concatenate(train), np.concatenate(val)
    else:
        order = random_state.permutation(n)
        n_val = int(np.ceil(fraction * n))
        train, val = order[n_val:], order[:n_val]
    if len(val) < 2:
        raise ValueError("The validation set is too small. Increase 'validation_fraction' or the size of your "
                         f"dataset (validation_fraction={fraction} of {n} samples leaves {len(val)}).")
    if len(train) < 1:
        raise ValueError(f"early_stopping with validation_fraction={fraction} leaves no training samples of {n}")
    return np.asarray(train, dtype=np.int64), np.asarray(val, dtype=np.int64)


class _StochasticOnly:
    """A method that exists only while ``solver`` is a stochastic one: ``hasattr(MLP(solver="lbfgs"),
    "partial_fit")`` is False, as in scikit-learn."""

    def __init__(self, method):
        self.method = method
        self.__doc__ = method.__doc__
        self.__name__ = method.__name__

    def __get__(self, obj, owner=None):
        if obj is not None and obj.solver not in STOCHASTIC_SOLVERS:
            raise AttributeError(f"{self.__name__} is only available for stochastic optimizers. "
                                 f"{obj.solver!r} is not stochastic.")
        return self.method.__get__(obj, owner)


class _Layers(list):
    """``coefs_`` or ``intercepts_``: views of the network's arrays; ``coefs_[i] = W`` writes layer ``i``."""

    def __init__(self, owner, name, arrays):
        super().__init__(arrays)
        self._owner, self._name = owner, name

    def __setitem__(self, index, value):
        arrays = list(self)
        arrays[index] = value
        setattr(self._owner, self._name, arrays)
        super().__setitem__(index, getattr(self._owner, self._name)[index])


class _MLP:
    """What both estimators share: scikit-learn's parameters and their checks, the training loop and its
    bookkeeping, the weights' views.  A face adds its targets (:meth:`_encode`), its output layer
    (:meth:`_build`), its validation score and its predictions."""

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam", alpha=1e-4,
                 batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9, beta_2=0.999,
                 epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, dtype=None, precision="float"):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.dtype = dtype
        self.precision = precision

    @property
    def coefs_(self):
        """Weights per layer, shape ``(n_in, n_out)``: transposed views of the network's."""
        if not hasattr(self, "network_") and "_initial_coefs_" in self.__dict__:
            return self._initial_coefs_
        self._check_fitted()
        parameters = self.network_.parameters
        return _Layers(self, "coefs_", [parameters[f"W{l}"].T for l in range(1, self.network_.n_layers + 1)])

    @coefs_.setter
    def coefs_(self, coefs):
        """Write new weights into the network, one ``(n_in, n_out)`` array per layer, as scikit-learn allows."""
        self._set_layers("coefs_", coefs, "W", lambda array: array.T)

    @property
    def intercepts_(self):
        """Biases per layer, shape ``(n_out,)``: views of the network's."""
        if not hasattr(self, "network_") and "_initial_intercepts_" in self.__dict__:
            return self._initial_intercepts_
        self._check_fitted()
        parameters = self.network_.parameters
        biases = [parameters[f"b{l}"].reshape(-1) for l in range(1, self.network_.n_layers + 1)]
        return _Layers(self, "intercepts_", biases)

    @intercepts_.setter
    def intercepts_(self, intercepts):
        """Write new biases into the network, one ``(n_out,)`` array per layer."""
        self._set_layers("intercepts_", intercepts, "b", lambda array: array.reshape(-1, 1))

    def to_onnx(self, path, dtype=np.float32):
        """Write the fitted network as an ONNX file: input ``X`` (N, n_features), output ``output``.

        A classifier's output is :meth:`predict_proba`'s (N, n_classes), its
        columns in the order of ``classes_``; a regressor's the predicted
        values (N, n_outputs).  Needs the ``onnx`` package (``pip install
        "fastdnn[onnx]"``).

        Returns
        -------
        onnx.ModelProto
        """
        from .interop import _onnx, network_graph

        self._check_fitted()
        two_columns = getattr(self, "out_activation_", "") == "logistic" and self.n_outputs_ == 1
        model = network_graph(self.network_, dtype, input_scale=1.0, two_class_columns=two_columns)
        _onnx().save(model, str(path))
        return model

    def _set_layers(self, name, arrays, prefix, to_network):
        if not hasattr(self, "network_"):
            # Before any fit, as scikit-learn allows: the weights the first fit starts from (kept as given,
            # so that the caller may still fill the list in).
            self.__dict__[f"_initial_{name}"] = arrays
            return
        self._check_fitted()
        parameters = self.network_.parameters
        L = self.network_.n_layers
        arrays = list(arrays)
        if len(arrays) != L:
            raise ValueError(f"{name} must hold {L} arrays, one per layer; got {len(arrays)}")
        converted = []
        for l, array in enumerate(arrays, start=1):
            target = parameters[f"{prefix}{l}"]
            expected = target.shape[::-1] if prefix == "W" else (target.shape[0],)
            if np.shape(array) != expected:
                raise ValueError(f"{name}[{l - 1}] must have shape {expected}; got {np.shape(array)}")
            value = to_network(v.as_array(f"{name}[{l - 1}]", array).astype(target.dtype))
            v.check_finite(f"{name}[{l - 1}]", value)
            converted.append((target, value))
        for target, value in converted:
            target[...] = value

    def _check_fitted(self):
        if not hasattr(self, "network_"):
            raise NotFittedError(
                f"This {type(self).__name__} instance is not fitted yet. Call 'fit' with appropriate arguments "
                f"before using this estimator."
            )

    def _validate_X(self, X):
        if HAVE_SKLEARN:
            return self._sklearn_data(X, reset=False)
        return self._checked_X(X, reset=False)

    def _sklearn_data(self, *arrays, reset, **options):
        """scikit-learn's ``validate_data`` with what both estimators take: float64 or float32 (others
        converted), dense or CSR/CSC ``X``."""
        return _sk_validate_data(self, *arrays, dtype=(np.float64, np.float32), accept_sparse=("csr", "csc"),
                                 reset=reset, **options)

    def _checked_X(self, X, reset):
        """``X`` checked without scikit-learn: 2-D, float32 or float64 (else converted), finite, dense or
        scipy.sparse (CSR or CSC, read without densifying)."""
        if sparse_input.is_sparse(X):
            if X.format not in ("csr", "csc"):
                X = X.tocsr()
            if X.ndim != 2:
                raise ValueError(f"X must be 2-D, got shape {X.shape}")
            if X.dtype not in v.FLOAT_DTYPES:
                X = X.astype(np.float64)
            if not sparse_input.stored_values_finite(X):
                raise ValueError("X contains NaN or infinity among its stored values")
        else:
            X = v.as_array("X", X, ndim=2)
            if X.dtype not in v.FLOAT_DTYPES:
                X = X.astype(np.float64)
            v.check_finite("X", X if X.flags.c_contiguous else X.T)
        if X.shape[0] < 1 or X.shape[1] < 1:
            raise ValueError(f"X must have at least one sample and one feature, got shape {X.shape}")
        self._check_n_features(X, reset)
        return X

    def _check_n_features(self, X, reset):
        if reset:
            self.n_features_in_ = X.shape[1]
        elif X.shape[1] != self.n_features_in_:
            raise ValueError(f"X has {X.shape[1]} features, but {type(self).__name__} is expecting "
                             f"{self.n_features_in_} features as input.")

    def _checked_params(self):
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral):
            sizes = (sizes,)
        try:
            sizes = [v.positive_int("hidden_layer_sizes", s) for s in sizes]
        except TypeError:
            raise TypeError(f"hidden_layer_sizes must be a tuple of positive integers, got {sizes!r}") from None
        params = {
            "sizes": sizes,
            "activation": ACTIVATIONS[v.choice("activation", self.activation, tuple(ACTIVATIONS))],
            "solver": v.choice("solver", self.solver, SOLVERS),
            "alpha": v.finite_float("alpha", self.alpha, minimum=0.0),
            "learning_rate": v.choice("learning_rate", self.learning_rate, LEARNING_RATES),
            "learning_rate_init": v.finite_float("learning_rate_init", self.learning_rate_init, minimum=0.0),
            "power_t": v.finite_float("power_t", self.power_t),
            "max_iter": v.positive_int("max_iter", self.max_iter),
            "tol": v.finite_float("tol", self.tol, minimum=0.0),
            "momentum": v.finite_float("momentum", self.momentum, minimum=0.0),
            "validation_fraction": v.finite_float("validation_fraction", self.validation_fraction, minimum=0.0),
            # scikit-learn takes np.inf too: never stop on the loss, run max_iter epochs.
            "n_iter_no_change": (np.inf if isinstance(self.n_iter_no_change, numbers.Real)
                                 and self.n_iter_no_change == np.inf
                                 else v.positive_int("n_iter_no_change", self.n_iter_no_change)),
            "dropout": v.finite_float("dropout", self.dropout, minimum=0.0),
        }
        params["max_fun"] = v.positive_int("max_fun", self.max_fun)
        if params["solver"] == "lbfgs" and params["dropout"] > 0:
            raise ValueError("dropout needs a stochastic solver ('adam' or 'sgd'): lbfgs minimizes the whole "
                             "data set's loss, which dropout would make random")
        if params["learning_rate_init"] <= 0:
            raise ValueError(f"learning_rate_init must be > 0, got {self.learning_rate_init}")
        if params["momentum"] > 1:
            raise ValueError(f"momentum must lie in [0, 1], got {self.momentum}")
        if not 0 < params["validation_fraction"] < 1:
            raise ValueError(f"validation_fraction must lie in (0, 1), got {self.validation_fraction}")
        if params["dropout"] >= 1:
            raise ValueError(f"dropout must lie in [0, 1), got {self.dropout}")
        if isinstance(self.batch_size, str):
            if self.batch_size != "auto":
                raise ValueError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        elif isinstance(self.batch_size, bool) or not isinstance(self.batch_size, numbers.Integral):
            raise TypeError(f"batch_size must be a positive integer or 'auto', got {self.batch_size!r}")
        if self.dtype is not None and np.dtype(self.dtype) not in v.FLOAT_DTYPES:
            raise TypeError(f"dtype must be None, np.float32 or np.float64, got {self.dtype!r}")
        v.choice("precision", self.precision, precision_mod.PRECISIONS)
        if self.precision == "bf16" and self.dtype is not None and np.dtype(self.dtype) != np.float32:
            raise ValueError(f"precision='bf16' keeps float32 parameters: it needs dtype=None or np.float32, "
                             f"not {np.dtype(self.dtype)}")
        return params

    def _network_for_fit(self, first, params, X, seed, random_state):
        """The network a fit trains: built and initialised on a first fit, else the one a warm start goes on with."""
        if first:
            self._build(params, X.shape[1], seed, X.dtype)
            if "_initial_coefs_" in self.__dict__ or "_initial_intercepts_" in self.__dict__:
                self._start_from_given_weights()  # no draws for them, as scikit-learn makes none
            else:
                self._glorot_uniform(random_state)
        if self.network_.precision != self.precision:
            self.network_.precision = self.precision  # a warm start or partial_fit takes the precision now set
        return self.network_

    def _optimizer(self, params):
        if params["solver"] == "adam":
            return optimizers.Adam(self.beta_1, self.beta_2, self.epsilon), 1.0
        mu = params["momentum"]
        if mu == 0.0:
            return optimizers.SGD(), 1.0
        # scikit-learn's u <- mu u - eta g is the course's v <- mu v + (1 - mu) g
        # with alpha = eta / (1 - mu); mu = 1 would never forget, reject it.
        if mu >= 1.0:
            raise ValueError("momentum must be < 1 for the sgd solver")
        return optimizers.Momentum(beta=mu, nesterov=bool(self.nesterovs_momentum)), 1.0 / (1.0 - mu)

    def _fit(self, X, y, incremental, classes=None, sample_weight=None):
        params = self._checked_params()
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        first = not hasattr(self, "network_") or not (incremental or self.warm_start)
        X, y = self._validate_X_y(X, y, reset=first)
        if sample_weight is not None:
            sample_weight = v.check_sample_weight(sample_weight, X.shape[0])
        targets = self._encode(y, first, classes, warm=not first and not incremental)
        n_samples = X.shape[0]
        # scikit-learn's draws, in its order: the initial weights, then the early-stopping split.
        random_state = self._random_state = _check_random_state(self.random_state)
        seed = self._seed()
        network = self._network_for_fit(first, params, X, seed, random_state)
        optimizer, lr_factor = self._optimizer(params)

        batch_size = self._batch_size = self._clipped_batch_size(n_samples)

        # The transposed view (no copy); X was checked for NaN and inf above, not again.
        data = network.prepare(X.T, self._network_targets(targets), check_X=False)
        data.unchecked = None  # nothing left for the fit to scan
        data.weights = sample_weight
        if params["solver"] == "lbfgs":
            return self._fit_lbfgs(data, params)
        early_stopping = self.early_stopping and not incremental
        train_indices, validation_data = (self._hold_out(X, targets, sample_weight, params, random_state)
                                          if early_stopping else (None, None))
        if first and self.random_state is random_state:
            # A RandomState or Generator given: the network's own randomness (shuffling, dropout) from a copy
            # of it, so that the caller's stream moves only by scikit-learn's own draws.
            stream = copy.deepcopy(random_state)
            network.model_state.reseed(int(stream.randint(np.iinfo(np.int32).max)
                                            if isinstance(stream, np.random.RandomState)
                                            else stream.integers(np.iinfo(np.int32).max)))
        n_train = n_samples if train_indices is None else len(train_indices)
        # What a batch's L2 term divides by on average (loss_ of the regressor): its examples, or their weights.
        self._l2_count = batch_size if sample_weight is None else batch_size * float(
            np.mean(sample_weight if train_indices is None else sample_weight[train_indices]))

        # Each call counts its own epochs, as scikit-learn 1.9's (a warm start does not add to the last fit's).
        self.n_iter_ = 0
        if first:
            self.t_ = 0
            self.loss_curve_ = []
            self._no_improvement_count = 0
            self.best_loss_ = None if early_stopping else np.inf
            self.validation_scores_ = [] if early_stopping else None
            self.best_validation_score_ = -np.inf if early_stopping else None
        if not incremental:
            # A fit (warm start included) starts a fresh optimizer at learning_rate_init, as scikit-learn's
            # does; partial_fit continues the last one.
            self._learning_rate = params["learning_rate_init"]
            network.model_state.bind(optimizer)
        elif first:
            self._learning_rate = params["learning_rate_init"]
        if early_stopping:
            self._best_params = network.params.copy()
        state = {"stopped": False}

        def schedule(epoch):
            return self._learning_rate * lr_factor

        def callback(epoch, record):
            return self._after_epoch(record, params, n_train, early_stopping, state)

        settings = FitSettings(epochs=1 if incremental else params["max_iter"], batch_size=batch_size,
                               optimizer=optimizer, learning_rate=self._learning_rate * lr_factor, l2=params["alpha"],
                               dropout=params["dropout"], shuffle=bool(self.shuffle), progress=False,
                               schedule=schedule, callback=callback, indices=train_indices, track_accuracy=False,
                               verbose=bool(self.verbose))
        try:
            network.train(data, settings, validation_data)
        except FloatingPointError as exc:
            if not early_stopping:
                # scikit-learn's error for a fit that made the weights non-finite (a ValueError).
                raise ValueError(f"Solver produced non-finite parameter weights. The input data may contain "
                                 f"large values and need to be preprocessed. ({exc})") from exc
            # With early stopping scikit-learn goes back to the best weights, the diverged epoch scored NaN.
            self.n_iter_ += 1
            self.loss_ = float("nan")
            self.loss_curve_.append(self.loss_)
            self.validation_scores_.append(float("nan"))
            state["stopped"] = True
            warnings.warn(f"Training diverged ({exc}); the weights of the best validation score are kept.",
                          ConvergenceWarning)
        if early_stopping:
            network.params[...] = self._best_params
            del self._best_params
        self.__dict__.pop("_validation", None)  # the held-out copy: not kept, nor pickled
        if not incremental and not state["stopped"] and self.n_iter_ >= params["max_iter"]:
            warnings.warn(
                f"Stochastic Optimizer: Maximum iterations ({params['max_iter']}) reached and the optimization "
                f"hasn't converged yet.", ConvergenceWarning)
        return self

    def _clipped_batch_size(self, n_samples):
        """``batch_size`` for ``n_samples``: ``"auto"`` is ``min(200, n_samples)``, others are clipped (with
        scikit-learn's warning)."""
        batch_size = self.batch_size
        if isinstance(batch_size, str):
            return min(200, n_samples)
        if not 1 <= batch_size <= n_samples:
            warnings.warn("Got `batch_size` less than 1 or larger than sample size. It is going to be clipped")
            return int(np.clip(batch_size, 1, n_samples))
        return batch_size

    def _hold_out(self, X, targets, sample_weight, params, random_state):
        """Early stopping's split: the training indices and the validation data (:meth:`_validation_data`)."""
        train_indices, val_indices = self._split(targets, params["validation_fraction"], random_state)
        validation_data = self._validation_data(X[val_indices], targets[val_indices],
                                                None if sample_weight is None else sample_weight[val_indices])
        if sample_weight is not None and not sample_weight[train_indices].sum() > 0.0:
            raise ValueError("sample_weight is zero on every training sample left by the early-stopping split")
        if sample_weight is not None and not sample_weight[val_indices].sum() > 0.0:
            raise ValueError("sample_weight is zero on every validation sample of the early-stopping split "
                             "(validation_fraction): the weighted score has nothing to weigh")
        return train_indices, validation_data

    def _fit_lbfgs(self, data, params):
        """scikit-learn's lbfgs: SciPy's L-BFGS-B on the whole data set's loss (:func:`fastdnn.solvers.lbfgs`)."""
        from .solvers import lbfgs

        self.n_iter_ = 0
        self.t_ = 0
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)  # stochastic solvers' attributes, as scikit-learn leaves them out

        def say(iteration, loss):
            if self.verbose:
                print(f"Iteration {iteration}, loss = {loss:.8f}")

        result = lbfgs(self.network_, data, l2=params["alpha"], max_iter=params["max_iter"],
                       max_fun=params["max_fun"], tol=params["tol"], scale=self._data_scale(), callback=say)
        if not np.all(np.isfinite(self.network_.params)):
            raise ValueError("Solver produced non-finite parameter weights. The input data may contain large "
                             "values and need to be preprocessed.")
        self.n_iter_ = min(int(result.nit), params["max_iter"])
        self.loss_ = float(result.fun)
        if result.status != 0:
            message = result.message.decode("latin1") if isinstance(result.message, bytes) else str(result.message)
            warnings.warn(f"lbfgs failed to converge after {self.n_iter_} iteration(s) (status={result.status}): "
                          f"{message}. Increase max_iter (now {params['max_iter']}) or max_fun (now "
                          f"{params['max_fun']}), or scale the data.", ConvergenceWarning)
        return self

    def _data_scale(self):
        """What the data term of the loss is multiplied by in scikit-learn's objective (1: as fastdnn's)."""
        return 1.0

    def _after_epoch(self, record, params, n_train, early_stopping, state):
        """scikit-learn's bookkeeping and stopping rule after each epoch; true to stop."""
        self.n_iter_ += 1
        self.t_ += n_train
        self.loss_ = self._loss(record["cost"])
        self.loss_curve_.append(self.loss_)
        if self.verbose:
            print(f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}")
        tol = params["tol"]
        if early_stopping:
            score = self._validation_score(record)
            self.validation_scores_.append(score)
            if self.verbose:
                print(f"Validation score: {score:f}")
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if score < self.best_validation_score_ + tol else 0)
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                np.copyto(self._best_params, self.network_.params)
        else:
            self._no_improvement_count = (self._no_improvement_count + 1
                                          if self.loss_ > self.best_loss_ - tol else 0)
            self.best_loss_ = min(self.best_loss_, self.loss_)
        if params["solver"] == "sgd" and params["learning_rate"] == "invscaling":
            self._learning_rate = params["learning_rate_init"] / (self.t_ + 1) ** params["power_t"]
        if self._no_improvement_count > params["n_iter_no_change"]:
            what = "Validation score" if early_stopping else "Training loss"
            message = (f"{what} did not improve more than tol={tol:f} for {params['n_iter_no_change']} "
                       f"consecutive epochs.")
            if params["solver"] == "sgd" and params["learning_rate"] == "adaptive" and self._learning_rate > 1e-6:
                self._learning_rate /= 5.0
                self._no_improvement_count = 0
                if self.verbose:
                    print(message + f" Setting learning rate to {self._learning_rate:f}")
                return False
            if self.verbose:
                print(message + " Stopping.")
            state["stopped"] = True
            return True
        return False

    def _make_network(self, params, n_features, n_outputs, output, seed, data_dtype, init=None):
        hidden = params["activation"]
        if init is None:
            init = "he" if hidden in ("relu", "leaky_relu") else "xavier"
        dtype = self.dtype
        if dtype is None:
            # bf16 products keep float32 parameters: precision="bf16" implies float32, and "auto" takes
            # float32 where it would multiply in bf16.
            bf16 = self.precision == "bf16" or (
                self.precision == "auto" and precision_mod.choose("auto", np.float32)[0] == "bf16")
            dtype = np.float32 if data_dtype == np.float32 or bf16 else np.float64
        self.network_ = Network([n_features, *params["sizes"], n_outputs], hidden=hidden, output=output, dtype=dtype,
                                init=init, seed=seed, precision=self.precision)
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(params["sizes"]) + 2

    def _seed(self):
        """The seed of the network's shuffling and dropout: an int ``random_state`` as it is, else a draw
        from :attr:`_random_state` (after the draws scikit-learn makes, so that those stay its own)."""
        rs = self.random_state
        if isinstance(rs, numbers.Integral) and not isinstance(rs, bool):
            return int(rs)
        if rs is None:
            return None
        return 0  # a placeholder until _draw_seed

    def _start_from_given_weights(self):
        """The first fit starts from the ``coefs_`` and ``intercepts_`` assigned before it (both needed)."""
        coefs = self.__dict__.pop("_initial_coefs_", None)
        intercepts = self.__dict__.pop("_initial_intercepts_", None)
        if coefs is None or intercepts is None:
            raise ValueError("coefs_ and intercepts_ assigned before the first fit must both be given")
        self._set_layers("coefs_", coefs, "W", lambda array: array.T)
        self._set_layers("intercepts_", intercepts, "b", lambda array: array.reshape(-1, 1))

    def _glorot_uniform(self, random_state):
        """scikit-learn's initial weights: Glorot's uniform bound (factor 2 for logistic units, else 6),
        each layer's coefficients then intercepts drawn from ``random_state`` -- the very numbers
        scikit-learn starts from with the same ``random_state``."""
        factor = 2.0 if self.activation == "logistic" else 6.0
        for W, b in self.network_.model_state.layers:
            fan_out, fan_in = W.shape
            bound = np.sqrt(factor / (fan_in + fan_out))
            W[...] = random_state.uniform(-bound, bound, (fan_in, fan_out)).T
            b[...] = random_state.uniform(-bound, bound, fan_out).reshape(b.shape)


class MLPClassifier(*((_BASES[0], _MLP, _BASES[1]) if HAVE_SKLEARN else (_MLP, _FallbackBase))):  # type: ignore[misc]
    """Multi-layer perceptron classifier, trained by fastdnn's fused kernels.

    Parameters are scikit-learn's ``MLPClassifier``'s, plus ``dropout`` and
    ``dtype``.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
        Units of each hidden layer.
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"}, default "relu"
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
        ``"lbfgs"``: SciPy's L-BFGS-B on the whole data set's loss, through
        fastdnn's full-batch gradient pass (:mod:`fastdnn.solvers`); it has
        no epochs, mini-batches, ``partial_fit`` or early stopping.
    alpha : float, default 1e-4
        L2 strength: the loss gains ``alpha / (2 m) * sum(W**2)`` per batch of ``m``.
    batch_size : int or "auto", default "auto"
        ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
        Schedule of the ``"sgd"`` solver, as in scikit-learn.
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
        Exponent of ``"invscaling"``.
    max_iter : int, default 200
        Epochs at most (iterations of ``"lbfgs"``).
    shuffle : bool, default True
    random_state : int, RandomState, Generator or None, default None
        Seeds the weights, the shuffling, dropout and the early-stopping split.
        The initial weights and the split are the very ones scikit-learn
        draws for the same ``random_state`` (Glorot's uniform, then
        ``train_test_split``, stratified for two classes), so ``lbfgs`` and
        unshuffled ``sgd`` end where scikit-learn's do; the shuffling is
        fastdnn's own.
    tol : float, default 1e-4
    verbose : bool, default False
        Print the route of the training steps (``Network.plan``) at each fit
        and the loss after each epoch.
    warm_start : bool, default False
        Continue from the previous fit's network.
    momentum : float, default 0.9
        Of the ``"sgd"`` solver.
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
        Hold out ``validation_fraction`` of the data and stop when its
        accuracy stops improving; the best network is kept.
    validation_fraction : float, default 0.1
    beta_1 : float, default 0.9
        Adam's.
    beta_2 : float, default 0.999
        Adam's.
    epsilon : float, default 1e-8
        Adam's.
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
        Evaluations of the loss at most, for ``"lbfgs"``.
    dropout : float, default 0.0
        Probability of dropping a hidden unit while training (fastdnn only).
    dtype : {None, np.float64, np.float32}, default None
        Precision of the network.  ``None`` follows the training data, as
        scikit-learn does: float32 ``X`` trains in float32 (measured on the
        digits: 160 ms against 241 ms in float64), anything else in float64.
    precision : {"float", "bf16", "auto"}, default "float"
        What the training products multiply (fastdnn only; see
        :attr:`fastdnn.Network.precision`): ``"bf16"`` rounds their operands
        to bfloat16 and sums in float32 through MKL (``pip install
        "fastdnn[mkl]"``), the network staying float32 (``dtype=None`` then
        means float32); ``"auto"`` takes bf16 where the CPU and MKL make it
        faster.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    n_features_in_ : int
    n_outputs_ : int
        1 for two classes (one logistic unit), else ``n_classes``.
    n_layers_ : int
    out_activation_ : {"logistic", "softmax"}
        ``"logistic"`` for two classes and for multilabel ``y``.
    coefs_ : list of ndarray of shape (n_in, n_out)
        Views (transposed) of the network's weights.
    intercepts_ : list of ndarray of shape (n_out,)
    loss_ : float
    loss_curve_ : list of float
    best_loss_ : float or None
    validation_scores_ : list of float or None
    best_validation_score_ : float or None
    n_iter_ : int
    t_ : int
        Training samples seen.
    network_ : fastdnn.Network
    """

    _multilabel = False  # (a model fitted before multilabel targets existed)

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPClassifier:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
            Read through its transpose, without a copy (float32 and float64
            are used as they are; other dtypes are converted once).
        y : array_like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type; or, for multilabel classification, a
            0/1 indicator matrix (one logistic unit per label, ``predict``
            gives the matrix back, ``score`` is the subset accuracy).
        sample_weight : array_like of shape (n_samples,), optional
            A weight per sample, as scikit-learn's: each batch's loss is the
            weighted mean and its L2 term divides by the batch's sum of
            weights; the early-stopping score is weighted too.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @_StochasticOnly
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None,
                    classes: ArrayLike | None = None) -> MLPClassifier:
        """One epoch over ``(X, y)``, continuing from the current network.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,)
        sample_weight : array_like of shape (n_samples,), optional
            As for :meth:`fit`.
        classes : array_like of shape (n_classes,), optional
            Every class of all the calls; required on the first call.
            (scikit-learn 1.9's order: ``sample_weight`` comes first.)

        Returns
        -------
        self
        """
        if not hasattr(self, "classes_"):
            if classes is None:
                raise ValueError("classes must be passed on the first call to partial_fit.")
        elif classes is not None and not np.array_equal(np.unique(classes), self.classes_):
            raise ValueError(f"`classes={np.unique(classes)!r}` is not the same as on the first call to "
                             f"partial_fit, which was {self.classes_!r}")
        return self._fit(X, y, incremental=True, classes=classes, sample_weight=sample_weight)

    def predict_proba(self, X: ArrayLike) -> np.ndarray:
        """Class probabilities.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        self._check_fitted()
        rows = self._validate_X(X)
        P = self.network_.predict_proba(rows.T)
        if self.n_outputs_ == 1 and not self._multilabel:
            p = P[0]
            return np.column_stack([1.0 - p, p])
        return P.T

    def predict_log_proba(self, X: ArrayLike) -> np.ndarray:
        """Logarithm of :meth:`predict_proba`.

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted class of each sample.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from :attr:`classes_`.
        """
        self._check_fitted()
        rows = self._validate_X(X)
        P = self.network_.predict_proba(rows.T)
        if self._multilabel:
            return (P.T > 0.5).astype(np.int64)  # the indicator matrix, as scikit-learn gives it
        index = (P[0] > 0.5).astype(np.intp) if self.n_outputs_ == 1 else np.argmax(P, axis=0)
        return self.classes_[index]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        return tags

    def _validate_X_y(self, X, y, reset):
        if _is_indicator_matrix(y):
            # Multilabel: one 0/1 column per label, as scikit-learn's MLPClassifier takes it.
            if HAVE_SKLEARN:
                X, y = self._sklearn_data(X, y, reset=reset, multi_output=True)
            else:
                X = self._checked_X(X, reset)
                y = np.asarray(y)
                if len(y) != X.shape[0]:
                    raise ValueError(f"X has {X.shape[0]} samples but y has {len(y)}")
            return X, (y.toarray() if hasattr(y, "toarray") else np.asarray(y))
        if HAVE_SKLEARN:
            X, y = self._sklearn_data(X, y, reset=reset)
            check_classification_targets(y)
            return X, y
        X = self._checked_X(X, reset)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            warnings.warn("A column-vector y was passed when a 1d array was expected; it was ravelled.")
            y = y.ravel()
        if y.ndim != 1:
            raise ValueError(f"y must be 1-D (one label per sample), got shape {y.shape}")
        if len(y) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(y)}")
        if y.dtype.kind == "f":
            v.check_finite("y", y)
            if np.any(y != np.round(y)):
                raise ValueError("Unknown label type: y holds continuous values; a classifier needs class labels")
        return X, y

    def _encode(self, y, first, classes, warm=False):
        """The labels as class indices (``classes_`` set on a first fit); multilabel: the 0/1 matrix."""
        multilabel = y.ndim == 2
        if first:
            self._multilabel = multilabel
        elif multilabel != self._multilabel:
            raise ValueError(f"y is {'a multilabel indicator matrix' if multilabel else 'a vector of labels'} but "
                             f"the network was trained on {'multilabel' if self._multilabel else 'class'} targets")
        if multilabel:
            return self._encode_multilabel(y, first, classes)
        if warm and not np.array_equal(np.unique(y), self.classes_):
            raise ValueError(f"warm_start can only be used where `y` has the same classes as in the previous call "
                             f"to fit. Previously got {self.classes_}, `y` has {np.unique(y)}")
        if first:
            labels = np.unique(classes) if classes is not None else np.unique(y)
            if len(labels) < 2:
                raise ValueError(
                    f"{type(self).__name__} needs samples of at least 2 classes, but the data contain only "
                    f"1 class: {labels!r}"
                )
            self.classes_ = labels
        codes = np.searchsorted(self.classes_, y)
        codes = np.minimum(codes, len(self.classes_) - 1)
        unknown = self.classes_[codes] != y
        if np.any(unknown):
            raise ValueError(f"y contains labels not seen before: {np.unique(y[unknown])!r}; "
                             f"the classes are {self.classes_!r}")
        return codes

    def _encode_multilabel(self, Y, first, classes):
        k = Y.shape[1]
        if first:
            labels = np.arange(k) if classes is None else np.unique(classes)
            if len(labels) != k:
                raise ValueError(f"classes has {len(labels)} labels but the multilabel y has {k} columns")
            self.classes_ = labels
        elif k != len(self.classes_):
            raise ValueError(f"y has {k} label columns but the network was trained for {len(self.classes_)}")
        return np.asarray(Y, dtype=np.float32 if Y.dtype == np.float32 else np.float64)

    def _network_targets(self, codes):
        return codes.T if self._multilabel else codes

    def _validation_data(self, X_val, codes_val, w_val=None):
        if self._multilabel:
            self._validation = (X_val, codes_val, w_val)  # scored by subset accuracy, as scikit-learn does
            return None
        if w_val is None:
            return self.network_.prepare(X_val.T, codes_val, names=("X_val", "y_val"))
        # A weighted accuracy, as scikit-learn scores the held-out samples with their weights.
        self._validation = (X_val, codes_val, w_val)
        return None

    def _validation_score(self, record):
        if "val_accuracy" in record:
            return record["val_accuracy"]
        X_val, codes_val, w_val = self._validation
        if self._multilabel:
            right = np.all((self.network_.predict_proba(X_val.T).T > 0.5) == (codes_val > 0.5), axis=1)
            return float(np.average(right, weights=w_val))
        answers = self.network_.predict(X_val.T).reshape(-1)
        return float(np.average(answers == codes_val, weights=w_val))

    def _loss(self, cost):
        return cost

    def _build(self, params, n_features, seed, data_dtype):
        if self._multilabel:
            # One logistic unit per label, as scikit-learn's.
            self._make_network(params, n_features, len(self.classes_), "sigmoid", seed, data_dtype)
            self.out_activation_ = "logistic"
            return
        n_outputs = 1 if len(self.classes_) == 2 else len(self.classes_)
        self._make_network(params, n_features, n_outputs, "sigmoid" if n_outputs == 1 else "softmax", seed,
                           data_dtype)
        self.out_activation_ = "logistic" if n_outputs == 1 else "softmax"

    def _split(self, codes, fraction, random_state):
        """Train/validation indices for early stopping: scikit-learn's ``train_test_split``, stratified
        for one output unit (two classes), as scikit-learn splits; without scikit-learn, stratified."""
        # Its binarized y: one column for two classes; none for more, nor for multilabel.
        stratify = (codes == 1).reshape(-1, 1) if len(self.classes_) == 2 and not self._multilabel else None
        return _train_test_indices(len(codes), fraction, random_state, stratify,
                                   None if self._multilabel else codes)


class MLPRegressor(*((_REGRESSOR_BASES[0], _MLP, _REGRESSOR_BASES[1]) if HAVE_SKLEARN else (_MLP, _FallbackBase))):  # type: ignore[misc]
    """Multi-layer perceptron regressor, trained by fastdnn's fused kernels.

    scikit-learn's ``MLPRegressor``: linear output units, the squared error,
    one output or several (a 2-D ``y``).  The parameters are
    :class:`MLPClassifier`'s, and so are
    the attributes, with ``out_activation_ = "identity"``; ``loss_`` is
    scikit-learn's, half the mean squared error over samples and outputs;
    ``early_stopping`` holds out ``validation_fraction`` of the data (not
    stratified) and scores it by :math:`R^2`, as scikit-learn does.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (100,)
    activation : {"relu", "tanh", "logistic", "identity", "leaky_relu"}, default "relu"
    loss : {"squared_error", "poisson"}, default "squared_error"
        ``"poisson"``: exponential output units and the Poisson deviance, for
        counts and rates (``y >= 0``), as scikit-learn's.
    solver : {"adam", "sgd", "lbfgs"}, default "adam"
    alpha : float, default 1e-4
    batch_size : int or "auto", default "auto"
    learning_rate : {"constant", "invscaling", "adaptive"}, default "constant"
    learning_rate_init : float, default 1e-3
    power_t : float, default 0.5
    max_iter : int, default 200
    shuffle : bool, default True
    random_state : int, RandomState or None, default None
    tol : float, default 1e-4
    verbose : bool, default False
    warm_start : bool, default False
    momentum : float, default 0.9
    nesterovs_momentum : bool, default True
    early_stopping : bool, default False
    validation_fraction : float, default 0.1
    beta_1 : float, default 0.9
    beta_2 : float, default 0.999
    epsilon : float, default 1e-8
    n_iter_no_change : int, default 10
    max_fun : int, default 15000
    dropout : float, default 0.0
    dtype : {None, np.float64, np.float32}, default None
    precision : {"float", "bf16", "auto"}, default "float"
        As :class:`MLPClassifier`'s.
    """

    _estimator_type = "regressor"  # the score of the base without scikit-learn: R^2

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, loss="squared_error", solver="adam",
                 alpha=1e-4, batch_size="auto", learning_rate="constant", learning_rate_init=1e-3, power_t=0.5,
                 max_iter=200, shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1, beta_1=0.9,
                 beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000, dropout=0.0, dtype=None,
                 precision="float"):
        super().__init__(hidden_layer_sizes, activation, solver=solver, alpha=alpha, batch_size=batch_size,
                         learning_rate=learning_rate, learning_rate_init=learning_rate_init, power_t=power_t,
                         max_iter=max_iter, shuffle=shuffle, random_state=random_state, tol=tol, verbose=verbose,
                         warm_start=warm_start, momentum=momentum, nesterovs_momentum=nesterovs_momentum,
                         early_stopping=early_stopping, validation_fraction=validation_fraction, beta_1=beta_1,
                         beta_2=beta_2, epsilon=epsilon, n_iter_no_change=n_iter_no_change, max_fun=max_fun,
                         dropout=dropout, dtype=dtype, precision=precision)
        self.loss = loss

    def fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """Train on ``(X, y)`` for up to ``max_iter`` epochs.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)
        y : array_like of shape (n_samples,) or (n_samples, n_outputs)
            Real targets.
        sample_weight : array_like of shape (n_samples,), optional
            A weight per sample, as scikit-learn's (see
            :meth:`MLPClassifier.fit`); the early-stopping :math:`R^2` is
            weighted too.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    @_StochasticOnly
    def partial_fit(self, X: ArrayLike, y: ArrayLike, sample_weight: ArrayLike | None = None) -> MLPRegressor:
        """One epoch over ``(X, y)``, continuing from the current network.

        Returns
        -------
        self
        """
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X: ArrayLike) -> np.ndarray:
        """Predicted values.

        Parameters
        ----------
        X : array_like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D for one output, as scikit-learn's.
        """
        self._check_fitted()
        rows = self._validate_X(X)
        values = self.network_.predict_proba(rows.T).T
        return values[:, 0] if self.n_outputs_ == 1 else values

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags

    def _validate_X_y(self, X, y, reset):
        if HAVE_SKLEARN:
            X, y = self._sklearn_data(X, y, reset=reset, multi_output=True, y_numeric=True)
        else:
            X = self._checked_X(X, reset)
            y = v.as_array("y", y)
            if y.ndim not in (1, 2) or len(y) != X.shape[0]:
                raise ValueError(f"y must have shape (n_samples,) or (n_samples, n_outputs) with n_samples = "
                                 f"{X.shape[0]}; got {y.shape}")
        v.check_finite("y", np.asarray(y, dtype=np.float64))
        if self._poisson and np.any(np.asarray(y) < 0):
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        return X, y

    def _encode(self, y, first, classes, warm=False):
        # Targets (n_samples, n_outputs) in the data's float type; the network reads their transpose.
        Y = np.asarray(y, dtype=np.float32 if y.dtype == np.float32 else np.float64)
        Y = Y.reshape(len(Y), -1)
        if first:
            self._n_targets = Y.shape[1]
        elif Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} output(s) but the network was trained for {self.n_outputs_}")
        return Y

    def _network_targets(self, Y):
        return Y.T

    def _validation_data(self, X_val, Y_val, w_val=None):
        self._validation = (X_val, Y_val, w_val)
        return None

    def _validation_score(self, record):
        X_val, Y_val, w_val = self._validation
        return r2_score(Y_val, self.network_.predict_proba(X_val.T).T, sample_weight=w_val)

    def _data_scale(self):
        # scikit-learn's squared error is a mean over the outputs too (its Poisson loss a sum over them).
        return 1.0 if self._poisson else 1.0 / self.n_outputs_

    def _loss(self, cost):
        # fastdnn's cost is the squared error summed over the outputs, halved, averaged over samples, plus
        # the L2 term alpha / (2 b) sum(W^2) of a batch of b; scikit-learn averages the data term over the
        # outputs too, not the L2 term (taken here at the epoch's last weights).
        penalty = 0.0
        if self.alpha:
            parameters = self.network_.parameters
            squares = sum(float(np.sum(parameters[f"W{l}"] ** 2)) for l in range(1, self.network_.n_layers + 1))
            penalty = 0.5 * self.alpha * squares / self._l2_count
        if self._poisson:
            return cost  # scikit-learn's Poisson loss sums over the outputs, as fastdnn's cost does
        return (cost - penalty) / self.n_outputs_ + penalty

    def _build(self, params, n_features, seed, data_dtype):
        # Glorot's variance, as scikit-learn's MLPRegressor starts: He's (2 / n_in) made the first layer of
        # make_friedman1's 10 inputs 2.4x larger and training slower (R^2 0.888 against 0.932 after 300 epochs).
        output = "poisson" if self._poisson else "linear"
        self._make_network(params, n_features, self._n_targets, output, seed, data_dtype, init="glorot")
        self.out_activation_ = "exp" if self._poisson else "identity"

    @property
    def _poisson(self):
        return v.choice("loss", self.loss, LOSSES) == "poisson"

    def _split(self, Y, fraction, random_state):
        """Random train/validation indices for early stopping, as scikit-learn's ``train_test_split``."""
        return _train_test_indices(len(Y), fraction, random_state)

