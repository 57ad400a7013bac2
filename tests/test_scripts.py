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


def test_every_script_answers_help_when_run_by_path_from_another_folder(tmp_path):
    """``python <checkout>/<folder>/<script>.py --help`` from an unrelated folder: usage on
    stdout, exit 0, without loading TensorFlow. One interpreter runs them all as Python runs
    a path (the script's folder first on ``sys.path``, ``__main__``)."""
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
        "    if 'tensorflow' in sys.modules:\n"
        "        failed.append(f'{path}: TensorFlow loaded for --help')\n"
        "        del sys.modules['tensorflow']\n"
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


# A bad value for each command, answered from the flags, the config or the file system.
BAD_INPUT = {
    "training/train_gqn_draw.py": ["--data_dir", "{tmp}/none"],
    "training/train_gen.py": ["--data_dir", "{tmp}/none"],
    "training/train_air.py": ["--n-epochs", "0", "--out", "{tmp}/air"],
    "training/train_fcr_alphagan.py": ["--max_iterations", "-1"],
    "evaluation/run.py": ["--mode", "evaluate_noise", "--checkpoint_dir", "{tmp}/none"],
    "evaluation/gqn_views.py": ["--model_dir", "{tmp}/none"],
    "evaluation/gen_views.py": ["--model_dir", "{tmp}/none"],
    "evaluation/gqn_baselines.py": ["--data_dir", "{tmp}/none"],
    "data_provider/render_dataset.py": ["--dataset", "mazes", "--root", "{tmp}/r",
                                        "--num_train", "-1"],
    "visualization/air_pictures.py": ["--run", "{tmp}/none", "--out", "{tmp}/p"],
    "benchmarks/gen_learning.py": ["--out", "{tmp}/g", "--num_train", "-1"],
}


def test_bad_input_is_answered_in_one_line_before_tensorflow_loads(tmp_path):
    """Each command refuses a bad value with exit 2 and one line on stderr, without waiting
    for TensorFlow's start-up (all run by path in one interpreter, as ``--help`` above)."""
    code = (
        "import runpy, sys, io, json, contextlib\n"
        "report = {}\n"
        "for path, *argv in json.loads(sys.argv[1]):\n"
        "    sys.argv, sys.path[0] = [path, *argv], path.rsplit('/', 1)[0]\n"
        "    err = io.StringIO()\n"
        "    try:\n"
        "        with contextlib.redirect_stderr(err):\n"
        "            runpy.run_path(path, run_name='__main__')\n"
        "        exit_code = 'no exit'\n"
        "    except SystemExit as e:\n"
        "        exit_code = e.code\n"
        "    report[path] = [exit_code, err.getvalue(), 'tensorflow' in sys.modules]\n"
        "print(json.dumps(report))\n")
    runs = [[str(ROOT / script)] + [a.format(tmp=tmp_path) for a in argv]
            for script, argv in BAD_INPUT.items()]
    done = subprocess.run([sys.executable, "-c", code, __import__("json").dumps(runs)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = __import__("json").loads(done.stdout.strip().splitlines()[-1])
    for path, (exit_code, err, tensorflow_loaded) in report.items():
        assert exit_code == 2, (path, err)
        assert len(err.strip().splitlines()) == 1, (path, err)
        assert not tensorflow_loaded, path
    assert list(tmp_path.iterdir()) == []                      # nothing written
