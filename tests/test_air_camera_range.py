"""AIR 3D with cameras that vary (``camera_range``): the cameras drawn, their renderings, the
camera frame, the answer in the world frame, the camera errors, and the flag."""
import json
import subprocess
import sys

import numpy as np
import pytest

from models.air import make_config, metrics, scenes
from models.air.config import ConfigError, config_from_saved, model_config

RANGE = [0.0, 360.0, 15.0, 60.0]
RUN_RANGE = [0.0, 90.0, 20.0, 40.0]
PROJECT = str(__import__("pathlib").Path(__file__).resolve().parents[1])


def _explicit_rendering(data, i, name, image_size, supersample):
    """Scene ``i`` of ``data`` (world frame) with the markers, rendered by ``render_batch``
    with the explicit camera of its azimuth and elevation (``scenes.camera_at``)."""
    from data_provider import scene_renderer as sr

    az, el = data["camera"][i].astype(np.float64)
    lookup = np.asarray([sr.KINDS.index(k) for k in scenes.RENDER_KINDS])
    types = data["types"][i]
    m = len(scenes.MARKERS)
    kinds = np.concatenate([np.where(types >= 0, lookup[np.clip(types, 0, None)], -1),
                            np.full(m, sr.KINDS.index("sphere"))])[None]
    positions = np.concatenate([data["positions"][i], scenes.MARKERS])[None] * scenes.WORLD_HALF
    rotations = np.concatenate([data["rotations"][i], np.repeat(np.eye(3)[None], m, 0)])[None]
    sizes = np.concatenate([np.full(len(types), scenes.SIDE / 2), np.full(m,
                                                                          scenes.MARKER_RADIUS)])
    colours = np.concatenate([np.ones(len(types)), scenes.MARKER_COLOURS])
    return sr.render_batch(kinds, positions, rotations, sizes[None], scenes.camera_at(az, el, name),
                           image_size, image_size, colours=colours[None], light_dir=None,
                           ambient=scenes.AMBIENT, background=0.0,
                           supersample=supersample)[0, ..., 0]


def test_the_isometric_camera_is_azimuth_45_elevation_35_26():
    az, el = scenes.ISOMETRIC_ANGLES
    assert az == 45.0 and el == pytest.approx(35.2644, abs=1e-4)
    np.testing.assert_allclose(scenes.eye_direction(scenes.ISOMETRIC_ANGLES),
                               np.ones(3) / np.sqrt(3.0), atol=1e-15)
    for name in scenes.CAMERAS:
        at, fixed = scenes.camera_at(az, el, name), scenes.camera(name)
        np.testing.assert_allclose(at.position, fixed.position, atol=1e-14)
        assert at.yaw == pytest.approx(fixed.yaw, abs=1e-14)
        assert at.pitch == pytest.approx(fixed.pitch, abs=1e-14)
    np.testing.assert_allclose(scenes.camera_rotation(scenes.ISOMETRIC_ANGLES), np.eye(3),
                               atol=1e-15)
    # the convention: azimuth 0 looks from +x, 90 from +y; a positive elevation from above
    np.testing.assert_allclose(scenes.camera_at(0, 0, "perspective").position, [3, 0, 0],
                               atol=1e-14)
    np.testing.assert_allclose(scenes.camera_at(90, 0, "perspective").position, [0, 3, 0],
                               atol=1e-14)
    high = scenes.camera_at(30, 40, "perspective")
    assert high.position[2] == pytest.approx(3 * np.sin(np.radians(40)))
    assert high.pitch == pytest.approx(-np.radians(40))             # looking down at the centre


@pytest.mark.parametrize("name", scenes.CAMERAS)
def test_each_scene_draws_its_camera_in_the_range_and_is_seen_by_it(name):
    camera_range = [-30.0, 30.0, 15.0, 60.0]
    data = scenes.generate_dataset(5, seed=4, image_size=32, split="val", supersample=1,
                                   camera=name, camera_range=camera_range)
    az, el = data["camera"][:, 0], data["camera"][:, 1]
    assert np.all((az >= -30) & (az <= 30) & (el >= 15) & (el <= 60))
    assert len(np.unique(az)) == 5
    for i in range(5):
        np.testing.assert_allclose(data["images"][i, ..., 0],
                                   _explicit_rendering(data, i, name, 32, 1), atol=1e-5)
    # the scenes are those of the one camera (the cameras are drawn after them)
    fixed = scenes.generate_dataset(5, seed=4, image_size=32, split="val", supersample=1,
                                    camera=name)
    for key in ("types", "positions", "rotations", "count"):
        np.testing.assert_array_equal(data[key], fixed[key])
    # seen by other cameras: the same scenes, each rendered by its new camera
    other = scenes.seen_from(data, [[200.0, 20.0]] * 5, 32, 1, camera=name)
    np.testing.assert_allclose(other["images"][2, ..., 0],
                               _explicit_rendering(other, 2, name, 32, 1), atol=1e-5)


def test_the_camera_frame_and_the_world_frame_are_inverse_turns():
    rng = np.random.default_rng(0)
    angles = np.stack([rng.uniform(0, 360, 4), rng.uniform(-80, 80, 4)], -1)
    positions = rng.uniform(-1, 1, (4, 3, 3))
    rotations = scenes.small_rotations(12, 1.0, rng).reshape(4, 3, 3, 3)
    framed = scenes.to_camera_frame(positions, rotations, angles)
    back = scenes.to_world(*framed, angles)
    np.testing.assert_allclose(back[0], positions, atol=1e-12)
    np.testing.assert_allclose(back[1], rotations, atol=1e-12)
    # in its frame a camera is the isometric one: image points as the isometric camera's
    for name in scenes.CAMERAS:
        camera = scenes.camera_at(*angles[1], name)
        origin, direction = camera.rays_at(np.array([0.3]), np.array([-0.2]))
        point = origin[0] + 2.5 * direction[0]                      # a world point on that ray
        seen = scenes.to_camera_frame(point[None, None] / scenes.WORLD_HALF,
                                      np.eye(3)[None, None], angles[1:2])[0][0, 0]
        np.testing.assert_allclose(scenes.image_coordinates(seen, name), [0.3, -0.2],
                                   atol=1e-12)


def test_the_mirror_image_is_the_mirrored_scene_seen_from_90_minus_the_azimuth():
    data = scenes.generate_dataset(3, seed=1, image_size=32, split="test", supersample=1,
                                   camera="perspective", camera_range=RANGE)
    swap = [1, 0, 2]
    mirror = np.eye(3)[swap]
    mirrored = dict(data, positions=data["positions"][..., swap],
                    rotations=mirror @ data["rotations"] @ mirror)
    cameras = np.stack([90.0 - data["camera"][:, 0], data["camera"][:, 1]], -1)
    seen = scenes.seen_from(mirrored, cameras, 32, 1, camera="perspective")
    np.testing.assert_allclose(seen["images"], data["images"][:, :, ::-1], atol=1e-5)
    # in the camera frame the mirror swaps x and y, as under the one camera
    framed = scenes.in_camera_frame(data)
    types, swapped = scenes.sort_slots_by_x(framed["types"], framed["positions"][..., swap])
    np.testing.assert_allclose(scenes.in_camera_frame(seen)["positions"],
                               np.where((types >= 0)[..., None], swapped, 0.0), atol=1e-5)


def test_the_azimuth_error_wraps():
    assert scenes.wrapped_degrees(359.0 - 1.0) == pytest.approx(2.0)
    assert scenes.wrapped_degrees(1.0 - 359.0) == pytest.approx(2.0)
    assert scenes.wrapped_degrees(180.0) == pytest.approx(180.0)
    assert scenes.wrapped_degrees(-725.0) == pytest.approx(5.0)
    errors = metrics.camera_errors([[359.0, 30.0], [10.0, 20.0]], [[1.0, 30.0], [10.0, 25.0]])
    assert errors["camera_azimuth_error_median"] == pytest.approx(1.0)
    assert errors["camera_elevation_error_median"] == pytest.approx(2.5)


def _truth_as_answer(data):
    k = data["types"].shape[1]
    return {"presence_logit": np.where(data["types"] >= 0, 5.0, -5.0),
            "type_logits": 5.0 * np.eye(3)[np.clip(data["types"], 0, None)],
            "position": data["positions"], "rotation": data["rotations"],
            "camera": data["camera"]}, np.where(data["types"] >= 0, np.arange(k), -1)


def test_the_true_answer_and_camera_score_zero_in_the_world_frame():
    data = scenes.generate_dataset(20, seed=2, image_size=16, split="test", supersample=1,
                                   camera="perspective", camera_range=RANGE)
    answer, assignment = _truth_as_answer(data)
    m = metrics.compute_metrics(answer, data, assignment, "perspective")
    assert m["camera_azimuth_error_median"] == m["camera_elevation_error_median"] == 0.0
    assert max(m["position_mae"]) == max(m["position_mae_view"]) == 0.0
    assert m["count_accuracy"] == m["type_accuracy"] == 1.0
    assert m["rotation_geodesic_median"] < 1e-3


@pytest.mark.parametrize("name", scenes.CAMERAS)
def test_world_frame_scoring_of_the_isometric_camera_is_the_scoring_of_before(name):
    data = scenes.generate_dataset(20, seed=3, image_size=16, split="test", supersample=1,
                                   camera=name)
    answer, assignment = _truth_as_answer(dict(data, camera=np.zeros((20, 2))))
    rng = np.random.default_rng(3)
    answer = dict(answer, position=answer["position"] + rng.normal(0, 0.1, (20, 3, 3)),
                  rotation=scenes.small_rotations(60, 0.2, rng).reshape(20, 3, 3, 3)
                  @ answer["rotation"])
    del answer["camera"]
    before = metrics.compute_metrics(answer, data, assignment, name)
    isometric = np.tile(np.float32(scenes.ISOMETRIC_ANGLES), (20, 1))
    now = metrics.compute_metrics(dict(answer, camera=isometric), dict(data, camera=isometric),
                                  assignment, name)
    for key, value in before.items():
        np.testing.assert_allclose(now[key], value, atol=1e-6, err_msg=key)
    assert now["camera_azimuth_error_median"] == 0.0


def test_the_camera_cost_is_its_formula():
    import tensorflow as tf

    from models.air.losses import camera_cost

    read = np.array([[np.cos(0.3), np.sin(0.3), 0.5], [1.0, 0.0, -0.1]], np.float32)
    true = np.array([[350.0, 20.0], [0.0, 0.0]], np.float32)
    a, b = np.radians(true[:, 0]), np.radians(true[:, 1])
    expected = (np.abs(read[:, 0] - np.cos(a)) + np.abs(read[:, 1] - np.sin(a))
                + np.abs(read[:, 2] - b))
    np.testing.assert_allclose(camera_cost(tf.constant(read), tf.constant(true)).numpy(),
                               expected, atol=1e-6)


class _Reads:
    """A stand-in network whose candidates (in the camera frame) and camera read are
    always ``candidates`` and ``camera``."""

    input_channels, searched, camera = 1, True, "perspective"

    def __init__(self, candidates, camera_read, camera_range):
        self.candidates, self.read_camera, self.head_type = candidates, camera_read, self
        self.camera_range = tuple(camera_range)

    def propose(self, model, x, pool, glances, merge_radius):
        import tensorflow as tf

        found = {k: tf.repeat(tf.constant(v), tf.shape(x)[0], axis=0)
                 for k, v in self.candidates.items()}
        found["camera"] = tf.repeat(tf.constant(self.read_camera), tf.shape(x)[0], axis=0)
        return found


def test_the_search_fits_in_the_image_s_camera_and_answers_in_the_world_frame():
    from models.air.search import predict_slots
    from models.air.search.pipeline import mean_camera

    angles = np.array([[250.0, 25.0]])
    position = np.array([[[0.25, -0.35, 0.1]]])
    rotation = scenes.euler_to_matrix(np.array([[[0.3, 0.6, 0.2]]]))
    image = scenes.render_scenes([[1]], position, rotation, 64, 2, camera="perspective",
                                 cameras=angles)[0]
    framed_p, framed_r = scenes.to_camera_frame(position, rotation, angles)
    # read a third of a pixel off in the image plane, 0.06 rad off
    right, up, _ = scenes.view_axes()
    rng = np.random.default_rng(0)
    read = {"presence_logit": np.array([[4.0]], np.float32),
            "type_logits": (5.0 * np.eye(3)[[[1]]]).astype(np.float32),
            "position": (framed_p + 0.02 * right - 0.02 * up).astype(np.float32),
            "rotation": (scenes.small_rotations(1, 0.06, rng) @ framed_r[0])[None]
            .astype(np.float32)}
    az, el = np.radians(angles[0])
    camera_read = np.array([[np.cos(az), np.sin(az), el]], np.float32)
    # (the stand-in reads the same camera from the mirror image: no mirror image here)
    config = make_config({"camera": "perspective", "camera_range": RANGE, "repeat": 0,
                          "explain_mirror": False})
    slots = predict_slots(_Reads(read, camera_read, RANGE), image[None, ..., None], config)
    np.testing.assert_allclose(slots["camera"], angles, atol=1e-4)
    kept = slots["presence_logit"][0] > 0
    assert kept.sum() == 1
    assert np.abs(slots["position"][0][kept][0] - position[0, 0]).max() < 0.015   # fitted
    # the mirror image's reading (az -> 90 - az) averaged with the image's
    mirrored = np.array([[np.cos(np.pi / 2 - az), np.sin(np.pi / 2 - az), el]])
    np.testing.assert_allclose(mean_camera(camera_read, mirrored), camera_read, atol=1e-6)
    with pytest.raises(ValueError, match="camera range"):
        predict_slots(_Reads(read, camera_read, [0, 90, 15, 60]), image[None, ..., None],
                      config)


@pytest.mark.parametrize("name", scenes.CAMERAS)
def test_the_camera_fit_finds_the_camera_a_few_degrees_off(name):
    from models.air.search.camera_fit import fit_camera

    data = scenes.generate_dataset(12, seed=5, image_size=64, split="test", supersample=2,
                                   camera=name, camera_range=RANGE)
    framed = scenes.in_camera_frame(data)
    slots = {"presence_logit": np.where(framed["types"] >= 0, 5.0, -5.0),
             "type_logits": 5.0 * np.eye(3)[np.clip(framed["types"], 0, None)],
             "position": framed["positions"], "rotation": framed["rotations"]}
    start = data["camera"] + np.random.default_rng(0).choice([-3.0, 3.0], (12, 2))
    fitted = fit_camera(slots, start, data["images"], 64, 2, camera=name)
    assert np.median(scenes.wrapped_degrees(fitted[:, 0] - data["camera"][:, 0])) < 0.3
    assert np.median(np.abs(fitted[:, 1] - data["camera"][:, 1])) < 0.3
    # the true camera stays where it is
    np.testing.assert_allclose(fit_camera(slots, data["camera"], data["images"], 64, 2,
                                          rounds=2, camera=name), data["camera"], atol=0.3)


def test_a_reading_far_off_is_found_again_on_the_range_s_grid():
    from models.air.search.camera_fit import fit_camera, scan_grid

    grid = scan_grid(RANGE, 5.0)
    assert len(grid) == 72 * 10 and grid[:, 0].min() == 0 and grid[:, 0].max() == 355
    assert scan_grid([10, 10, 20, 20]).tolist() == [[10, 20]]
    narrow = [0.0, 360.0, 20.0, 40.0]                                 # 360 cameras
    data = scenes.generate_dataset(4, seed=6, image_size=64, split="test", supersample=2,
                                   camera="perspective", camera_range=narrow)
    framed = scenes.in_camera_frame(data)
    slots = {"presence_logit": np.where(framed["types"] >= 0, 5.0, -5.0),
             "type_logits": 5.0 * np.eye(3)[np.clip(framed["types"], 0, None)],
             "position": framed["positions"], "rotation": framed["rotations"]}
    start = data["camera"] + np.array([[180.0, 0.0], [90.0, 10.0]] * 2)
    start[:, 1] = np.clip(start[:, 1], 20.0, 40.0)
    fitted = fit_camera(slots, start, data["images"], 64, 2, camera="perspective",
                        camera_range=narrow)
    assert np.median(scenes.wrapped_degrees(fitted[:, 0] - data["camera"][:, 0])) < 0.3
    assert np.median(np.abs(fitted[:, 1] - data["camera"][:, 1])) < 0.3


def test_the_camera_range_is_a_checked_model_key_left_out_of_one_camera_configs():
    for bad, match in [([0, 360, 15], "4 numbers"), ([10, 5, 15, 60], "at most its maximum"),
                       ([0, 360, 60, 15], "at most its maximum"), ([0, 400, 15, 60], "360"),
                       ([0, 360, -90, 60], r"\(-90, 90\)"), ("0 360 15 60", "4 numbers")]:
        with pytest.raises(ConfigError, match=match):
            make_config({"camera_range": bad})
    one = model_config(make_config({"camera": "perspective"}))
    assert not {"camera_range", "camera_hidden", "w_camera"} & set(one)     # as before the keys
    varied = model_config(make_config({"camera": "perspective", "camera_range": RANGE}))
    assert varied["camera_range"] == RANGE and "w_camera" in varied
    assert config_from_saved(varied)["camera_range"] == RANGE
    assert config_from_saved(one)["camera_range"] is None


CHILD = """
import contextlib, io, json, sys
from training import train_air
from evaluation import run
out = []
for tool, argv in json.loads(sys.argv[1]):
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            code = (train_air if tool == "train" else run).main(argv)
        except SystemExit as e:
            code = e.code
    out.append([code, [line for line in err.getvalue().splitlines() if line.strip()]])
print(json.dumps({"results": out, "tensorflow": "tensorflow" in sys.modules}))
"""


def test_bad_camera_ranges_exit_2_in_one_line_before_tensorflow_loads(tmp_path):
    train = ["--out", str(tmp_path / "o"), "--camera", "perspective", "--camera-range"]
    evaluate = ["--mode", "evaluate_air", "--weights", str(tmp_path), "--camera-range"]
    cases = [("train", train + ["0", "360", "60", "15"], "each minimum"),
             ("train", train + ["0", "360", "15", "90"], "(-90, 90)"),
             ("train", train + ["0", "360", "15"], "must be 4 numbers"),
             ("train", train + ["0", "360", "15", "60", "70"], "got 0 360 15 60 70"),
             ("train", train + ["0", "360", "15", "x"], "invalid float value"),
             ("train", ["--out", str(tmp_path / "o"), "--set", "camera_range", "[0, 1, 2, 3]"],
              "use the flag --camera-range"),
             ("eval", evaluate + ["10", "5", "15", "60"], "each minimum"),
             ("eval", evaluate + ["0", "360", "-90", "60"], "(-90, 90)"),
             ("eval", evaluate + ["0", "360"], "must be 4 numbers")]
    child = subprocess.run([sys.executable, "-c", CHILD,
                            json.dumps([[tool, argv] for tool, argv, _ in cases])],
                           capture_output=True, text=True, cwd=PROJECT, timeout=120)
    found = json.loads(child.stdout.strip().splitlines()[-1])
    assert not found["tensorflow"]
    for (_, argv, match), (code, lines) in zip(cases, found["results"]):
        assert code == 2 and len(lines) == 1 and match in lines[0], (argv, lines)
        assert "--camera-range" in lines[0], lines
    assert not (tmp_path / "o").exists()


def _tiny_weights(path, camera_range):
    from models.air import build_air_model_3d
    from training import train_air

    config = make_config({"image_size": 16, "channels": [4, 4, 4, 4], "glimpse_size": 8,
                          "glimpse_channels": [4, 4, 4, 4], "glimpse_hidden": 8, "hidden": 8,
                          "camera": "perspective", "camera_range": camera_range,
                          "camera_hidden": 8})
    train_air.save_weights(str(path), build_air_model_3d(config), config)
    return path


def test_weights_of_another_camera_range_are_refused_in_one_line(tmp_path, capsys):
    from evaluation import run

    varied = _tiny_weights(tmp_path / "varied.npz", RANGE)
    fixed = _tiny_weights(tmp_path / "fixed.npz", None)
    with np.load(varied) as z:
        assert json.loads(str(z["config"]))["camera_range"] == RANGE
    for weights, other, said in [(varied, ["0", "90", "15", "60"], "camera range 0 360 15 60"),
                                 (fixed, ["0", "360", "15", "60"], "isometric camera")]:
        capsys.readouterr()
        assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "2",
                         "--camera-range", *other, "--out", str(tmp_path / "e.json")]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and said in lines[0] and "--camera-range" in lines[0], lines
    assert not (tmp_path / "e.json").exists()


def test_train_air_refuses_to_resume_a_run_of_another_camera_range(tmp_path, capsys):
    import tensorflow as tf

    from training import train_air
    from training.checkpointing import write_config

    model_dir = tmp_path / "run" / "model"
    model_dir.mkdir(parents=True)
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(model_dir / "ckpt"))
    trained = make_config({"camera": "perspective", "camera_range": RANGE})
    write_config(str(model_dir), "air3d", model_config(trained), {})
    capsys.readouterr()
    for flags, said in [(["--camera-range", "0", "180", "15", "60"], "--camera-range 0 360 15 60"),
                        ([], "the isometric camera")]:
        assert train_air.main(["--camera", "perspective", "--out", str(tmp_path / "run"),
                               *flags]) == 2
        lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(lines) == 1 and said in lines[0], lines


TINY = ["--seed", "2", "--image-size", "32", "--max-primitives", "2", "--n-epochs", "2",
        "--n-train", "128", "--n-test", "16", "--set", "n_val", "16", "supersample", "1",
        "glimpse_size", "12", "channels", "[8, 16, 16, 16]", "hidden", "16",
        "glimpse_hidden", "16", "warmup_epochs", "1", "learning_rate", "0.003",
        "mixed_precision", "False", "camera_hidden", "16", "--camera", "perspective"]


@pytest.mark.slow
def test_a_camera_range_run_trains_records_its_range_and_is_one_model(tmp_path, capsys):
    """A tiny ``--camera-range`` run: results.json (with the camera errors), config.json
    and weights.npz name the range; evaluate_air draws its scenes' cameras in it and refuses
    another; the pictures are drawn."""
    from evaluation import run
    from training import train_air
    from visualization import air_pictures

    out = tmp_path / "run"
    # a quarter turn, not the whole: what is checked is the bookkeeping, and the tiny
    # network's poor camera readings send every image to the scan of the range's grid
    flag = ["--camera-range", "0", "90", "20", "40"]
    assert train_air.main(TINY + flag + ["--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["camera_range"] == RUN_RANGE
    m = results["metrics"]
    assert 0 <= m["camera_azimuth_error_median"] <= 180
    assert 0 <= m["camera_elevation_error_median"] and all(np.isfinite(m["position_mae"]))
    assert "camera" in results["history"][0]["val"]
    assert json.loads((out / "model" / "config.json").read_text())["model"]["camera_range"] == \
        RUN_RANGE
    report = tmp_path / "eval.json"
    for weights in (out, out / "weights.npz"):
        assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "8",
                         "--seed", "1", *flag, "--out", str(report)]) == 0
        result = json.loads(report.read_text())
        assert result["camera_range"] == RUN_RANGE and "camera_azimuth_error_median" in \
            result["metrics"]
    capsys.readouterr()
    assert run.main(["--mode", "evaluate_air", "--weights", str(out), "--n-test", "8",
                     "--camera-range", "0", "180", "20", "40"]) == 2
    assert len([line for line in capsys.readouterr().err.splitlines() if line.strip()]) == 1
    pictures = air_pictures.make_pictures(str(out), str(tmp_path / "pictures"), scenes=4,
                                          log=lambda line: None)
    assert len(pictures) == 7 and any(p.endswith("air_depth.png") for p in pictures)


def test_the_scan_s_one_camera_hits_repeated_are_those_of_each_image_given_that_camera():
    from models.air.search.camera_fit import _repeated, marker_hits

    trial = np.array([[37.0, 25.0]])
    each = marker_hits(np.repeat(trial, 3, axis=0), 32, 2, "perspective")
    once = _repeated(marker_hits(trial, 32, 2, "perspective"), 3)
    assert len(once[0]) == len(each[0]) > 0
    for image in range(3):
        for a, b in zip(each[1:], once[1:]):                 # pixel, sub, grey, depth
            np.testing.assert_array_equal(a[each[0] == image], b[once[0] == image])
