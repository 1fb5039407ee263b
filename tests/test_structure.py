"""The engine's boundaries, checked on the source: the routes, checkpoints, MPI, the estimators and the
command line reach the network through its public face and its ModelState, and no function hands back a
long positional tuple."""

import ast
import pathlib
import re

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "fastdnn"

# Modules that receive the model's state (or use the public Network) and must not read its privates.
OUTSIDE_THE_NETWORK = ["native_blocks.py", "distributed.py", "checkpoint.py", "estimator.py", "train_cli.py"]

# Tuples of more than four values that stay, and why.
LONG_TUPLES = {
    # The course's own signatures: its load_dataset / load_extra_datasets return five values.
    ("data.py", "load_catvnoncat"),
    ("reference.py", "load_catvnoncat"),
    ("planar.py", "load_extra_datasets"),
    # The newest course's Adam step returns (parameters, v, s, v_corrected, s_corrected).
    ("improving/optimization.py", "update_parameters_with_adam"),
    ("improving/reference.py", "update_parameters_with_adam"),
}


@pytest.mark.parametrize("name", OUTSIDE_THE_NETWORK)
def test_no_private_network_access(name):
    source = (PACKAGE / name).read_text()
    found = re.findall(r"\b(?:net|network|network_)\._\w+", source)
    assert not found, f"{name} reads the network's privates: {sorted(set(found))}"


def _long_returns():
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.Return) and isinstance(sub.value, ast.Tuple) and len(sub.value.elts) > 4:
                    yield str(path.relative_to(PACKAGE)), node.name, sub.lineno, len(sub.value.elts)


def test_no_function_returns_more_than_four_values():
    found = [hit for hit in _long_returns() if hit[:2] not in LONG_TUPLES]
    assert not found, f"functions returning tuples of more than four values (file, function, line, size): {found}"
    # The exemptions still exist (a stale entry would hide a new one of the same name).
    seen = {hit[:2] for hit in _long_returns()}
    assert LONG_TUPLES <= seen


# The step and predict paths ask the output registry (fastdnn.outputs), never the output's name.
REGISTRY_USERS = ["network.py", "passes.py", "distributed.py", "examples.py", "native_blocks.py", "state.py"]


@pytest.mark.parametrize("name", REGISTRY_USERS)
def test_no_output_if_chains(name):
    source = (PACKAGE / name).read_text()
    found = re.findall(r"\boutput\w*\s*[!=]=\s*[\"']\w+[\"']", source)
    found += re.findall(r"\belif\s+output_code\b", source)
    assert not found, f"{name} picks the output by name: {found}"


def test_no_kernel_takes_more_than_twelve_parameters():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and len(node.args.args) > 12 \
                    and any("njit" in ast.dump(decorator) for decorator in node.decorator_list):
                found.append((str(path.relative_to(PACKAGE)), node.name, len(node.args.args)))
    assert not found, f"@njit functions taking more than 12 parameters (group them into records): {found}"


def _code_lines(node):
    """Lines of a function, its docstring aside."""
    n = node.end_lineno - node.lineno + 1
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        n -= body[0].end_lineno - body[0].lineno + 1
    return n


def test_no_function_outside_the_kernels_is_longer_than_100_lines():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if "kernels" in path.relative_to(PACKAGE).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _code_lines(node) > 100:
                found.append((str(path.relative_to(PACKAGE)), node.name, _code_lines(node)))
    assert not found, f"functions longer than 100 lines, docstrings aside (split them): {found}"


def _strings_outside_docstrings(tree, skip=()):
    docstrings = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body \
                and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant):
            docstrings.add(id(node.body[0].value))
    skipped = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name in skip:
            skipped.update(id(sub) for sub in ast.walk(node))
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                and id(node) not in skipped:
            yield node.lineno, node.value


def test_the_network_keeps_no_route_specific_code():
    # Routes are the plan's and the executors' business (fastdnn.plan, fastdnn.executors): the network
    # asks the executor registry what an executor does, never which route it is.  (column_blocks maps
    # its older True/False onto strategy names.)
    from fastdnn.plan import ROUTES

    tree = ast.parse((PACKAGE / "network.py").read_text())
    found = [(line, text) for line, text in _strings_outside_docstrings(tree, skip={"column_blocks"})
             if text in ROUTES]
    assert not found, f"network.py names routes: {found}"
    names = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not names & {"native_blocks", "workers", "DualFirstLayer"}
