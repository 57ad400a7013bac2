"""gqn_input_fn on small written shards and on the real mazes shards."""
import io
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_provider import gqn_tfr_writer
from data_provider.gqn_tfr_provider import Context, Query, gqn_dataset_fn, gqn_input_fn

DATASET = "rooms_ring_camera"  # 10 views of 64x64 per scene, 2160 / 240 shards
VIEWS, SIZE = 10, 64


def make_scene(scene_id, rng):
    """JPEG bytes and raw cameras; x = 10 * scene + view identifies every view."""
    gradient = np.linspace(0, 200, SIZE, dtype=np.float32)[None, :, None]
    jpegs = []
    for view in range(VIEWS):
        noise = rng.integers(0, 55, (SIZE, SIZE, 3))
        image = (noise + gradient + 3 * view).clip(0, 255).astype(np.uint8)
        jpegs.append(gqn_tfr_writer.encode_jpeg(image))
    cameras = np.zeros((VIEWS, 5), np.float32)
    cameras[:, 0] = 10 * scene_id + np.arange(VIEWS)
    cameras[:, 1] = rng.uniform(-1, 1, VIEWS)
    cameras[:, 2] = rng.uniform(-1, 1, VIEWS)
    cameras[:, 3] = rng.uniform(-np.pi, np.pi, VIEWS)
    cameras[:, 4] = rng.uniform(-0.5, 0.5, VIEWS)
    return jpegs, cameras


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """12 train scenes in 4 files (3 per file), 5 test scenes in 2 files."""
    root = tmp_path_factory.mktemp("gqn")
    rng = np.random.default_rng(0)
    train = [make_scene(i, rng) for i in range(12)]
    test = [make_scene(100 + i, rng) for i in range(5)]
    gqn_tfr_writer.write_shards(root, DATASET, "train", train, 3)
    gqn_tfr_writer.write_shards(root, DATASET, "test", test, 3)
    return root, {"train": train, "test": test}


def scene_and_views(cameras):
    """Scene id and view indices from the x coordinates of [..., 7] cameras."""
    x = np.rint(cameras[..., 0]).astype(int)
    return x // 10, x % 10


def pil_decode(jpeg):
    return np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB")) / 255.0


def assert_same_image(frame, jpegs, view):
    """``frame`` is PIL's decode of ``jpegs[view]`` up to the IDCT variant, and no other view.

    TensorFlow's default JPEG decoding (kept from the original) uses the fast
    integer IDCT, PIL the accurate one: a few levels apart per pixel.
    """
    distances = [np.abs(frame - pil_decode(jpeg)).mean() for jpeg in jpegs]
    assert distances[view] < 3 / 255
    assert np.abs(frame - pil_decode(jpegs[view])).max() <= 16 / 255
    assert int(np.argmin(distances)) == view


def collect(ds):
    frames, cameras = [], []
    for query, target in ds:
        frames.append(np.concatenate([query.context.frames, target[:, None]], 1))
        cameras.append(np.concatenate([query.context.cameras, query.query_camera[:, None]], 1))
    return np.concatenate(frames), np.concatenate(cameras)


def test_structure_shapes_and_ranges(written):
    root, _ = written
    ds = gqn_input_fn(DATASET, 4, root, "train", batch_size=5, seed=1)
    batches = list(ds)
    assert len(batches) == 12 // 5  # train drops the partial batch
    query, target = batches[0]
    assert isinstance(query, Query) and isinstance(query.context, Context)
    assert query.context.frames.shape == (5, 4, SIZE, SIZE, 3)
    assert query.context.cameras.shape == (5, 4, 7)
    assert query.query_camera.shape == (5, 7)
    assert target.shape == (5, SIZE, SIZE, 3)
    for t in (query.context.frames, query.context.cameras, query.query_camera, target):
        assert t.dtype == tf.float32
    assert ds.element_spec[1].shape.as_list() == [5, SIZE, SIZE, 3]
    frames = query.context.frames.numpy()
    assert 0.0 <= frames.min() and frames.max() <= 1.0 and frames.max() > 0.5


def test_cameras_and_frames_match_raw_record(written):
    root, scenes = written
    ds = gqn_input_fn(DATASET, 9, root, "test", batch_size=2, seed=3)
    frames, cameras = collect(ds)
    assert frames.shape == (5, 10, SIZE, SIZE, 3)  # test keeps the partial last batch
    scene_ids, views = scene_and_views(cameras)
    assert sorted(scene_ids[:, 0]) == list(range(100, 105))
    for frames_i, cameras_i, scene_id, views_i in zip(frames, cameras, scene_ids, views):
        assert (scene_id == scene_id[0]).all()
        assert len(set(views_i)) == 10  # distinct views
        jpegs, raw = scenes["test"][scene_id[0] - 100]
        raw = raw[views_i].astype(np.float64)
        expected = np.concatenate([raw[:, :3], np.sin(raw[:, 3:4]), np.cos(raw[:, 3:4]),
                                   np.sin(raw[:, 4:5]), np.cos(raw[:, 4:5])], axis=1)
        np.testing.assert_allclose(cameras_i, expected, atol=1e-5)
        for frame, view in zip(frames_i[[0, -1]], views_i[[0, -1]]):
            assert_same_image(frame, jpegs, view)


@pytest.mark.slow
def test_test_mode_deterministic_for_seed(written):
    root, _ = written
    a = collect(gqn_input_fn(DATASET, 3, root, "test", batch_size=2, seed=5))
    b = collect(gqn_input_fn(DATASET, 3, root, "test", batch_size=2, seed=5))
    c = collect(gqn_input_fn(DATASET, 3, root, "test", batch_size=2, seed=6))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(scene_and_views(a[1])[1], scene_and_views(c[1])[1])


def test_eval_mode_epochs_and_partial_batch(written):
    root, _ = written
    batches = list(gqn_input_fn(DATASET, 2, root, "eval", batch_size=4, num_epochs=2, seed=0))
    assert [int(target.shape[0]) for _, target in batches] == [4, 4, 2]
    scene_ids = np.concatenate([scene_and_views(q.query_camera.numpy())[0] for q, _ in batches])
    assert sorted(scene_ids[:5]) == [100, 101, 102, 103, 104]
    assert scene_ids[:5].tolist() == scene_ids[5:].tolist()  # fixed file interleave order


@pytest.mark.slow
def test_train_shuffles_and_repeats_forever(written):
    root, _ = written
    ds = gqn_input_fn(DATASET, 2, root, "train", batch_size=4, num_epochs=None, seed=2)
    cameras = np.concatenate([q.query_camera.numpy() for q, _ in ds.take(9)])
    scene_ids = scene_and_views(cameras)[0]
    assert len(scene_ids) == 36  # three epochs' worth of 12 scenes (epochs blend in the buffer)
    assert set(scene_ids.tolist()) <= set(range(12)) and len(set(scene_ids.tolist())) >= 8
    assert scene_ids[:12].tolist() != sorted(scene_ids[:12].tolist())


def test_resize_bilinear_align_corners(written):
    root, scenes = written
    frames, cameras = collect(gqn_input_fn(DATASET, 1, root, "test", custom_frame_size=24, seed=0))
    assert frames.shape == (5, 2, 24, 24, 3)
    scene_ids, views = scene_and_views(cameras)
    jpeg = scenes["test"][scene_ids[0, 1] - 100][0][views[0, 1]]
    image = pil_decode(jpeg)
    # align_corners: output pixel i samples input position i * (64 - 1) / (24 - 1).
    pos = np.arange(24) * (SIZE - 1) / (24 - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, SIZE - 1)
    w = (pos - lo)[:, None]
    rows = image[lo] * (1 - w[..., None]) + image[hi] * w[..., None]
    expected = rows[:, lo] * (1 - w[None]) + rows[:, hi] * w[None]
    difference = np.abs(frames[0, 1] - expected)
    assert difference.max() <= 16 / 255 and difference.mean() < 3 / 255


def test_samples_per_scene(written):
    root, _ = written
    frames, cameras = collect(gqn_input_fn(DATASET, 3, root, "test", batch_size=4, seed=1,
                                           samples_per_scene=3))
    scene_ids, views = scene_and_views(cameras)
    assert len(scene_ids) == 15
    assert (scene_ids == scene_ids[:, :1]).all()
    per_scene = scene_ids[:, 0].reshape(5, 3)
    assert (per_scene == per_scene[:, :1]).all()  # k examples of each record in a row
    draws = views.reshape(5, 3, 4)
    assert any(not np.array_equal(d[0], d[1]) for d in draws)


def test_partial_download_uses_present_files(tmp_path, caplog):
    rng = np.random.default_rng(1)
    gqn_tfr_writer.write_shards(tmp_path, DATASET, "train",
                                [make_scene(i, rng) for i in range(4)], 2, first_shard=7)
    with caplog.at_level(logging.INFO, logger="data_provider.gqn_datasets"):
        ds = gqn_input_fn(DATASET, 2, tmp_path, "train", batch_size=1, seed=0)
    assert "found 2 of 2160 expected files" in caplog.text
    scene_ids = sorted(scene_and_views(collect(ds)[1])[0][:, 0])
    assert scene_ids == [0, 1, 2, 3]


@pytest.mark.slow
def test_file_sharding(written):
    root, _ = written
    seen = []
    for index in range(2):
        ds = gqn_input_fn(DATASET, 2, root, "train", batch_size=1, seed=0,
                          num_shards=2, shard_index=index)
        seen.append(set(scene_and_views(collect(ds)[1])[0][:, 0]))
    assert seen[0] == {0, 1, 2, 6, 7, 8} and seen[1] == {3, 4, 5, 9, 10, 11}
    with pytest.raises(ValueError, match="num_shards=5 but only 4 shard files"):
        gqn_input_fn(DATASET, 2, root, "train", num_shards=5, shard_index=0)


def test_dataset_fn_for_distribute(written):
    root, _ = written
    fn = gqn_dataset_fn(DATASET, 2, root, "train", global_batch_size=4, seed=0)
    context = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1,
                                         num_replicas_in_sync=2)
    query, target = next(iter(fn(context)))
    assert target.shape == (2, SIZE, SIZE, 3)
    assert set(scene_and_views(query.query_camera.numpy())[0]) <= {3, 4, 5, 9, 10, 11}


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(dataset="rooms"), ValueError, "unknown GQN dataset 'rooms'"),
    (dict(mode="validation"), ValueError, "unknown mode 'validation'"),
    (dict(context_size=10), ValueError, "context_size=10 too large .* at most 9"),
    (dict(batch_size=0), ValueError, "batch_size must be a positive integer"),
    (dict(samples_per_scene=0), ValueError, "samples_per_scene must be a positive integer"),
    (dict(root="/nonexistent/gqn"), FileNotFoundError, "'/nonexistent/gqn' is not a directory"),
    (dict(dataset="jaco"), FileNotFoundError, "jaco/train does not exist"),
])
def test_bad_arguments(written, kwargs, error, match):
    root, _ = written
    args = dict(dataset=DATASET, context_size=3, root=str(root), mode="train")
    args.update(kwargs)
    with pytest.raises(error, match=match):
        gqn_input_fn(**args)


def test_no_matching_files(tmp_path):
    folder = tmp_path / DATASET / "test"
    folder.mkdir(parents=True)
    (folder / "scene.tfrecord").write_bytes(b"")
    with pytest.raises(FileNotFoundError, match="no shard files in .* like 001-of-240"):
        gqn_input_fn(DATASET, 3, tmp_path, "test")


def write_damaged(tmp_path, damage):
    """Two test shards of 3 scenes; ``damage(path)`` alters the second file."""
    rng = np.random.default_rng(2)
    paths = gqn_tfr_writer.write_shards(tmp_path, DATASET, "test",
                                        [make_scene(i, rng) for i in range(6)], 3)
    damage(paths[1])
    return paths[1]


def truncate(path):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:-200])


def flip_byte(path):
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0xFF
    open(path, "wb").write(bytes(data))


def rewrite_second_record(path, frames, cameras):
    records = [r.numpy() for r in tf.data.TFRecordDataset(path)]
    feature = {
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=frames)),
        "cameras": tf.train.Feature(float_list=tf.train.FloatList(value=cameras)),
    }
    records[1] = tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
    with tf.io.TFRecordWriter(path) as writer:
        for record in records:
            writer.write(record)


def bad_jpeg(path):
    jpegs, cameras = make_scene(4, np.random.default_rng(3))
    jpegs[5] = jpegs[5][: len(jpegs[5]) // 2]  # truncated JPEG
    rewrite_second_record(path, jpegs, cameras.reshape(-1))


def short_record(path):
    jpegs, cameras = make_scene(4, np.random.default_rng(3))
    rewrite_second_record(path, jpegs[:9], cameras[:9].reshape(-1))


@pytest.mark.parametrize("damage, match, kept", [
    (truncate, r"002-of-240.tfrecord: damaged tfrecord at byte \d+ of \d+: the file ends inside "
               r"this record \(truncated file\)", 5),
    (flip_byte, r"002-of-240.tfrecord: damaged tfrecord at byte \d+ of \d+: record checksum "
                r"mismatch \(corrupted data\)", 4),
    (bad_jpeg, "undecodable JPEG in a record of .*002-of-240.tfrecord", 5),
    (short_record, "record in .*002-of-240.tfrecord: frames has 9 JPEG strings", 5),
])
@pytest.mark.slow
def test_damaged_data_fails_with_file_name_or_is_skipped(tmp_path, damage, match, kept):
    write_damaged(tmp_path, damage)
    ds = gqn_input_fn(DATASET, 9, tmp_path, "test", batch_size=2, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        collect(ds)
    ds = gqn_input_fn(DATASET, 9, tmp_path, "test", batch_size=2, seed=0, skip_corrupt=True)
    scene_ids = scene_and_views(collect(ds)[1])[0][:, 0]
    assert len(scene_ids) == kept
    assert int(ds.corrupt_count.numpy()) == 1


def test_truncated_file_error_seen_by_a_user_starts_with_the_file(tmp_path):
    """What a command prints (``cli.one_line`` of the error): file, offset of the record, cause."""
    from data_provider import cli
    path = write_damaged(tmp_path, truncate)
    size = os.path.getsize(path)
    records = [len(r.numpy()) for r in tf.data.TFRecordDataset(path).ignore_errors()]
    offset = sum(n + 16 for n in records)  # where the readable records end
    with pytest.raises(tf.errors.InvalidArgumentError) as error:
        collect(gqn_input_fn(DATASET, 9, tmp_path, "test", batch_size=2, seed=0))
    assert "function_node" in str(error.value)  # TensorFlow's wrapping, stripped below
    assert cli.one_line(error.value) == (
        f"{path}: damaged tfrecord at byte {offset} of {size}: the file ends inside this record "
        "(truncated file); the rest of the file is unreadable")


@pytest.mark.parametrize("size, new_size", [(64, 24), (64, 100), (84, 64), (64, 63), (10, 1)])
def test_resize_equals_the_deprecated_align_corners_op(size, new_size):
    """Bit-identical to ``tf.compat.v1.image.resize_bilinear(..., align_corners=True)``."""
    from data_provider.gqn_tfr_provider import resize_bilinear_align_corners
    images = np.random.default_rng(size + new_size).random((3, size, size, 3), dtype=np.float32)
    old = tf.compat.v1.image.resize_bilinear(images, [new_size, new_size], align_corners=True)
    new = tf.function(resize_bilinear_align_corners)(tf.constant(images), new_size)
    assert new.shape == (3, new_size, new_size, 3)
    np.testing.assert_array_equal(new.numpy(), old.numpy())
    np.testing.assert_array_equal(resize_bilinear_align_corners(images[0], new_size).numpy(),
                                  old.numpy()[0])


@pytest.mark.slow
def test_real_mazes_shards(gqn_real_root):
    ds = gqn_input_fn("mazes", 5, gqn_real_root, "train", batch_size=4, seed=0)
    query, target = next(iter(ds))
    assert query.context.frames.shape == (4, 5, 84, 84, 3)
    assert target.shape == (4, 84, 84, 3)
    cameras = query.context.cameras.numpy()
    np.testing.assert_allclose(cameras[..., 3] ** 2 + cameras[..., 4] ** 2, 1, atol=1e-5)
    np.testing.assert_allclose(cameras[..., 5] ** 2 + cameras[..., 6] ** 2, 1, atol=1e-5)
    assert float(tf.math.reduce_std(target)) > 0.02
    frames, _ = collect(gqn_input_fn("mazes", 5, gqn_real_root, "test", batch_size=4, seed=0,
                                     samples_per_scene=2))
    assert frames.shape == (10, 6, 84, 84, 3)


def test_real_mazes_frames_match_pil(gqn_real_root):
    path = os.path.join(gqn_real_root, "mazes", "test", "001-of-120.tfrecord")
    example = tf.train.Example.FromString(next(iter(tf.data.TFRecordDataset(path))).numpy())
    jpegs = example.features.feature["frames"].bytes_list.value
    raw = np.array(example.features.feature["cameras"].float_list.value).reshape(300, 5)
    frames, cameras = collect(gqn_input_fn("mazes", 3, gqn_real_root, "test", seed=4).take(1))
    for frame, camera in zip(frames[0], cameras[0]):
        view = int(np.argmin(np.abs(raw[:, :3] - camera[:3]).sum(1)))
        assert_same_image(frame, jpegs, view)
        np.testing.assert_allclose(camera[3:5], [np.sin(raw[view, 3]), np.cos(raw[view, 3])],
                                   atol=1e-5)
