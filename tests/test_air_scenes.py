"""AIR 3D scenes: renderer facts, the batched renderer, sampling, symmetries, matching."""
import itertools

import numpy as np
import pytest

from data_provider import scene_renderer as sr
from models.air import matching, rotations, scenes

PIXEL_AREA_128 = (scenes.CAMERA_EXTENT / 128) ** 2  # world area of a pixel at 128x128


def test_sphere_silhouette_is_pi_r_squared():
    image = scenes.render_3d_scene(["sphere"], [[0.3, -0.2, 0.1]], [[0, 0, 0]], image_size=128,
                                   supersample=1)
    radius = scenes.SIDE / 2
    assert (image > 0).sum() * PIXEL_AREA_128 == pytest.approx(np.pi * radius ** 2, rel=0.02)


def test_face_pointing_at_the_head_light_is_fully_lit_and_tilted_faces_follow_lambert():
    # Cube turned so that its local +z face looks at the camera: R e_z = -d.
    d = scenes.CAMERA_DIRECTION
    z = -d
    x = np.cross([0.0, 0.0, 1.0], z)
    x /= np.linalg.norm(x)
    facing = np.stack([x, np.cross(z, x), z], 1)
    image = scenes.render_scenes([[1]], [[[0, 0, 0]]], facing[None, None], 64, supersample=1)[0]
    np.testing.assert_allclose(image[30:34, 30:34], 1.0, atol=1e-6)        # 0.15 + 0.85 * 1
    large = scenes.render_scenes([[1]], [[[0, 0, 0]]], facing[None, None], 128, supersample=1)[0]
    assert (large > 0).sum() * PIXEL_AREA_128 == pytest.approx(scenes.SIDE ** 2, rel=0.06)
    # Tilted by 0.5 rad about the face's own x axis: the face gets 0.15 + 0.85 cos(0.5).
    tilt = facing @ sr.rotation_euler(0.5, 0.0, 0.0)
    image = scenes.render_scenes([[1]], [[[0, 0, 0]]], tilt[None, None], 64, supersample=1)[0]
    assert np.any(np.isclose(image, scenes.AMBIENT + (1 - scenes.AMBIENT) * np.cos(0.5),
                             atol=1e-5))
    assert image.max() <= 1.0 and image[image > 0].min() >= scenes.AMBIENT - 1e-6


def test_z_buffer_the_primitive_nearer_the_camera_hides_the_other_in_either_slot_order():
    d = scenes.CAMERA_DIRECTION
    near, far = -0.6 * d, 0.6 * d          # same image point, near is towards the camera
    upright = np.eye(3)
    for types, positions in (([0, 1], [near, far]), ([1, 0], [far, near])):
        image, depth = sr.render_batch(
            [[scenes.RENDER_KINDS[t] for t in types]], scenes.WORLD_HALF * np.array([positions]),
            upright[None, None], scenes.SIDE / 2,
            scenes.camera(), 64, 64, light_dir=None, ambient=scenes.AMBIENT, return_depth=True)
        # The sphere's centre pixel faces the head light (1.0); its depth is the sphere's front.
        assert image[0, 31:33, 31:33, 0].min() > 0.99
        sphere_front = 3.0 - scenes.WORLD_HALF * 0.6 - scenes.SIDE / 2
        assert depth[0, 31:33, 31:33].min() == pytest.approx(sphere_front, abs=0.02)


def test_render_batch_equals_the_per_scene_renderer():
    rng = np.random.default_rng(3)
    _, types, positions, euler = scenes.sample_scenes(12, rng, 3)
    rot = scenes.euler_to_matrix(euler)
    for k in (1, 2):
        batch = scenes.render_scenes(types, positions, rot, 32, supersample=k)
        for i in range(12):
            prims = [sr.Primitive(scenes.RENDER_KINDS[t], 1.0, scenes.WORLD_HALF * p, r,
                                  scenes.SIDE / 2)
                     for t, p, r in zip(types[i], positions[i], rot[i]) if t >= 0]
            single = sr.render(prims, scenes.camera(), 32, 32, light_dir=None, ambient=0.15,
                               background=0.0, supersample=k, adaptive=False)[..., 0]
            np.testing.assert_allclose(batch[i], single, atol=1e-6)


def test_render_batch_rejects_an_unknown_camera_and_unknown_kinds():
    with pytest.raises(ValueError, match="OrthographicCamera or a PerspectiveCamera"):
        sr.render_batch([["sphere"]], np.zeros((1, 1, 3)), np.eye(3)[None, None], 0.2,
                        object())
    with pytest.raises(ValueError, match="unknown primitive kind"):
        sr.render_batch([["pyramid"]], np.zeros((1, 1, 3)), np.eye(3)[None, None], 0.2,
                        scenes.camera())


def test_dataset_is_reproducible_sorted_by_x_and_splits_differ():
    a = scenes.generate_dataset(40, seed=5, image_size=32, max_primitives=3, split="train")
    b = scenes.generate_dataset(40, seed=5, image_size=32, max_primitives=3, split="train")
    c = scenes.generate_dataset(40, seed=5, image_size=32, max_primitives=3, split="test")
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    assert not np.array_equal(a["images"], c["images"])
    present = a["types"] >= 0
    assert np.array_equal(present.sum(1), a["count"]) and set(a["count"]) <= {1, 2, 3}
    assert np.all(present[:, :-1] >= present[:, 1:])                      # empty slots last
    x = a["positions"][..., 0]
    assert np.all((x[:, 1:] >= x[:, :-1]) | ~present[:, 1:])              # sorted by x
    assert np.abs(a["positions"]).max() <= 1 and 0 <= a["euler"].min() and a["euler"].max() <= np.pi
    np.testing.assert_allclose(a["rotations"], scenes.euler_to_matrix(a["euler"]), atol=1e-6)


def test_mirrored_image_is_the_scene_mirrored_through_x_equals_y():
    rng = np.random.default_rng(0)
    _, types, positions, euler = scenes.sample_scenes(6, rng, 3)
    rot = scenes.euler_to_matrix(euler)
    swap = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    image = scenes.render_scenes(types, positions, rot, 32, supersample=1)
    mirrored = scenes.render_scenes(types, positions[..., [1, 0, 2]], swap @ rot @ swap, 32,
                                    supersample=1)
    np.testing.assert_allclose(mirrored, image[:, :, ::-1], atol=1e-5)


def test_a_scene_turned_about_the_view_axis_is_its_image_turned_by_120_degrees():
    from scipy.ndimage import rotate

    data = scenes.generate_dataset(12, seed=5, image_size=32, split="val")
    turned = scenes.turn_about_view(data, 1, image_size=32)
    # the image turns anticlockwise by 120 degrees (up to resampling) ...
    spun = np.stack([rotate(im[..., 0], 120, reshape=False, order=1) for im in data["images"]])
    assert np.abs(spun - turned["images"][..., 0]).mean() < 0.01
    assert np.abs(data["images"] - turned["images"]).mean() > 0.05
    # ... with the same primitives, slots sorted by x again, and three turns are no turn
    assert np.array_equal(np.sort(turned["types"], 1), np.sort(data["types"], 1))
    x, present = turned["positions"][..., 0], turned["types"] >= 0
    assert np.all((x[:, 1:] >= x[:, :-1]) | ~present[:, 1:])
    np.testing.assert_allclose(turned["rotations"], scenes.euler_to_matrix(turned["euler"]),
                               atol=1e-5)
    again = scenes.turn_about_view(scenes.turn_about_view(turned, 1, 32), 1, 32)
    np.testing.assert_allclose(again["images"], data["images"], atol=1e-5)
    np.testing.assert_allclose(again["positions"], data["positions"], atol=1e-6)


def test_depth_blind_positions_keep_the_image_point_and_sit_mid_chord():
    rng = np.random.default_rng(1)
    p = rng.uniform(-1, 1, (200, 3))
    q = scenes.depth_blind_positions(p)
    np.testing.assert_allclose(scenes.image_coordinates(q), scenes.image_coordinates(p),
                               atol=1e-9)
    d = scenes.CAMERA_DIRECTION
    # Walking from q along +d and along -d, the cube's faces are equally far.
    forward = np.min(np.where(d > 0, (1 - q) / d, (-1 - q) / d), axis=1)
    backward = np.min(np.where(d > 0, (q + 1) / d, (q - 1) / d), axis=1)
    np.testing.assert_allclose(forward, backward, atol=1e-9)


def _random_rotation(rng):
    q = rng.normal(size=4)
    q /= np.linalg.norm(q)
    w, x, y, z = q
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


@pytest.mark.parametrize("type_index", [rotations.CUBE, rotations.CYLINDER])
def test_symmetric_error_is_zero_for_every_equivalent_and_the_angle_otherwise(type_index):
    import tensorflow as tf

    rng = np.random.default_rng(type_index)
    for _ in range(5):
        r = _random_rotation(rng)
        equivalents = rotations.symmetric_equivalents(r, type_index)
        assert len(equivalents) == (24 if type_index == rotations.CUBE else 16)
        same = np.broadcast_to(r, equivalents.shape)
        errors = rotations.symmetric_geodesic_error(equivalents, same,
                                                    np.full(len(equivalents), type_index))
        np.testing.assert_allclose(errors, 0.0, atol=2e-6)
        cos = rotations.symmetric_cosine(tf.constant(equivalents, tf.float32),
                                         tf.constant(same, tf.float32),
                                         np.full(len(equivalents), type_index))
        np.testing.assert_allclose(cos.numpy(), 1.0, atol=1e-5)
        # A small turn about an axis the shape is not symmetric about gives its angle.
        axis = r[:, 0] if type_index == rotations.CYLINDER else rng.normal(size=3)
        axis /= np.linalg.norm(axis)
        k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
        turn = np.eye(3) + np.sin(0.2) * k + (1 - np.cos(0.2)) * k @ k
        error = rotations.symmetric_geodesic_error(turn @ r, r, type_index)
        assert error == pytest.approx(0.2, abs=1e-6)


def test_sphere_rotation_error_is_masked():
    r = _random_rotation(np.random.default_rng(0))
    assert np.isnan(rotations.symmetric_geodesic_error(r, np.eye(3), rotations.SPHERE))


def test_euler_decomposition_round_trips_both_triples():
    rng = np.random.default_rng(2)
    euler = rng.uniform(0, np.pi, (50, 3))
    both = rotations.matrix_to_euler(scenes.euler_to_matrix(euler))
    for triple in both:
        np.testing.assert_allclose(scenes.euler_to_matrix(triple), scenes.euler_to_matrix(euler),
                                   atol=1e-9)
    np.testing.assert_allclose(rotations.euler_abs_error(scenes.euler_to_matrix(euler), euler), 0,
                               atol=1e-6)


def _brute_force(cost, present):
    targets = np.flatnonzero(present)
    best = np.inf
    for slots in itertools.permutations(range(cost.shape[0]), len(targets)):
        best = min(best, sum(cost[s, t] for s, t in zip(slots, targets)))
    return best


@pytest.mark.parametrize("slots,k", [(3, 3), (6, 3), (5, 4)])
def test_hungarian_matching_equals_brute_force_over_all_permutations(slots, k):
    rng = np.random.default_rng(slots * 10 + k)
    cost = rng.normal(size=(40, slots, k))
    present = rng.uniform(size=(40, k)) < 0.7
    assignment = matching.match_slots(cost, present)
    for b in range(40):
        assigned = assignment[b][assignment[b] >= 0]
        assert sorted(assigned) == list(np.flatnonzero(present[b]))   # each primitive once
        total = sum(cost[b, s, assignment[b, s]] for s in range(slots) if assignment[b, s] >= 0)
        assert total == pytest.approx(_brute_force(cost[b], present[b]))


def test_sorted_assignment_is_the_identity_on_present_slots():
    present = np.array([[True, True, False], [True, False, False]])
    np.testing.assert_array_equal(matching.sorted_slots(present), [[0, 1, -1], [0, -1, -1]])


def test_explained_canvases_render_a_subset_of_each_scene_s_primitives():
    from models.air.scenes import explained_canvases, render_scenes, small_rotations

    data = scenes.generate_dataset(60, seed=4, image_size=32, supersample=1)
    canvas, explained = explained_canvases(data, np.random.default_rng(0), rate=0.5, jitter=0.0,
                                           turn_sigma=0.0, image_size=32, supersample=1)
    assert canvas.shape == (60, 32, 32, 1) and explained.shape == data["types"].shape
    assert not (explained & (data["types"] < 0)).any()               # only primitives there
    shown = explained.any(1)
    assert 0.3 < shown.mean() < 0.7
    np.testing.assert_array_equal(canvas[~shown], 0.0)
    expected = render_scenes(np.where(explained, data["types"], -1), data["positions"],
                             data["rotations"], 32, 1)
    np.testing.assert_allclose(canvas[..., 0], expected, atol=1e-6)
    whole = explained.sum(1) == data["count"]
    assert whole.any()
    np.testing.assert_allclose(canvas[whole], data["images"][whole], atol=1e-5)
    # with a reading's errors the canvas moves, by about the jitter
    moved, again = explained_canvases(data, np.random.default_rng(0), rate=0.5, jitter=1.0,
                                      turn_sigma=0.1, image_size=32, supersample=1)
    np.testing.assert_array_equal(again, explained)
    assert 0.0 < np.abs(moved - canvas).mean() < 0.05
    turns = small_rotations(500, 0.1, np.random.default_rng(1))
    np.testing.assert_allclose(turns @ np.swapaxes(turns, 1, 2),
                               np.broadcast_to(np.eye(3), turns.shape), atol=1e-9)
    np.testing.assert_allclose(np.linalg.det(turns), 1.0, atol=1e-9)
    angle = np.arccos(np.clip((np.trace(turns, axis1=1, axis2=2) - 1) / 2, -1, 1))
    assert abs(np.mean(angle) - 0.1 * np.sqrt(2 / np.pi)) < 0.01     # E|N(0, s)| = s sqrt(2/pi)
