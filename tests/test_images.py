"""data_provider/images.py: layouts pixel by pixel, files written whole and read back."""
import os

import numpy as np
import pytest
from PIL import Image, ImageSequence

from data_provider import images


def test_to_uint8_clips_and_rounds_to_the_nearest_level():
    values = np.array([-0.5, 0.0, 0.5 / 255, 0.49 / 255, 0.5, 1.0, 2.0])
    np.testing.assert_array_equal(images.to_uint8(values), [0, 0, 1, 0, 128, 255, 255])


def test_enlarge_equals_a_nearest_neighbour_resize():
    picture = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    expected = np.asarray(Image.fromarray(picture).resize((21, 15), Image.NEAREST))
    np.testing.assert_array_equal(images.enlarge(picture, 3), expected)
    batch = images.enlarge(np.stack([picture, picture]), 2)
    assert batch.shape == (2, 10, 14, 3)
    np.testing.assert_array_equal(batch[1, 2 * 4 + 1, 2 * 6], picture[4, 6])


def test_tile_puts_bars_of_fill_between_pictures_along_one_axis():
    steps = [np.full((2, 4, 3, 3), i / 10, np.float32) for i in range(3)]  # [B, H, W, C]
    strip = images.tile(steps, -2, gap=2)
    assert strip.shape == (2, 4, 3 * 3 + 2 * 2, 3)
    np.testing.assert_array_equal(strip[:, :, 3:5], 1.0)
    np.testing.assert_allclose(strip[:, :, 5:8], 0.1)
    np.testing.assert_allclose(strip[:, :, 10:13], 0.2)
    column = images.tile([np.zeros((2, 3, 1), np.uint8)] * 3, -3, gap=4, fill=255)
    assert column.shape == (3 * 2 + 2 * 4, 3, 1)
    assert (column[2:6] == 255).all() and (column[6:8] == 0).all()
    np.testing.assert_array_equal(images.tile(steps, -2), np.concatenate(steps, -2))


def test_grid_rows_of_pictures_with_gaps():
    rows = [[np.full((3, 2, 3), 10 * r + c, np.uint8) for c in range(4)] for r in range(2)]
    sheet = images.grid(rows, gap=1, fill=255)
    assert sheet.shape == (2 * 3 + 1, 4 * 2 + 3, 3)
    for r in range(2):
        for c in range(4):
            assert (sheet[4 * r:4 * r + 3, 3 * c:3 * c + 2] == 10 * r + c).all()
    assert (sheet[3] == 255).all() and (sheet[:, 2] == 255).all()


def test_labelled_grid_layout():
    tiles = [[np.full((20, 20, 3), 10 * (r * 3 + c), np.uint8) for c in range(3)] for r in range(2)]
    sheet = images.labelled_grid(tiles, ["a", "b", "c"], ["1", "2"], pad=16)
    assert sheet.shape == (16 + 2 * 20, 16 + 3 * 20, 3)
    for r in range(2):
        for c in range(3):
            block = sheet[16 + 20 * r:16 + 20 * (r + 1), 16 + 20 * c:16 + 20 * (c + 1)]
            assert (block == 10 * (r * 3 + c)).all()
    assert (sheet[:14, 16:] < 128).any()  # a column label is printed in the header
    assert (sheet[16:, :14] < 128).any()  # and a row label at the left


def test_sheet_with_gaps_and_margins():
    tiles = [[np.full((6, 8, 3), 50 + r * 2 + c, np.uint8) for c in range(2)] for r in range(3)]
    plain = np.asarray(images.sheet(tiles, gap=4))
    assert plain.shape == (4 + 3 * 10, 4 + 2 * 12, 3)
    for r in range(3):
        for c in range(2):
            assert (plain[4 + 10 * r:10 + 10 * r, 4 + 12 * c:12 + 12 * c] == 50 + r * 2 + c).all()
    assert (plain[:4] == 255).all() and (plain[10:14] == 255).all()
    labelled = np.asarray(images.sheet(tiles, [], ["x", "y", "z"], left=40, gap=4))
    assert labelled.shape == (4 + 30, 40 + 24, 3) and (labelled[:, :40] < 128).any()


def test_caption_prints_in_the_lower_left_corner():
    picture = np.full((64, 64, 3), 255, np.uint8)
    drawn = np.asarray(images.caption(picture, "12"))
    assert drawn.shape == picture.shape
    assert (drawn[32:, :32] < 128).any()
    assert (drawn[:32] == 255).all() and (drawn[:, 40:] == 255).all()


def test_png_and_gif_are_written_whole_and_read_back(tmp_path):
    rng = np.random.default_rng(1)
    picture = rng.integers(0, 256, (9, 11, 3), dtype=np.uint8)
    path = images.save_png(picture, str(tmp_path / "a.png"))
    np.testing.assert_array_equal(np.asarray(Image.open(path)), picture)
    images.save_png(Image.fromarray(picture[::-1]), path)  # a PIL image replaces it
    np.testing.assert_array_equal(np.asarray(Image.open(path)), picture[::-1])
    frames = [np.full((8, 8, 3), v, np.uint8) for v in (0, 128, 255)]
    gif = images.write_gif(frames, str(tmp_path / "a.gif"), duration_ms=80)
    read = Image.open(gif)
    assert read.info["duration"] == 80 and read.info["loop"] == 0
    back = [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(read)]
    assert len(back) == 3
    for got, want in zip(back, frames):
        np.testing.assert_array_equal(got, want)
    assert sorted(os.listdir(tmp_path)) == ["a.gif", "a.png"]  # no temporary file left


def test_a_failed_write_leaves_the_previous_file(tmp_path):
    path = images.save_png(np.zeros((4, 4, 3), np.uint8), str(tmp_path / "a.png"))
    with pytest.raises(TypeError, match="Cannot handle this data type"):
        images.save_png(np.zeros((4, 4, 7), np.uint8), path)  # PIL has no 7-channel mode
    np.testing.assert_array_equal(np.asarray(Image.open(path)), 0)
    assert os.listdir(tmp_path) == ["a.png"]


def test_pictures_are_written_by_images_only():
    """No other module of the packages or docs/ writes a PNG or GIF by hand."""
    import ast
    import pathlib

    root = pathlib.Path(__file__).resolve().parents[1]
    wrong = []
    folders = ("data_provider", "models", "training", "evaluation", "visualization", "apps",
               "docs", "benchmarks")
    for path in sorted(p for folder in folders for p in (root / folder).rglob("*.py")):
        if path == root / "data_provider" / "images.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "save"):
                continue
            words = {k.arg: k.value for k in node.keywords}
            kind = words.get("format")
            if {"save_all", "append_images", "optimize"} & set(words) or (
                    isinstance(kind, ast.Constant) and str(kind.value).upper() in ("PNG", "GIF")):
                wrong.append(f"{path.relative_to(root)}:{node.lineno}")
    assert not wrong, wrong
