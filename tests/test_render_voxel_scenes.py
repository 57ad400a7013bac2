"""Synthetic rooms: layout, labels, structure, emptiness, no overwriting, the command line."""
import re
import sys

import mounts  # tests/mounts.py (pytest puts tests/ on the path)
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


def _files(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def test_rooms_of_another_size_are_refused_without_touching_the_tree(tmp_path, capsys):
    root = tmp_path / "rooms"
    rvs.render_rooms(root, 6, seed=0, size=(8, 8, 8), log=lambda line: None)
    before = _files(root)
    # the case: the same seed, so the first rooms would be replaced, the rest kept
    assert rvs.main(["--root", str(root), "--num_scenes", "2", "--size", "12", "8", "12"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(
        f"render_voxel_scenes.py: error: --root {root} holds rooms of another size (6 of 8x8x8, "
        f"e.g. {root / 'synth000_00000' / 'rm00.npy'}); --size 12 8 12 would mix grid sizes")
    assert "--overwrite" in err
    assert _files(root) == before
    # the same size is no conflict: more rooms join the tree
    assert rvs.main(["--root", str(root), "--num_scenes", "3", "--seed", "1",
                     "--size", "8", "8", "8"]) == 0
    assert {np.load(p).shape for p in root.rglob("*.npy")} == {(8, 8, 8)}
    assert len(list(root.rglob("*.npy"))) == 9


def test_overwrite_replaces_own_rooms_of_another_size(tmp_path, capsys):
    root = tmp_path / "rooms"
    rvs.render_rooms(root, 6, seed=0, size=(8, 8, 8), log=lambda line: None)
    rvs.render_rooms(root, 2, seed=4, size=(8, 8, 8), log=lambda line: None)
    assert rvs.main(["--root", str(root), "--num_scenes", "5", "--size", "12", "8", "12",
                     "--overwrite"]) == 0
    assert "removed 3 rooms of another size" in capsys.readouterr().err  # 5 replaced by name
    shapes = {str(p.relative_to(root)): np.load(p).shape for p in root.rglob("*.npy")}
    assert set(shapes.values()) == {(12, 8, 12)} and len(shapes) == 5
    assert sorted(p.name for p in root.iterdir()) == [rvs.MANIFEST, "synth000_00000",
                                                      "synth000_00001"]
    manifest = (root / rvs.MANIFEST).read_text().split()
    assert sorted(manifest) == sorted(shapes)
    assert voxel_provider.list_pairs(root)[-1] == ("synth000_00001", "rm00")


def test_overwrite_never_removes_a_file_it_did_not_write(tmp_path, capsys):
    root = tmp_path / "rooms"
    rvs.render_rooms(root, 2, seed=0, size=(8, 8, 8), log=lambda line: None)
    foreign = root / "mine" / "scene.npy"
    foreign.parent.mkdir()
    np.save(foreign, np.zeros((8, 8, 8), np.uint8))
    before = _files(root)
    assert rvs.main(["--root", str(root), "--num_scenes", "2", "--size", "12", "8", "12",
                     "--overwrite"]) == 2
    err = capsys.readouterr().err
    assert f"--overwrite: {foreign} (another size) was not written by render_voxel_scenes" in err
    assert _files(root) == before


def test_a_second_writer_is_refused_naming_the_holder(tmp_path, capsys):
    from data_provider import folder_lock
    with folder_lock.hold(str(tmp_path), "--root", "render_voxel_scenes.py"):
        assert rvs.main(["--root", str(tmp_path), "--num_scenes", "2",
                         "--size", "8", "8", "8"]) == 2
    err = capsys.readouterr().err
    assert "is being written by render_voxel_scenes.py (process" in err and err.count("\n") == 1
    assert not list(tmp_path.rglob("*.npy"))


def test_read_only_root_exit_2_before_writing(tmp_path):
    done = mounts.run_on_tmpfs(
        [sys.executable, "-m", "data_provider.render_voxel_scenes", "--root",
         str(tmp_path / "ro" / "rooms"), "--num_scenes", "2", "--size", "8", "8", "8"],
        tmp_path / "ro", read_only=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"render_voxel_scenes.py: error: --root {tmp_path / 'ro' / 'rooms'} "
                           "cannot be written: Read-only file system\n")


def test_full_disk_while_writing_exit_1_naming_the_file_and_no_room_left(tmp_path):
    root = tmp_path / "small" / "rooms"
    check = (f"import os; names = [os.path.join(d, n) for d, _, ns in os.walk({str(root)!r}) "
             "for n in ns]; print(sorted(names))")
    done = mounts.run_on_tmpfs(
        ["sh", "-c", f'{sys.executable} -m data_provider.render_voxel_scenes --root {root} '
                     f'--num_scenes 40 --size 16 16 16; echo "exit $?"; '
                     f'{sys.executable} -c "{check}"'],
        tmp_path / "small", size=64 * 1024)
    lines = done.stdout.splitlines()
    assert lines[0] == "exit 1", (done.stdout, done.stderr)
    error = [line for line in done.stderr.splitlines() if "error" in line]
    assert len(error) == 1 and re.fullmatch(
        rf"render_voxel_scenes.py: error: {re.escape(str(root))}/synth000_\d+/rm\d\d.npy: "
        "No space left on device", error[0]), done.stderr
    assert lines[1] == "[]"  # the rooms written before the disk filled up were taken away
