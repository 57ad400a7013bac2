"""Synthetic rooms: layout, labels, structure, emptiness, no overwriting, the command line."""
import re

import numpy as np
import pytest

from data_provider import render_voxel_scenes as rvs
from data_provider import voxel_provider


def test_layout_labels_and_provider_round_trip(tmp_path):
    paths = rvs.render_rooms(tmp_path, 6, seed=3, size=(16, 8, 16))
    assert len(paths) == 6
    pairs = voxel_provider.list_pairs(tmp_path)
    assert pairs == [("synth003_00000", f"rm{j:02d}") for j in range(4)] + \
                    [("synth003_00001", f"rm{j:02d}") for j in range(2)]
    scenes = voxel_provider.load_scenes(tmp_path, pairs, (16, 8, 16))
    assert scenes.min() >= 0 and scenes.max() <= 11
    for vox in scenes:
        labels = set(np.unique(vox))
        assert {0, 1, 2, 3} <= labels
        assert labels & set(range(5, 12))
        floor_y = np.argwhere(vox == 2)[:, 1]
        ceiling_y = np.argwhere(vox == 1)[:, 1]
        assert floor_y.max() < ceiling_y.min()
        assert np.argwhere(vox >= 5)[:, 1].min() > floor_y.max()  # furniture stands above the floor


def test_same_seed_same_rooms(tmp_path):
    a = rvs.render_rooms(tmp_path / "a", 3, seed=5, size=(12, 8, 12))
    b = rvs.render_rooms(tmp_path / "b", 3, seed=5, size=(12, 8, 12))
    c = rvs.render_rooms(tmp_path / "c", 3, seed=6, size=(12, 8, 12))
    for pa, pb in zip(a, b):
        np.testing.assert_array_equal(np.load(pa), np.load(pb))
    assert any(not np.array_equal(np.load(pa), np.load(pc)) for pa, pc in zip(a, c))


def test_default_size_is_about_92_percent_empty(tmp_path):
    paths = rvs.render_rooms(tmp_path, 16, seed=0)
    rooms = np.stack([np.load(p) for p in paths])
    assert rooms.shape == (16, 80, 48, 80)
    empty = (rooms == 0).mean()
    assert 0.90 <= empty <= 0.945, empty
    classes = np.bincount(rooms.ravel(), minlength=12)
    assert (classes[1:5] > 0).all() and (classes[5:] > 0).sum() >= 5
    windows = np.argwhere(rooms == 4)
    assert len(windows) > 0


def test_refuses_to_overwrite_foreign_files(tmp_path):
    foreign = tmp_path / "synth000_00000" / "rm01.npy"
    foreign.parent.mkdir()
    np.save(foreign, np.ones((2, 2, 2), np.uint8))
    with pytest.raises(FileExistsError, match="rm01.npy exists and was not written"):
        rvs.render_rooms(tmp_path, 3, size=(8, 8, 8))
    np.testing.assert_array_equal(np.load(foreign), np.ones((2, 2, 2)))
    assert not (tmp_path / "synth000_00000" / "rm00.npy").exists()
    assert rvs.main(["--root", str(tmp_path), "--num_scenes", "3", "--size", "8", "8", "8"]) == 2


def test_rerun_overwrites_own_files_and_cli(tmp_path):
    assert rvs.main(["--root", str(tmp_path), "--num_scenes", "2", "--seed", "1",
                     "--size", "8", "8", "8"]) == 0
    again = rvs.render_rooms(tmp_path, 2, seed=1, size=(8, 8, 8))
    assert len(again) == 2
    assert rvs.main(["--root", str(tmp_path), "--num_scenes", "2", "--size", "2", "8", "8"]) == 2


def test_cli_bad_input_one_line_and_progress(tmp_path, capsys):
    assert rvs.main(["--root", str(tmp_path), "--num_scenes", "2", "--size", "2", "8", "8"]) == 2
    err = capsys.readouterr().err
    assert err == "render_voxel_scenes.py: error: --size must be at least 4 voxels per axis, " \
                  "got (2, 8, 8)\n"
    assert not list(tmp_path.iterdir())
    assert rvs.main(["--root", str(tmp_path), "--num_scenes", "5", "--size", "8", "8", "8"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r"\[render_voxel_scenes\] 5/5 rooms  [\d.]+ rooms/s  ETA 0:00:00",
                        captured.err.splitlines()[-1])
    assert captured.out == f"wrote 5 rooms under {tmp_path}\n"
    with pytest.raises(SystemExit) as stop:
        rvs.main(["--help"])
    assert stop.value.code == 0 and "grid size, middle axis the height (default: [80, 48, 80])" \
        in " ".join(capsys.readouterr().out.split())


def test_crash_part_way_writes_no_room(tmp_path, monkeypatch):
    calls = []
    real = rvs.make_room

    def failing(rng, size):
        calls.append(1)
        if len(calls) == 3:
            raise MemoryError("out of memory")
        return real(rng, size)

    monkeypatch.setattr(rvs, "make_room", failing)
    with pytest.raises(MemoryError):
        rvs.render_rooms(tmp_path, 4, size=(8, 8, 8), log=lambda line: None)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
