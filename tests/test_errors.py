"""Bad input gets a clear ValueError or TypeError, never a Numba traceback.

Each case names the argument and, where shapes are at stake, the shapes;
``pytest.raises(..., match=...)`` checks the message.  Every error is also
checked not to be (or come through) a Numba error.
"""

import re
import traceback

import numpy as np
import pytest
from numba.core.errors import NumbaError

import fastdnn as dnn


def assert_not_numba(excinfo):
    exc = excinfo.value
    assert not isinstance(exc, NumbaError), f"a Numba error reached the user: {exc!r}"
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    assert "numba" not in text.lower().replace("fastdnn", ""), f"the traceback goes through Numba:\n{text}"
    assert "typingerror" not in text.lower() and "no implementation of function" not in text.lower()


def raises(exc_type, match, fn, *also):
    """``fn()`` raises ``exc_type`` whose message matches ``match`` and every pattern of ``also``."""
    with pytest.raises(exc_type, match=match) as excinfo:
        fn()
    assert_not_numba(excinfo)
    for pattern in also:
        assert re.search(pattern, str(excinfo.value)), f"{pattern!r} not in {str(excinfo.value)!r}"
    return excinfo


# ---------------------------------------------------------------- valid inputs to break

def params2():
    return {"W1": np.ones((2, 3)), "b1": np.zeros((2, 1)), "W2": np.ones((1, 2)), "b2": np.zeros((1, 1))}


def grads2():
    return {"d" + k: np.ones_like(a) for k, a in params2().items()}


def layer_cache(n_prev=3, n=2, m=4):
    return ((np.ones((n_prev, m)), np.ones((n, n_prev)), np.zeros((n, 1))), np.ones((n, m)))


def caches2(m=3):
    """Caches of a [3, 2, 1] network on m examples."""
    return [layer_cache(3, 2, m), layer_cache(2, 1, m)]


A = np.ones((3, 4))
W = np.ones((2, 3))
b = np.zeros((2, 1))
HALF = np.full((1, 3), 0.5)
LABELS = np.array([[0, 1, 1]])

# Plain shape/dtype/value cases: (id, exception, message pattern, call, extra patterns)
CASES = [
    # mismatched W / A
    ("linear_forward W does not fit A", ValueError, r"W of shape \(2, 3\) does not fit A of shape \(4, 4\)",
     lambda: dnn.linear_forward(np.ones((4, 4)), W, b), []),
    ("linear_activation_forward W does not fit A_prev", ValueError,
     r"W of shape \(2, 3\) does not fit A_prev of shape \(5, 4\)",
     lambda: dnn.linear_activation_forward(np.ones((5, 4)), W, b, "relu"), []),
    ("L_model_forward W1 does not fit X", ValueError, r"W1 of shape \(2, 3\) does not fit X of shape \(4, 5\)",
     lambda: dnn.L_model_forward(np.ones((4, 5)), params2()), []),
    ("L_model_forward W2 does not fit W1", ValueError, r"W2 of shape \(1, 3\) does not fit W1 of shape \(2, 3\)",
     lambda: dnn.L_model_forward(np.ones((3, 5)), dict(params2(), W2=np.ones((1, 3)))), []),
    # b of the wrong shape
    ("linear_forward b too long", ValueError, r"b must have shape \(2, 1\).*got \(3, 1\)",
     lambda: dnn.linear_forward(A, W, np.zeros((3, 1))), []),
    ("linear_forward b as a row", ValueError, r"b must have shape \(2, 1\).*got \(1, 2\)",
     lambda: dnn.linear_forward(A, W, np.zeros((1, 2))), []),
    ("linear_forward b 1-D", ValueError, r"b must be a 2-D array.*\(2,\)",
     lambda: dnn.linear_forward(A, W, np.zeros(2)), []),
    ("L_model_forward b1 wrong", ValueError, r"b1 must have shape \(2, 1\).*got \(3, 1\)",
     lambda: dnn.L_model_forward(np.ones((3, 5)), dict(params2(), b1=np.zeros((3, 1)))), []),
    ("update_parameters dW1 wrong", ValueError, r"dW1 must have shape \(2, 3\).*got \(3, 2\)",
     lambda: dnn.update_parameters(params2(), dict(grads2(), dW1=np.ones((3, 2))), 0.1), []),
    # labels: the course's formulas take any finite value (warned about: tests/test_course_fast.py); not NaN or inf
    ("compute_cost Y = NaN", ValueError, r"Y must hold finite values",
     lambda: dnn.compute_cost(HALF, [[0, 1, np.nan]]), []),
    ("L_model_backward Y = inf", ValueError, r"Y must hold finite values",
     lambda: dnn.L_model_backward(HALF, [[0, np.inf, 1]], caches2()), []),
    ("L_layer_model Y = NaN", ValueError, r"Y.*(finite|NaN)",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.array([[0, 1, np.nan, 1, 0]]), [3, 1], num_iterations=1), []),
    ("compute_cost Y shape", ValueError, r"Y of shape \(1, 2\) does not match AL of shape \(1, 3\)",
     lambda: dnn.compute_cost(HALF, [[0, 1]]), []),
    ("L_layer_model Y shape", ValueError, r"Y must have shape \(1, 5\).*got \(2, 5\)",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((2, 5)), [3, 1], num_iterations=1), []),
    # NaN or inf in X
    ("L_model_forward NaN in X", ValueError, r"X contains 1 non-finite value.*\(1, 2\)",
     lambda: dnn.L_model_forward(np.where(np.arange(15).reshape(3, 5) == 7, np.nan, 1.0), params2()), []),
    ("L_model_forward inf in X", ValueError, r"X contains .*non-finite.*inf",
     lambda: dnn.L_model_forward(np.full((3, 5), -np.inf), params2()), []),
    ("linear_forward NaN in A", ValueError, r"A contains .*non-finite", lambda: dnn.linear_forward(
        np.full((3, 4), np.nan), W, b), []),
    ("linear_forward inf in W", ValueError, r"W contains .*non-finite", lambda: dnn.linear_forward(
        A, np.full((2, 3), np.inf), b), []),
    ("L_model_forward NaN in W2", ValueError, r"W2 contains .*non-finite",
     lambda: dnn.L_model_forward(np.ones((3, 5)), dict(params2(), W2=np.full((1, 2), np.nan))), []),
    ("L_layer_model NaN in X", ValueError, r"X contains .*non-finite",
     lambda: dnn.L_layer_model(np.full((3, 5), np.nan), np.ones((1, 5)), [3, 1], num_iterations=1), []),
    ("two_layer_model inf in X", ValueError, r"X contains .*non-finite",
     lambda: dnn.two_layer_model(np.full((3, 5), np.inf), np.ones((1, 5)), (3, 2, 1), num_iterations=1), []),
    ("predict NaN in X", ValueError, r"X contains .*non-finite",
     lambda: dnn.predict(np.full((3, 5), np.nan), np.ones((1, 5)), params2(), verbose=False), []),
    ("softmax NaN", ValueError, r"x contains .*non-finite", lambda: dnn.softmax([[np.nan, 1.0]]), []),
    ("update_parameters NaN in W1", ValueError, r"W1 contains .*non-finite",
     lambda: dnn.update_parameters(dict(params2(), W1=np.full((2, 3), np.nan)), grads2(), 0.1), []),
    ("update_parameters inf in db2", ValueError, r"db2 contains .*non-finite",
     lambda: dnn.update_parameters(params2(), dict(grads2(), db2=np.full((1, 1), np.inf)), 0.1), []),
    ("L_model_backward NaN in a cache's Z", ValueError, r"Z of layer 2 contains .*non-finite",
     lambda: dnn.L_model_backward(HALF, LABELS, [layer_cache(3, 2, 3), (layer_cache(2, 1, 3)[0],
                                                                          np.full((1, 3), np.nan))]), []),
    # a missing W{l} / b{l}
    ("L_model_forward missing W2", ValueError, r"parameters is missing 'W2'",
     lambda: dnn.L_model_forward(np.ones((3, 5)), {k: a for k, a in params2().items() if k != "W2"}), []),
    ("L_model_forward missing b2", ValueError, r"parameters is missing 'b2'",
     lambda: dnn.L_model_forward(np.ones((3, 5)), {k: a for k, a in params2().items() if k != "b2"}), []),
    ("L_model_forward missing W1", ValueError, r"parameters is missing 'W1'",
     lambda: dnn.L_model_forward(np.ones((3, 5)), {k: a for k, a in params2().items() if k != "W1"}), []),
    ("L_model_forward missing b1", ValueError, r"parameters is missing 'b1'",
     lambda: dnn.L_model_forward(np.ones((3, 5)), {k: a for k, a in params2().items() if k != "b1"}), []),
    ("L_model_forward no layers", ValueError, r"parameters must hold at least 'W1' and 'b1'",
     lambda: dnn.L_model_forward(np.ones((3, 5)), {}), []),
    ("update_parameters missing W2", ValueError, r"parameters is missing 'W2'",
     lambda: dnn.update_parameters({k: a for k, a in params2().items() if k != "W2"}, grads2(), 0.1), []),
    ("update_parameters missing db1", ValueError, r"grads is missing 'db1'",
     lambda: dnn.update_parameters(params2(), {k: a for k, a in grads2().items() if k != "db1"}, 0.1), []),
    ("predict missing b2", ValueError, r"parameters is missing 'b2'",
     lambda: dnn.predict(np.ones((3, 5)), np.ones((1, 5)), {k: a for k, a in params2().items() if k != "b2"}), []),
    # unknown activation
    ("linear_activation_forward softmax", ValueError, r"activation must be one of 'relu', 'sigmoid', 'tanh'; got "
     r"'softmax'", lambda: dnn.linear_activation_forward(A, W, b, "softmax"), []),
    ("linear_activation_forward None", ValueError, r"activation must be one of 'relu', 'sigmoid', 'tanh'; got None",
     lambda: dnn.linear_activation_forward(A, W, b, None), []),
    ("linear_activation_forward RELU", ValueError, r"activation must be one of .*got 'RELU'",
     lambda: dnn.linear_activation_forward(A, W, b, "RELU"), []),
    ("linear_activation_backward lrelu", ValueError, r"activation must be one of 'relu', 'sigmoid', 'tanh'; got "
     r"'lrelu'", lambda: dnn.linear_activation_backward(np.ones((2, 4)), layer_cache(), "lrelu"), []),
    ("initialize_parameters_deep init", ValueError, r"init must be one of 'scaled', 'small', 'he', 'xavier', "
     r"'glorot'; got 'lecun'", lambda: dnn.initialize_parameters_deep([3, 2], init="lecun"), []),
    # wrong rank
    ("linear_forward A 1-D", ValueError, r"A must be a 2-D array.*\(3,\)", lambda: dnn.linear_forward(
        np.ones(3), W, b), []),
    ("linear_forward A 3-D", ValueError, r"A must be a 2-D array.*\(3, 4, 1\)",
     lambda: dnn.linear_forward(np.ones((3, 4, 1)), W, b), []),
    ("linear_forward W 1-D", ValueError, r"W must be a 2-D array.*\(3,\)", lambda: dnn.linear_forward(
        A, np.ones(3), b), []),
    ("L_model_forward X 1-D", ValueError, r"X must be a 2-D array.*\(3,\)",
     lambda: dnn.L_model_forward(np.ones(3), params2()), []),
    ("L_model_forward W1 3-D", ValueError, r"W1 must be a 2-D array.*\(2, 3, 1\)",
     lambda: dnn.L_model_forward(np.ones((3, 5)), dict(params2(), W1=np.ones((2, 3, 1)))), []),
    ("compute_cost AL 1-D", ValueError, r"AL must be a 2-D array.*\(3,\)",
     lambda: dnn.compute_cost(np.full(3, 0.5), [0, 1, 1]), []),
    ("linear_backward dZ 1-D", ValueError, r"dZ must be a 2-D array.*\(4,\)",
     lambda: dnn.linear_backward(np.ones(4), layer_cache()[0]), []),
    ("normalize_rows 1-D", ValueError, r"x must be a 2-D array.*\(3,\)", lambda: dnn.normalize_rows(np.ones(3)), []),
    ("softmax 3-D", ValueError, r"x must be a 1-D or 2-D array.*\(2, 2, 2\)",
     lambda: dnn.softmax(np.ones((2, 2, 2))), []),
    ("L_layer_model Y 1-D", ValueError, r"Y must be a 2-D array.*\(5,\)",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones(5), [3, 1], num_iterations=1), []),
    # object / complex / string dtypes
    ("linear_forward object A", TypeError, r"A must have a real numeric dtype.*object",
     lambda: dnn.linear_forward(A.astype(object), W, b), []),
    ("linear_forward complex W", TypeError, r"W must have a real numeric dtype.*complex128",
     lambda: dnn.linear_forward(A, W.astype(complex), b), []),
    ("linear_forward string b", TypeError, r"b must have a real numeric dtype.*<U",
     lambda: dnn.linear_forward(A, W, b.astype(str)), []),
    ("sigmoid string", TypeError, r"Z must have a real numeric dtype", lambda: dnn.sigmoid(np.array(["a", "b"])), []),
    ("relu object", TypeError, r"Z must have a real numeric dtype.*object",
     lambda: dnn.relu(np.array([1.0, None], dtype=object)), []),
    ("tanh_backward complex cache", TypeError, r"cache must have a real numeric dtype.*complex",
     lambda: dnn.tanh_backward(np.ones((2, 2)), np.ones((2, 2)) * 1j), []),
    ("L_model_forward complex W2", TypeError, r"W2 must have a real numeric dtype.*complex",
     lambda: dnn.L_model_forward(np.ones((3, 5)), dict(params2(), W2=np.ones((1, 2)) + 0j)), []),
    ("L_model_forward string X", TypeError, r"X must have a real numeric dtype",
     lambda: dnn.L_model_forward(np.ones((3, 5)).astype(str), params2()), []),
    ("compute_cost complex AL", TypeError, r"AL must have a real numeric dtype.*complex",
     lambda: dnn.compute_cost(HALF + 0j, LABELS), []),
    ("compute_cost object Y", TypeError, r"Y must have a real numeric dtype.*object",
     lambda: dnn.compute_cost(HALF, np.array([[0, 1, None]], dtype=object)), []),
    ("L_model_backward complex Z", TypeError, r"Z of layer 1 must have a real numeric dtype.*complex",
     lambda: dnn.L_model_backward(HALF, LABELS, [(layer_cache(2, 1, 3)[0], np.zeros((1, 3)) * 1j)]), []),
    ("ragged list", TypeError, r"A must be a numeric array", lambda: dnn.linear_forward([[1.0, 2.0], [3.0]], W, b),
     []),
    ("None as A", TypeError, r"A must be an array, got None", lambda: dnn.linear_forward(None, W, b), []),
    # non-dict parameters / grads
    ("L_model_forward list parameters", TypeError, r"parameters must be a dict.*got list",
     lambda: dnn.L_model_forward(np.ones((3, 5)), list(params2().values())), []),
    ("L_model_forward None parameters", TypeError, r"parameters must be a dict.*got NoneType",
     lambda: dnn.L_model_forward(np.ones((3, 5)), None), []),
    ("update_parameters tuple parameters", TypeError, r"parameters must be a dict.*got tuple",
     lambda: dnn.update_parameters(tuple(params2().items()), grads2(), 0.1), []),
    ("update_parameters list grads", TypeError, r"grads must be a dict.*got list",
     lambda: dnn.update_parameters(params2(), list(grads2().values()), 0.1), []),
    ("predict array parameters", TypeError, r"parameters must be a dict",
     lambda: dnn.predict(np.ones((3, 5)), np.ones((1, 5)), np.ones(4)), []),
    # negative or bool num_iterations
    ("L_layer_model num_iterations -1", ValueError, r"num_iterations must be a non-negative integer, got -1",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [3, 1], num_iterations=-1), []),
    ("L_layer_model num_iterations True", TypeError, r"num_iterations must be a non-negative integer, got True",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [3, 1], num_iterations=True), []),
    ("L_layer_model num_iterations 2.5", TypeError, r"num_iterations must be a non-negative integer, got 2\.5",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [3, 1], num_iterations=2.5), []),
    ("two_layer_model num_iterations -5", ValueError, r"num_iterations must be a non-negative integer, got -5",
     lambda: dnn.two_layer_model(np.ones((3, 5)), np.ones((1, 5)), (3, 2, 1), num_iterations=-5), []),
    ("two_layer_model num_iterations False", TypeError, r"num_iterations must be a non-negative integer, got False",
     lambda: dnn.two_layer_model(np.ones((3, 5)), np.ones((1, 5)), (3, 2, 1), num_iterations=False), []),
    # AL outside [0, 1]
    ("compute_cost AL > 1", ValueError, r"AL must hold probabilities in \[0, 1\].*1\.2",
     lambda: dnn.compute_cost([[0.5, 1.2, 0.3]], LABELS), []),
    ("compute_cost AL < 0", ValueError, r"AL must hold probabilities in \[0, 1\].*-0\.1",
     lambda: dnn.compute_cost([[-0.1, 0.5, 0.3]], LABELS), []),
    ("compute_cost AL NaN", ValueError, r"AL contains .*non-finite", lambda: dnn.compute_cost(
        [[np.nan, 0.5, 0.3]], LABELS), []),
    # (AL > 1 is not an error there: the course's own test case draws AL from randn.)
    ("L_model_backward AL NaN", ValueError, r"AL contains .*non-finite",
     lambda: dnn.L_model_backward(np.array([[0.5, np.nan, 0.5]]), LABELS, caches2()), []),
    ("L_model_backward AL exactly 1", ValueError, r"AL holds values of exactly 0 or 1",
     lambda: dnn.L_model_backward(np.array([[0.5, 1.0, 0.5]]), LABELS, caches2()), []),
    # other argument checks
    ("learning_rate bool", TypeError, r"learning_rate must be a real number, got True",
     lambda: dnn.update_parameters(params2(), grads2(), True), []),
    ("learning_rate string", TypeError, r"learning_rate must be a real number, got '0\.1'",
     lambda: dnn.update_parameters(params2(), grads2(), "0.1"), []),
    ("learning_rate NaN", ValueError, r"learning_rate must be finite, got nan",
     lambda: dnn.update_parameters(params2(), grads2(), float("nan")), []),
    ("L_layer_model learning_rate inf", ValueError, r"learning_rate must be finite",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [3, 1], learning_rate=np.inf, num_iterations=1),
     []),
    ("layers_dims does not match X", ValueError, r"layers_dims\[0\] = 4 does not match the 3 rows of X",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [4, 1], num_iterations=1), []),
    ("layers_dims with a zero", ValueError, r"layers_dims\[1\] must be a positive integer, got 0",
     lambda: dnn.L_layer_model(np.ones((3, 5)), np.ones((1, 5)), [3, 0, 1], num_iterations=1), []),
    ("two_layer_model layers_dims int", TypeError, r"layers_dims must be a sequence of positive integers, got 3",
     lambda: dnn.two_layer_model(np.ones((3, 5)), np.ones((1, 5)), 3, num_iterations=1), []),
    ("two_layer_model 4 layers", ValueError, r"layers_dims must be \(n_x, n_h, n_y\), got \(3, 2, 2, 1\)",
     lambda: dnn.two_layer_model(np.ones((3, 5)), np.ones((1, 5)), (3, 2, 2, 1), num_iterations=1), []),
    ("initialize_parameters n_h negative", ValueError, r"n_h must be a positive integer, got -2",
     lambda: dnn.initialize_parameters(3, -2, 1), []),
    ("initialize_parameters n_x float", TypeError, r"n_x must be a positive integer, got 3\.0",
     lambda: dnn.initialize_parameters(3.0, 2, 1), []),
    ("initialize_parameters_deep float size", TypeError, r"layer_dims\[1\] must be a positive integer, got 2\.0",
     lambda: dnn.initialize_parameters_deep([3, 2.0]), []),
    ("initialize_parameters_deep one layer", ValueError, r"layer_dims must list at least 2 layer sizes",
     lambda: dnn.initialize_parameters_deep([3]), []),
    ("initialize_parameters_deep negative seed", ValueError, r"seed must be a non-negative integer, got -1",
     lambda: dnn.initialize_parameters_deep([3, 2], seed=-1), []),
    ("sigmoid_backward shapes", ValueError, r"dA and cache \(Z\) must have the same shape, got dA \(2, 3\) and Z "
     r"\(3, 2\)", lambda: dnn.sigmoid_backward(np.ones((2, 3)), np.ones((3, 2))), []),
    ("linear_backward dZ shape", ValueError, r"dZ must have shape \(2, 4\).*got \(2, 5\)",
     lambda: dnn.linear_backward(np.ones((2, 5)), layer_cache()[0]), []),
    ("linear_backward no examples", ValueError, r"A_prev of shape \(3, 0\) has no examples",
     lambda: dnn.linear_backward(np.ones((2, 0)), (np.ones((3, 0)), W, b)), []),
    ("linear_activation_backward Z shape", ValueError, r"Z \(in cache\) must have shape \(2, 4\).*got \(2, 5\)",
     lambda: dnn.linear_activation_backward(np.ones((2, 4)), (layer_cache()[0], np.ones((2, 5))), "relu"), []),
    ("linear_activation_backward W does not fit A_prev", ValueError,
     r"W of shape \(2, 5\) does not fit A_prev of shape \(3, 4\)",
     lambda: dnn.linear_activation_backward(np.ones((2, 4)), ((A, np.ones((2, 5)), b), np.ones((2, 4))), "relu"),
     []),
    ("L_model_backward W2 of a cache does not fit", ValueError, r"W2 of shape \(1, 5\) does not fit A_prev of shape "
     r"\(2, 3\)", lambda: dnn.L_model_backward(HALF, LABELS, [layer_cache(3, 2, 3), ((np.ones((2, 3)),
                                                                                    np.ones((1, 5)), np.zeros((1, 1))),
                                                                                   np.ones((1, 3)))]), []),
    ("L_model_backward Z of the output layer", ValueError, r"Z of layer 2 must have shape \(1, 3\).*got \(1, 4\)",
     lambda: dnn.L_model_backward(HALF, LABELS, [layer_cache(3, 2, 3), (layer_cache(2, 1, 3)[0],
                                                                      np.ones((1, 4)))]), []),
    # cache structures
    ("linear_backward 2-tuple cache", TypeError, r"linear cache must be a tuple \(A_prev, W, b\), got a tuple of "
     r"length 2", lambda: dnn.linear_backward(np.ones((2, 4)), (A, W)), []),
    ("linear_activation_backward flat cache", TypeError, r"cache must be a tuple \(\(A_prev, W, b\), Z\).*length 3",
     lambda: dnn.linear_activation_backward(np.ones((2, 4)), layer_cache()[0], "relu"), []),
    ("L_model_backward caches not a list", TypeError, r"caches must be the non-empty list",
     lambda: dnn.L_model_backward(HALF, LABELS, "caches"), []),
    ("L_model_backward empty caches", TypeError, r"caches must be the non-empty list",
     lambda: dnn.L_model_backward(HALF, LABELS, []), []),
    ("L_model_backward a cache is an int", TypeError, r"caches\[0\] must be a tuple \(\(A_prev, W, b\), Z\)",
     lambda: dnn.L_model_backward(HALF, LABELS, [5, layer_cache(2, 1, 3)]), []),
    ("predict y size", ValueError, r"y of shape \(1, 4\) does not match the 5 examples of X",
     lambda: dnn.predict(np.ones((3, 5)), np.ones((1, 4)), params2(), verbose=False), []),
]


@pytest.mark.parametrize("exc_type, match, call, also", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_gets_a_clear_error(exc_type, match, call, also):
    raises(exc_type, match, call, *also)


# ---------------------------------------------------------------- a sweep over every argument

GARBAGE = {
    "None": None,
    "text": "not an array",
    "object array": np.array([[1.0, None]], dtype=object),
    "complex array": np.ones((2, 2)) * 1j,
    "dict": {"a": 1},
}


def valid_calls():
    """Each public function with valid arguments (positional), as (name, function, args)."""
    X = np.ones((3, 5))
    Y = np.array([[0, 1, 1, 0, 1]])
    return [
        ("sigmoid", dnn.sigmoid, [np.ones((2, 3))]),
        ("relu", dnn.relu, [np.ones((2, 3))]),
        ("tanh", dnn.tanh, [np.ones((2, 3))]),
        ("sigmoid_backward", dnn.sigmoid_backward, [np.ones((2, 3)), np.ones((2, 3))]),
        ("relu_backward", dnn.relu_backward, [np.ones((2, 3)), np.ones((2, 3))]),
        ("tanh_backward", dnn.tanh_backward, [np.ones((2, 3)), np.ones((2, 3))]),
        ("softmax", dnn.softmax, [np.ones((2, 3))]),
        ("normalize_rows", dnn.normalize_rows, [np.ones((2, 3))]),
        ("initialize_parameters", dnn.initialize_parameters, [3, 2, 1]),
        ("initialize_parameters_deep", dnn.initialize_parameters_deep, [[3, 2, 1], "scaled"]),
        ("linear_forward", dnn.linear_forward, [A, W, b]),
        ("linear_activation_forward", dnn.linear_activation_forward, [A, W, b, "relu"]),
        ("L_model_forward", dnn.L_model_forward, [X, params2()]),
        ("compute_cost", dnn.compute_cost, [HALF, LABELS]),
        ("linear_backward", dnn.linear_backward, [np.ones((2, 4)), layer_cache()[0]]),
        ("linear_activation_backward", dnn.linear_activation_backward, [np.ones((2, 4)), layer_cache(), "sigmoid"]),
        ("L_model_backward", dnn.L_model_backward, [HALF, LABELS, caches2()]),
        ("update_parameters", dnn.update_parameters, [params2(), grads2(), 0.1]),
        ("predict", lambda *a: dnn.predict(*a, verbose=False), [X, Y, params2()]),
        ("two_layer_model", dnn.two_layer_model, [X, Y, (3, 2, 1), 0.01, 2]),
        ("L_layer_model", dnn.L_layer_model, [X, Y, [3, 2, 1], 0.01, 2]),
    ]


SWEEP = []
for _name, _fn, _args in valid_calls():
    for _i in range(len(_args)):
        for _g in GARBAGE:
            SWEEP.append(pytest.param(_name, _i, _g, id=f"{_name}-arg{_i}-{_g}"))


@pytest.mark.parametrize("name, position, garbage", SWEEP)
def test_garbage_in_any_argument_gets_a_clear_error(name, position, garbage):
    calls = {n: (fn, args) for n, fn, args in valid_calls()}
    fn, args = calls[name]
    fn(*args)  # the valid call works
    args = list(args)
    args[position] = GARBAGE[garbage]
    with pytest.raises((ValueError, TypeError)) as excinfo:
        fn(*args)
    assert_not_numba(excinfo)
    assert len(str(excinfo.value)) > 15, "an error message should explain itself"


def test_garbage_inside_containers_gets_a_clear_error():
    X = np.ones((3, 5))
    for key in params2():
        for garbage in GARBAGE.values():
            p = dict(params2(), **{key: garbage})
            with pytest.raises((ValueError, TypeError), match=key) as excinfo:
                dnn.L_model_forward(X, p)
            assert_not_numba(excinfo)
    # A_prev and W of a cache; its b is never read by the course's backward pass (nor by fastdnn's).
    for slot in range(2):
        for garbage in GARBAGE.values():
            linear = list(layer_cache(2, 1, 3)[0])
            linear[slot] = garbage
            with pytest.raises((ValueError, TypeError)) as excinfo:
                dnn.L_model_backward(HALF, LABELS, [layer_cache(3, 2, 3), (tuple(linear), np.ones((1, 3)))])
            assert_not_numba(excinfo)


# ---------------------------------------------------------------- what is *not* an error


@pytest.mark.parametrize("dtype", [np.uint8, np.int16, np.int64, np.bool_])
def test_integer_and_boolean_inputs_are_computed_in_float64(dtype):
    Z = np.array([[0, 1], [1, 0]], dtype=dtype)
    for fn in (dnn.sigmoid, dnn.relu, dnn.tanh):
        A, _ = fn(Z)
        assert A.dtype == np.float64, fn.__name__
    assert dnn.relu_backward(Z, Z).dtype == np.float64
    assert dnn.softmax(Z).dtype == np.float64
    AL, _ = dnn.L_model_forward(np.ones((3, 2), dtype=dtype), params2())
    assert AL.dtype == np.float64


def test_uint8_images_with_float32_parameters_stay_float32():
    """As NumPy promotes: uint8 fits float32 exactly, so float32 parameters decide."""
    p32 = {k: a.astype(np.float32) for k, a in params2().items()}
    AL, _ = dnn.L_model_forward(np.ones((3, 2), dtype=np.uint8), p32)
    assert AL.dtype == np.float32


def test_readonly_big_endian_and_broadcast_inputs_work():
    X = np.ones((3, 5))
    X.flags.writeable = False
    AL, caches = dnn.L_model_forward(X, params2())
    dnn.L_model_backward(AL, np.broadcast_to(np.array([[1]]), (1, 5)), caches)
    AL_be, _ = dnn.L_model_forward(X.astype(">f8"), {k: a.astype(">f8") for k, a in params2().items()})
    np.testing.assert_array_equal(AL_be, AL)
    Z, _ = dnn.linear_forward(np.broadcast_to(np.arange(3.0)[:, None], (3, 4)), W, b)
    np.testing.assert_array_equal(Z, np.full((2, 4), 3.0))
