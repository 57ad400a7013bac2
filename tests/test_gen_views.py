"""evaluation/gen_views.py: query places and headings, the top-down map, the frame
(active nodes, camera arrow), and the command on a small checkpoint of real mazes."""
import json
import math

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from evaluation import gen_views
from models import checkpoints
from models.gen import build_model
from models.gen.config import gen_config
from models.gen.graph import GraphStructure
from training import checkpointing

SMALL = {"num_steps": 1, "hidden_channels": 4, "canvas_channels": 4, "upsample_channels": 4,
         "embedding_channels": 6, "embedder_channels": 8, "mlp_units": 8, "message_channels": 4}


def test_main_spots_most_views_first():
    xy = np.array([[0.1, 0.2]] * 2 + [[0.3, 0.3]] * 3 + [[-0.2, 0.0]] * 2 + [[0.0, 0.0]])
    np.testing.assert_allclose(gen_views.main_spots(xy, 2), [[0.3, 0.3], [0.1, 0.2]])
    np.testing.assert_allclose(gen_views.main_spots(xy, 3)[2], [-0.2, 0.0])


def test_turn_poses_cover_a_full_turn_in_the_provider_order():
    poses = gen_views.turn_poses(np.array([[1.0, 2.0], [3.0, 4.0]]), 11)
    assert poses.shape == (22, 7)
    np.testing.assert_allclose(poses[:11, :3], [[1.0, 2.0, 0.0]] * 11)
    yaw = np.arctan2(poses[:11, 3], poses[:11, 4])  # sin yaw, cos yaw
    np.testing.assert_allclose(np.diff(np.unwrap(yaw)), 2 * np.pi / 11, atol=1e-5)
    np.testing.assert_allclose(poses[0, 3:5], [0.0, -1.0], atol=1e-6)  # the first faces -x
    np.testing.assert_allclose(poses[:, 5:], [[0.0, 1.0]] * 22)


def test_floor_samples_read_the_floor_just_ahead():
    frames = np.zeros((2, 64, 64, 3), np.float32)
    frames[:, 52:, 26:38] = [0.2, 0.6, 0.9]
    frames[:, :52] = 1.0  # the rest of the image does not count
    cameras = np.array([[1.0, 1.0, 0, 0.0, 1.0, 0, 1], [0.0, 0.0, 0, 1.0, 0.0, 0, 1]], np.float32)
    points, colours = gen_views.floor_samples(frames, cameras, ahead=0.1)
    np.testing.assert_allclose(colours, [[0.2, 0.6, 0.9]] * 2, atol=1e-6)
    np.testing.assert_allclose(points, [[1.1, 1.0], [0.0, 0.1]], atol=1e-6)


def test_map_keeps_mazes_apart_and_marks_unseen_places():
    graph = GraphStructure(2, (0.0, 0.0))  # x, y in [-1, 3]
    view = gen_views.MapView(graph.grid_min.numpy(), graph.grid_max.numpy(), pixels=80)
    np.testing.assert_allclose(view.to_pixels([-1.25, -1.25]), [0, 80])  # y up
    points = np.array([[0.0, 0.0], [2.0, 0.0]])
    colours = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    image = gen_views.top_down_map(view, points, colours, np.array([0, 2]), [-1.0, -1.0], 2)
    row, col = np.round(view.to_pixels([0.0, 0.0])[::-1]).astype(int)
    assert tuple(image[row, col]) == (255, 0, 0)
    row, col = np.round(view.to_pixels([2.0, 0.0])[::-1]).astype(int)
    assert tuple(image[row, col]) == (0, 255, 0)
    # close to maze 0's sample but in maze 2's cell: maze 2's nearest sample is far: unseen
    row, col = np.round(view.to_pixels([1.02, 0.0])[::-1]).astype(int)
    assert tuple(image[row, col]) == gen_views.BACKGROUND


@pytest.mark.parametrize("yaw", [0.0, math.pi / 2, -2.5])
def test_frame_draws_the_camera_along_its_yaw_and_weights_the_active_nodes(yaw):
    graph = GraphStructure(1, (0.0, 0.0))
    positions, sources, sinks = graph.numpy()
    pose = np.array([0.1, -0.2, 0, math.sin(yaw), math.cos(yaw), 0, 1], np.float32)
    corners, weights = (t.numpy() for t in graph.interpolation_corners(pose))
    view = gen_views.MapView(graph.grid_min.numpy(), graph.grid_max.numpy())
    base = np.zeros((view.pixels, view.pixels, 3), np.uint8)
    frame = gen_views.draw_frame(np.full((64, 64, 3), 0.5), base, view, positions,
                                 list(zip(sources, sinks)), pose, corners, weights)
    panel = np.asarray(frame)[:, gen_views.VIEW_PIXELS + 6:].astype(int)
    yellow = (panel[..., 0] > 200) & (panel[..., 1] > 180) & (panel[..., 2] < 120)
    rows, cols = np.nonzero(yellow)
    centre = view.to_pixels(pose[:2])
    direction = np.array([cols.mean() - centre[0], centre[1] - rows.mean()])
    angle = math.atan2(direction[1], direction[0])
    assert abs(math.remainder(angle - yaw, 2 * math.pi)) < 0.3
    # the node of largest weight is drawn red and larger than the one of smallest weight
    red = (panel[..., 0] > 150) & (panel[..., 1] < 90) & (panel[..., 2] < 90)

    def red_pixels_near(index):
        x, y = view.to_pixels(positions[index])
        r0, c0 = int(round(y)), int(round(x))
        return red[max(r0 - 12, 0):r0 + 13, max(c0 - 12, 0):c0 + 13].sum()

    order = np.argsort(weights)
    assert red_pixels_near(corners[order[-1]]) > red_pixels_near(corners[order[0]])
    assert np.asarray(frame).shape[1] == gen_views.VIEW_PIXELS + 6 + view.pixels


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """A run folder with config.json and ckpt-7 of a small untrained model."""
    folder = tmp_path_factory.mktemp("gen_run")
    cfg = gen_config(SMALL)
    model = build_model(cfg)
    checkpoint = tf.train.Checkpoint(step=tf.Variable(7, dtype=tf.int64),
                                     **checkpoints.checkpoint_objects({"model": model}))
    tf.train.CheckpointManager(checkpoint, str(folder), 1, checkpoint_name="ckpt").save(7)
    from models.gen.config import model_config
    checkpointing.write_config(str(folder), "gen", model_config(cfg))
    return folder


@pytest.mark.slow
def test_command_writes_gif_strip_and_l2(small_run, gqn_real_root, tmp_path, capsys):
    out = tmp_path / "views"
    code = gen_views.main(["--model_dir", str(small_run), "--data_dir", str(gqn_real_root),
                           "--out", str(out), "--hotel_dim", "2", "--spots", "1",
                           "--headings", "3", "--sizes", "1", "2"])
    assert code == 0
    stdout = capsys.readouterr().out
    assert "restored" in stdout and "step 7" in stdout
    gif = Image.open(out / "gen_views.gif")
    assert gif.n_frames == 4 * 1 * 3
    assert Image.open(out / "gen_views.png").size[0] == gif.size[0]
    result = json.loads((out / "gen_l2.json").read_text())
    assert result["step"] == 7
    assert result["l2"]["1x1"]["queries"] == 4 and result["l2"]["2x2"]["queries"] == 4
    for size in ("1x1", "2x2"):
        assert 0.0 < result["l2"][size]["l2"] < 1.0
        assert f"{size} hotels: mean L2" in stdout


@pytest.mark.parametrize("flags, message", [
    (["--sizes", "6"], "--sizes"),
    (["--headings", "0"], "--headings must be >= 1"),
])
def test_bad_flags(small_run, gqn_real_root, tmp_path, capsys, flags, message):
    code = gen_views.main(["--model_dir", str(small_run), "--data_dir", str(gqn_real_root),
                           "--out", str(tmp_path / "v"), *flags])
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "v").exists()


def test_model_dir_without_a_run(gqn_real_root, tmp_path, capsys):
    code = gen_views.main(["--model_dir", str(tmp_path), "--data_dir", str(gqn_real_root)])
    assert code == 2 and "config.json" in capsys.readouterr().err


def test_test_scenes_read_again_are_the_same_decoded_views(gqn_real_root):
    """7 scenes of the 5-maze real test split: the first two come again, decoded once, equal
    to decoding each record on its own (the GEN reader's 84 -> 64 resize)."""
    from data_provider import gen_hotels
    from data_provider.gqn_tfr_provider import gqn_scene_dataset

    frames, cameras = gen_views.read_test_scenes(str(gqn_real_root), "Labyrinth", 7, 0)
    assert frames.shape == (7, 300, 64, 64, 3) and cameras.shape == (7, 300, 7)
    scenes = list(gqn_scene_dataset("mazes", str(gqn_real_root), "test", seed=0).take(2))
    for i, (path, jpegs, camera) in enumerate(scenes):
        expected = gen_hotels.decode_views(jpegs[None, :3], path[None], "mazes").numpy()[0]
        for j in (i, i + 5):
            np.testing.assert_array_equal(frames[j, :3], expected)
            np.testing.assert_array_equal(cameras[j], camera.numpy())
    assert not np.array_equal(frames[0], frames[1])
