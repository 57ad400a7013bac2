"""The numpy ray caster against closed-form geometry and shading."""
import numpy as np
import pytest

from data_provider import scene_renderer as sr

TOP = dict(yaw=0.0, pitch=-np.pi / 2)  # looking straight down, image up = +x


def silhouette_area(primitives, camera, size, extent):
    _, depth = sr.render(primitives, camera, size, size, return_depth=True)
    return np.isfinite(depth).sum() * (extent / size) ** 2


@pytest.mark.parametrize("yaw,pitch", [(0.0, 0.0), (0.7, -0.4), (-2.0, 1.2)])
def test_sphere_silhouette_is_pi_r_squared(yaw, pitch):
    radius, extent, size = 0.6, 2.0, 128
    centre = np.array([0.3, -0.2, 0.5])
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    camera = sr.OrthographicCamera(centre - 5 * forward, yaw, pitch, extent)
    area = silhouette_area([sr.Primitive("sphere", 1.0, centre, 0.0, radius)], camera, size, extent)
    assert area == pytest.approx(np.pi * radius ** 2, rel=0.02)


@pytest.mark.parametrize("kind,size,rotation,expected", [
    ("box", (0.3, 0.5, 0.2), 0.6, 4 * 0.3 * 0.5),
    ("cylinder", (0.4, 0.4, 0.7), 1.0, np.pi * 0.4 ** 2),
    ("cone", (0.5, 0.5, 0.3), 0.0, np.pi * 0.5 ** 2),
    # Cylinder lying on its side (axis turned to y): a 2r x 2h rectangle from above.
    ("cylinder", (0.3, 0.3, 0.6), sr.rotation_euler(np.pi / 2, 0, 0), 2 * 0.3 * 2 * 0.6),
])
def test_silhouettes_from_above(kind, size, rotation, expected):
    camera = sr.OrthographicCamera((0, 0, 5), extent=2.0, **TOP)
    area = silhouette_area([sr.Primitive(kind, 1.0, (0, 0, 0), rotation, size)], camera, 128, 2.0)
    assert area == pytest.approx(expected, rel=0.03)


def test_cone_side_view_is_a_triangle_with_apex_up():
    camera = sr.OrthographicCamera((-5, 0, 0), 0.0, 0.0, 2.0)
    cone = sr.Primitive("cone", 1.0, (0, 0, 0), 0.0, (0.5, 0.5, 0.8))
    _, depth = sr.render([cone], camera, 128, 128, return_depth=True)
    widths = np.isfinite(depth).sum(axis=1)
    assert widths.sum() * (2.0 / 128) ** 2 == pytest.approx(0.5 * 1.0 * 1.6, rel=0.03)
    rows = np.flatnonzero(widths)
    assert widths[rows[0]] < widths[rows[len(rows) // 2]] < widths[rows[-1]]


def test_lambert_shading_matches_closed_form_on_a_sphere():
    radius, ambient, colour = 0.8, 0.25, np.array([0.9, 0.5, 0.2])
    light = np.array([0.3, -0.4, 1.0])
    camera = sr.OrthographicCamera((0, 0, 5), extent=2.0, **TOP)
    image = sr.render([sr.Primitive("sphere", colour, (0, 0, 0), 0.0, radius)], camera, 64, 64,
                      light_dir=light, ambient=ambient, background=(0.1, 0.2, 0.3))
    # Pixel centres: image up is +x, image right is -y (camera right = (sin 0, -cos 0, 0)).
    coords = (np.arange(64) + 0.5) / 64 * 2 - 1
    x = -coords[:, None] * np.ones((1, 64))
    y = -coords[None, :] * np.ones((64, 1))
    r2 = x ** 2 + y ** 2
    inside = r2 < (radius * 0.98) ** 2
    normal = np.stack([x, y, np.sqrt(np.maximum(radius ** 2 - r2, 0))], -1) / radius
    lambert = np.maximum(normal @ (light / np.linalg.norm(light)), 0)
    expected = colour * (ambient + (1 - ambient) * lambert)[..., None]
    np.testing.assert_allclose(image[inside], expected[inside], atol=1e-4)
    outside = image[r2 > (radius * 1.02) ** 2]
    np.testing.assert_allclose(outside, np.broadcast_to([0.1, 0.2, 0.3], outside.shape), atol=1e-6)


def test_head_light_makes_facing_surface_full_colour():
    camera = sr.OrthographicCamera((0, 0, 5), extent=2.0, **TOP)
    image = sr.render([sr.Primitive("box", (0.2, 0.4, 0.6), (0, 0, 0), 0.0, 0.5)], camera, 33, 33,
                      light_dir=None, ambient=0.1)
    np.testing.assert_allclose(image[16, 16], [0.2, 0.4, 0.6], atol=1e-6)


def test_z_buffer_nearest_hit_wins_in_any_order():
    camera = sr.PerspectiveCamera((-5, 0, 0), 0.0, 0.0, 30.0)
    near = sr.Primitive("sphere", (1, 0, 0), (-1, 0, 0), 0.0, 0.5)
    far = sr.Primitive("box", (0, 0, 1), (1, 0, 0), 0.0, 1.0)
    for order in ([near, far], [far, near]):
        image, depth = sr.render(order, camera, 65, 65, light_dir=None, ambient=0.0,
                                 return_depth=True)
        np.testing.assert_allclose(image[32, 32], [1, 0, 0], atol=1e-5)
        assert depth[32, 32] == pytest.approx(3.5, abs=1e-5)   # camera to sphere front
        assert image[13, 32, 2] > 0.3 and image[13, 32, 0] == 0  # the box behind shows around
    _, depth_far = sr.render([far], camera, 65, 65, return_depth=True)
    assert depth_far[32, 32] == pytest.approx(5.0, abs=1e-5)   # box front face at x = 0


def test_perspective_camera_convention_z_up_yaw_from_x_towards_y():
    def centroid(position, yaw=0.0, pitch=0.0):
        camera = sr.PerspectiveCamera((0, 0, 0), yaw, pitch, 60.0)
        _, depth = sr.render([sr.Primitive("sphere", 1.0, position, 0.0, 0.3)], camera, 64, 64,
                             return_depth=True)
        rows, cols = np.nonzero(np.isfinite(depth))
        return rows.mean(), cols.mean()

    row, col = centroid((5, 0, 0))
    assert abs(row - 31.5) < 0.5 and abs(col - 31.5) < 0.5
    assert centroid((5, 1.5, 0))[1] < 25       # +y is to the left when looking along +x
    assert centroid((5, 0, 1.5))[0] < 25       # +z is up in the image
    row, col = centroid((0, 5, 0), yaw=np.pi / 2)
    assert abs(row - 31.5) < 0.5 and abs(col - 31.5) < 0.5
    row, _ = centroid((5 * np.cos(0.4), 0, 5 * np.sin(0.4)), pitch=0.4)   # pitch up positive
    assert abs(row - 31.5) < 0.5


def test_look_at_and_raw_camera_round_trip():
    yaw, pitch = sr.look_at((3, 0, 1), (0, 0, 0))
    assert yaw == pytest.approx(np.pi) and pitch == pytest.approx(-np.arctan2(1, 3))
    camera = sr.PerspectiveCamera.from_raw([1, 2, 3, 0.5, -0.25])
    np.testing.assert_allclose(camera.raw, [1, 2, 3, 0.5, -0.25], rtol=1e-6)
    with pytest.raises(ValueError, match="5 values"):
        sr.PerspectiveCamera.from_raw([1, 2, 3])


def test_room_quads_are_seen_from_inside():
    floor = sr.Primitive("quad", (0.5, 0.5, 0.5), (0, 0, 0), 0.0, (3, 3, 1))
    camera = sr.PerspectiveCamera((0, 0, 1), 0.0, -np.pi / 2 + 0.01, 60.0)
    image = sr.render([floor], camera, 16, 16, light_dir=(0, 0, 1), ambient=0.2)
    np.testing.assert_allclose(image, 0.5, atol=1e-3)     # lit from above, fully covered
    below = sr.PerspectiveCamera((0, 0, -1), 0.0, np.pi / 2 - 0.01, 60.0)
    image = sr.render([floor], below, 16, 16, light_dir=(0, 0, 1), ambient=0.2)
    np.testing.assert_allclose(image, 0.1, atol=1e-3)     # two-sided: underside gets ambient


def test_supersampling_antialiases_edges_only():
    camera = sr.OrthographicCamera((0, 0, 5), extent=2.0, **TOP)
    box = [sr.Primitive("box", 1.0, (0, 0, 0), 0.3, 0.5)]
    hard = sr.render(box, camera, 32, 32, light_dir=None)
    soft = sr.render(box, camera, 32, 32, light_dir=None, supersample=4)
    assert len(np.unique(hard)) == 2 and len(np.unique(soft)) > 4
    assert soft.mean() == pytest.approx(hard.mean(), abs=0.02)
    assert soft.dtype == np.float32 and soft.shape == (32, 32, 3)


@pytest.mark.parametrize("kwargs,match", [
    (dict(kind="pyramid"), "unknown primitive kind"),
    (dict(kind="box", colour=(1.2, 0, 0)), "colour"),
    (dict(kind="box", size=(1, -1, 1)), "size"),
    (dict(kind="box", rotation=np.ones((3, 3))), "orthonormal"),
    (dict(kind="box", position=(0, 0)), "position"),
])
def test_bad_primitives_are_rejected(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sr.Primitive(**kwargs)


def test_bad_render_arguments_are_rejected():
    camera = sr.OrthographicCamera((0, 0, 5), extent=2.0, **TOP)
    with pytest.raises(ValueError, match="supersample"):
        sr.render([], camera, 8, 8, supersample=0)
    with pytest.raises(ValueError, match="ambient"):
        sr.render([], camera, 8, 8, ambient=1.5)
    with pytest.raises(ValueError, match="fov_degrees"):
        sr.PerspectiveCamera((0, 0, 0), fov_degrees=180)


def test_adaptive_supersampling_matches_full_supersampling():
    camera = sr.PerspectiveCamera((-4, -1, 1.5), *sr.look_at((-4, -1, 1.5), (0, 0, 0)), 50.0)
    prims = [sr.Primitive("quad", (0.5, 0.5, 0.5), (0, 0, 0), 0.0, (3, 3, 1)),
             sr.Primitive("cone", (0.9, 0.2, 0.1), (0, 0, 0.5), 0.4, 0.5),
             sr.Primitive("box", (0.1, 0.8, 0.3), (0.8, 1, 0.4), 0.9, 0.4)]
    args = dict(light_dir=(0.3, 0.2, 1.0), ambient=0.3, supersample=3, return_depth=True)
    full, full_depth = sr.render(prims, camera, 48, 48, adaptive=False, **args)
    fast, fast_depth = sr.render(prims, camera, 48, 48, **args)
    plain = sr.render(prims, camera, 48, 48, light_dir=(0.3, 0.2, 1.0), ambient=0.3)
    assert np.abs(fast - full).mean() < 0.25 * np.abs(plain - full).mean()
    assert np.abs(fast - full).max() < 0.05
    finite = np.isfinite(full_depth) & np.isfinite(fast_depth)
    assert np.mean(np.isfinite(full_depth) != np.isfinite(fast_depth)) < 0.005
    # Smooth pixels keep their centre depth; the full mode the nearest sub-ray.
    np.testing.assert_allclose(fast_depth[finite], full_depth[finite], rtol=0.06)


def _horizontal_shift(a, b, max_shift=12):
    """Column shift ``s`` with ``b[:, j + s] ~ a[:, j]`` (least squares)."""
    width = a.shape[1]
    errors = {s: np.mean((a[:, max(0, -s):width - max(0, s)]
                          - b[:, max(0, s):width - max(0, -s)]) ** 2)
              for s in range(-max_shift, max_shift + 1)}
    return min(errors, key=errors.get)


def test_yaw_turns_like_the_real_mazes_cameras(gqn_real_root):
    import tensorflow as tf

    path = gqn_real_root / "mazes" / "train" / "0001-of-1080.tfrecord"
    spec = {"frames": tf.io.FixedLenFeature([300], tf.string),
            "cameras": tf.io.FixedLenFeature([1500], tf.float32)}
    record = tf.io.parse_single_example(next(iter(tf.data.TFRecordDataset([str(path)]))), spec)
    cameras = record["cameras"].numpy().reshape(300, 5)
    assert np.all(cameras[:, 2] == 0)            # cameras move in the x-y ground plane
    decode = lambda jpeg: tf.io.decode_jpeg(jpeg).numpy().mean(-1)  # noqa: E731
    shifts = [_horizontal_shift(decode(record["frames"][i]), decode(record["frames"][i + 1]))
              for i in range(30)
              if np.allclose(cameras[i, :3], cameras[i + 1, :3])
              and 0 < cameras[i + 1, 3] - cameras[i, 3] < 0.5]
    assert len(shifts) >= 5 and np.median(shifts) > 0   # yaw up: the view pans left
    # The renderer: same yaw step, same direction of image motion.
    scene = [sr.Primitive("box", (0.9, 0.2, 0.2), (4, 0.5, 0), 0.3, 0.4),
             sr.Primitive("sphere", (0.2, 0.9, 0.2), (4, -1.0, 0.3), 0.0, 0.4)]
    views = [sr.render(scene, sr.PerspectiveCamera((0, 0, 0), yaw, 0.0, 60.0), 64, 64,
                       light_dir=None).mean(-1) for yaw in (0.0, 0.15)]
    assert _horizontal_shift(*views) > 0


# The batched renderer with a perspective camera.

EYE = np.array([3.0, -2.0, 1.5])
PINHOLE = sr.PerspectiveCamera(EYE, *sr.look_at(EYE, (0, 0, 0)), 50.0)


def _perspective_scenes():
    """Slot arrays of scenes seen by ``PINHOLE``: every kind, overlaps, a box partly out
    of the frame, a sphere close to the eye, a cylinder across the camera plane and a
    box behind it."""
    forward, right, up = sr.camera_axes(PINHOLE)
    kinds = [["sphere", "box", "cylinder"],
             ["cone", "quad", "sphere"],
             ["box", "cone", ""],
             ["sphere", "box", "cylinder"],
             ["cylinder", "box", "quad"]]
    positions = [[(0.0, 0.0, 0.0), (0.3, 0.4, 0.1), (-0.5, -0.2, 0.3)],
                 [(0.2, -0.3, 0.0), (0.0, 0.0, -0.5), (-0.6, 0.5, 0.2)],
                 [EYE + 3.6 * forward + 1.5 * right + 0.4 * up, (0.0, 0.2, 0.0), (0, 0, 0)],
                 [EYE + 0.8 * forward + 0.1 * right, (0.0, 0.0, 0.0), (0.4, -0.4, 0.0)],
                 [EYE + 0.1 * forward + 0.5 * right, EYE - 2.0 * forward, (0.0, 0.0, -0.5)]]
    angles = np.linspace(0.2, 2.9, 5 * 3 * 3).reshape(5, 3, 3)
    rotations = np.array([[sr.rotation_euler(*a) for a in scene] for scene in angles])
    sizes = [[0.4, (0.3, 0.2, 0.35), (0.2, 0.2, 0.4)],
             [(0.35, 0.35, 0.3), (2.0, 2.0, 1.0), 0.25],
             [(0.4, 0.3, 0.3), (0.3, 0.3, 0.4), 1.0],
             [0.3, 0.3, (0.2, 0.2, 0.3)],
             [(0.3, 0.3, 0.5), 0.4, (1.5, 1.5, 1.0)]]
    sizes = np.array([[np.broadcast_to(s, 3) for s in scene] for scene in sizes], float)
    colours = np.linspace(0.2, 1.0, 5 * 3 * 3).reshape(5, 3, 3)
    return kinds, np.array(positions, float), rotations, sizes, colours


def _scene_primitives(kinds, positions, rotations, sizes, colours, i):
    return [sr.Primitive(kind, colours[i, j], positions[i, j], rotations[i, j], sizes[i, j])
            for j, kind in enumerate(kinds[i]) if kind]


@pytest.mark.parametrize("k,light", [(1, None), (2, None), (2, (0.3, -0.2, 1.0))])
def test_render_batch_with_a_perspective_camera_is_render_scene_by_scene(k, light):
    kinds, positions, rotations, sizes, colours = _perspective_scenes()
    assert {kind for scene in kinds for kind in scene if kind} == set(sr.KINDS)
    args = dict(light_dir=light, ambient=0.2, background=(0.1, 0.2, 0.3), supersample=k,
                return_depth=True)
    images, depths = sr.render_batch(kinds, positions, rotations, sizes, PINHOLE, 32, 32,
                                     colours=colours, chunk=2, **args)
    for i in range(len(kinds)):
        prims = _scene_primitives(kinds, positions, rotations, sizes, colours, i)
        image, depth = sr.render(prims, PINHOLE, 32, 32, adaptive=False, **args)
        hit = np.isfinite(depth)
        np.testing.assert_array_equal(np.isfinite(depths[i]), hit)
        np.testing.assert_allclose(depths[i][hit], depth[hit], rtol=1e-6)
        np.testing.assert_allclose(images[i], image, atol=1e-6)
    # The box partly out of the frame reaches the border; the sphere near the eye fills
    # most of the frame; nothing of the box behind the camera is drawn.
    assert np.isfinite(depths[2][:, -1]).any() and np.isfinite(depths[2]).mean() < 0.5
    assert np.isfinite(depths[3]).mean() > 0.5
    alone = sr.render_batch([["box"]], positions[4:, 1:2], rotations[4:, 1:2], sizes[4:, 1:2],
                            PINHOLE, 32, 32, return_depth=True)[1]
    assert np.isinf(alone).all()


@pytest.mark.parametrize("light", [None, (0.3, -0.2, 1.0)])
def test_primitive_hits_with_a_perspective_camera_are_render_of_each_primitive_alone(light):
    kinds, positions, rotations, sizes, _ = _perspective_scenes()
    used = np.array([[bool(kind) for kind in scene] for scene in kinds])
    flat_kinds = np.array(kinds)[used]
    index, row, col, t, intensity = sr.primitive_hits(
        flat_kinds, positions[used], rotations[used], sizes[used], PINHOLE, 32, 24,
        light_dir=light, ambient=0.2)
    for p, kind in enumerate(flat_kinds):
        prim = sr.Primitive(kind, 1.0, positions[used][p], rotations[used][p], sizes[used][p])
        image, depth = sr.render([prim], PINHOLE, 32, 24, light_dir=light, ambient=0.2,
                                 adaptive=False, return_depth=True)
        mine = index == p
        drawn = np.zeros((32, 24), bool)
        drawn[row[mine], col[mine]] = True
        np.testing.assert_array_equal(drawn, np.isfinite(depth))
        assert mine.sum() == drawn.sum()                             # each pixel once
        np.testing.assert_allclose(t[mine], depth[row[mine], col[mine]], rtol=1e-6)
        np.testing.assert_allclose(intensity[mine], image[row[mine], col[mine], 0], atol=1e-6)


def test_a_point_lands_on_the_pixel_the_pinhole_formula_predicts():
    eye, fov, height, width = np.array([-1.0, 2.0, 0.5]), 45.0, 48, 64
    yaw, pitch = 0.4, -0.25
    camera = sr.PerspectiveCamera(eye, yaw, pitch, fov)
    forward = np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    up = np.cross(right, forward)
    focal = height / 2 / np.tan(np.radians(fov) / 2)   # pixels per unit of x / z and y / z
    for x, y, z in [(0.0, 0.0, 4.0), (1.1, 0.45, 3.0), (-0.9, -0.7, 2.5), (1.4, -0.9, 5.0)]:
        point = eye + x * right + y * up + z * forward
        radius = 0.06 * z                                     # about 3.5 pixels
        expected_row = height / 2 - focal * y / z - 0.5       # pixel centres at integers
        expected_col = width / 2 + focal * x / z - 0.5
        _, depth = sr.render_batch([["sphere"]], point[None, None], np.eye(3), radius, camera,
                                   height, width, return_depth=True)
        rows, cols = np.nonzero(np.isfinite(depth[0]))
        assert rows.size > 20
        assert abs(rows.mean() - expected_row) < 0.3 and abs(cols.mean() - expected_col) < 0.3
        assert np.isfinite(depth[0][int(round(expected_row)), int(round(expected_col))])
        distance = np.sqrt(x * x + y * y + z * z)
        assert depth[0][rows, cols].min() == pytest.approx(distance - radius, rel=2e-3)


def test_a_sphere_s_image_shrinks_like_one_over_its_distance():
    camera = sr.PerspectiveCamera((0, 0, 0), 0.3, 0.1, 40.0)
    forward = sr.camera_axes(camera)[0]
    focal = 32 / np.tan(np.radians(20.0))
    radius = 0.4
    apparent = {}
    for distance in (2.0, 4.0, 8.0):
        _, depth = sr.render_batch([["sphere"]], distance * forward[None, None], np.eye(3),
                                   radius, camera, 64, 64, return_depth=True)
        apparent[distance] = np.sqrt(np.isfinite(depth).sum() / np.pi)
        # the pinhole image of a sphere on the axis: a disc of radius f rho / sqrt(D^2 - rho^2)
        assert apparent[distance] == pytest.approx(
            focal * radius / np.sqrt(distance ** 2 - radius ** 2), abs=0.5)
    assert apparent[2.0] / apparent[4.0] == pytest.approx(2.0, rel=0.04)
    assert apparent[4.0] / apparent[8.0] == pytest.approx(2.0, rel=0.04)


def _orthographic_scene_batch():
    camera = sr.OrthographicCamera((3, 2, 2.5), *sr.look_at((3, 2, 2.5), (0, 0, 0)), 2.5)
    kinds = [["sphere", "box", "cylinder"], ["cone", "box", ""], ["cylinder", "sphere", "cone"]]
    positions = np.array([[(0.0, 0.0, 0.0), (0.3, 0.4, 0.1), (-0.5, -0.2, 0.3)],
                          [(0.2, -0.3, 0.0), (-0.6, 0.5, 0.2), (0.0, 0.0, 0.0)],
                          [(0.9, 0.0, 0.2), (-0.1, -0.7, -0.2), (0.3, 0.5, -0.4)]])
    angles = np.linspace(0.2, 2.9, 3 * 3 * 3).reshape(3, 3, 3)
    rotations = np.array([[sr.rotation_euler(*a) for a in scene] for scene in angles])
    sizes = np.array([[(0.4, 0.4, 0.4), (0.3, 0.2, 0.35), (0.2, 0.2, 0.4)],
                      [(0.35, 0.35, 0.3), (0.25, 0.3, 0.2), (1.0, 1.0, 1.0)],
                      [(0.3, 0.3, 0.25), (0.3, 0.3, 0.3), (0.2, 0.2, 0.45)]])
    colours = np.linspace(0.2, 1.0, 3 * 3 * 3).reshape(3, 3, 3)
    return kinds, positions, rotations, sizes, colours, camera


# sha256 of the float32 image and depth bytes of _orthographic_scene_batch() drawn by
# render_batch at 32x32 with supersample 2, recorded from the orthographic renderer
# before perspective support (numpy 2.x on x86-64; a numpy that rounds einsum
# differently may change the last bits).
ORTHOGRAPHIC_IMAGE_SHA256 = "8e8351ae34b919e836e5624c5335b25dde01f3db8509d85a2faeafd94408445f"
ORTHOGRAPHIC_DEPTH_SHA256 = "2fcdb044f6f9602f1dd01c223861daa3696cf3881ec0c33f8ca72d14e7bb1267"


def test_orthographic_images_are_unchanged():
    import hashlib

    kinds, positions, rotations, sizes, colours, camera = _orthographic_scene_batch()
    args = dict(light_dir=None, ambient=0.2, background=(0.1, 0.2, 0.3), supersample=2,
                return_depth=True)
    images, depths = sr.render_batch(kinds, positions, rotations, sizes, camera, 32, 32,
                                     colours=colours, chunk=2, **args)
    assert hashlib.sha256(images.tobytes()).hexdigest() == ORTHOGRAPHIC_IMAGE_SHA256
    assert hashlib.sha256(depths.tobytes()).hexdigest() == ORTHOGRAPHIC_DEPTH_SHA256
    for i in range(len(kinds)):
        prims = _scene_primitives(kinds, positions, rotations, sizes, colours, i)
        image, depth = sr.render(prims, camera, 32, 32, adaptive=False, **args)
        np.testing.assert_array_equal(images[i], image)
        np.testing.assert_array_equal(depths[i], depth)


def test_the_batched_renderer_rejects_an_unknown_camera():
    class Fisheye:
        position, yaw, pitch = np.zeros(3), 0.0, 0.0

    with pytest.raises(ValueError, match="OrthographicCamera or a PerspectiveCamera"):
        sr.render_batch([["sphere"]], np.zeros((1, 1, 3)), np.eye(3), 0.2, Fisheye(), 8, 8)
    with pytest.raises(ValueError, match="OrthographicCamera or a PerspectiveCamera"):
        sr.primitive_hits(["sphere"], np.zeros((1, 3)), np.eye(3), 0.2, Fisheye(), 8, 8)
