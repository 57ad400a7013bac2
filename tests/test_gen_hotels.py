"""GEN hotels from GQN tfrecords: placement, batch sizes for d = 1..5, per-maze view draws,
the 84 -> 64 resize against PIL."""
import numpy as np
import pytest
import tensorflow as tf

from data_provider import gqn_tfr_writer
from data_provider.gen_hotels import assemble_hotels, gen_hotel_dataset, hotel_offsets
from data_provider.gqn_tfr_provider import gqn_scene_dataset
from models.gen.graph import GraphStructure

NUM_SCENES, VIEWS = 7, 300


def colour(scene, view):
    return np.array([(37 * scene) % 256, view % 256, 200], np.uint8)


def raw_camera(scene, view):
    """x, y encode the scene and the view; the rest is arbitrary."""
    return [-0.9 + 0.1 * scene, -0.9 + 0.005 * view, 0.0, 0.01 * view, 0.0]


@pytest.fixture(scope="module")
def mazes_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gqn")
    scenes = []
    for s in range(NUM_SCENES):
        frames = np.stack([np.broadcast_to(colour(s, v), (84, 84, 3)) for v in range(VIEWS)])
        scenes.append((frames, np.array([raw_camera(s, v) for v in range(VIEWS)])))
    gqn_tfr_writer.write_shards(root, "mazes", "test", scenes, 4)
    gqn_tfr_writer.write_shards(root, "mazes", "train", scenes, 4)
    return root


def decode_ids(xy):
    """(scene, view) from camera (x, y) without the hotel offsets."""
    return (np.rint((xy[..., 0] + 0.9) / 0.1).astype(int),
            np.rint((xy[..., 1] + 0.9) / 0.005).astype(int))


def test_hand_worked_placement():
    # 2 hotels of 2x2 scenes, 1 context view + 1 query per scene, every camera at (0.1, -0.2)
    cameras = np.tile(np.array([0.1, -0.2, 0.5, 0, 1, 0, 1], np.float32), (8, 2, 1))
    frames = np.arange(8 * 2, dtype=np.float32).reshape(8, 2, 1, 1, 1)
    hotels = assemble_hotels(tf.constant(frames), tf.constant(cameras), 2, (1.5, 3.0), 1)
    expected = np.array([[1.6, 2.8], [1.6, 4.8], [3.6, 2.8], [3.6, 4.8]])
    for key in ("context_cameras", "query_cameras"):
        got = hotels[key].numpy()
        assert got.shape == (2, 4, 7)
        np.testing.assert_allclose(got[..., :2], np.stack([expected] * 2), atol=1e-6)
        np.testing.assert_allclose(got[..., 2:], cameras[:8:2, 0, 2:][None].repeat(2, 0))
    # scene s of hotel h is raw scene 4 h + s; view 0 is context, view 1 the query
    np.testing.assert_array_equal(hotels["context_frames"].numpy().ravel(), np.arange(0, 16, 2))
    np.testing.assert_array_equal(hotels["target"].numpy().ravel(), np.arange(1, 16, 2))
    np.testing.assert_allclose(hotel_offsets(3, (0.0, 0.0)).numpy()[[0, 1, 3, 5, 8]],
                               [[0, 0], [0, 2], [2, 0], [2, 4], [4, 4]])


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
@pytest.mark.slow
def test_every_hotel_size(mazes_root, d):
    ds = gen_hotel_dataset("Labyrinth", mazes_root, "test", batch_size=1, dims=(d,), max_dim=5,
                           num_batches=2, seed=d)
    batches = list(ds)
    assert len(batches) == 2
    stream = [decode_ids(cameras.numpy()[0, :2])[0] for _, _, cameras in
              gqn_scene_dataset("mazes", mazes_root, "test", num_epochs=None).take(50)]
    for k, b in enumerate(batches):
        hotels = 25 // (d * d)
        assert int(b["num_scenes_per_dim"]) == d
        assert b["context_frames"].shape == (hotels, 8 * d * d, 64, 64, 3)
        assert b["context_cameras"].shape == (hotels, 8 * d * d, 7)
        assert b["query_cameras"].shape == (hotels, d * d, 7)
        assert b["target"].shape == (hotels, d * d, 64, 64, 3)
        shift = b["shift"].numpy()
        assert ((shift >= 0) & (shift <= 10 - 2 * d + 1e-6)).all()
        offsets = hotel_offsets(d, shift).numpy()  # [d^2, 2]
        context = b["context_cameras"].numpy().reshape(hotels, d * d, 8, 7)
        query = b["query_cameras"].numpy().reshape(hotels, d * d, 1, 7)
        scenes, views = [], []
        for cams in (context, query):
            s, v = decode_ids(cams[..., :2] - offsets[None, :, None, :])
            scenes.append(s)
            views.append(v)
            # cameras keep their other entries (z, sin / cos of yaw)
            np.testing.assert_allclose(cams[..., 3], np.sin(0.01 * v), atol=1e-5)
        # one scene per slot, the scenes of the raw batch in order, each scene its own
        # 8 distinct context views and a query that is not one of them
        for s in scenes:
            assert (s == s[:, :, :1]).all()
        used = hotels * d * d  # the first scenes of the raw batch of 25, in reading order
        np.testing.assert_array_equal(scenes[0][:, :, 0].ravel(), stream[25 * k:25 * k + used])
        context_views = views[0].reshape(used, 8)
        query_views = views[1].reshape(used)
        for c, q in zip(context_views, query_views):
            assert len(set(c)) == 8 and q not in set(c)
        # independent draws: no two mazes of the batch share their context views
        distinct = {tuple(sorted(c)) for c in context_views}
        assert len(distinct) == used
        # frames belong to their cameras
        frames = b["context_frames"].numpy().reshape(hotels, d * d, 8, 64, 64, 3)
        want = np.stack(np.vectorize(colour, signature="(),()->(k)")(scenes[0], views[0]))
        np.testing.assert_allclose(frames.mean(axis=(3, 4)), want / 255.0, atol=0.02)
        # every pose lies on the hotel's graph
        graph = GraphStructure(d, shift)
        graph.interpolation_corners(b["context_cameras"])
        graph.interpolation_corners(b["query_cameras"])


@pytest.mark.slow
def test_train_draws_sizes_and_keeps_the_query_count(mazes_root):
    ds = gen_hotel_dataset("Labyrinth", mazes_root, "train", batch_size=1, dims=(1, 2),
                           num_epochs=12, seed=3)
    sizes = []
    for b in ds:
        d = int(b["num_scenes_per_dim"])
        sizes.append(d)
        assert b["query_cameras"].shape[0] * b["query_cameras"].shape[1] == 4
    assert len(sizes) == 12 * NUM_SCENES // 4  # full raw batches of B max_d^2 = 4 scenes
    assert set(sizes) == {1, 2}


@pytest.mark.parametrize("kwargs, match", [
    (dict(dataset="Maze"), "unknown GEN dataset 'Maze'"),
    (dict(dims=(6,)), "6x6 hotel does not fit"),
    (dict(dims=(1, 3), max_dim=2), "max_dim=2 is smaller"),
    (dict(batch_size=0), "batch_size must be a positive integer"),
])
def test_bad_arguments(mazes_root, kwargs, match):
    args = dict(dataset="Labyrinth", root=mazes_root, mode="train")
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gen_hotel_dataset(**args)


@pytest.mark.slow
def test_real_mazes_hotels(gqn_real_root):
    for d in (1, 3, 5):
        b = next(iter(gen_hotel_dataset("Labyrinth", gqn_real_root, "test", batch_size=1,
                                        dims=(d,), max_dim=5, num_batches=1, seed=0)))
        hotels = 25 // (d * d)
        assert b["target"].shape == (hotels, d * d, 64, 64, 3)
        frames = b["context_frames"].numpy()
        assert 0.0 <= frames.min() and frames.max() <= 1.0 and frames.std() > 0.05
        graph = GraphStructure(d, b["shift"])
        weights = graph.interpolation_weights(b["context_cameras"]).numpy()
        np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-5)
        # unit yaw vector: the provider's sin, cos order
        cams = b["context_cameras"].numpy()
        np.testing.assert_allclose(cams[..., 3] ** 2 + cams[..., 4] ** 2, 1.0, atol=1e-5)


def test_undecodable_view_is_an_error_naming_the_file(tmp_path):
    good = gqn_tfr_writer.encode_jpeg(np.zeros((84, 84, 3), np.uint8))
    cameras = np.array([raw_camera(0, v) for v in range(VIEWS)])
    scenes = [([good] * VIEWS, cameras), ([b"not a jpeg"] * VIEWS, cameras)]
    paths = gqn_tfr_writer.write_shards(tmp_path, "mazes", "test", scenes, 2)
    ds = gen_hotel_dataset("Labyrinth", tmp_path, "test", batch_size=1, dims=(1,), max_dim=1,
                           num_batches=2, seed=0)
    with pytest.raises(tf.errors.InvalidArgumentError,
                       match=f"undecodable JPEG in a record of {paths[0]}"):
        list(ds)


def test_independent_draws_across_mazes_look_uniform(mazes_root):
    """Per-maze draws: over many batches a view index is as likely for every maze, and
    the indices of two mazes of one batch are uncorrelated."""
    ds = gen_hotel_dataset("Labyrinth", mazes_root, "test", batch_size=1, dims=(2,),
                           num_batches=40, seed=11)
    first, second = [], []
    for b in ds:
        offsets = hotel_offsets(2, b["shift"].numpy()).numpy()
        cams = b["context_cameras"].numpy().reshape(-1, 4, 8, 7)
        _, v = decode_ids(cams[..., :2] - offsets[None, :, None, :])
        first.append(v[0, 0])
        second.append(v[0, 1])
    first, second = np.concatenate(first), np.concatenate(second)
    # 320 draws of 300 views each: the two mazes agree only by chance (8 / 300 per slot)
    assert np.mean(first == second) < 0.05
    assert abs(np.corrcoef(first, second)[0, 1]) < 0.2
    assert 110 < first.mean() < 190 and 110 < second.mean() < 190


def test_resize_equals_pil_on_real_frames(gqn_real_root):
    import glob
    import io

    from PIL import Image

    from data_provider.gen_hotels import pil_bilinear_resize

    path = sorted(glob.glob(f"{gqn_real_root}/mazes/test/*.tfrecord"))[0]
    record = next(iter(tf.data.TFRecordDataset(path)))
    jpegs = tf.train.Example.FromString(record.numpy()).features.feature["frames"].bytes_list
    frames = np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB"))
                       for j in jpegs.value[:40]])
    want = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BILINEAR))
                     for f in frames])
    got = pil_bilinear_resize(tf.constant(frames, tf.float32) / 255.0, 64).numpy()
    np.testing.assert_array_equal(np.rint(got * 255).astype(np.uint8), want)
    # the GQN readers' align-corners resize differs by about 0.0045 on average
    from data_provider.gqn_tfr_provider import resize_bilinear_align_corners
    old = resize_bilinear_align_corners(tf.constant(frames, tf.float32) / 255.0, 64).numpy()
    assert np.abs(old - want / 255.0).mean() > 0.002


def test_resize_equals_pil_on_noise_and_hotels_use_it(mazes_root):
    from PIL import Image

    from data_provider.gen_hotels import pil_bilinear_resize

    noise = np.random.default_rng(0).integers(0, 256, (3, 84, 84, 3)).astype(np.uint8)
    want = np.stack([np.asarray(Image.fromarray(f).resize((64, 64), Image.BILINEAR))
                     for f in noise])
    got = pil_bilinear_resize(tf.constant(noise, tf.float32) / 255.0, 64).numpy()
    np.testing.assert_array_equal(np.rint(got * 255).astype(np.uint8), want)
    with pytest.raises(ValueError, match="resize must be one of"):
        gen_hotel_dataset("Labyrinth", mazes_root, "test", resize="nearest")
