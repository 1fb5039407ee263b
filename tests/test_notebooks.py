"""The course's notebooks run with only their import lines changed, and print what the course printed.

Each script of ``tests/notebooks`` is a notebook's code cells in order, its
imports pointed at fastdnn (see their README).  It runs in a fresh folder as
a student's notebook does, with the course's ``datasets`` folder beside it
(a link to the shared data) when it reads the cat images.
"""

import contextlib
import io
import re
import runpy
from pathlib import Path

import numpy as np
import pytest

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"


def _run(name, folder):
    out = io.StringIO()
    with contextlib.chdir(folder), contextlib.redirect_stdout(out):
        runpy.run_path(str(NOTEBOOKS / f"{name}.py"), run_name="__main__")
    return out.getvalue()


def _costs(text):
    """The runs' printed costs, in order: a list of {iteration: cost} per run (a run starts at iteration 0)."""
    runs = []
    for i, value in re.findall(r"^Cost after iteration (\d+): (\S+)$", text, flags=re.M):
        if int(i) == 0:
            runs.append({})
        runs[-1][int(i)] = float(value)
    return runs


@pytest.fixture
def notebook_folder(tmp_path, request):
    """A fresh folder; with the course's ``datasets`` link when the test asks for the data."""
    if "data_dir" in request.fixturenames:
        (tmp_path / "datasets").symlink_to(request.getfixturevalue("data_dir"))
    return tmp_path


def test_week2_logistic_regression(data_dir, notebook_folder, monkeypatch):
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    text = _run("week2_logistic_regression", notebook_folder)
    for line in ["Number of training examples: m_train = 209", "dw = [[0.99845601]\n [2.39507239]]",
                 "db = 0.001455578136784208", "cost = 5.801545319394553", "w = [[0.19033591]\n [0.12259159]]",
                 "b = 1.9253598300845747", "predictions = [[1. 1. 0.]]", "Cost after iteration 1900: 0.140872",
                 "train accuracy: 99.04306220095694 %", "test accuracy: 70.0 %"]:
        assert line in text


def test_week3_planar(notebook_folder):
    text = _run("week3_planar", notebook_folder)
    for line in ["The shape of X is: (2, 400)", "The size of the hidden layer is: n_h = 4",
                 "A2 = [[0.21292656 0.21274673 0.21295976]]", "cost = 0.6930587610394646", "db2 = [[-0.16655712]]",
                 "W2 = [[-0.01041081 -0.04463285  0.01758031  0.04747113]]", "Accuracy: 90%"]:
        assert line in text
    test_case, flower = _costs(text)
    assert test_case[9000] == 0.000023 and flower[0] == 0.693048 and flower[1000] == 0.288083
    assert flower[2000] == 0.254385


def test_week4_step_by_step(notebook_folder):
    text = _run("week4_step_by_step", notebook_folder)
    for line in ["W1 = [[ 0.01624345 -0.00611756 -0.00528172]", "W2 = [[ 0.01744812 -0.00761207]]",
                 "W1 = [[ 0.01788628  0.0043651   0.00096497 -0.01863493 -0.00277388]",
                 "Z = [[ 3.26295337 -1.23429987]]", "With sigmoid: A = [[0.96890023 0.11013289]]",
                 "With ReLU: A = [[3.43896131 0.        ]]", "AL = [[0.03921668 0.70498921 0.19734387 0.04728177]]",
                 "Cost: 0.2797765635793422", "With sigmoid: dW = [[ 0.10266786  0.09778551 -0.01968084]]",
                 "With relu: db = [[-0.20837892]]", "dW1 = [[0.41010002 0.07807203 0.13798444 0.10502167]",
                 "dA1 = [[ 0.12913162 -0.44014127]", "b2 = [[-0.84610769]]"]:
        assert line in text


# The course's printed costs of the application's two runs (2500 iterations, the newest notebook).
TWO_LAYER = {0: 0.6930497356599888, 100: 0.6464320953428849, 200: 0.6325140647912677, 300: 0.6015024920354665,
             400: 0.5601966311605747, 500: 0.5158304772764729, 1000: 0.3394281538366411, 2000: 0.07439078704319078,
             2499: 0.04421498215868956}
L_LAYER = {0: 0.7717493284237686, 2499: 0.088439943441702}


def test_week4_application(data_dir, notebook_folder, monkeypatch):
    pytest.importorskip("matplotlib", reason="the notebook draws its mislabeled images with pyplot")
    monkeypatch.delenv("FASTDNN_DATA", raising=False)
    text = _run("week4_application", notebook_folder)
    two_layer, l_layer = _costs(text)
    assert sorted(two_layer) == list(range(0, 2500, 100)) + [2499]
    for i, cost in TWO_LAYER.items():
        assert two_layer[i] == pytest.approx(cost, rel=1e-12)
    for i, cost in L_LAYER.items():
        assert l_layer[i] == pytest.approx(cost, rel=1e-12)
    accuracies = re.findall(r"^Accuracy: (\S+)$", text, flags=re.M)
    assert [float(a) for a in accuracies] == pytest.approx([1.0, 0.72, 0.9856459330143539, 0.8], rel=1e-12)
    assert np.isclose(float(accuracies[2]), 206 / 209)
