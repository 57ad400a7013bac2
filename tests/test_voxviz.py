"""Voxel viewer: scene points against numpy references, offscreen pictures, CLI and bad input."""
import os
import subprocess
import sys

import numpy as np
import pytest

from visualization import render_process, vtk_env
from visualization.voxel_render import camera_for
from visualization.voxel_scene import (
    PALETTE,
    PALETTE_UINT8,
    VoxelInputError,
    as_scenes,
    downsample,
    largest_component,
    scene_points,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def exit_code(main, argv):
    """Exit code of a command's ``main`` (returned, or raised by the argument parser)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.fixture(scope="module")
def offscreen():
    """Offscreen VTK rendering is possible (OSMesa present)."""
    if not vtk_env.osmesa_available():
        pytest.skip("libOSMesa not found: install libosmesa6 for offscreen VTK rendering")
    vtk_env.configure(offscreen=True)


def three_class_scene():
    """16x8x16 labels: a class-1 slab, a class-2 block and a class-8 block."""
    scene = np.zeros((16, 8, 16), np.int64)
    scene[:, 0:2, :] = 1
    scene[2:7, 2:6, 2:7] = 2
    scene[9:14, 2:6, 9:14] = 8
    return scene


def nearest_palette_class(pixels):
    """Class whose palette colour has the closest chromaticity to each pixel."""
    unit = lambda v: v / np.linalg.norm(v, axis=-1, keepdims=True).clip(1e-6)  # noqa: E731
    return np.argmax(unit(pixels.astype(float)) @ unit(PALETTE).T, axis=1)


# ---------------------------------------------------------------- environment

def test_offscreen_choice_follows_display_and_flag():
    assert vtk_env.needs_offscreen(False, {}) is True
    assert vtk_env.needs_offscreen(False, {"DISPLAY": ":0"}) is False
    assert vtk_env.needs_offscreen(False, {"WAYLAND_DISPLAY": "wayland-0"}) is False
    assert vtk_env.needs_offscreen(True, {"DISPLAY": ":0"}) is True
    env = {"DISPLAY": ":0"}
    assert vtk_env.configure(False, env) is False and vtk_env.ENV_VAR not in env


def test_configure_without_osmesa(monkeypatch):
    monkeypatch.setattr(vtk_env, "osmesa_available", lambda: False)
    with pytest.raises(RuntimeError, match="libosmesa6"):
        vtk_env.configure(False, {})
    env = {"DISPLAY": ":0"}
    assert vtk_env.configure(True, env) is False and vtk_env.ENV_VAR not in env


def test_configure_selects_osmesa_without_display(offscreen):
    env = {}
    assert vtk_env.configure(False, env) is True
    assert env[vtk_env.ENV_VAR] == "vtkOSOpenGLRenderWindow"


def test_tensorflow_decides_where_pictures_are_drawn(monkeypatch):
    assert vtk_env.tensorflow_loaded({}) is False
    assert vtk_env.tensorflow_loaded({"tensorflow": object()}) is True
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    assert render_process.use_child() is True and render_process.use_child(False) is False
    monkeypatch.delitem(sys.modules, "tensorflow")
    assert render_process.use_child() is False and render_process.use_child(True) is True


def test_in_process_osmesa_refused_next_to_tensorflow(offscreen, monkeypatch):
    from visualization.voxel_render import VoxelRenderer
    monkeypatch.setitem(sys.modules, "tensorflow", sys.modules.get("tensorflow", object()))
    with pytest.raises(RuntimeError, match="TensorFlow"):
        VoxelRenderer(32)


# ---------------------------------------------------------------- scene points

def test_scene_points_match_original_loop():
    rng = np.random.default_rng(0)
    scene = rng.integers(0, 12, (6, 5, 4))
    centers, colors, grid = scene_points(scene)
    expected = {}
    for i in range(6):
        for j in range(5):
            for k in range(4):
                if scene[i, j, k] >= 0.1:  # the original skips values below the threshold
                    expected[(j + 0.5, i + 0.5, k + 0.5)] = tuple(PALETTE_UINT8[scene[i, j, k]])
    got = {tuple(c): tuple(col) for c, col in zip(centers.tolist(), colors.tolist())}
    assert got == expected and grid == (6, 5, 4)


def test_threshold_on_values():
    scene = np.array([[[0.05, 0.1, 0.5, 1.0]]])
    centers, colors, _ = scene_points(scene, threshold=0.1)
    assert centers[:, 2].tolist() == [1.5, 2.5, 3.5]
    assert colors.tolist() == [PALETTE_UINT8[0].tolist()] * 2 + [PALETTE_UINT8[1].tolist()]


def test_probability_volume_uses_argmax_and_confidence():
    probs = np.zeros((2, 1, 2, 12), np.float32)
    probs[0, 0, 0, 3] = 0.9          # class 3, shown
    probs[0, 0, 0, 0] = 0.1
    probs[0, 0, 1, 0] = 1.0          # empty
    probs[1, 0, 0, 5] = 0.05         # class 5 below threshold
    probs[1, 0, 1, 7] = 1.0          # class 7
    scenes, has_classes = as_scenes(probs[None])
    assert has_classes and scenes.shape == (1, 2, 1, 2, 12)
    centers, colors, _ = scene_points(scenes[0], has_classes=True)
    assert centers.tolist() == [[0.5, 0.5, 0.5], [0.5, 1.5, 1.5]]
    assert colors.tolist() == [PALETTE_UINT8[3].tolist(), PALETTE_UINT8[7].tolist()]


def test_as_scenes_ranks():
    assert as_scenes(np.zeros((4, 5, 6)))[0].shape == (1, 4, 5, 6)
    scenes, has = as_scenes(np.zeros((3, 4, 5, 6), np.int64))
    assert scenes.shape == (3, 4, 5, 6) and not has
    scenes, has = as_scenes(np.zeros((4, 5, 6, 12), np.float32))
    assert scenes.shape == (1, 4, 5, 6, 12) and has
    scenes, has = as_scenes(np.zeros((2, 4, 5, 6, 1)))
    assert scenes.shape == (2, 4, 5, 6) and not has
    with pytest.raises(VoxelInputError, match="rank"):
        as_scenes(np.zeros((4, 5)))
    with pytest.raises(VoxelInputError, match="no class axis"):
        as_scenes(np.zeros((2, 5, 3, 5, 16)))  # latent codes, not a scene


@pytest.mark.parametrize("method", ["max", "mean"])
def test_downsample_against_block_loop(method):
    rng = np.random.default_rng(1)
    scene = rng.integers(0, 12, (8, 4, 6)).astype(float)
    got = downsample(scene, 2, method)
    pool = np.max if method == "max" else np.mean
    ref = np.array([[[pool(scene[2 * a:2 * a + 2, 2 * b:2 * b + 2, 2 * c:2 * c + 2])
                      for c in range(3)] for b in range(2)] for a in range(4)])
    np.testing.assert_allclose(got, ref)
    with pytest.raises(VoxelInputError, match="does not divide"):
        downsample(scene, 4)


def test_largest_component():
    points = np.array([[0, 0, 0], [0, 0, 1], [0, 0, 2], [5, 5, 5], [5, 5, 7]])
    assert largest_component(points, 1).tolist() == [True, True, True, False, False]
    assert largest_component(points, 2).sum() == 3
    scene = np.zeros((8, 8, 8), int)
    scene[0, 0, :3] = 1
    scene[6, 6, 6] = 2
    centers, _, _ = scene_points(scene, max_component=1)
    assert len(centers) == 3


def test_colormap_and_bad_labels():
    scene = np.array([[[0.2, 1.0]]])
    _, colors, _ = scene_points(scene, colormap=True)
    assert colors[1, 0] > colors[1, 2] and colors[0, 2] > colors[0, 0]  # high = red, low = blue
    with pytest.raises(VoxelInputError, match=r"labels outside 0..11 \(found min 20, max 20\); "
                                              r"class labels are 0..11 \(12 classes\)"):
        scene_points(np.full((2, 2, 2), 20))
    with pytest.raises(VoxelInputError, match="outside 0..11 .found min 12"):
        scene_points(np.full((2, 2, 2), 12))  # the palette's 13th colour is no class


def test_original_camera_for_full_scenes():
    position, focal, up = camera_for((80, 48, 80), "original")
    assert focal == (40, 24, 40) and up == (1, 0, 0)
    np.testing.assert_allclose(position,
                               [400 * np.cos(0.4 * np.pi), 336 * np.sin(0.4 * np.pi), 120])


def projected_box(grid, view):
    """Picture coordinates (-1..1) of the 8 corners of the grid's box, by an independent pinhole."""
    position, focal, up = (np.array(v, float) for v in camera_for(grid, view))
    forward = (focal - position) / np.linalg.norm(focal - position)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    true_up = np.cross(right, forward)
    x, y, z = grid
    corners = np.array([[a, b, c] for a in (0, y) for b in (0, x) for c in (0, z)],
                       float) - position
    depth = corners @ forward
    tan = np.tan(np.radians(30) / 2)
    return np.stack([corners @ right, corners @ true_up], 1) / (depth[:, None] * tan)


@pytest.mark.parametrize("grid", [(16, 16, 16), (32, 16, 32), (80, 48, 80), (8, 4, 8)])
@pytest.mark.parametrize("view", ["iso", "top", "front"])
def test_fitted_cameras_centre_the_grid_and_fill_the_frame(grid, view):
    xy = projected_box(grid, view)
    low, high = xy.min(0), xy.max(0)
    np.testing.assert_allclose(low + high, 0, atol=1e-3)  # centred
    assert max(high) == pytest.approx(0.9, abs=1e-3)  # spans 90 % of the frame's larger side


def test_original_camera_leaves_small_grids_small():
    """Why the views are fitted: the original camera shows 16^3 in about a third of the width."""
    xy = projected_box((16, 16, 16), "original")
    assert (xy.max(0) - xy.min(0)).max() < 0.75  # of the frame's width 2


# ---------------------------------------------------------------- rendering

def test_offscreen_render_shows_class_colours(offscreen, tmp_path):
    from PIL import Image

    from visualization.voxviz import render_voxels
    out = render_voxels(three_class_scene(), str(tmp_path / "s.png"), size=96)
    image = np.asarray(Image.open(out).convert("RGB"))
    assert image.shape == (96, 96, 3)
    assert (image[0, 0] == 255).all()  # white background in the corner
    drawn = image[(image < 250).any(axis=-1)]
    assert len(drawn) > 500
    counts = np.bincount(nearest_palette_class(drawn), minlength=13)
    for cls in (1, 2, 8):
        assert counts[cls] > 0.03 * len(drawn), (cls, counts)
    assert counts[[1, 2, 8]].sum() > 0.85 * len(drawn), counts


def test_empty_scene_renders_background(offscreen):
    from visualization.voxviz import render_image
    picture = render_image(np.zeros((8, 4, 8), np.int64), size=32)
    assert picture.shape == (32, 32, 3) and (picture == 255).all()


def test_views_differ(offscreen):
    from visualization.voxviz import render_image
    renderer = render_process.open_renderer(64)
    try:
        pictures = [render_image(three_class_scene(), view=v, renderer=renderer)
                    for v in ("iso", "top", "front")]
    finally:
        renderer.close()
    for a in range(3):
        assert (pictures[a] < 250).any()
        for b in range(a + 1, 3):
            assert np.abs(pictures[a].astype(int) - pictures[b]).sum() > 0


def test_cli_screenfile_and_all(offscreen, tmp_path):
    from PIL import Image

    from visualization.voxviz import main
    path = tmp_path / "real.npy"
    np.save(path, np.stack([three_class_scene(), three_class_scene()[::-1]]))
    assert main([str(path), "-i", "2", "-sc", str(tmp_path / "shot"), "--size", "48"]) == 0
    assert Image.open(tmp_path / "shot.png").size == (48, 48)
    assert main([str(path), "--all", "--size", "40", "-df", "2"]) == 0
    written = sorted(p.name for p in tmp_path.glob("real_*.png"))
    assert written == ["real_1.png", "real_2.png"]  # one-based, like -i
    assert Image.open(tmp_path / "real_2.png").size == (40, 40)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["real.npy", "real_1.png", "real_2.png",
                                                          "shot.png"]  # no temporary file left


def test_all_progress_in_the_shared_format(offscreen, tmp_path, capsys):
    import re

    from visualization.voxviz import main
    np.save(tmp_path / "r.npy", np.stack([three_class_scene()] * 3))
    assert main([str(tmp_path / "r.npy"), "--all", "--size", "32"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r"\[voxviz\] 3/3 scenes  [\d.]+ scenes/s  ETA 0:00:00",
                        captured.err.splitlines()[-1])
    assert captured.out == f"[voxviz] wrote 3 pictures: {tmp_path}/r_1.png .. {tmp_path}/r_3.png\n"


def test_small_grids_fill_the_picture(offscreen):
    """A full 16^3 or 32x16x32 grid spans most of the picture (the original camera: a third)."""
    from visualization.voxviz import render_image
    renderer = render_process.open_renderer(64)
    try:
        for grid in ((16, 16, 16), (32, 16, 32)):
            picture = render_image(np.full(grid, 3), renderer=renderer)
            rows, cols = np.nonzero((picture < 250).any(axis=-1))
            height, width = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
            assert max(height, width) >= 0.8 * 64, (grid, height, width)
            assert rows.min() > 0 and cols.min() > 0 and rows.max() < 63 and cols.max() < 63
            assert abs((rows.min() + rows.max()) / 2 - 31.5) <= 3  # centred
            assert abs((cols.min() + cols.max()) / 2 - 31.5) <= 3
    finally:
        renderer.close()


def test_script_headless_writes_default_png(offscreen, tmp_path):
    path = tmp_path / "recons.npy"
    np.save(path, three_class_scene()[None])
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY",
                                                            vtk_env.ENV_VAR)}
    run = subprocess.run([sys.executable, "visualization/voxviz.py", str(path), "--size", "32"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout == f"[voxviz] wrote {tmp_path}/recons_1.png\n"  # the index the user means
    assert sorted(p.name for p in tmp_path.iterdir()) == ["recons.npy", "recons_1.png"]


def test_child_process_picture_equals_cli_picture(offscreen, tmp_path):
    """With TensorFlow loaded (conftest) pictures come from the worker; the CLI draws in-process."""
    from PIL import Image

    from visualization.voxviz import render_voxels
    assert "tensorflow" in sys.modules and render_process.use_child()
    assert render_process.worker_pid() != os.getpid()
    scene = three_class_scene()
    np.save(tmp_path / "s.npy", scene[None])
    child = np.asarray(Image.open(render_voxels(scene, str(tmp_path / "child.png"), size=80)))
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    run = subprocess.run([sys.executable, "visualization/voxviz.py", str(tmp_path / "s.npy"),
                          "--size", "80", "-sc", str(tmp_path / "cli")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    cli = np.asarray(Image.open(tmp_path / "cli.png").convert("RGB"))
    assert (child < 250).any() and np.array_equal(child, cli)


@pytest.mark.slow
def test_script_importing_tensorflow_renders_and_exits_cleanly(offscreen, tmp_path):
    """A script that imports TensorFlow at the top: "spawn" must not re-run it in the worker."""
    script = tmp_path / "tf_first.py"
    script.write_text(
        "import sys\n"
        "import numpy as np\n"
        "import tensorflow as tf\n"
        "from visualization import render_process\n"
        "from visualization.voxviz import render_image\n"
        "tf.reduce_sum(tf.ones([3]))\n"
        "scene = np.zeros((8, 4, 8), np.int64)\n"
        "scene[2:6, :2, 2:6] = 3\n"
        "pictures = [render_image(scene, size=32) for _ in range(2)]\n"
        "assert render_process.worker().submit(render_process.vtk_env.tensorflow_loaded)"
        ".result() is False\n"
        "print('drawn', int((pictures[1] < 250).any(axis=-1).sum()))\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    run = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=180)
    assert run.returncode == 0, run.stderr[-2000:]
    assert int(run.stdout.split()[-1]) > 0, run.stdout


# ---------------------------------------------------------------- bad input

def bad_input_cases(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((2, 4, 4, 4), np.int64))
    flat = tmp_path / "flat.npy"
    np.save(flat, np.zeros((4, 4)))
    text = tmp_path / "text.npy"
    text.write_text("not an array")
    other = tmp_path / "scene.txt"
    other.write_text("x")
    labels = tmp_path / "labels.npy"
    np.save(labels, np.full((1, 2, 2, 2), 99))
    return [
        ([str(tmp_path / "missing.npy")], f"scene file {tmp_path}/missing.npy does not exist"),
        ([str(other)], "expected a .npy file"),
        ([str(good), "-i", "3"], "index 3 out of range: expected 1..2"),
        ([str(good), "-i", "0"], "index 0 out of range"),
        ([str(flat)], "expected rank 3"),
        ([str(text)], f"scene file {tmp_path}/text.npy is not a valid .npy array file"),
        ([str(labels), "-sc", str(tmp_path / "x")],
         "labels outside 0..11 (found min 99, max 99); class labels are 0..11 (12 classes)"),
        ([str(good), "-df", "3", "-sc", str(tmp_path / "y")], "does not divide"),
        ([str(good), "--view", "side"], "invalid choice"),
        ([str(good), "-u", "0"], "uniform-size"),
        ([str(good), "-mc", "-1"], "-mc/--max-component: expected >= 0"),
        ([str(good), "-sc", "/nonexistent/shot"],
         "-sc/--screenfile /nonexistent/shot.png: folder /nonexistent does not exist"),
        ([str(good), "--all", "-sc", "/nonexistent/shot"], "folder /nonexistent does not exist"),
    ]


def test_bad_input_one_line_exit_2(tmp_path, capsys):
    from visualization.voxviz import main
    for argv, message in bad_input_cases(tmp_path):
        code = exit_code(main, argv)
        err = capsys.readouterr().err
        assert code == 2, argv
        assert err.count("\n") == 1 and err.startswith("voxviz.py: error: ") and message in err, \
            (argv, err)
    assert not list(tmp_path.glob("*.png")) and not list(tmp_path.glob(".*"))


@pytest.mark.parametrize("case", ["screenfile", "text"])
def test_script_bad_input_one_line(tmp_path, case):
    """As a user runs it: one line on stderr, exit code 2, no traceback."""
    np.save(tmp_path / "real.npy", np.zeros((2, 4, 4, 4), np.uint8))
    (tmp_path / "text.npy").write_text("1 2 3\n")
    argv = {"screenfile": [str(tmp_path / "real.npy"), "-i", "1", "-sc", "/nonexistent/shot"],
            "text": [str(tmp_path / "text.npy")]}[case]
    run = subprocess.run([sys.executable, "visualization/voxviz.py", *argv], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    expected = {"screenfile": "voxviz.py: error: -sc/--screenfile /nonexistent/shot.png: "
                              "folder /nonexistent does not exist\n",
                "text": f"voxviz.py: error: scene file {tmp_path}/text.npy is not a valid .npy "
                        "array file\n"}[case]
    assert (run.returncode, run.stderr, run.stdout) == (2, expected, "")


def test_full_scene_renders_quickly(offscreen, tmp_path):
    """80x48x80 with 25,000 voxels: target <= 2 s (benchmarks/voxviz.py); 4 s bound for a
    busy CI."""
    import time

    from PIL import Image

    from visualization.voxviz import render_voxels
    rng = np.random.default_rng(0)
    scene = np.zeros((80, 48, 80), np.int64)
    scene.flat[rng.choice(scene.size, 25000, replace=False)] = rng.integers(1, 12, 25000)
    render_process.open_renderer(512)  # start the worker (when used) outside the timing
    start = time.perf_counter()
    render_voxels(scene, str(tmp_path / "full.png"))
    elapsed = time.perf_counter() - start
    image = np.asarray(Image.open(tmp_path / "full.png").convert("RGB"))
    assert image.shape == (512, 512, 3) and (image < 250).any(axis=-1).mean() > 0.1
    assert elapsed < 4.0, elapsed
