"""Montage PNG and interpolation/noise GIFs: files written, read back, bad input."""
import numpy as np
import pytest

from visualization import vtk_env
from visualization.animate import animation_files
from visualization.animate import main as animate_main
from visualization.montage import main as montage_main


@pytest.fixture(scope="module")
def offscreen():
    if not vtk_env.osmesa_available():
        pytest.skip("libOSMesa not found: install libosmesa6 for offscreen VTK rendering")
    vtk_env.configure(offscreen=True)


def scenes(n, shift=0):
    """``n`` 16x8x16 label scenes: a class-1 floor and a block of class 2 + i."""
    v = np.zeros((n, 16, 8, 16), np.int64)
    v[:, :, :2, :] = 1
    for i in range(n):
        v[i, 2 + shift:7 + shift, 2:6, 2 + i:7 + i] = 2 + i % 9
    return v


@pytest.fixture()
def eval_dir(tmp_path):
    np.save(tmp_path / "real.npy", scenes(3))
    np.save(tmp_path / "recons.npy", scenes(3, 1))
    np.save(tmp_path / "recons_refine.npy", scenes(3, 2))
    np.save(tmp_path / "interpolation0-1.npy", scenes(6))
    np.save(tmp_path / "interpolation_z0-1.npy", np.zeros((6, 5, 3, 5, 16), np.float32))
    np.save(tmp_path / "noise0_012.npy", scenes(4))
    np.save(tmp_path / "noise_z0_012.npy", np.zeros((4, 5, 3, 5, 16), np.float32))
    np.save(tmp_path / "decode_z.npy", np.zeros((3, 5, 3, 5, 16), np.float32))
    return tmp_path


def test_montage_png(offscreen, eval_dir, capsys):
    import re

    from PIL import Image
    out = eval_dir / "m.png"
    assert montage_main([str(eval_dir), "-n", "2", "--first", "2", "--size", "48",
                         "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert captured.out == f"[montage] wrote {out}\n"
    assert re.fullmatch(r"\[montage\] 2/2 scenes  [\d.]+ scenes/s  ETA 0:00:00  scene 3",
                        captured.err.splitlines()[-1])
    sheet = np.asarray(Image.open(out).convert("RGB"))
    pad = 16
    assert sheet.shape == (pad + 2 * 48, pad + 3 * 48, 3)
    cells = [sheet[pad + 48 * r:pad + 48 * (r + 1), pad + 48 * c:pad + 48 * (c + 1)]
             for r in range(2) for c in range(3)]
    assert all((cell < 250).any() for cell in cells)  # every picture shows voxels
    assert np.abs(cells[0].astype(int) - cells[1]).sum() > 0  # real differs from recons


def test_animation_files_skip_codes(eval_dir):
    names = [p.split("/")[-1] for p in animation_files(str(eval_dir))]
    assert names == ["interpolation0-1.npy", "noise0_012.npy"]


def test_gifs_from_eval_dir(offscreen, eval_dir, capsys):
    import re

    from PIL import Image
    assert animate_main([str(eval_dir), "--size", "40", "--duration", "50"]) == 0
    captured = capsys.readouterr()
    assert captured.out == (f"[animate] wrote 2 GIFs: {eval_dir}/interpolation0-1.gif .. "
                            f"{eval_dir}/noise0_012.gif\n")
    assert re.fullmatch(r"\[animate\] 2/2 files  [\d.]+ files/s  ETA 0:00:00  -> .*noise0_012.gif",
                        captured.err.splitlines()[-1])
    for name, frames in (("interpolation0-1.gif", 6), ("noise0_012.gif", 4)):
        gif = Image.open(eval_dir / name)
        assert gif.n_frames == frames and gif.size == (40, 40)
        assert gif.info["duration"] == 50
    assert not (eval_dir / "interpolation_z0-1.gif").exists()
    assert not [p.name for p in eval_dir.iterdir() if p.name.startswith(".")]  # no temporary files


def test_help_shows_defaults(capsys):
    for main in (montage_main, animate_main):
        with pytest.raises(SystemExit) as stop:
            main(["--help"])
        assert stop.value.code == 0
    out = capsys.readouterr().out
    assert "pixels per picture (default: 256)" in out
    assert "milliseconds per frame (default: 120)" in out


def test_gif_single_file_out(offscreen, eval_dir):
    from PIL import Image
    out = eval_dir / "one.gif"
    assert animate_main([str(eval_dir / "noise0_012.npy"), "-o", str(out), "--size", "32"]) == 0
    assert Image.open(out).n_frames == 4


def exit_code(main, argv):
    """Exit code of a command's ``main`` (returned, or raised by the argument parser)."""
    try:
        return main(argv)
    except SystemExit as stop:
        return stop.code


@pytest.mark.parametrize("make_argv, message", [
    (lambda d: ["montage", str(d / "nowhere")], "nowhere/real.npy does not exist"),
    (lambda d: ["montage", str(d), "-n", "4"], "holds 3 scenes, scenes 1..4 requested"),
    (lambda d: ["montage", str(d), "--labels", "a", "b"], "expected 3 names"),
    (lambda d: ["montage", str(d), "-n", "1", "--files", "decode_z.npy"], "has no class axis"),
    (lambda d: ["montage", str(d), "-n", "2", "-o", "/nonexistent/m.png"],
     "-o/--out /nonexistent/m.png: folder /nonexistent does not exist"),
    (lambda d: ["montage", str(d), "--size", "8"], "--size: expected at least 16 pixels"),
    (lambda d: ["animate", str(d / "missing.npy")], "missing.npy does not exist"),
    (lambda d: ["animate", str(d / "noise0_012.npy"), "-o", "/nonexistent/x.gif"],
     "-o/--out /nonexistent/x.gif: folder /nonexistent does not exist"),
    (lambda d: ["animate", str(d / "text.npy")], "text.npy is not a valid .npy array file"),
    (lambda d: ["animate", str(d / "real.npy"), str(d / "recons.npy"), "-o", "x.gif"],
     "needs exactly one input file"),
    (lambda d: ["animate", str(d / "empty")], "no interpolation"),
    (lambda d: ["animate", str(d / "real.npy"), "--duration", "0"], "--duration"),
])
def test_bad_input_one_line_exit_2(eval_dir, capsys, make_argv, message):
    (eval_dir / "empty").mkdir()
    (eval_dir / "text.npy").write_text("0 1 2\n")
    tool, *argv = make_argv(eval_dir)
    before = sorted(p.name for p in eval_dir.iterdir())
    code = exit_code(montage_main if tool == "montage" else animate_main, argv)
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"{tool}.py: error: ") and message in err, err
    assert sorted(p.name for p in eval_dir.iterdir()) == before
