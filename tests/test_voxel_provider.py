"""Voxel provider: listing and split, validation, the tf.data pipeline, sharding."""
import logging

import numpy as np
import pytest
import tensorflow as tf

from data_provider import voxel_provider as vp

SIZE = (8, 4, 8)


def write_tree(root, scenes=(("b", 3), ("a", 4), ("c", 3)), size=SIZE):
    """Scenes whose every voxel holds the scene's index (0..11 cycling), so batches are
    traceable."""
    index = 0
    for scene, models in sorted(scenes):
        for m in range(models):
            path = root / scene / f"m{m}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            np.save(path, np.full(size, index % 12, np.uint8))
            index += 1
    return root


def ids_of(batches):
    return [int(b[0, 0, 0]) for batch in batches for b in batch]


def test_listing_is_sorted_and_split_like_original(tmp_path):
    root = write_tree(tmp_path)
    (root / "a" / "notes.txt").write_text("ignored")
    pairs = vp.list_pairs(root)
    assert pairs == sorted(pairs) and len(pairs) == 10
    assert pairs[0] == ("a", "m0") and pairs[-1] == ("c", "m2")
    train, test = vp.train_test_pairs(root)
    n = len(pairs)
    assert train == pairs[:int(n * 0.95)] and test == pairs[int(n * 0.95):]
    assert train + test == pairs
    assert vp.scene_model_id_pairs(root, (0.2, 0.5)) == pairs[2:5]
    assert vp.voxel_path(root, "a", "m1") == str(root / "a" / "m1.npy")


def test_listing_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing"):
        vp.list_pairs(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no voxel scenes"):
        vp.list_pairs(tmp_path)
    write_tree(tmp_path)
    with pytest.raises(ValueError, match="portion"):
        vp.scene_model_id_pairs(tmp_path, (0.5, 0.2))


def test_load_scene_and_scenes(tmp_path):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)[:3]
    vox = vp.load_scene(vp.voxel_path(root, *pairs[1]), SIZE)
    assert vox.dtype == np.int32 and vox.shape == SIZE
    stacked = vp.load_scenes(root, pairs, SIZE)
    assert stacked.shape == (3,) + SIZE and stacked.dtype == np.int32
    np.testing.assert_array_equal(stacked[1], vox)


@pytest.mark.parametrize("content, message", [
    (np.zeros((8, 4, 7), np.int64), r"shape \(8, 4, 7\), expected \(8, 4, 8\)"),
    (np.zeros(SIZE, np.float32), "dtype float32, expected an integer"),
    (np.full(SIZE, 12, np.int64), r"labels outside 0..11 \(found min 12, max 12\)"),
    (np.full(SIZE, -1, np.int16), r"labels outside 0..11 \(found min -1"),
    (b"not a numpy file", r"bad.npy: not a valid \.npy array file$"),
    (b"\x93NUMPY garbage", "bad.npy: unreadable .npy file"),
])
def test_bad_file_errors_name_the_file(tmp_path, content, message):
    path = tmp_path / "s" / "bad.npy"
    path.parent.mkdir()
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    with pytest.raises(vp.VoxelFileError, match=message) as info:
        vp.load_scene(path, SIZE)
    assert str(info.value).startswith(str(path))
    if isinstance(content, bytes):  # the header check says the same
        with pytest.raises(vp.VoxelFileError, match=message):
            vp.read_header(path, SIZE)


def test_missing_file_is_unreadable(tmp_path):
    with pytest.raises(vp.VoxelFileError, match="nope.npy: unreadable"):
        vp.load_scene(tmp_path / "nope.npy", SIZE)


def test_dataset_shapes_batches_and_epoch_shuffle(tmp_path):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)
    ds = vp.voxel_dataset(root, pairs, batch_size=3, n_vox=SIZE, seed=7)
    assert ds.element_spec.shape == (3,) + SIZE and ds.element_spec.dtype == tf.int32
    epochs = [[b.numpy() for b in ds] for _ in range(3)]
    for batches in epochs:
        assert len(batches) == 3  # 10 scenes, batch 3: remainder dropped
        ids = ids_of(batches)
        assert len(set(ids)) == 9 and set(ids) <= set(range(10))
        for b in batches:  # every scene constant: whole volumes loaded intact
            assert (b == b[:, :1, :1, :1]).all()
    orders = [tuple(ids_of(b)) for b in epochs]
    assert len(set(orders)) > 1, "order must change between epochs"
    again = vp.voxel_dataset(root, pairs, batch_size=3, n_vox=SIZE, seed=7)
    assert tuple(ids_of([b.numpy() for b in again])) == orders[0], "seeded order reproducible"
    plain = vp.voxel_dataset(root, pairs, batch_size=5, n_vox=SIZE, shuffle=False)
    assert ids_of([b.numpy() for b in plain]) == list(range(10))


def test_sharding_partitions_the_pairs(tmp_path):
    root = write_tree(tmp_path, scenes=(("a", 6), ("b", 6)))
    pairs = vp.list_pairs(root)
    seen = []
    for k in range(3):
        ds = vp.voxel_dataset(root, pairs, 2, SIZE, shuffle=False, num_shards=3, shard_index=k)
        ids = ids_of([b.numpy() for b in ds])
        assert ids == list(range(k, 12, 3))
        seen += ids
    assert sorted(seen) == list(range(12))
    with pytest.raises(ValueError, match="shard_index"):
        vp.voxel_dataset(root, pairs, 2, SIZE, num_shards=3, shard_index=3)


def test_dataset_fn_for_distribution(tmp_path):
    root = write_tree(tmp_path, scenes=(("a", 8),))
    fn = vp.voxel_dataset_fn(root, vp.list_pairs(root), 4, n_vox=SIZE, shuffle=False)
    ctx = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                     num_replicas_in_sync=2)
    batches = [b.numpy() for b in fn(ctx)]
    assert [b.shape for b in batches] == [(2,) + SIZE] * 2
    assert ids_of(batches) == [1, 3, 5, 7]
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    dist = strategy.distribute_datasets_from_function(
        vp.voxel_dataset_fn(root, vp.list_pairs(root), 4, n_vox=SIZE, seed=1))
    assert sum(1 for _ in dist) == 2


def write_bad_files(root):
    np.save(root / "a" / "m1.npy", np.zeros((3, 3, 3), np.uint8))        # shape
    np.save(root / "b" / "m0.npy", np.zeros(SIZE, np.float64))           # dtype
    np.save(root / "b" / "m2.npy", np.full(SIZE, 40, np.int32))          # labels
    (root / "c" / "m1.npy").write_bytes(b"\x93NUMPY garbage")             # unreadable


def test_dataset_raises_on_bad_files(tmp_path):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)
    write_bad_files(root)
    with pytest.raises(vp.VoxelFileError, match="a/m1.npy: shape"):
        vp.voxel_dataset(root, pairs, 2, SIZE)
    good_header = [p for p in pairs if p not in {("a", "m1"), ("b", "m0"), ("c", "m1")}]
    ds = vp.voxel_dataset(root, good_header, 2, SIZE, shuffle=False)
    with pytest.raises(tf.errors.OpError, match=r"b/m2.npy: labels outside 0..11"):
        for _ in ds:
            pass


def test_skip_bad_skips_logs_and_counts(tmp_path, caplog):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)
    write_bad_files(root)
    bad = []
    with caplog.at_level(logging.WARNING, logger=vp.__name__):
        ds = vp.voxel_dataset(root, pairs, 2, SIZE, shuffle=False, skip_bad=True, bad_files=bad)
        ids = ids_of([b.numpy() for b in ds])
    assert len(bad) == 4
    for name in ("a/m1.npy", "b/m0.npy", "b/m2.npy", "c/m1.npy"):
        assert sum(name in msg for msg in bad) == 1
    assert ids == [0, 2, 3, 5, 7, 9]  # the 6 good scenes in listing order
    assert "skipping bad voxel file (4 so far)" in caplog.text


@pytest.mark.parametrize("dtype", ["uint8", "int16", "int64", ">i4"])
def test_tensorflow_decoding_matches_numpy(tmp_path, dtype):
    rng = np.random.default_rng(0)
    for m in range(4):
        (tmp_path / "s").mkdir(exist_ok=True)
        np.save(tmp_path / "s" / f"m{m}.npy", rng.integers(0, 12, SIZE).astype(dtype))
    pairs = vp.list_pairs(tmp_path)
    got = np.concatenate([b.numpy() for b in
                          vp.voxel_dataset(tmp_path, pairs, 2, SIZE, shuffle=False)])
    np.testing.assert_array_equal(got, vp.load_scenes(tmp_path, pairs, SIZE))


def test_bad_labels_and_truncation_found_with_one_common_dtype(tmp_path, caplog):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)
    np.save(root / "a" / "m2.npy", np.full(SIZE, 12, np.uint8))
    data = (root / "c" / "m0.npy").read_bytes()
    (root / "c" / "m0.npy").write_bytes(data[:-10])  # header fine, data cut short
    with pytest.raises(tf.errors.OpError, match=r"a/m2.npy: labels outside 0..11"):
        list(vp.voxel_dataset(root, pairs[:4], 2, SIZE, shuffle=False))
    with pytest.raises(tf.errors.OpError, match=r"c/m0.npy: unreadable"):
        list(vp.voxel_dataset(root, pairs[7:], 1, SIZE, shuffle=False))
    bad = []
    with caplog.at_level(logging.WARNING, logger=vp.__name__):
        ds = vp.voxel_dataset(root, pairs, 1, SIZE, seed=3, skip_bad=True, bad_files=bad)
        ids = sorted(ids_of([b.numpy() for b in ds]))
    assert ids == [0, 1, 3, 4, 5, 6, 8, 9]
    assert len(bad) == 2 and "2 so far" in caplog.text


@pytest.mark.parametrize("content, message", [
    (np.full(SIZE, 13, np.uint8), r"labels outside 0..11 \(found min 13, max 13\)"),
    (np.full(SIZE, -2, np.int8), r"labels outside 0..11 \(found min -2, max -2\)"),
    (np.full(SIZE, -1, np.dtype(">i2")), r"labels outside 0..11 \(found min -1"),
    (np.zeros((8, 4, 7), np.uint8), r"shape \(8, 4, 7\), expected \(8, 4, 8\)"),
    (np.zeros(SIZE, np.float32), "dtype float32, expected an integer"),
    (b"\x93NUMPY garbage", "unreadable .npy file"),
])
def test_check_files_names_the_first_bad_file(tmp_path, content, message):
    root = write_tree(tmp_path)
    pairs = vp.list_pairs(root)
    vp.check_files(root, pairs, SIZE)  # a good tree passes
    bad = root / "b" / "m1.npy"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        np.save(bad, content)
    np.save(root / "c" / "m2.npy", np.full(SIZE, 12, np.uint8))  # a later bad file
    with pytest.raises(vp.VoxelFileError, match=message) as info:
        vp.check_files(root, pairs, SIZE)
    assert str(info.value).startswith(str(bad) + ":")


def test_check_file_finds_one_bad_voxel_and_a_cut_file(tmp_path):
    good = np.random.default_rng(0).integers(0, 12, SIZE).astype(np.int16)
    np.save(tmp_path / "ok.npy", good)
    vp.check_file(tmp_path / "ok.npy", SIZE)
    one = good.copy()
    one[7, 3, 7] = 12  # the very last voxel
    np.save(tmp_path / "one.npy", one)
    with pytest.raises(vp.VoxelFileError,
                       match=r"one.npy: labels outside 0..11 \(found min 0, max 12\)"):
        vp.check_file(tmp_path / "one.npy", SIZE)
    data = (tmp_path / "ok.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[:-3])
    with pytest.raises(vp.VoxelFileError,
                       match=r"cut.npy: truncated: 509 bytes of data, expected 512"):
        vp.check_file(tmp_path / "cut.npy", SIZE)
