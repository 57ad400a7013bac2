"""Stand-in GQN scenes and the shards render_dataset writes."""
import io
import os
import re

import numpy as np
import pytest
from PIL import Image

from data_provider import gqn_scenes, render_dataset
from data_provider import scene_renderer as sr

STAND_INS = ("rooms_ring_camera", "shepard_metzler_5_parts", "shepard_metzler_7_parts")
VIEWS = {"rooms_ring_camera": 10, "shepard_metzler_5_parts": 15, "shepard_metzler_7_parts": 15}


def test_ring_cameras_lie_on_the_ring_and_face_the_centre():
    config = gqn_scenes.ROOMS
    cameras = gqn_scenes.ring_cameras(np.random.default_rng(3), config)
    assert cameras.shape == (10, 5) and cameras.dtype == np.float32
    cameras = cameras.astype(np.float64)
    x, y, z, yaw, pitch = cameras.T
    np.testing.assert_allclose(np.hypot(x, y), config.ring_radius, rtol=1e-6)
    np.testing.assert_allclose(z, config.camera_height, rtol=1e-6)
    # The horizontal viewing direction points from the camera to the centre.
    np.testing.assert_allclose(np.cos(yaw), -x / np.hypot(x, y), atol=1e-6)
    np.testing.assert_allclose(np.sin(yaw), -y / np.hypot(x, y), atol=1e-6)
    expected_pitch = np.arctan2(config.look_at_height - config.camera_height, config.ring_radius)
    np.testing.assert_allclose(pitch, expected_pitch, atol=1e-6)
    assert np.all(np.abs(yaw) <= np.pi) and len(np.unique(np.round(yaw, 4))) == 10


def test_orbit_cameras_keep_a_fixed_distance_and_look_at_the_origin():
    cameras = gqn_scenes.orbit_cameras(np.random.default_rng(4)).astype(np.float64)
    position, yaw, pitch = cameras[:, :3], cameras[:, 3], cameras[:, 4]
    np.testing.assert_allclose(np.linalg.norm(position, axis=1),
                               gqn_scenes.SHEPARD_METZLER.distance, rtol=1e-5)
    forward = np.stack([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)], 1)
    np.testing.assert_allclose(forward, -position / np.linalg.norm(position, axis=1)[:, None],
                               atol=1e-5)


@pytest.mark.parametrize("num_parts", [5, 7])
def test_self_avoiding_walk(num_parts):
    for seed in range(20):
        cells = gqn_scenes.self_avoiding_walk(np.random.default_rng(seed), num_parts)
        assert cells.shape == (num_parts, 3)
        assert len({tuple(c) for c in cells}) == num_parts
        np.testing.assert_array_equal(np.abs(np.diff(cells, axis=0)).sum(axis=1), 1)


def test_rooms_objects_count_and_rest_on_the_floor():
    counts = []
    for seed in range(40):
        objects = gqn_scenes.sample_room_objects(np.random.default_rng(seed))
        counts.append(len(objects))
        for obj in objects:
            assert obj.kind in gqn_scenes.OBJECT_KINDS
            assert obj.position[2] == pytest.approx(obj.size[2])
            assert np.hypot(*obj.position[:2]) <= gqn_scenes.ROOMS.object_area_radius
    assert set(counts) == {1, 2, 3}


def test_room_walls_enclose_the_room():
    prims = gqn_scenes.room_walls((0.8, 0.1, 0.1), (0.1, 0.1, 0.8))
    # Looking horizontally from the centre in any direction hits a wall at 3.5 units.
    for yaw in np.linspace(-np.pi, np.pi, 9):
        direction = np.array([[np.cos(yaw), np.sin(yaw), 0.0]])
        t, _, ids = sr.cast(prims, np.array([[0.0, 0.0, 1.0]]), direction)
        assert ids[0] >= 1
        assert t[0] == pytest.approx(3.5 / max(abs(np.cos(yaw)), abs(np.sin(yaw))), rel=1e-6)
    t, _, ids = sr.cast(prims, np.array([[0.5, 0.5, 1.0]]), np.array([[0.0, 0.0, -1.0]]))
    assert ids[0] == 0 and t[0] == pytest.approx(1.0)


@pytest.mark.parametrize("dataset", STAND_INS)
def test_scenes_have_gqn_shapes_are_seeded_and_not_blank(dataset):
    frames, cameras = gqn_scenes.generate_scene(dataset, np.random.default_rng(7))
    assert frames.shape == (VIEWS[dataset], 64, 64, 3) and frames.dtype == np.uint8
    assert cameras.shape == (VIEWS[dataset], 5) and cameras.dtype == np.float32
    again, cameras_again = gqn_scenes.generate_scene(dataset, np.random.default_rng(7))
    np.testing.assert_array_equal(frames, again)
    np.testing.assert_array_equal(cameras, cameras_again)
    for frame in frames:
        assert frame.std() > 10                       # not a flat image
        assert len(np.unique(frame.reshape(-1, 3), axis=0)) > 8
        assert np.mean(frame.max(axis=-1) > 0) > 0.03  # objects cover part of the view
    other, _ = gqn_scenes.generate_scene(dataset, np.random.default_rng(8))
    assert np.abs(other.astype(int) - frames).mean() > 1


def test_unknown_stand_in_is_rejected():
    with pytest.raises(ValueError, match="no rendered stand-in.*jaco"):
        gqn_scenes.generate_scene("jaco", np.random.default_rng(0))


@pytest.fixture(scope="module")
def rendered_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gqn")
    written = {dataset: render_dataset.render_dataset(dataset, str(root), 3, 1, seed=5,
                                                      scenes_per_file=2, workers=1)
               for dataset in STAND_INS}
    return root, written


def _read_records(path, views):
    import tensorflow as tf

    spec = {"frames": tf.io.FixedLenFeature([views], tf.string),
            "cameras": tf.io.FixedLenFeature([views * 5], tf.float32)}
    return [tf.io.parse_single_example(r, spec) for r in tf.data.TFRecordDataset([path])]


@pytest.mark.parametrize("dataset", STAND_INS)
def test_shards_are_written_in_the_original_naming_and_read_back(rendered_root, dataset):
    root, written = rendered_root
    total_train, total_test = (2160, 240) if dataset == "rooms_ring_camera" else (900, 100)
    width_train, width_test = len(str(total_train)), len(str(total_test))
    base = root / dataset
    assert sorted(os.listdir(base / "train")) == [
        f"{1:0{width_train}d}-of-{total_train}.tfrecord",
        f"{2:0{width_train}d}-of-{total_train}.tfrecord"]
    assert sorted(os.listdir(base / "test")) == [f"{1:0{width_test}d}-of-{total_test}.tfrecord"]
    assert written[dataset]["train"] == [str(base / "train" / n)
                                         for n in sorted(os.listdir(base / "train"))]
    records = _read_records(written[dataset]["train"][0], VIEWS[dataset])
    assert len(records) == 2
    assert len(_read_records(written[dataset]["train"][1], VIEWS[dataset])) == 1
    # Record 1 of the first train shard is scene 1, re-rendered independently here.
    frames, cameras = gqn_scenes.generate_scene(dataset, render_dataset.scene_rng(5, "train", 1))
    np.testing.assert_array_equal(records[1]["cameras"].numpy().reshape(-1, 5), cameras)
    decoded = np.stack([np.asarray(Image.open(io.BytesIO(j)))
                        for j in records[1]["frames"].numpy()])
    assert decoded.shape == frames.shape
    assert np.abs(decoded.astype(int) - frames).mean() < 3    # JPEG at quality 95


@pytest.mark.parametrize("dataset", STAND_INS)
def test_gqn_input_fn_reads_the_rendered_data(rendered_root, dataset):
    import tensorflow as tf

    from data_provider.gqn_tfr_provider import gqn_input_fn

    root, _ = rendered_root
    data = gqn_input_fn(dataset, 4, str(root), "train", batch_size=3, seed=1)
    query, target = next(iter(data))
    assert query.context.frames.shape == (3, 4, 64, 64, 3)
    assert query.context.cameras.shape == (3, 4, 7) and query.query_camera.shape == (3, 7)
    assert target.shape == (3, 64, 64, 3)
    assert 0.0 <= float(tf.reduce_min(target)) and float(tf.reduce_max(target)) <= 1.0
    assert float(tf.math.reduce_std(target)) > 0.03
    cameras = query.query_camera.numpy()
    np.testing.assert_allclose(cameras[:, 3] ** 2 + cameras[:, 4] ** 2, 1.0, atol=1e-5)


def test_workers_do_not_change_the_output(tmp_path):
    one = render_dataset.render_dataset("rooms_ring_camera", str(tmp_path / "a"), 4, 0, seed=9,
                                        scenes_per_file=4, workers=1)
    lines = []
    two = render_dataset.render_dataset("rooms_ring_camera", str(tmp_path / "b"), 4, 0, seed=9,
                                        scenes_per_file=4, workers=2, log=lines.append)
    assert re.fullmatch(r"\[rooms_ring_camera/train\] 4/4 scenes  [\d.]+ scenes/s  ETA 0:00:00",
                        lines[-1])
    with open(one["train"][0], "rb") as a, open(two["train"][0], "rb") as b:
        assert a.read() == b.read()
    assert one["test"] == [] and one["scenes_per_minute"] > 0


def test_existing_shards_are_never_overwritten(rendered_root):
    root, written = rendered_root
    path = written["rooms_ring_camera"]["test"][0]
    before = open(path, "rb").read()
    with pytest.raises(FileExistsError, match="refusing to overwrite existing shard .*001-of-240"):
        render_dataset.render_dataset("rooms_ring_camera", str(root), 0, 1, seed=1, workers=1)
    assert open(path, "rb").read() == before


def test_cli_writes_and_reports(tmp_path, capsys):
    code = render_dataset.main(["--dataset", "shepard_metzler_5_parts", "--root", str(tmp_path),
                                "--num_train", "1", "--num_test", "1", "--seed", "2",
                                "--workers", "1"])
    assert code == 0
    assert "wrote 1 train and 1 test shards" in capsys.readouterr().out
    assert os.path.isfile(tmp_path / "shepard_metzler_5_parts" / "train" / "001-of-900.tfrecord")
    # Second run into the same root: one-line error, exit code 2, nothing rendered.
    code = render_dataset.main(["--dataset", "shepard_metzler_5_parts", "--root", str(tmp_path),
                                "--num_train", "1", "--num_test", "0", "--workers", "1"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("render_dataset.py: error: refusing to overwrite")


@pytest.mark.parametrize("argv,match", [
    (["--num_train", "-1"], "--num_train must be a non-negative integer"),
    (["--num_train", "2000", "--scenes_per_file", "1"], "need 2000 shards but .* has only 900"),
    (["--workers", "0"], "--workers must be a positive integer"),
    (["--scenes_per_file", "0"], "--scenes_per_file must be a positive integer"),
])
def test_cli_bad_values_exit_2(tmp_path, capsys, argv, match):
    base = ["--dataset", "shepard_metzler_7_parts", "--root", str(tmp_path),
            "--num_train", "1", "--num_test", "0"]
    assert render_dataset.main(base + argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert re.search(match, err)
    assert not os.path.exists(tmp_path / "shepard_metzler_7_parts")


def test_cli_unknown_dataset_exits_2(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        render_dataset.main(["--dataset", "jaco", "--root", str(tmp_path),
                             "--num_train", "1", "--num_test", "1"])
    assert exit_info.value.code == 2


def test_crash_part_way_leaves_no_shard(tmp_path, monkeypatch):
    """A failure while rendering (the 3rd test scene, after the train split) leaves no shard."""
    real = render_dataset.render_scene_record

    def failing(task):
        if task[2:4] == ("test", 2):
            raise RuntimeError("renderer crashed")
        return real(task)

    monkeypatch.setattr(render_dataset, "render_scene_record", failing)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        render_dataset.render_dataset("shepard_metzler_5_parts", str(tmp_path), 2, 4, seed=0,
                                      scenes_per_file=1, workers=1, log=lambda line: None)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_help_shows_defaults(capsys):
    with pytest.raises(SystemExit) as stop:
        render_dataset.main(["--help"])
    out = capsys.readouterr().out
    assert stop.value.code == 0
    assert "records per shard (default: 100)" in out and "JPEG quality (default: 95)" in out


def test_a_second_writer_of_the_root_is_refused_naming_the_holder(tmp_path, capsys):
    from data_provider import folder_lock
    with folder_lock.hold(str(tmp_path), "--root", "render_dataset.py"):
        code = render_dataset.main(["--dataset", "rooms_ring_camera", "--root", str(tmp_path),
                                    "--num_train", "1", "--num_test", "0", "--workers", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert f"--root {tmp_path} is being written by render_dataset.py (process {os.getpid()}" in err
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
