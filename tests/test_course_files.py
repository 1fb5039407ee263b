"""fastdnn.helpers: the course's helper files, one module each, give the course's printed values."""

import warnings

import numpy as np
import pytest

from fastdnn import planar
from fastdnn.helpers import application, dnn_app_utils_v3, step_by_step, testCases_v2, testCases_v3

# The notebooks print 8 significant digits.
PRINTED = 1e-7


def _close(actual, printed):
    np.testing.assert_allclose(actual, printed, rtol=PRINTED, atol=1e-8)


# ---------------------------------------------------------------- week 4, step by step


def test_step_by_step_forward_cases_print_the_courses_values():
    s = step_by_step
    A, W, b = s.linear_forward_test_case()
    _close(s.linear_forward(A, W, b)[0], [[3.26295337, -1.23429987]])
    A_prev, W, b = s.linear_activation_forward_test_case()
    _close(s.linear_activation_forward(A_prev, W, b, "sigmoid")[0], [[0.96890023, 0.11013289]])
    _close(s.linear_activation_forward(A_prev, W, b, "relu")[0], [[3.43896131, 0.]])
    X, parameters = s.L_model_forward_test_case_2hidden()
    AL, caches = s.L_model_forward(X, parameters)
    _close(AL, [[0.03921668, 0.70498921, 0.19734387, 0.04728177]])
    assert len(caches) == 3
    X, parameters = s.L_model_forward_test_case()
    _close(s.L_model_forward(X, parameters)[0], [[0.17007265, 0.2524272]])


def test_step_by_step_cost_is_a_0d_array_of_the_courses_value():
    Y, AL = step_by_step.compute_cost_test_case()
    cost = step_by_step.compute_cost(AL, Y)
    assert isinstance(cost, np.ndarray) and cost.shape == ()
    assert float(cost) == pytest.approx(0.2797765635793422, rel=1e-14)
    assert str(cost) == "0.2797765635793422"  # the printed digits: the course's order of rounding
    Y, AL = testCases_v3.compute_cost_test_case()
    assert str(step_by_step.compute_cost(AL, Y)) == "0.41493159961539694"


def test_step_by_step_backward_cases_print_the_courses_values(capsys):
    s = step_by_step
    dZ, cache = s.linear_backward_test_case()
    dA_prev, dW, db = s.linear_backward(dZ, cache)
    _close(dA_prev[0], [-1.15171336, 0.06718465, -0.3204696, 2.09812712])
    _close(dW[0], [0.07313866, -0.0976715, -0.87585828, 0.73763362, 0.00785716])
    _close(db, [[-0.14713786], [-0.11313155], [-0.13209101]])
    dZ, cache = testCases_v3.linear_backward_test_case()
    dA_prev, dW, db = s.linear_backward(dZ, cache)
    _close(dA_prev, [[0.51822968, -0.19517421], [-0.40506361, 0.15255393], [2.37496825, -0.89445391]])
    _close(dW, [[-0.10076895, 1.40685096, 1.64992505]])
    _close(db, [[0.50629448]])
    dA, cache = s.linear_activation_backward_test_case()
    dA_prev, dW, db = s.linear_activation_backward(dA, cache, "sigmoid")
    _close(dA_prev, [[0.11017994, 0.01105339], [0.09466817, 0.00949723], [-0.05743092, -0.00576154]])
    _close(dW, [[0.10266786, 0.09778551, -0.01968084]])
    _close(db, [[-0.05729622]])
    dA_prev, dW, db = s.linear_activation_backward(dA, cache, "relu")
    _close(dA_prev, [[0.44090989, 0.], [0.37883606, 0.], [-0.2298228, 0.]])
    _close(dW, [[0.44513824, 0.37371418, -0.10478989]])
    _close(db, [[-0.20837892]])
    AL, Y, caches = s.L_model_backward_test_case()
    grads = s.L_model_backward(AL, Y, caches)
    s.print_grads(grads)
    out = capsys.readouterr().out
    assert out.startswith("dW1 = [[0.41010002 0.07807203 0.13798444 0.10502167]\n")
    assert "db1 = [[-0.22007063]" in out and "dA1 = [[ 0.12913162 -0.44014127]" in out
    _close(grads["dA0"], [[0., 0.52257901], [0., -0.3269206], [0., -0.32070404], [0., -0.74079187]])
    _close(grads["dW2"], [[-0.39202432, -0.13325855, -0.04601089]])
    _close(grads["db2"], [[0.15187861]])
    parameters, grads = s.update_parameters_test_case()
    new = s.update_parameters(parameters, grads, 0.1)
    _close(new["W1"][0], [-0.59562069, -0.09991781, -2.14584584, 1.82662008])
    _close(new["b1"], [[-0.04659241], [-1.28888275], [0.53405496]])
    _close(new["W2"], [[-0.55569196, 0.0354055, 1.32964895]])
    _close(new["b2"], [[-0.84610769]])


def test_each_notebook_initializes_as_it_does():
    s = step_by_step
    p = s.initialize_parameters(3, 2, 1)
    _close(p["W1"], [[0.01624345, -0.00611756, -0.00528172], [-0.01072969, 0.00865408, -0.02301539]])
    _close(p["W2"], [[0.01744812, -0.00761207]])
    deep = s.initialize_parameters_deep([5, 4, 3])  # the step-by-step notebook's: seed 3, * 0.01
    _close(deep["W1"][0], [0.01788628, 0.0043651, 0.00096497, -0.01863493, -0.00277388])
    _close(deep["W2"][2], [-0.00768836, -0.00230031, 0.00745056, 0.01976111])
    assert s.initialise_parameters_deep is s.initialize_parameters_deep  # some versions' spelling
    app = dnn_app_utils_v3.initialize_parameters_deep([5, 4, 3])  # the application's: seed 1, / sqrt(n)
    _close(app["W1"][0], [0.72642933, -0.27358579, -0.23620559, -0.47984616, 0.38702206])
    _close(app["W2"][0], [-0.55030959, 0.57236185, 0.45079536, 0.25124717])


# ---------------------------------------------------------------- week 4, the application


def test_application_models_pass_the_courses_public_checks():
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.random.randn(1, 10)
    with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
        parameters, costs = application.two_layer_model(X, Y, (10, 4, 1), 0.0075, 2)
    assert len(costs) == 1 and isinstance(costs[0], np.ndarray)
    _close(costs[0], 0.69315968)
    _close(parameters["b2"], [[-0.00689018]])
    with pytest.warns(RuntimeWarning):
        parameters, _ = application.two_layer_model(X, Y, (10, 4, 1), 0.1, 3)
    _close(parameters["b2"], [[-0.13451354]])
    np.random.seed(1)
    X = np.random.randn(10, 10)
    Y = np.array([[1, 1, 1, 1, 0, 0, 0, 1, 1, 0]])
    parameters, costs = application.L_layer_model(X, Y, (10, 5, 6, 1), 0.0075, 2)
    _close(costs, [0.70723944])
    _close(parameters["b3"], [[0.0013201]])
    parameters, costs = application.L_layer_model(X, Y, (10, 5, 6, 1), 0.02, 3)
    _close(parameters["b3"], [[0.00525865]])
    parameters, costs = application.L_layer_model(X, Y, (10, 5, 6, 1), 0.02, 250)
    assert len(costs) == 3  # iterations 0, 100, 200: the course's list


def test_predict_returns_floats_and_prints_the_courses_line(capsys):
    np.random.seed(1)
    X = np.random.randn(4, 5)
    parameters = dnn_app_utils_v3.initialize_parameters_deep([4, 3, 1])
    y = np.array([[1, 0, 1, 0, 1]])
    p = dnn_app_utils_v3.predict(X, y, parameters)
    assert p.dtype == np.float64 and set(np.unique(p)) <= {0.0, 1.0}
    assert capsys.readouterr().out.startswith("Accuracy: ")


def test_load_data_reads_the_courses_folder_or_fastdnn_data(data_dir, tmp_path, monkeypatch):
    cat_data_dir = data_dir
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(FileNotFoundError, match="FASTDNN_DATA"):
        dnn_app_utils_v3.load_data()
    (tmp_path / "datasets").symlink_to(cat_data_dir)
    train_x, train_y, test_x, test_y, classes = dnn_app_utils_v3.load_data()
    assert train_x.shape == (209, 64, 64, 3) and train_y.shape == (1, 209) and test_y.shape == (1, 50)
    monkeypatch.chdir(cat_data_dir.parent)
    monkeypatch.setenv("FASTDNN_DATA", str(cat_data_dir))
    from fastdnn.helpers import lr_utils

    assert lr_utils.load_dataset()[4].tolist() == classes.tolist()


def test_print_mislabeled_images_draws_into_the_current_figure():
    plt = pytest.importorskip("matplotlib.pyplot")
    rng = np.random.default_rng(0)
    X = rng.random((64 * 64 * 3, 6))
    y = np.array([[1, 0, 1, 1, 0, 0]])
    p = np.array([[1., 1., 0., 1., 0., 1.]])
    fig = plt.figure()
    try:
        dnn_app_utils_v3.print_mislabeled_images(np.array([b"non-cat", b"cat"]), X, y, p)
        assert len(fig.axes) == 3
        assert fig.axes[0].get_title() == "Prediction: cat \n Class: non-cat"
    finally:
        plt.close(fig)
        plt.rcdefaults()


# ---------------------------------------------------------------- week 3


def test_planar_cases_print_the_courses_values(capsys):
    X, Y = testCases_v2.layer_sizes_test_case()
    assert planar.layer_sizes(X, Y) == (5, 4, 2)
    X, parameters = testCases_v2.forward_propagation_test_case()
    A2, cache = planar.forward_propagation(X, parameters)
    _close(A2, [[0.21292656, 0.21274673, 0.21295976]])
    assert np.mean(cache["Z2"]) == pytest.approx(-1.3076660128732143, rel=1e-12)
    A2, Y = testCases_v2.compute_cost_test_case()
    assert planar.compute_cost(A2, Y) == pytest.approx(0.6930587610394646, rel=1e-14)
    A2, Y, parameters = testCases_v2.compute_cost_test_case()  # the older notebook's three values
    assert planar.compute_cost(A2, Y, parameters) == pytest.approx(0.6930587610394646, rel=1e-14)
    parameters, cache, X, Y = testCases_v2.backward_propagation_test_case()
    grads = planar.backward_propagation(parameters, cache, X, Y)
    _close(grads["dW1"], [[0.00301023, -0.00747267], [0.00257968, -0.00641288], [-0.00156892, 0.003893],
                          [-0.00652037, 0.01618243]])
    _close(grads["db2"], [[-0.16655712]])
    parameters, grads = testCases_v2.update_parameters_test_case()
    _close(planar.update_parameters(parameters, grads)["W2"], [[-0.01041081, -0.04463285, 0.01758031, 0.04747113]])
    parameters, X = testCases_v2.predict_test_case()
    assert np.array_equal(planar.predict(parameters, X), [[True, False, True]])  # the public test's check
    X, Y = testCases_v2.nn_model_test_case()
    np.random.seed(3)
    trained = planar.nn_model(X, Y, 4, num_iterations=10000, print_cost=True)
    assert capsys.readouterr().out.splitlines()[:2] == ["Cost after iteration 0: 0.692739",
                                                        "Cost after iteration 1000: 0.000218"]
    _close(trained["W1"][0], [-0.65848169, 1.21866811])
    _close(trained["b2"], [[0.20459656]])


def test_planar_utils_draws_into_the_current_axes():
    plt = pytest.importorskip("matplotlib.pyplot")
    from fastdnn.helpers import planar_utils

    X, Y = planar_utils.load_planar_dataset()
    assert planar_utils.sigmoid(0.0) == 0.5
    figures = plt.get_fignums()
    fig = plt.figure(figsize=(4, 8))
    try:
        for i in range(2):
            plt.subplot(2, 1, i + 1)
            planar_utils.plot_decision_boundary(lambda x: (x[:, 0] > i).astype(int), X, Y)
        assert len(fig.axes) == 2 and all(ax.collections for ax in fig.axes)
        assert plt.get_fignums() == figures + [fig.number]
    finally:
        plt.close(fig)


def test_a_cost_that_met_log_of_zero_warns_as_numpy_does():
    from fastdnn import compute_cost, logistic
    from fastdnn.improving import initialization

    w, b = np.array([[100.], [100.]]), 0.
    X, Y = np.array([[1., 2., -1.], [3., 4., -3.2]]), np.array([[1, 0, 1]])
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in log"):
        _, cost = logistic.propagate(w, b, X, Y)  # a diverged week-2 run: the course's cost is inf
    assert cost == np.inf
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in log"):
        assert compute_cost(np.array([[0.0, 0.5]]), np.array([[1, 0]])) == np.inf
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in log"):
        assert planar.compute_cost(np.array([[1.0, 0.5]]), np.array([[0, 0]])) == np.inf
    with pytest.warns(RuntimeWarning, match="divide by zero encountered in log"):
        assert initialization.compute_loss(np.array([[0.0]]), np.array([[1]])) == np.inf


def test_the_log_warning_follows_numpys_error_settings_and_large_costs_stay_vectorised():
    from fastdnn import compute_cost
    from fastdnn.kernels import loss

    AL, Y = np.array([[0.0, 0.5]]), np.array([[1, 0]])
    with np.errstate(divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert compute_cost(AL, Y) == np.inf
    with np.errstate(divide="raise"), pytest.raises(FloatingPointError, match="divide by zero"):
        compute_cost(AL, Y)
    with pytest.warns(RuntimeWarning, match="divide by zero"):  # -inf: labels beyond 1 where a is 1
        with pytest.warns(RuntimeWarning, match="other than 0 and 1"):
            assert compute_cost(np.array([[1.0, 0.5]]), np.array([[2, 0]])) == -np.inf
    # The course's rounding up to the test cases' sizes; the vector kernel beyond (4x faster).
    rng = np.random.default_rng(0)
    big = rng.random((10, 100))
    labels = (rng.random((10, 100)) < 0.5).astype(float)
    exact, fast = np.empty(1), np.empty(1)
    loss.binary_cross_entropy_exact(big, labels, exact)
    loss.binary_cross_entropy(big, labels, fast)
    assert fast[0] == pytest.approx(exact[0], rel=1e-13)
    assert float(compute_cost(big, labels)) == fast[0]
