"""Imports flow one way: data_provider and models at the bottom, training above them,
evaluation and visualization on top."""
import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
BELOW = {  # package -> packages it must not import
    "data_provider": {"models", "training", "evaluation", "visualization"},
    "models": {"training", "evaluation", "visualization"},
    "training": {"evaluation", "visualization"},
}


def imported_packages(path):
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module.split(".")[0]


def test_no_module_imports_a_layer_above_it():
    wrong = []
    for package, forbidden in BELOW.items():
        files = sorted((ROOT / package).rglob("*.py"))
        assert files, package
        for path in files:
            wrong += [f"{path.relative_to(ROOT)} imports {name}"
                      for name in set(imported_packages(path)) & forbidden]
    assert not wrong, wrong


def test_the_walker_sees_imports_inside_functions(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from evaluation import gqn_views\n    import visualization.voxviz\n")
    assert set(imported_packages(probe)) == {"evaluation", "visualization"}
