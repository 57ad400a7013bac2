"""Scripts run by their path from any folder, with no ``sys.path`` manipulation: the
project is installed (``pip install -e .``), so ``python training/train_gqn_draw.py``
imports the packages as they are."""
import ast
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
FOLDERS = ("data_provider", "models", "training", "evaluation", "visualization", "apps",
           "benchmarks", "docs")


def python_files():
    return sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))


def scripts():
    """Modules with a ``__main__`` block in the installed packages and docs/."""
    found = []
    for path in python_files():
        in_benchmarks = path.parts[len(ROOT.parts)] == "benchmarks"
        if not in_benchmarks and '__name__ == "__main__"' in path.read_text():
            found.append(path)
    return found


def touches_sys_path(path):
    """Lines of ``path`` that change ``sys.path`` (``insert``, ``append``, assignment)."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        target = None
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func.value
        elif isinstance(node, (ast.Assign, ast.AugAssign)):
            target = node.targets[0] if isinstance(node, ast.Assign) else node.target
        if (isinstance(target, ast.Attribute) and target.attr == "path"
                and isinstance(target.value, ast.Name) and target.value.id == "sys"):
            lines.append(node.lineno)
    return sorted(lines)


def test_no_module_changes_sys_path():
    wrong = {str(p.relative_to(ROOT)): lines for p in python_files()
             if (lines := touches_sys_path(p))}
    assert not wrong


def test_the_sys_path_walker_sees_each_form(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import sys\nsys.path.insert(0, 'a')\nsys.path.append('b')\n"
                     "sys.path = ['c']\nsys.path += ['d']\nprint(sys.path)\n")
    assert touches_sys_path(probe) == [2, 3, 4, 5]


def test_every_script_is_found():
    names = {str(p.relative_to(ROOT)) for p in scripts()}
    assert {"apps/quickstart.py", "training/train_gqn_draw.py", "evaluation/run.py",
            "visualization/voxviz.py", "data_provider/render_dataset.py",
            "docs/picture_tools.py"} <= names


@pytest.mark.slow
def test_every_script_answers_help_when_run_by_path_from_another_folder(tmp_path):
    """``python <checkout>/<folder>/<script>.py --help`` from an unrelated folder: usage on
    stdout, exit 0. One interpreter runs them all as Python runs a path (the script's
    folder first on ``sys.path``, ``__main__``), so TensorFlow is imported once."""
    code = (
        "import runpy, sys, io, contextlib\n"
        "failed = []\n"
        "for path in sys.argv[1:]:\n"
        "    sys.argv, sys.path[0] = [path, '--help'], path.rsplit('/', 1)[0]\n"
        "    out = io.StringIO()\n"
        "    try:\n"
        "        with contextlib.redirect_stdout(out):\n"
        "            runpy.run_path(path, run_name='__main__')\n"
        "        failed.append(f'{path}: no exit')\n"
        "    except SystemExit as e:\n"
        "        if e.code not in (0, None) or 'usage:' not in out.getvalue():\n"
        "            failed.append(f'{path}: exit {e.code}')\n"
        "    except Exception as e:\n"
        "        failed.append(f'{path}: {e!r}')\n"
        "print('\\n'.join(failed) or 'all answered')\n")
    paths = [str(p) for p in scripts()]
    done = subprocess.run([sys.executable, "-c", code, *paths], cwd=tmp_path,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "all answered", done.stdout


@pytest.mark.slow
def test_a_trainer_runs_by_path_in_its_own_interpreter(tmp_path):
    """The real thing once: a fresh interpreter started on the script's path."""
    done = subprocess.run([sys.executable, str(ROOT / "training" / "train_gqn_draw.py"),
                           "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith("usage: train_gqn_draw.py")
