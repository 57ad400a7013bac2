"""AIR 3D under the perspective camera: projection, depth, search, and the orthographic
path unchanged."""
import hashlib
import json

import numpy as np
import pytest

from models.air import make_config, scenes

# Digests of orthographic scenes rendered by the code from before the perspective camera
# (``generate_dataset`` arrays, the scenes turned, canvases, the search's layers):
# the orthographic path must give them byte for byte.
ORTHOGRAPHIC_DIGESTS = {
    "dataset": "a764b4826b951a1a3c97cd1883debaa6c1f2bce61f2f6a9d9e9df0b4a72129fd",
    "turn": "a7bb5d201d1d66a1d044ccbae757f49c9921dd42d02245f74e0b54860647bff5",
    "canvas": "674c2aa82f1f14e50e10c5dfc7863037280b0f91af1201c43623a88ff8aa6a5e",
    "hits": "6d24cd8c3a3c85c39f5ff21a7c85f5f123b4447059682be61d420b2ceed6d254",
}


def _digest(*arrays):
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()


def _pinhole_pixel(world, height, width):
    """Row and column (fractional, pixel centres at integers) of world points ``[..., 3]``
    seen by a pin-hole at ``3 (1, 1, 1) / sqrt 3`` looking at the origin, world z up in the
    image, vertical field of view ``2 atan(1 / 3)``: the textbook formula."""
    eye = 3.0 * np.ones(3) / np.sqrt(3.0)
    forward = -eye / np.linalg.norm(eye)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    right /= np.linalg.norm(right)
    up = np.cross(right, forward)
    offset = np.asarray(world, np.float64) - eye
    x, y, z = offset @ right, offset @ up, offset @ forward
    focal = height / 2.0 / (1.0 / 3.0)                 # pixels: (H / 2) / tan(fov / 2)
    return height / 2.0 - focal * y / z - 0.5, width / 2.0 + focal * x / z - 0.5


def test_the_perspective_camera_is_the_documented_pin_hole():
    camera = scenes.camera("perspective")
    np.testing.assert_allclose(camera.position, np.full(3, np.sqrt(3.0)), atol=1e-12)
    assert camera.fov_degrees == pytest.approx(np.degrees(2 * np.arctan(1 / 3)))
    assert scenes.camera("orthographic").extent == scenes.CAMERA_EXTENT == 2.0
    with pytest.raises(ValueError, match="camera must be one of"):
        scenes.camera("fisheye")


def test_a_known_point_projects_to_the_pin_hole_pixel():
    import tensorflow as tf

    from models.air.grid_head import image_uv

    rng = np.random.default_rng(0)
    positions = rng.uniform(-1, 1, (50, 3))
    for size in (32, 64):
        row, col = _pinhole_pixel(scenes.WORLD_HALF * positions, size, size)
        for uv in (scenes.image_coordinates(positions, "perspective"),
                   image_uv(tf.constant(positions, tf.float32), "perspective").numpy()):
            np.testing.assert_allclose((uv[:, 0] + 1) / 2 * size - 0.5, col, atol=2e-4)
            np.testing.assert_allclose((1 - uv[:, 1]) / 2 * size - 0.5, row, atol=2e-4)
    # The renderer agrees: a small sphere lights the pixel its centre falls on.
    centre = np.array([0.4, -0.6, 0.3])
    row, col = _pinhole_pixel(scenes.WORLD_HALF * centre, 64, 64)
    image = scenes.render_scenes([[0]], centre[None, None], np.eye(3)[None, None], 64, 1,
                                 camera="perspective")[0]
    assert image[int(round(row)), int(round(col))] > 0.99        # the head light's full light
    # On the plane through the centre facing the camera, both cameras give the same pixel.
    right, up, _ = scenes.view_axes()
    plane = rng.uniform(-1.5, 1.5, (20, 1)) * right + rng.uniform(-1.5, 1.5, (20, 1)) * up
    np.testing.assert_allclose(scenes.image_coordinates(plane, "perspective"),
                               scenes.image_coordinates(plane, "orthographic"), atol=1e-12)


@pytest.mark.parametrize("camera", scenes.CAMERAS)
def test_position_from_view_inverts_image_uv(camera):
    import tensorflow as tf

    from models.air.grid_head import image_uv, position_from_view

    rng = np.random.default_rng(1)
    positions = rng.uniform(-1, 1, (500, 3))
    uv = image_uv(tf.constant(positions, tf.float32), camera)
    # delta: the depth past the middle of the pixel's ray's chord through the cube
    delta = scenes.view_depth(positions) - scenes.view_depth(
        scenes.depth_blind_positions(positions, camera))
    back = position_from_view(uv, tf.constant(delta, tf.float32), camera).numpy()
    np.testing.assert_allclose(back, positions, atol=5e-6)
    np.testing.assert_allclose(scenes.positions_at(scenes.image_coordinates(positions, camera),
                                                   scenes.view_depth(positions), camera),
                               positions, atol=1e-12)


def test_depth_blind_positions_keep_the_image_point_under_perspective():
    rng = np.random.default_rng(2)
    p = rng.uniform(-1, 1, (200, 3))
    q = scenes.depth_blind_positions(p, "perspective")
    np.testing.assert_allclose(scenes.image_coordinates(q, "perspective"),
                               scenes.image_coordinates(p, "perspective"), atol=1e-9)
    assert np.all(np.abs(q) <= 1 + 1e-9)
    # the middle of the chord: the cube's faces equally far either way along the ray
    d = p - scenes.eye_position()
    d /= np.linalg.norm(d, axis=-1, keepdims=True)
    ahead = np.min(np.where(d > 0, (1 - q) / d, (-1 - q) / d), axis=1)
    behind = np.min(np.where(d > 0, (q + 1) / d, (q - 1) / d), axis=1)
    np.testing.assert_allclose(ahead, behind, atol=1e-9)


def test_a_nearer_primitive_looks_larger_only_under_perspective():
    _, _, forward = scenes.view_axes()
    near, far = -0.8 * forward, 0.8 * forward                  # same image point
    areas = {}
    for camera in scenes.CAMERAS:
        images = scenes.render_scenes([[0], [0]], np.array([[near], [far]]),
                                      np.eye(3)[None, None].repeat(2, 0), 64, 2, camera=camera)
        areas[camera] = images.reshape(2, -1).sum(axis=1)
    assert areas["orthographic"][0] == pytest.approx(areas["orthographic"][1], rel=1e-6)
    # the image scales as 1 / distance: areas as its square
    scale = scenes.image_scale(np.array([near, far]), "perspective")
    assert areas["perspective"][0] / areas["perspective"][1] == pytest.approx(
        (scale[1] / scale[0]) ** 2, rel=0.03)


def test_orthographic_scenes_are_byte_for_byte_those_of_before():
    from models.air.search.layers import layer_hits

    data = scenes.generate_dataset(6, seed=5, image_size=32, max_primitives=3, split="train",
                                   supersample=2)
    assert _digest(*[data[k] for k in sorted(data)]) == ORTHOGRAPHIC_DIGESTS["dataset"]
    turned = scenes.turn_about_view(data, 1, 32, 2)
    assert _digest(*[turned[k] for k in sorted(turned)]) == ORTHOGRAPHIC_DIGESTS["turn"]
    canvas = scenes.explained_canvases(data, np.random.default_rng(2), 1.0, 0.5, 0.1, 32, 2)
    assert _digest(*canvas) == ORTHOGRAPHIC_DIGESTS["canvas"]
    hits = layer_hits(data["types"][:, 0], data["positions"][:, 0], data["rotations"][:, 0],
                      32, 2)
    assert _digest(*hits) == ORTHOGRAPHIC_DIGESTS["hits"]


def test_perspective_scenes_are_the_same_scenes_seen_otherwise():
    ortho = scenes.generate_dataset(4, seed=5, image_size=32, split="val", supersample=1)
    persp = scenes.generate_dataset(4, seed=5, image_size=32, split="val", supersample=1,
                                    camera="perspective")
    for key in ("types", "positions", "rotations", "count"):
        np.testing.assert_array_equal(ortho[key], persp[key])
    assert not np.array_equal(ortho["images"], persp["images"])
    # turned by 120 degrees about the view axis: the perspective image turns with it too
    turned = scenes.turn_about_view(persp, 1, 32, 1, camera="perspective")
    again = scenes.turn_about_view(scenes.turn_about_view(turned, 1, 32, 1,
                                                          camera="perspective"),
                                   1, 32, 1, camera="perspective")
    np.testing.assert_allclose(again["images"], persp["images"], atol=1e-5)


def _one_primitive(camera, type_index=1, seed=3):
    """A scene of one primitive, its truth and a reading of it off by a fraction of a pixel,
    0.22 position units in depth and 0.06 rad."""
    from models.air.search.explain import DEPTH_STEP

    rng = np.random.default_rng(seed)
    position = np.array([[0.25, -0.35, 0.1]])
    rotation = scenes.euler_to_matrix(np.array([[0.3, 0.6, 0.2]]))
    image = scenes.render_scenes([[type_index]], position[None], rotation[None], 64, 2,
                                 camera=camera)[0]
    depth = scenes.view_depth(position) + 0.22
    assert 0.22 % DEPTH_STEP > 0.01                   # not a sum of the fitting's steps
    uv = scenes.image_coordinates(position, camera) + np.array([[0.3, -0.2]]) * 2 / 64
    reading = {"presence_logit": np.array([[4.0]], np.float32),
               "type_logits": (5.0 * np.eye(3)[[[type_index]]]).astype(np.float32),
               "position": scenes.positions_at(uv, depth, camera)[None].astype(np.float32),
               "rotation": (scenes.small_rotations(1, 0.06, rng) @ rotation)[None]
               .astype(np.float32)}
    return image, position, rotation, reading


@pytest.mark.parametrize("type_index", [0, 1, 2])
def test_refine_recovers_a_primitive_s_depth_under_perspective(type_index):
    from models.air.rotations import symmetric_geodesic_error
    from models.air.search.explain import refine

    image, position, rotation, reading = _one_primitive("perspective", type_index)
    fitted = refine(reading, image[None], 64, 2, rounds=3, camera="perspective")
    error = fitted["position"][0] - position
    assert abs(scenes.view_depth(error[0])) < 0.04
    assert np.abs(error).max() < 0.04                       # a third of a pixel on the plane
    uv_error = scenes.image_coordinates(fitted["position"][0], "perspective") \
        - scenes.image_coordinates(position, "perspective")
    assert np.abs(uv_error).max() * 32 < 0.2                 # in pixels
    if type_index:
        assert symmetric_geodesic_error(fitted["rotation"][0], rotation,
                                        np.array([type_index]))[0] < 0.03
    # without the depth moves the depth stays as read
    flat = refine(reading, image[None], 64, 2, rounds=3, camera="perspective", depth=0.0)
    assert abs(scenes.view_depth(flat["position"][0, 0] - position[0])) > 0.15


class _Reads:
    """A stand-in network whose candidates are always ``candidates`` (searched)."""

    input_channels, searched = 1, True

    def __init__(self, candidates, camera):
        self.candidates, self.camera, self.head_type = candidates, camera, self

    def propose(self, model, x, pool, glances, merge_radius):
        import tensorflow as tf

        return {k: tf.repeat(tf.constant(v), tf.shape(x)[0], axis=0)
                for k, v in self.candidates.items()}


def test_the_search_finds_a_primitive_s_pose_with_the_perspective_camera():
    from models.air.search import predict_slots

    image, position, _, reading = _one_primitive("perspective")
    # a phantom sphere far from the cube, doubted: the count leaves it out
    phantom = {"presence_logit": [[0.0]], "type_logits": [[[5.0, -5.0, -5.0]]],
               "position": [[[-0.6, 0.6, -0.7]]], "rotation": [[np.eye(3)]]}
    candidates = {k: np.concatenate([v, np.asarray(phantom[k], np.float32)], 1)
                  for k, v in reading.items()}
    config = make_config({"camera": "perspective", "explain_mirror": False, "repeat": 0})
    slots = predict_slots(_Reads(candidates, "perspective"), image[None, ..., None], config)
    kept = slots["presence_logit"][0] > 0
    assert kept.sum() == 1 and slots["type_logits"][0][kept].argmax() == 1
    error = slots["position"][0][kept][0] - position[0]
    assert abs(scenes.view_depth(error)) < 0.04 and np.abs(error).max() < 0.04
    # a network of the other camera is not searched with this config
    with pytest.raises(ValueError, match="orthographic camera"):
        predict_slots(_Reads(candidates, "orthographic"), image[None, ..., None], config)


def test_the_camera_is_a_checked_model_key_left_out_of_orthographic_model_configs():
    from models.air.config import ConfigError, config_from_saved, model_config

    with pytest.raises(ConfigError, match="camera must be one of"):
        make_config({"camera": "fisheye"})
    assert "camera" not in model_config(make_config({}))        # as every earlier run's
    assert model_config(make_config({"camera": "perspective"}))["camera"] == "perspective"
    assert config_from_saved(model_config(make_config({})))["camera"] == "orthographic"
    saved = model_config(make_config({"camera": "perspective"}))
    assert config_from_saved(saved)["camera"] == "perspective"


def _perspective_weights(path):
    from models.air import build_air_model_3d
    from training import train_air

    config = make_config({"image_size": 16, "channels": [4, 4, 4, 4], "glimpse_size": 8,
                          "glimpse_channels": [4, 4, 4, 4], "glimpse_hidden": 8, "hidden": 8,
                          "camera": "perspective"})
    train_air.save_weights(str(path), build_air_model_3d(config), config)
    return path


def test_evaluate_air_sees_the_weights_camera_and_refuses_another(tmp_path, capsys):
    from evaluation import run

    weights = _perspective_weights(tmp_path / "weights.npz")
    out = tmp_path / "eval.json"
    argv = ["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "2",
            "--set", "refine_rounds", "1", "explain_pool", "4"]
    assert run.main(argv + ["--out", str(out)]) == 0
    assert json.loads(out.read_text())["camera"] == "perspective"
    capsys.readouterr()
    assert run.main(argv + ["--camera", "orthographic", "--out", str(tmp_path / "o.json")]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--camera orthographic" in err[0] and "perspective" in err[0], err
    assert not (tmp_path / "o.json").exists()
    with pytest.raises(SystemExit) as stopped:                   # argparse's choices
        run.main(argv + ["--camera", "fisheye"])
    assert stopped.value.code == 2 and "--camera" in capsys.readouterr().err


TINY = ["--seed", "2", "--image-size", "32", "--max-primitives", "2", "--n-epochs", "2",
        "--n-train", "32", "--n-test", "8", "--set", "n_val", "8", "batch_size", "16",
        "supersample", "1", "glimpse_size", "12", "channels", "[8, 16, 16, 16]", "hidden", "16",
        "glimpse_hidden", "16", "warmup_epochs", "1", "learning_rate", "0.003",
        "mixed_precision", "False"]


@pytest.mark.slow
def test_a_perspective_run_trains_records_its_camera_and_is_one_model(tmp_path, capsys):
    """A tiny ``--camera perspective`` run: results.json, config.json and weights.npz name the
    camera; evaluate_air measures it on perspective scenes and refuses ``--camera
    orthographic``; a rerun into its folder with the other camera is refused."""
    from evaluation import run
    from training import train_air
    from visualization import air_pictures

    out = tmp_path / "run"
    assert train_air.main(TINY + ["--camera", "perspective", "--out", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["camera"] == "perspective"
    assert all(np.isfinite(results["metrics"]["position_mae"]))
    assert json.loads((out / "model" / "config.json").read_text())["model"]["camera"] == \
        "perspective"
    with np.load(out / "weights.npz") as z:
        assert json.loads(str(z["config"]))["camera"] == "perspective"
    report = tmp_path / "eval.json"
    for weights in (out, out / "weights.npz"):
        assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "8",
                         "--camera", "perspective", "--out", str(report)]) == 0
        result = json.loads(report.read_text())
        assert result["camera"] == "perspective" and result["metrics"]["scenes"] == 8
    capsys.readouterr()
    for weights in (out, out / "weights.npz"):
        assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "8",
                         "--camera", "orthographic"]) == 2
        err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
        assert len(err) == 1 and "perspective camera" in err[0], err
    assert train_air.main(TINY + ["--out", str(out)]) == 2          # orthographic, the default
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and "--camera orthographic" in err[0] and "perspective" in err[0], err
    pictures = air_pictures.make_pictures(str(out), str(tmp_path / "pictures"), scenes=4,
                                          log=lambda line: None)
    assert len(pictures) == 7 and any(p.endswith("air_depth.png") for p in pictures)


@pytest.mark.parametrize("camera, camera_range", [("orthographic", None),
                                                  ("perspective", None),
                                                  ("perspective", [0, 360, 15, 60])])
def test_the_depth_scatter_s_depths_are_the_view_axis_error_of_the_metrics(camera,
                                                                           camera_range):
    """``per_primitive_errors``' depths: the positions along each scene's viewing axis, whose
    mean error is ``position_mae_view``'s depth (fixed camera: ``p . forward``)."""
    from models.air import metrics

    data = scenes.generate_dataset(6, seed=4, image_size=16, max_primitives=2, supersample=1,
                            camera=camera, camera_range=camera_range)
    rng = np.random.default_rng(0)
    k = data["types"].shape[1]
    pred = {"presence_logit": np.where(data["types"] >= 0, 5.0, -5.0),
            "type_logits": np.eye(3)[np.clip(data["types"], 0, None)] * 4.0,
            "position": data["positions"] + rng.normal(0, 0.1, data["positions"].shape),
            "rotation": data["rotations"]}
    assignment = np.where(data["types"] >= 0, np.arange(k)[None], -1)
    e = metrics.per_primitive_errors(pred, data, assignment)
    result = metrics.compute_metrics(pred, data, assignment, camera)
    np.testing.assert_allclose(np.abs(e["pred_depth"] - e["depth"]).mean(),
                               result["position_mae_view"][2], rtol=1e-9)
    if camera_range is None:
        forward = scenes.view_axes()[2]
        np.testing.assert_allclose(e["depth"], data["positions"][data["types"] >= 0] @ forward,
                                   rtol=1e-6)
    else:     # the camera's own axis: an eye-ward primitive has a negative depth
        eye = scenes.eye_direction(data["camera"])[np.nonzero(data["types"] >= 0)[0]]
        np.testing.assert_allclose(e["depth"],
                                   -(data["positions"][data["types"] >= 0] * eye).sum(-1),
                                   rtol=1e-5, atol=1e-6)
