"""One home for each fact: voxel classes, the label check, progress lines, the command-line
layer."""
import ast
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest

from data_provider import cli, voxel_classes

ROOT = pathlib.Path(__file__).resolve().parents[1]
LAYERS = ("data_provider", "evaluation", "visualization")
# Every command-line tool: built on data_provider/cli.py (module, program name).
TOOLS = [("data_provider.render_dataset", "render_dataset.py"),
         ("data_provider.render_voxel_scenes", "render_voxel_scenes.py"),
         ("data_provider.sscnet_to_voxels", "sscnet_to_voxels.py"),
         ("data_provider.download_gqn", "download_gqn.py"),
         ("evaluation.run", "run.py"),
         ("evaluation.gqn_views", "gqn_views.py"),
         ("training.train_gqn_draw", "train_gqn_draw.py"),
         ("training.train_fcr_alphagan", "train_fcr_alphagan.py"),
         ("visualization.voxviz", "voxviz.py"),
         ("visualization.montage", "montage.py"),
         ("visualization.animate", "animate.py")]


def sources():
    for layer in LAYERS:
        for path in sorted((ROOT / layer).glob("*.py")):
            yield path, ast.parse(path.read_text(), str(path))


def test_class_names_and_count_are_defined_once():
    defined = []
    for path, tree in sources():
        for node in ast.walk(tree):
            targets = node.targets if isinstance(node, ast.Assign) else \
                [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("NUM_CLASSES", "CLASS_NAMES"):
                    defined.append(f"{path.relative_to(ROOT)}:{target.id}")
    assert defined == ["data_provider/voxel_classes.py:NUM_CLASSES",
                       "data_provider/voxel_classes.py:CLASS_NAMES"]
    assert voxel_classes.NUM_CLASSES == len(voxel_classes.CLASS_NAMES) == 12
    from evaluation import metrics
    from visualization import voxel_scene
    assert metrics.ROW_NAMES == voxel_classes.CLASS_NAMES + ("all",)
    assert voxel_scene.NUM_CLASSES is voxel_classes.NUM_CLASSES


def test_label_check_one_rule_everywhere(tmp_path):
    """Data loading, metrics and the viewer reject label 12 with the same words."""
    from data_provider import voxel_provider
    from evaluation import metrics
    from visualization.voxel_scene import VoxelInputError, scene_points
    bad = np.zeros((4, 4, 4), np.uint8)
    bad[1, 2, 3] = 12
    np.save(tmp_path / "s.npy", bad)
    expected = r"labels outside 0..11 \(found min 0, max 12\)"
    with pytest.raises(voxel_provider.VoxelFileError, match=expected):
        voxel_provider.load_scene(tmp_path / "s.npy", (4, 4, 4))
    with pytest.raises(ValueError, match=expected):
        metrics.iou_rows(bad[None], np.zeros((1, 4, 4, 4), np.uint8))
    with pytest.raises(VoxelInputError, match=r"labels outside 0..11 \(found min 12, max 12\)"):
        scene_points(bad)


def test_check_labels():
    check = voxel_classes.check_labels
    volume = np.arange(12, dtype=np.uint8)
    assert check(volume) is volume  # no copy of good integer labels
    np.testing.assert_array_equal(check(np.array([0.0, 3.0, 11.0])), [0, 3, 11])
    for value, message in (([0.5], "non-integer"), ([np.nan], "nan or inf"), ([-1], "min -1"),
                           (["a"], "dtype <U1")):
        with pytest.raises(ValueError, match=message):
            check(np.array(value))
    with pytest.raises(KeyError, match="x: labels outside 0..2"):
        check(np.array([3]), "x", num_classes=3, error=KeyError)
    assert voxel_classes.label_range() == "0..11"


def test_voxel_classes_and_the_viewer_do_not_import_tensorflow():
    code = ("import sys; import data_provider.voxel_classes, visualization.voxviz, "
            "visualization.montage, visualization.animate; "
            "print('tensorflow' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert (run.returncode, run.stdout.strip()) == (0, "False"), run.stderr


def test_progress_lines_have_one_home():
    """No module prints its own rate or ETA: data_provider/progress.py formats them."""
    found = []
    for path, tree in sources():
        if path.name == "progress.py":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.name == "Progress":
                found.append(f"{path.name}: class Progress")
            if isinstance(node, ast.JoinedStr) and re.search(
                    r"\bETA\b|/s\b", "".join(v.value for v in node.values
                                             if isinstance(v, ast.Constant))):
                found.append(f"{path.name}:{node.lineno}")
    assert found == []


@pytest.mark.parametrize("module, prog", TOOLS)
def test_tools_share_the_parser_and_show_defaults(module, prog, capsys):
    import importlib
    tool = importlib.import_module(module)
    parser = tool.build_parser()
    assert isinstance(parser, cli.ArgumentParser) and parser.prog == prog
    text = " ".join(parser.format_help().split())
    for action in parser._actions:
        if action.option_strings and action.dest != "help":
            assert action.help, (prog, action.dest)
            assert f"(default: {action.default})" in text, (prog, action.dest)
    with pytest.raises(SystemExit) as stop:
        tool.main(["--no-such-flag"])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and err.count("\n") == 1 and err.startswith(f"{prog}: error: ")


def test_input_errors_are_usage_errors(capsys):
    from data_provider.sscnet_to_voxels import SSCNetFileError
    from data_provider.voxel_provider import VoxelFileError
    from evaluation.alphagan_eval import EvaluationError
    from visualization.voxel_scene import VoxelInputError
    for error in (VoxelFileError, VoxelInputError, EvaluationError, SSCNetFileError):
        assert issubclass(error, cli.UsageError) and issubclass(error, ValueError)

        def fail(_, error=error):
            raise error("f.npy: shape (2,), expected (80, 48, 80)")

        assert cli.run_main("tool", fail, None) == 2
        assert capsys.readouterr().err == "tool: error: f.npy: shape (2,), expected (80, 48, 80)\n"


def test_dead_code_is_gone():
    from data_provider import gqn_tfr_provider, voxel_provider
    from evaluation import metrics
    assert not hasattr(gqn_tfr_provider, "TaskData")
    assert not hasattr(voxel_provider, "check_header")
    assert not hasattr(metrics, "ap_rows")
    assert not (ROOT / "evaluation" / "metrics_reference.py").exists()
    assert (ROOT / "tests" / "metrics_reference.py").is_file()


def test_no_merge_conflict_markers_left_in_the_repository():
    markers = re.compile(r"^(<<<<<<< |=======$|>>>>>>> )", re.MULTILINE)
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True)
    if tracked.returncode:
        pytest.skip("not a git checkout")
    found = []
    for name in tracked.stdout.split():
        path = ROOT / name
        if path.suffix in (".py", ".md", ".sh", ".txt", ".toml", ".cfg", ".yml", ".yaml") \
                and path.is_file():
            text = path.read_text(errors="replace")
            found += [f"{name}:{text[:m.start()].count(chr(10)) + 1}"
                      for m in markers.finditer(text)]
    assert not found, f"merge conflict markers: {found}"
