"""The rendered mazes stand-in: ray-cast geometry by hand, layouts, cameras, the records the
GQN and GEN readers take, and the stand-in's cameras and colours beside the real shards'."""
import dataclasses
import glob
import math
import os
from collections import deque

import numpy as np
import pytest

from data_provider import maze_renderer as mr
from data_provider import render_dataset

SKY = np.rint(np.asarray(mr.MAZES.sky) * 255).astype(int)
CONFIG = dataclasses.replace(mr.MAZES, supersample=1)


def open_maze():
    """9 x 9 blocks: the outer ring only, free inside [-7/18, 7/18]^2."""
    walls = np.ones((9, 9), dtype=bool)
    walls[1:-1, 1:-1] = False
    return walls


def plain_looks():
    """Red walls, blue floor, the stripes texture (factors 1.0 and 0.85)."""
    return {"split_axis": 0, "split_at": 0.0, "texture": "stripes",
            "wall_colours": np.array([[1.0, 0, 0], [1.0, 0, 0]], np.float32),
            "floor_colours": np.array([[0, 0, 1.0], [0, 0, 1.0]], np.float32)}


def far_wall_columns(yaw, x=-0.2, half=7 / 18, size=84):
    """Columns whose rays hit the wall x = 7/18 from (x, 0): by hand, |y| < half at that wall."""
    far = half - x
    edge = math.atan(half / far)  # the wall's corners seen from the camera
    focal = size / 2  # 90 degrees
    offsets = (np.arange(size) + 0.5 - size / 2) / focal
    angle = yaw - np.arctan(offsets)
    return np.flatnonzero(np.abs(angle) < edge)


def test_a_wall_straight_ahead_covers_the_rows_and_columns_worked_by_hand():
    x, yaw = -0.2, 0.0
    camera = np.array([[x, 0.0, 0.0, yaw, 0.0]], np.float32)
    image = mr.render_views(open_maze(), plain_looks(), camera, CONFIG)[0].astype(int)
    # centre column: the wall at distance 7/18 + 0.2 spans rows whose centres lie between
    # 42 - f (H - h) / d and 42 + f h / d, sky above, floor below
    d = 7 / 18 - x
    top = 42 - 42 * (CONFIG.wall_height - CONFIG.eye_height) / d
    bottom = 42 + 42 * CONFIG.eye_height / d
    rows = np.arange(84) + 0.5
    column = image[:, 42]
    is_wall = (column[:, 0] > 100) & (column[:, 2] == 0)
    is_sky = (column == SKY).all(axis=1)
    is_floor = (column[:, 0] == 0) & (column[:, 2] > 100)
    np.testing.assert_array_equal(is_wall, (rows >= top) & (rows <= bottom))
    np.testing.assert_array_equal(is_sky, rows < top)
    np.testing.assert_array_equal(is_floor, rows > bottom)
    assert is_wall.sum() == 7  # rows 37 .. 43: centres 37.5 .. 43.5 within 37.01 .. 44.14
    # horizon row: the far wall faces the camera (shade 1.0: red 255 or 217 with the
    # stripes), the side walls y = +-7/18 are shaded 0.82 (red 209 or 178)
    red = image[42, :, 0]
    far = np.zeros(84, bool)
    far[far_wall_columns(yaw)] = True
    assert far.sum() == 56 and far[14] and not far[13] and far[69] and not far[70]
    assert set(red[far]) <= {255, 217} and set(red[~far]) <= {209, 178}


def test_a_larger_yaw_turns_left_and_moves_the_picture_right():
    yaw = 4 / 42  # about 4 pixels at the centre
    camera = np.array([[-0.2, 0.0, 0.0, yaw, 0.0]], np.float32)
    red = mr.render_views(open_maze(), plain_looks(), camera, CONFIG)[0, 42, :, 0]
    expected = far_wall_columns(yaw)
    assert expected[0] == 20 and expected[-1] == 75   # from 14 .. 69 at yaw 0
    far = np.isin(red, [255, 217])
    np.testing.assert_array_equal(np.flatnonzero(far), expected)


def test_cast_rays_distance_and_side():
    walls = open_maze()
    origin = np.array([[0.0, 0.0], [0.0, 0.0], [0.1, 0.1]])
    angle = np.array([0.0, math.pi / 2, math.pi / 4])
    distance, hit, side = mr.cast_rays(walls, origin, angle, CONFIG)
    half = 7 / 18
    np.testing.assert_allclose(distance[:2], half, atol=1e-9)
    np.testing.assert_allclose(distance[2], (half - 0.1) * math.sqrt(2), atol=1e-9)
    np.testing.assert_allclose(hit[0], [half, 0.0], atol=1e-9)
    assert list(side[:2]) == [0, 1]


def reachable(walls):
    free = {tuple(c) for c in np.argwhere(~walls)}
    start = next(iter(free))
    seen, queue = {start}, deque([start])
    while queue:
        i, j = queue.popleft()
        for n in ((i + 1, j), (i - 1, j), (i, j + 1), (i, j - 1)):
            if n in free and n not in seen:
                seen.add(n)
                queue.append(n)
    return seen == free


def test_mazes_are_closed_connected_labyrinths_that_differ():
    layouts = []
    for seed in range(20):
        walls = mr.random_maze(np.random.default_rng(seed))
        assert walls.shape == (9, 9)
        assert walls[0].all() and walls[-1].all() and walls[:, 0].all() and walls[:, -1].all()
        assert not walls[1::2, 1::2].any() and walls[::2, ::2].all()
        assert reachable(walls)
        assert 0.2 < walls[1:-1, 1:-1].mean() < 0.5  # walls inside, corridors between
        layouts.append(walls.tobytes())
    assert len(set(layouts)) == 20


def test_two_mazes_of_one_seed_differ_in_layout_and_look():
    a = render_dataset.scene_rng(7, "train", 0)
    b = render_dataset.scene_rng(7, "train", 1)
    walls_a, looks_a = mr.random_maze(a), mr.maze_looks(a)
    walls_b, looks_b = mr.random_maze(b), mr.maze_looks(b)
    assert (walls_a != walls_b).any()
    assert not np.allclose(looks_a["wall_colours"], looks_b["wall_colours"])
    # the two regions of a maze have different wall hues
    assert not np.allclose(looks_a["wall_colours"][0], looks_a["wall_colours"][1])
    frames_a, _ = mr.maze_scene(render_dataset.scene_rng(7, "train", 0), CONFIG, num_views=20)
    frames_b, _ = mr.maze_scene(render_dataset.scene_rng(7, "train", 1), CONFIG, num_views=20)
    colour_a = frames_a.reshape(-1, 3).mean(0)
    colour_b = frames_b.reshape(-1, 3).mean(0)
    assert np.abs(colour_a - colour_b).max() > 5


def test_cameras_lie_in_free_blocks_within_range():
    rng = np.random.default_rng(0)
    walls = mr.random_maze(rng)
    cameras = mr.random_cameras(rng, walls, 3000)
    assert cameras.shape == (3000, 5) and cameras.dtype == np.float32
    x, y, z, yaw, pitch = cameras.T
    assert np.abs(x).max() <= 0.39 and np.abs(y).max() <= 0.39
    assert (z == 0).all() and (pitch == 0).all()
    assert yaw.min() >= -math.pi and yaw.max() < math.pi
    assert np.histogram(yaw, 8, (-math.pi, math.pi))[0].min() > 300  # about uniform
    s = 1 / 9
    cells = np.floor((cameras[:, :2] + 0.5) / s).astype(int)
    assert not walls[cells[:, 0], cells[:, 1]].any()


def test_render_dataset_writes_the_same_bytes_for_a_seed(tmp_path):
    def render(root, seed):
        render_dataset.render_dataset("mazes", str(root), 2, 1, seed=seed, workers=1,
                                      log=lambda m: None, views_per_scene=12)
        return [open(p, "rb").read() for p in sorted(glob.glob(f"{root}/mazes/*/*.tfrecord"))]

    first, again = render(tmp_path / "a", 5), render(tmp_path / "b", 5)
    other = render(tmp_path / "c", 6)
    assert len(first) == 2 and first == again and first != other


@pytest.mark.parametrize("dataset, extra, message", [
    ("mazes", ["--num_train", "-1"], "--num_train must be a non-negative integer"),
    ("mazes", ["--views_per_scene", "0"], "--views_per_scene must be a positive integer"),
    ("rooms_ring_camera", ["--views_per_scene", "5"], "applies to mazes only"),
    ("labyrinths", [], "invalid choice"),
])
def test_bad_flags_exit_2_with_one_line(tmp_path, capsys, dataset, extra, message):
    args = ["--dataset", dataset, "--root", str(tmp_path / "r"), "--num_test", "1",
            "--num_train", "1"] + extra
    try:
        code = render_dataset.main(args)
    except SystemExit as exit:  # argparse's own check (the --dataset choices)
        code = exit.code
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
    assert not os.path.exists(tmp_path / "r" / dataset)


@pytest.fixture(scope="module")
def stand_in(tmp_path_factory):
    root = tmp_path_factory.mktemp("mazes")
    render_dataset.render_dataset("mazes", str(root), 4, 1, seed=1, workers=1,
                                  log=lambda m: None)
    return str(root)


@pytest.mark.slow
def test_gqn_and_gen_readers_take_the_stand_in(stand_in):
    import tensorflow as tf

    from data_provider.gen_hotels import gen_hotel_dataset
    from data_provider.gqn_tfr_provider import gqn_input_fn

    query, target = next(iter(gqn_input_fn("mazes", 5, stand_in, "train", batch_size=2,
                                           seed=0)))
    assert query.context.frames.shape == (2, 5, 84, 84, 3)
    assert target.shape == (2, 84, 84, 3)
    cameras = tf.concat([query.context.cameras, query.query_camera[:, None]], 1).numpy()
    assert np.abs(cameras[..., :2]).max() <= 0.39 and (cameras[..., 2] == 0).all()
    np.testing.assert_allclose(cameras[..., 3] ** 2 + cameras[..., 4] ** 2, 1, atol=1e-5)
    np.testing.assert_allclose(cameras[..., 5:], np.broadcast_to([0.0, 1.0], (2, 6, 2)),
                               atol=1e-6)
    batch = next(iter(gen_hotel_dataset("Labyrinth", stand_in, "train", batch_size=1,
                                        dims=(2,), seed=0)))
    assert batch["context_frames"].shape == (1, 32, 64, 64, 3)
    assert batch["target"].shape == (1, 4, 64, 64, 3)
    frames = batch["context_frames"].numpy()
    assert frames.std() > 0.1 and 0 <= frames.min() and frames.max() <= 1


@pytest.mark.slow
def test_stand_in_cameras_and_colours_beside_the_real_shards(stand_in, gqn_real_root):
    ours = mr.summarise_records(sorted(glob.glob(f"{stand_in}/mazes/train/*.tfrecord")))
    real = mr.summarise_records(
        sorted(glob.glob(os.path.join(gqn_real_root, "mazes", "train", "*.tfrecord"))))
    for name, s in (("stand-in", ours), ("real", real)):
        print(f"{name:>8}: x [{s['camera_min'][0]:+.3f}, {s['camera_max'][0]:+.3f}] "
              f"y [{s['camera_min'][1]:+.3f}, {s['camera_max'][1]:+.3f}] "
              f"yaw [{s['camera_min'][3]:+.3f}, {s['camera_max'][3]:+.3f}] "
              f"mean colour {np.round(s['mean_colour'], 3).tolist()}")
    for s in (ours, real):
        assert max(-s["camera_min"][0], -s["camera_min"][1]) == pytest.approx(0.384, abs=0.01)
        assert s["camera_min"][2] == s["camera_max"][2] == 0
        assert s["camera_min"][4] == s["camera_max"][4] == 0
        assert s["camera_min"][3] < -3.0 and s["camera_max"][3] > 3.0
    assert np.abs(np.subtract(ours["mean_colour"], real["mean_colour"])).max() < 0.1


def _real_record(root, index=0):
    import io

    import tensorflow as tf
    from PIL import Image

    path = sorted(glob.glob(os.path.join(root, "mazes", "train", "*.tfrecord")))[0]
    record = next(iter(tf.data.TFRecordDataset(path).skip(index)))
    feature = tf.train.Example.FromString(record.numpy()).features.feature
    cameras = np.asarray(feature["cameras"].float_list.value).reshape(-1, 5)
    frames = np.stack([np.asarray(Image.open(io.BytesIO(j)).convert("RGB"), np.float64)
                       for j in feature["frames"].bytes_list.value])
    return frames, cameras


def test_real_shards_camera_convention(gqn_real_root):
    """The conventions the stand-in copies, measured on a real record: the walk between
    places points along (cos yaw, sin yaw); a larger yaw moves the picture right by about
    42 pixels per radian (a 90-degree field of view over 84 pixels)."""
    frames, cameras = _real_record(gqn_real_root)
    step = np.diff(cameras[:, :2], axis=0)
    moving = np.linalg.norm(step, axis=1) > 1e-3
    yaw = cameras[:-1, 3][moving]
    unit = step[moving] / np.linalg.norm(step[moving], axis=1, keepdims=True)
    cosines = {name: float(np.mean(unit[:, 0] * u + unit[:, 1] * v)) for name, (u, v) in {
        "cos, sin": (np.cos(yaw), np.sin(yaw)), "sin, cos": (np.sin(yaw), np.cos(yaw)),
        "cos, -sin": (np.cos(yaw), -np.sin(yaw))}.items()}
    print("mean cosine of the walk with each heading convention:", cosines)
    assert cosines["cos, sin"] > 0.6 and max(cosines["sin, cos"], cosines["cos, -sin"]) < 0.3
    shifts = []
    for i in range(len(cameras) - 2):  # the same place, two headings on (about 0.31 rad)
        j = i + 2
        turn = (cameras[j, 3] - cameras[i, 3] + np.pi) % (2 * np.pi) - np.pi
        if np.abs(cameras[i, :2] - cameras[j, :2]).max() > 1e-4 or not 0.25 < turn < 0.35:
            continue
        # b is a moved right by s pixels; a quarter-pixel search on 4x upsampled rows
        fine = np.arange(0, 84, 0.25)
        a, b = (np.stack([np.interp(fine, np.arange(84), row) for row in f[:60].mean(-1)])
                for f in (frames[i], frames[j]))
        errors = [((a[:, 40:296 - s] - b[:, 40 + s:296]) ** 2).mean() for s in range(100)]
        shifts.append(int(np.argmin(errors)) / 4 / turn)
    print(f"pixels per radian: median {np.median(shifts):.1f} over {len(shifts)} turns")
    assert len(shifts) > 20 and 34 < np.median(shifts) < 46
