"""Imports flow one way, with no cycle: every top-level package has its place in one
order (``LAYERS``) and none of its modules imports a package above it, at module level,
inside a function, or by naming it in a string (``importlib``, a script run in a
subprocess). Packages outside the installed ones (tests, benchmarks, docs) are imported
by none of them.
"""
import ast
import itertools
import pathlib
import re
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Bottom to top: a package may import itself and those before it.
# data_provider: datasets and what every tool shares (cli, progress, --set, images);
# models: the networks, their configs and restore; evaluation: metrics and outputs of
# trained models; visualization: pictures of data and of evaluation outputs;
# training: the loop, one system and one CLI per model; apps: jobs over all of them.
LAYERS = ("data_provider", "models", "evaluation", "visualization", "training", "apps")
OUTSIDE = ("tests", "benchmarks", "docs")  # never imported by a package
RANK = {name: i for i, name in enumerate(LAYERS)}


def module_name(path):
    return ".".join(path.relative_to(ROOT).with_suffix("").parts)


def referenced_names(path):
    """(line, dotted name) of every module ``path`` imports or names in a string: absolute
    and relative imports anywhere in the file, ``"package.module"`` and
    ``"package/script.py"`` constants, and ``"package", "script.py"`` given to one call."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module_name(path).split(".")[:-1]
    dotted = re.compile(r"^[A-Za-z_]\w*((\.\w+)+|(/[\w/]+\.py))$")
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[:len(package) - node.level + 1]
                if node.module:
                    yield node.lineno, ".".join(base + [node.module])
                else:
                    for alias in node.names:
                        yield node.lineno, ".".join(base + [alias.name])
            else:
                yield node.lineno, node.module
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if dotted.match(node.value):
                yield node.lineno, node.value.replace("/", ".")
        elif isinstance(node, ast.Call):
            words = [a.value for a in node.args
                     if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            for word in words:
                if word in RANK and any(w.endswith(".py") for w in words):
                    yield node.lineno, word


def packages_found():
    """Top-level folders with an ``__init__.py``, and the packages pyproject.toml installs."""
    found = {p.parent.name for p in ROOT.glob("*/__init__.py")}
    with open(ROOT / "pyproject.toml", "rb") as f:
        include = tomllib.load(f)["tool"]["setuptools"]["packages"]["find"]["include"]
    return found | {pattern.rstrip("*") for pattern in include}


def test_every_package_has_a_place_in_the_order():
    assert packages_found() == set(LAYERS)
    assert not set(OUTSIDE) & set(LAYERS)


def references(importer):
    """{imported top-level name: ["file:line imports name", ...]} over ``importer``'s modules."""
    files = sorted((ROOT / importer).rglob("*.py"))
    assert files, importer
    found = {}
    for path in files:
        for line, name in referenced_names(path):
            top = name.split(".")[0]
            found.setdefault(top, []).append(f"{path.relative_to(ROOT)}:{line} {name}")
    return found


@pytest.fixture(scope="module")
def all_references():
    return {package: references(package) for package in LAYERS}


@pytest.mark.parametrize("importer, imported",
                         [pair for pair in itertools.permutations(LAYERS + OUTSIDE, 2)
                          if pair[0] in RANK])
def test_imports_go_down_only(all_references, importer, imported):
    wrong = all_references[importer].get(imported, [])
    if imported in RANK and RANK[imported] < RANK[importer]:
        return  # allowed: a layer below
    assert not wrong, f"{importer} may not import {imported}: " + "; ".join(wrong)


def test_the_walker_sees_every_kind_of_reference(tmp_path, monkeypatch):
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    (tmp_path / "training").mkdir()
    probe = tmp_path / "training" / "probe.py"
    probe.write_text(
        "import os.path\n"
        "from . import loop\n"
        "from .. import apps\n"
        "def f():\n"
        "    from evaluation import gqn_views\n"
        "    import visualization.voxviz\n"
        "    importlib.import_module('models.gqn')\n"
        "    subprocess.run([sys.executable, os.path.join(ROOT, 'apps', 'quickstart.py')])\n"
        "    subprocess.run([sys.executable, 'docs/picture_tools.py'])\n"
        "    print('a sentence naming evaluation/run.py is not a reference')\n")
    names = sorted(name for _, name in referenced_names(probe)
                   if name.split(".")[0] in RANK or name.split(".")[0] in OUTSIDE + ("os",))
    assert names == ["apps", "apps", "docs.picture_tools.py", "evaluation", "models.gqn",
                     "os.path", "training.loop", "visualization.voxviz"]
