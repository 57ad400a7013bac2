"""SSCNet ground-truth converter: format, class table, 3x3x3 block rule, the real file."""
import sys

import mounts  # tests/mounts.py (pytest puts tests/ on the path)
import numpy as np
import pytest

from data_provider import sscnet_to_voxels as sv
from data_provider import voxel_provider


def write_bin(path, volume):
    """Encode a raw-id volume in the SSCNet format (Fortran order, run-length pairs)."""
    flat = volume.ravel(order="F").astype(np.uint32)
    starts = np.r_[0, np.flatnonzero(np.diff(flat)) + 1]
    lengths = np.diff(np.r_[starts, flat.size])
    runs = np.stack([flat[starts], lengths], 1).astype(np.uint32)
    header = np.arange(19, dtype=np.float32)
    path.write_bytes(header.tobytes() + runs.tobytes())


def block_rule_reference(labels, min_block):
    """Loop over blocks: most frequent non-empty class (ties -> higher id) if enough occupied."""
    out = np.zeros(tuple(s // 3 for s in labels.shape), np.uint8)
    for i, j, k in np.ndindex(out.shape):
        block = labels[3 * i:3 * i + 3, 3 * j:3 * j + 3, 3 * k:3 * k + 3].ravel()
        counts = np.bincount(block, minlength=12)
        if counts[1:].sum() >= min_block:
            best = max(range(1, 12), key=lambda c: (counts[c], c))
            out[i, j, k] = best
    return out


def test_downsample_matches_loop_reference():
    rng = np.random.default_rng(0)
    labels = np.where(rng.random((12, 9, 6)) < 0.15, rng.integers(1, 12, (12, 9, 6)), 0)
    for min_block in (1, 3, 5):
        np.testing.assert_array_equal(sv.downsample(labels, 3, min_block),
                                      block_rule_reference(labels, min_block))


def test_block_rule_keeps_thin_planes_and_drops_specks():
    labels = np.zeros((6, 6, 6), np.uint8)
    labels[:, 0, :] = 2          # one-voxel floor
    labels[4, 4, 4] = 11         # isolated speck
    labels[1, 3:6, 4] = 8        # three-voxel rod (a table leg)
    out = sv.downsample(labels)
    assert (out[:, 0, :] == 2).all()
    assert out[1, 1, 1] == 0      # the speck's block holds 1 occupied voxel: dropped
    assert out[0, 1, 1] == 8      # the rod's block holds 3: kept
    with pytest.raises(ValueError, match="divisible"):
        sv.downsample(np.zeros((4, 3, 3), np.uint8))


def test_read_and_map_synthetic_bin(tmp_path):
    raw = np.zeros(sv.SHAPE, np.uint32)
    raw[::7, :, 5] = 5
    raw[:, 3, :] = 16
    raw[100:, 50:, 200:] = 255
    raw[0, 0, 0], raw[239, 1, 0] = 36, 5  # asymmetric: a transposed read would differ
    path = tmp_path / "SCENE_0007.bin"
    write_bin(path, raw)
    origin, pose, back = sv.read_sscnet_bin(path)
    np.testing.assert_array_equal(back, raw)
    np.testing.assert_array_equal(origin, [0, 1, 2])
    assert pose.shape == (4, 4) and pose[0, 0] == 3
    mapped = sv.map_classes(back)
    np.testing.assert_array_equal(np.unique(mapped), [0, 9, 11])  # 5->11, 16->9, 36->11, 255->0
    assert sv.output_ids(path) == ("SCENE", "0007")


def test_bad_bin_files(tmp_path):
    short = tmp_path / "short.bin"
    short.write_bytes(b"\0" * 10)
    with pytest.raises(sv.SSCNetFileError, match="short.bin: 10 bytes"):
        sv.read_sscnet_bin(short)
    wrong = tmp_path / "wrong.bin"
    wrong.write_bytes(np.zeros(19, np.float32).tobytes() + np.array([0, 5], np.uint32).tobytes())
    with pytest.raises(sv.SSCNetFileError, match="wrong.bin: run lengths add up to 5"):
        sv.read_sscnet_bin(wrong)
    with pytest.raises(sv.SSCNetFileError, match=r"x.bin: raw labels \[40\]"):
        sv.map_classes(np.array([0, 40, 255]), "x.bin")
    assert sv.main([str(tmp_path / "missing.bin"), "--out", str(tmp_path / "o")]) == 2


def test_cli_one_line_errors_and_nothing_written_on_a_bad_input(tmp_path, capsys):
    import re
    raw = np.zeros(sv.SHAPE, np.uint32)
    raw[:, :6, :] = 2  # a floor
    write_bin(tmp_path / "A_0.bin", raw)
    (tmp_path / "B_0.bin").write_bytes(b"\0" * 10)
    out = tmp_path / "vox"
    assert sv.main([str(tmp_path / "A_0.bin"), str(tmp_path / "B_0.bin"), "--out", str(out)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[-1] == (f"sscnet_to_voxels.py: error: {tmp_path}/B_0.bin: 10 bytes; expected a "
                       "76-byte header followed by uint32 (value, run_length) pairs")
    assert not out.exists() or [p for p in out.rglob("*") if p.is_file()] == []
    assert sv.main([str(tmp_path / "A_0.bin"), "--out", str(out), "--min_block", "28"]) == 2
    assert capsys.readouterr().err == \
        "sscnet_to_voxels.py: error: --min_block must be in 1..27, got 28\n"
    assert sv.main([str(tmp_path / "nope.bin"), "--out", str(out)]) == 2
    assert capsys.readouterr().err == \
        f"sscnet_to_voxels.py: error: {tmp_path}/nope.bin: no such file\n"
    assert sv.main([str(tmp_path / "A_0.bin"), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r"\[sscnet_to_voxels\] 1/1 files  [\d.]+ files/s  ETA 0:00:00",
                        captured.err.splitlines()[-1])
    assert (out / "A" / "0.npy").is_file()


def test_real_file_histogram_and_layout(sscnet_bin, tmp_path):
    _, _, raw = sv.read_sscnet_bin(sscnet_bin)
    source = sv.map_classes(raw)
    result = sv.convert_file(sscnet_bin)
    assert result.shape == (80, 48, 80) and result.dtype == np.uint8
    src = np.bincount(source.ravel(), minlength=12)[1:].astype(float)
    res = np.bincount(result.ravel(), minlength=12)[1:].astype(float)
    src, res = src / src.sum(), res / res.sum()
    # every class holding >= 0.5 % of the source's occupied voxels survives
    assert set(np.flatnonzero(src >= 0.005)) <= set(np.flatnonzero(res > 0))
    assert np.abs(src - res).max() < 0.12
    assert np.abs(src - res).sum() < 0.35
    # occupied volume: thin structures thicken, but within a factor 1.6 of source / 27
    ratio = np.count_nonzero(result) / (np.count_nonzero(source) / 27)
    assert 1.0 <= ratio < 1.6
    # height is the middle axis: floor below ceiling
    floor_y = np.argwhere(result == 2)[:, 1].mean()
    ceiling_y = np.argwhere(result == 1)[:, 1].mean()
    assert floor_y < 5 < 30 < ceiling_y
    # a majority rule loses the 2 cm floor, the documented rule keeps it
    assert (sv.downsample(source, 3, 14) == 2).sum() == 0 and (result == 2).sum() > 1000


def test_cli_writes_layout_and_filters(sscnet_bin, tmp_path):
    out = tmp_path / "vox"
    assert sv.main([str(sscnet_bin), "--out", str(out), "--min_occupied", "10000"]) == 0
    target = out / "NYU0001" / "0000.npy"
    vox = voxel_provider.load_scene(target)
    assert np.count_nonzero(vox) > 10000
    assert voxel_provider.list_pairs(out) == [("NYU0001", "0000")]
    before = target.read_bytes()
    assert sv.main([str(sscnet_bin), "--out", str(out)]) == 2  # refuses to overwrite
    assert target.read_bytes() == before
    high = tmp_path / "high"
    written, skipped = sv.convert([sscnet_bin], high, min_occupied=np.count_nonzero(vox))
    assert written == [] and skipped == [sscnet_bin] and not (high / "NYU0001").exists()
    written, _ = sv.convert([sscnet_bin], high, min_occupied=np.count_nonzero(vox) - 1)
    assert len(written) == 1


def test_a_second_writer_of_out_is_refused_and_a_bad_input_leaves_no_folder(tmp_path, capsys):
    from data_provider import folder_lock
    raw = np.zeros(sv.SHAPE, np.uint32)
    write_bin(tmp_path / "A_0.bin", raw)
    out = tmp_path / "vox"
    with folder_lock.hold(str(out), "--out", "sscnet_to_voxels.py"):
        assert sv.main([str(tmp_path / "A_0.bin"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out} is being written by sscnet_to_voxels.py (process" in err
    assert not out.exists()  # made for the lock, left empty: removed
    assert sv.main([str(tmp_path / "nope.bin"), "--out", str(out)]) == 2
    assert not out.exists()


def test_read_only_out_exit_2_before_converting(tmp_path):
    raw = np.zeros(sv.SHAPE, np.uint32)
    write_bin(tmp_path / "A_0.bin", raw)
    out = tmp_path / "ro" / "vox"
    done = mounts.run_on_tmpfs([sys.executable, "-m", "data_provider.sscnet_to_voxels",
                                str(tmp_path / "A_0.bin"), "--out", str(out)],
                               tmp_path / "ro", read_only=True)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"sscnet_to_voxels.py: error: --out {out} cannot be written: "
                           "Read-only file system\n")


def test_full_disk_while_writing_exit_1_naming_the_file(tmp_path):
    raw = np.zeros(sv.SHAPE, np.uint32)
    raw[:, :6, :] = 2  # a floor: 80x48x80 uint8 outputs of 300 KB each
    for k in range(3):
        write_bin(tmp_path / f"S_{k}.bin", raw)
    out = tmp_path / "small" / "vox"
    done = mounts.run_on_tmpfs(
        ["sh", "-c", f"{sys.executable} -m data_provider.sscnet_to_voxels "
                     f"{tmp_path}/S_0.bin {tmp_path}/S_1.bin {tmp_path}/S_2.bin --out {out}; "
                     f'echo "exit $?"; find {out} -type f'],
        tmp_path / "small", size=512 * 1024)
    assert done.stdout.splitlines() == ["exit 1"], (done.stdout, done.stderr)  # no file left
    assert done.stderr.splitlines()[-1] == \
        f"sscnet_to_voxels.py: error: {out}/S/1.npy: No space left on device"
