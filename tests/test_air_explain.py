"""The count settled by re-rendering (models.air.search) against scenes of known primitives."""
import numpy as np
import pytest

from models.air.scenes import render_3d_scene
from models.air.search.explain import explain


def _candidates(types, positions, euler, presence):
    from models.air.scenes import euler_to_matrix

    k = len(types)
    logits = np.full((1, k, 3), -5.0, np.float32)
    logits[0, np.arange(k), types] = 5.0
    p = np.asarray(presence, np.float64)
    return {"presence_logit": np.log(p / (1 - p))[None].astype(np.float32),
            "type_logits": logits,
            "position": np.asarray(positions, np.float32)[None],
            "rotation": euler_to_matrix(np.asarray(euler))[None].astype(np.float32)}


TYPES = [1, 0]                                     # a cube and a sphere, apart
POSITIONS = [[-0.5, 0.4, 0.0], [0.5, -0.4, 0.2]]
EULER = [[0.3, 0.6, 0.2], [0.0, 0.0, 0.0]]


def test_keeps_the_true_primitives_and_drops_a_duplicate_and_a_phantom():
    image = render_3d_scene(TYPES, POSITIONS, EULER)
    # candidates: the cube, the cube read twice, a phantom cylinder in empty space, the sphere
    # (most present first; the sphere, found last and doubted, must still be taken in)
    cands = _candidates([1, 1, 2, 0],
                        [POSITIONS[0], np.add(POSITIONS[0], 0.01), [0.0, 0.0, -0.9], POSITIONS[1]],
                        [EULER[0], EULER[0], [0.0, 0.0, 0.0], EULER[1]],
                        [0.99, 0.9, 0.8, 0.3])
    out = explain(cands, image[None], 3, 64, 2, gain=4.0, floor=0.05)
    present = out["presence_logit"][0] > 0
    assert present.sum() == 2
    kept_types = sorted(out["type_logits"][0][present].argmax(-1).tolist())
    assert kept_types == [0, 1]
    np.testing.assert_allclose(np.sort(out["position"][0][present][:, 0]), [-0.5, 0.5], atol=1e-6)


def test_gain_sets_how_much_a_primitive_must_explain():
    # a second candidate fully hidden behind the cube explains nothing: it is not counted
    image = render_3d_scene(TYPES[:1], POSITIONS[:1], EULER[:1])
    behind = np.subtract(POSITIONS[0], np.ones(3) / np.sqrt(3.0))   # further from the camera
    cands = _candidates([1, 0], [POSITIONS[0], behind], [EULER[0], [0, 0, 0]], [0.9, 0.9])
    assert (explain(cands, image[None], 3, 64, 2, gain=4.0)["presence_logit"][0] > 0).sum() == 1
    # a visible primitive is dropped only when the price per primitive exceeds what it explains
    image = render_3d_scene(TYPES, POSITIONS, EULER)
    cands = _candidates(TYPES, POSITIONS, EULER, [0.9, 0.9])
    assert (explain(cands, image[None], 3, 64, 2, gain=4.0)["presence_logit"][0] > 0).sum() == 2
    assert (explain(cands, image[None], 3, 64, 2, gain=1e6)["presence_logit"][0] > 0).sum() == 1


def test_candidates_below_the_floor_are_not_tried():
    image = render_3d_scene(TYPES, POSITIONS, EULER)
    cands = _candidates(TYPES, POSITIONS, EULER, [0.99, 0.01])
    assert (explain(cands, image[None], 3, 64, 2, floor=0.05)["presence_logit"][0] > 0).sum() == 1
    assert (explain(cands, image[None], 3, 64, 2, floor=0.001)["presence_logit"][0] > 0).sum() == 2


def test_composited_layers_are_the_renderer_s_image_of_every_subset():
    """Subsets rendered from the candidates' layers (z-buffer of sub-pixels, then the box
    filter) are what ``render_scenes`` draws, overlaps and interpenetrations included."""
    import itertools

    from models.air.scenes import generate_dataset, render_scenes
    from models.air.search.layers import composite, render_layers

    data = generate_dataset(16, seed=9, image_size=32, split="val")
    types = np.where(data["types"] >= 0, data["types"], 2)       # a third primitive everywhere
    positions = np.where(data["types"][..., None] >= 0, data["positions"], 0.1)
    grey, depth = render_layers(types, positions, data["rotations"], 32, 2)
    assert grey.shape == depth.shape == (16, 3, 32 * 32, 4)
    subsets = [list(s) for size in (1, 2, 3) for s in itertools.combinations(range(3), size)]
    table = np.array([s + [3] * (3 - len(s)) for s in subsets])   # 3: an empty layer
    for i in range(16):
        g = np.concatenate([grey[i], np.zeros_like(grey[i, :1])])
        d = np.concatenate([depth[i], np.full_like(depth[i, :1], np.inf)])
        images = composite(g, d, table, 2).reshape(-1, 32, 32)
        for subset, image in zip(subsets, images):
            kept = np.where(np.isin(np.arange(3), subset), types[i], -1)
            expected = render_scenes(kept[None], positions[i:i + 1], data["rotations"][i:i + 1],
                                     32, 2)[0]
            np.testing.assert_allclose(image, expected, atol=1e-5)


def test_layers_are_what_render_batch_draws_of_each_primitive_alone_bit_for_bit():
    from data_provider import scene_renderer as sr
    from models.air.scenes import _render_arguments, generate_dataset
    from models.air.search.layers import render_layers

    data = generate_dataset(8, seed=2, image_size=32, split="val")
    types = np.where(data["types"] >= 0, data["types"], -1)          # empty slots stay empty
    grey, depth = render_layers(types, data["positions"], data["rotations"], 32, 2)
    args, kwargs = _render_arguments(types.reshape(-1, 1), data["positions"].reshape(-1, 1, 3),
                                     data["rotations"].reshape(-1, 1, 3, 3), 64, 1)
    drawn, far = sr.render_batch(*args, return_depth=True, **kwargs)  # 64x64 rays, one each
    pixel_major = lambda a: a.reshape(8, 3, 32, 2, 32, 2).transpose(0, 1, 2, 4, 3, 5).reshape(  # noqa: E731,E501
        8, 3, 32 * 32, 4)
    np.testing.assert_array_equal(grey, pixel_major(drawn[..., 0]))
    np.testing.assert_array_equal(depth, pixel_major(far))
    assert (types < 0).any() and np.isinf(depth[types < 0]).all()


@pytest.mark.parametrize("k", [1, 2, 3])
def test_box_filter_is_the_mean_of_each_pixel_s_sub_pixels_bit_for_bit(k):
    from models.air.search.layers import box_filter

    rng = np.random.default_rng(k)
    image = (rng.random((3, 8 * k, 8 * k)) * rng.random((3, 8 * k, 8 * k))).astype(np.float32)
    mean = image.reshape(3, 8, k, 8, k).mean(axis=(2, 4))
    pixel_major = image.reshape(3, 8, k, 8, k).transpose(0, 1, 3, 2, 4).reshape(3, 64, k * k)
    np.testing.assert_array_equal(box_filter(pixel_major, k).reshape(3, 8, 8), mean)


def _scenes_and_candidates(n, seed):
    """``n`` test scenes of up to 3 primitives, some of them overlapping, and candidates for
    each: the primitives read a little off, one of them read twice, a phantom cylinder,
    with presences that put some of them under the floor."""
    from models.air.scenes import generate_dataset

    data = generate_dataset(n, seed=seed, image_size=64, split="test")
    rng = np.random.default_rng(seed)
    types = np.where(data["types"] >= 0, data["types"], 0)
    positions = data["positions"] + rng.normal(0.0, 0.02, data["positions"].shape)
    pick = lambda a: np.concatenate([a, a[:, :1], a[:, :1]], axis=1)   # noqa: E731
    types, positions, rotations = pick(types), pick(positions), pick(data["rotations"])
    positions[:, 3] += [0.04, -0.04, 0.0]                       # the first read twice
    types[:, 4], positions[:, 4] = 2, rng.uniform(-0.8, 0.8, (n, 3))   # a phantom
    presence = rng.uniform(0.02, 0.99, types.shape)
    logits = np.full(types.shape + (3,), -4.0, np.float32)
    np.put_along_axis(logits, types[..., None], 4.0, axis=-1)
    order = np.argsort(-presence, axis=1)                        # most present first
    take = lambda a: np.take_along_axis(a, order.reshape(order.shape + (1,) * (a.ndim - 2)), 1)  # noqa: E731,E501
    cands = {"presence_logit": np.log(presence / (1 - presence)).astype(np.float32),
             "type_logits": logits, "position": positions.astype(np.float32),
             "rotation": rotations.astype(np.float32)}
    return data, {k: take(v) for k, v in cands.items()}


def _reference_explain(cands, images, k, gain, floor):
    """Each allowed subset of each image drawn by ``render_scenes``: the chosen candidates
    (index sets), the smallest summed |rendering - image| + gain x size, the first on a
    tie."""
    import itertools

    from models.air.scenes import render_scenes

    m = cands["presence_logit"].shape[1]
    allowed = 1 / (1 + np.exp(-cands["presence_logit"].astype(np.float64))) > floor
    allowed[:, 0] = True
    types = cands["type_logits"].argmax(-1)
    chosen = []
    for i, image in enumerate(images):
        subsets = [s for size in range(1, k + 1) for s in itertools.combinations(range(m), size)
                   if allowed[i, list(s)].all()]
        kept = np.array([np.where(np.isin(np.arange(m), s), types[i], -1) for s in subsets])
        drawn = render_scenes(kept, np.repeat(cands["position"][i:i + 1], len(kept), 0),
                              np.repeat(cands["rotation"][i:i + 1], len(kept), 0), 64, 2)
        score = np.abs(drawn - image[None, ..., 0]).sum(axis=(1, 2)) + gain * np.array(
            [len(s) for s in subsets])
        chosen.append(set(subsets[int(np.argmin(score))]))
    return chosen


def test_count_equals_drawing_every_subset_in_chunks_and_in_threads():
    """The count on scenes with overlapping primitives, duplicates, phantoms and doubted
    candidates is the subset a straightforward search drawing every subset with the
    renderer finds; chunks and threads do not change it."""
    import concurrent.futures

    from models.air.search.layers import render_layers

    data, cands = _scenes_and_candidates(6, seed=4)
    grey, depth = render_layers(np.where(data["types"] >= 0, data["types"], -1),
                                data["positions"], data["rotations"], 64, 2)
    covered = np.isfinite(depth).sum(axis=1)
    assert (covered >= 2).any(axis=(1, 2)).sum() >= 2           # primitives overlap
    expected = _reference_explain(cands, data["images"], 3, 4.0, 0.05)
    out = explain(cands, data["images"], 3, 64, 2, gain=4.0, floor=0.05, search=5)
    for i, want in enumerate(expected):
        kept = out["presence_logit"][i] > 0
        assert kept.sum() == len(want)
        got = {int(np.flatnonzero((cands["position"][i] == p).all(-1))[0])
               for p in out["position"][i][kept]}
        assert got == want
    assert any(len(want) >= 2 for want in expected)
    chunked = explain(cands, data["images"], 3, 64, 2, search=5, chunk=4)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pooled = explain(cands, data["images"], 3, 64, 2, search=5, chunk=2, pool=pool)
    for other in (chunked, pooled):
        for key in out:
            np.testing.assert_array_equal(other[key], out[key])


def _reference_refine(slots, images, rounds=3, turn=0.12, shift=0.5):
    """The fitting drawn straightforwardly: every trial pose a whole scene drawn by
    ``render_scenes``, kept where it lowers the summed |rendering - image| by 1e-9."""
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, render_scenes, view_axes

    kept = slots["presence_logit"] > 0
    types = np.where(kept, slots["type_logits"].argmax(-1), -1)
    positions = slots["position"].astype(np.float64)
    rotations = slots["rotation"].astype(np.float64)
    images = images[..., 0].astype(np.float64)
    axes, pixel = view_axes(), CAMERA_EXTENT / 64 / WORLD_HALF

    def error(pos, rot):
        return np.abs(render_scenes(types, pos, rot, 64, 2) - images).sum(axis=(1, 2))

    for r in range(rounds):
        scale = 0.5 ** r
        for j in range(types.shape[1]):
            best = error(positions, rotations)
            for axis, sign, turns in [(a, s, True) for a in axes for s in (1, -1)] + [
                    (a, s, False) for a in axes[:2] for s in (1, -1)]:
                pos, rot = positions.copy(), rotations.copy()
                if turns:
                    rot[:, j] = axis_angle(axis, sign * turn * scale) @ rotations[:, j]
                else:
                    pos[:, j] = positions[:, j] + sign * shift * scale * pixel * axis
                trial = error(pos, rot)
                better = (trial < best - 1e-9) & kept[:, j]
                positions[better], rotations[better] = pos[better], rot[better]
                best[better] = trial[better]
    return positions, rotations


def test_fitting_equals_drawing_every_trial_pose_in_chunks_and_in_threads():
    """The fitted poses of primitives read a little off, overlapping ones included, are those
    of a fitting that draws every trial pose as a whole scene; chunks and threads do not
    change them."""
    import concurrent.futures

    from models.air.search.explain import refine

    data, cands = _scenes_and_candidates(5, seed=6)
    slots = {k: v[:, :3].copy() for k, v in cands.items()}
    slots["presence_logit"][:, :2] = 3.0                         # two or three kept
    fitted = refine(slots, data["images"], 64, 2, rounds=2)
    positions, rotations = _reference_refine(slots, data["images"], rounds=2)
    moved = np.abs(fitted["position"] - slots["position"]).max(-1) > 0
    assert moved.sum() >= 3
    np.testing.assert_allclose(fitted["position"], positions, atol=1e-6)
    # a sphere turned changes its image by round-off only, which the two drawings round
    # differently (and a sphere's rotation is not scored): the others' rotations
    shaped = slots["type_logits"].argmax(-1) > 0
    assert shaped.sum() >= 5
    np.testing.assert_allclose(fitted["rotation"][shaped], rotations[shaped], atol=1e-6)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        pooled = refine(slots, data["images"], 64, 2, rounds=2, chunk=2, pool=pool)
    for key in fitted:
        np.testing.assert_array_equal(pooled[key], fitted[key])


def test_candidates_read_from_the_mirrored_image_join_without_repeats():
    """A scene read from its flipped image gives the same primitives once mapped back
    (``unmirror``); joined, each primitive is kept once, the more present reading."""
    from models.air.search.candidates import MIRROR, join_candidates, unmirror

    direct = _candidates([1, 0], POSITIONS, EULER, [0.9, 0.6])
    # the same primitives as the mirrored scene would show them, plus a new cylinder
    mirrored = _candidates([0, 1, 2], [np.array(POSITIONS[1])[[1, 0, 2]],
                                       np.array(POSITIONS[0])[[1, 0, 2]], [0.0, 0.3, -0.2]],
                           [[0, 0, 0], EULER[0], [0.1, 0.2, 0.3]], [0.95, 0.5, 0.4])
    mirrored["rotation"][0, 1] = MIRROR @ direct["rotation"][0, 0] @ MIRROR
    back = unmirror(mirrored)
    np.testing.assert_allclose(back["position"][0, :2], np.array(POSITIONS)[::-1], atol=1e-6)
    np.testing.assert_allclose(back["rotation"][0, 1], direct["rotation"][0, 0], atol=1e-6)
    joined = join_candidates([direct, back], keep=4, radius=0.02)
    p = 1 / (1 + np.exp(-joined["presence_logit"][0]))
    np.testing.assert_allclose(p[:3], [0.95, 0.9, 0.4], atol=1e-6)   # sphere, cube, cylinder
    assert joined["type_logits"][0, :3].argmax(-1).tolist() == [0, 1, 2]
    assert p[3] < 0.61                                                 # repeats come last


class _LooksTwice:
    """A stand-in network that sees only the cube in the image; given a canvas that
    shows the cube, it sees the sphere the cube hides half of. Records the canvases.
    Its head (``head_type``) is itself: its candidates are searched."""

    input_channels, searched = 2, True

    def __init__(self, cube, sphere):
        self.cube, self.sphere, self.canvases = cube, sphere, []
        self.head_type = self

    def propose(self, model, x, pool, glances, merge_radius):   # traced by the search
        import tensorflow as tf

        def record(canvas):
            self.canvases.append(canvas.copy())
            return np.float32(canvas.max() > 0)

        shown = tf.numpy_function(record, [x[..., 1]], tf.float32)
        n = tf.shape(x)[0]
        return {k: tf.tile(tf.where(shown > 0, tf.constant(self.sphere[k]), tf.constant(v)),
                           tf.concat([[n], tf.ones(tf.rank(v) - 1, tf.int32)], 0))
                for k, v in self.cube.items()}


def test_repeat_looks_again_given_the_rendering_of_what_is_kept():
    from models.air.config import make_config
    from models.air.search import predict_slots

    cube = [[0.2, 0.0, 0.3]]
    sphere = [[0.35, 0.15, 0.0]]                  # behind the cube, partly hidden
    image = render_3d_scene([1, 0], cube + sphere, [EULER[0], [0, 0, 0]])
    cube_alone = render_3d_scene([1], cube, [EULER[0]])
    assert np.abs(image - cube_alone).sum() > 20.0          # the sphere shows
    model = _LooksTwice(_candidates([1], cube, [EULER[0]], [0.9]),
                        _candidates([0], sphere, [[0, 0, 0]], [0.8]))
    config = make_config({"explain_mirror": False, "repeat": 1})
    slots = predict_slots(model, image[None, ..., None], config)
    kept = slots["presence_logit"][0] > 0
    assert sorted(slots["type_logits"][0][kept].argmax(-1).tolist()) == [0, 1]
    assert np.abs(model.canvases[0]).max() == 0.0                     # first look: no canvas
    np.testing.assert_allclose(model.canvases[1][0], cube_alone, atol=1e-5)
    once = predict_slots(_LooksTwice(model.cube, model.sphere), image[None, ..., None],
                         make_config({"explain_mirror": False, "repeat": 0}))
    assert (once["presence_logit"][0] > 0).sum() == 1                 # without repeat: the cube


def test_refine_fits_misread_primitives_and_leaves_the_others():
    from models.air.rotations import axis_angle, symmetric_geodesic_error
    from models.air.scenes import euler_to_matrix, render_scenes
    from models.air.search.explain import refine

    types = [1, 2, 0]
    positions = np.array([[-0.5, 0.4, 0.0], [0.5, -0.4, 0.2], [0.0, 0.0, 0.0]])
    euler = np.array([[0.3, 0.6, 0.2], [1.0, 0.4, 0.0], [0.0, 0.0, 0.0]])
    image = render_3d_scene(types[:2], positions[:2], euler[:2], image_size=64, supersample=1)
    slots = _candidates(types, positions, euler, [0.9, 0.8, 0.3])     # the third is not kept
    slots["presence_logit"][0, 2] = -3.0
    slots["rotation"][0, 0] = axis_angle([0.0, 0.6, 0.8], 0.12) @ slots["rotation"][0, 0]
    slots["rotation"][0, 1] = axis_angle([1.0, 0.0, 0.0], -0.1) @ slots["rotation"][0, 1]
    slots["position"][0, :2] += [[0.04, -0.04, 0.0], [0.0, 0.03, -0.03]]   # a pixel or so
    fitted = refine(slots, image[None], 64, 1, rounds=3)

    def error(s):
        kept = np.where(s["presence_logit"] > 0, s["type_logits"].argmax(-1), -1)
        return np.abs(render_scenes(kept, s["position"], s["rotation"], 64, 1)[0] - image).sum()

    assert error(fitted) < 0.6 * error(slots)
    truth = euler_to_matrix(euler[:2])
    before = symmetric_geodesic_error(slots["rotation"][0, :2], truth, np.array(types[:2]))
    after = symmetric_geodesic_error(fitted["rotation"][0, :2], truth, np.array(types[:2]))
    assert np.all(np.asarray(after) < np.asarray(before))
    np.testing.assert_array_equal(fitted["position"][0, 2], slots["position"][0, 2])
    np.testing.assert_array_equal(fitted["rotation"][0, 2], slots["rotation"][0, 2])
    np.testing.assert_array_equal(fitted["presence_logit"], slots["presence_logit"])



def test_undouble_drops_a_second_reading_and_keeps_two_primitives():
    """Two kept cubes on nearly one image point: where the image holds one cube (read a
    little off, and read again a pixel away) one is dropped; where it holds two (the
    second behind, two pixels across) both stay; a sphere elsewhere and a pair of two
    types are left alone."""
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, view_axes
    from models.air.search.explain import doubles, undouble

    right, up, forward = view_axes()
    pixel = CAMERA_EXTENT / 64 / WORLD_HALF                       # position units
    cube, sphere = np.array(POSITIONS[0]), np.array(POSITIONS[1])
    behind = cube + 0.6 * forward + 2.0 * pixel * right
    one = render_3d_scene(TYPES, POSITIONS, EULER)
    two = render_3d_scene([1, 1, 0], [cube, behind, sphere], [EULER[0], [0.9, 0.1, 0.5],
                                                              EULER[1]])
    read_twice = _candidates([1, 1, 0], [cube, cube + pixel * up, sphere],
                             [EULER[0], EULER[0], EULER[1]], [0.9, 0.9, 0.9])
    read_twice["rotation"][0, 0] = axis_angle([0.0, 0.6, 0.8], 0.12) @ read_twice["rotation"][0, 0]
    both = _candidates([1, 1, 0], [cube, behind, sphere], [EULER[0], [0.9, 0.1, 0.5], EULER[1]],
                       [0.9, 0.9, 0.9])
    slots = {k: np.concatenate([read_twice[k], both[k]]) for k in both}
    np.testing.assert_array_equal(doubles(slots, 64, 3.0), [[0, 1], [0, 1]])
    out = undouble(slots, np.stack([one, two]), 64, 2, radius=3.0)
    kept = out["presence_logit"] > 0
    np.testing.assert_array_equal(kept.sum(1), [2, 3])
    assert kept[0, 2] and out["type_logits"][0][kept[0]].argmax(-1).tolist() in ([1, 0], [0, 1])
    for k in out:                                                  # two true cubes: as given
        np.testing.assert_array_equal(out[k][1], slots[k][1])
    # a cube and a cylinder on one image point are not taken for one primitive
    mixed = dict(slots, type_logits=slots["type_logits"].copy())
    mixed["type_logits"][:, 1] = [-5.0, -5.0, 5.0]
    np.testing.assert_array_equal(doubles(mixed, 64, 3.0), -1)
    assert undouble(mixed, np.stack([one, two]), 64, 2, radius=3.0) is mixed
    np.testing.assert_array_equal(doubles(slots, 64, 0.5), -1)     # a pixel apart: > 0.5
    # by default tried under the perspective camera, not under the orthographic
    from models.air.config import make_config
    from models.air.search.config import double_radius

    assert double_radius(make_config({"camera": "perspective"})) == 3.0
    assert double_radius(make_config({})) == 0.0
    assert double_radius(make_config({"double_radius": 2.0})) == 2.0


def test_the_price_per_primitive_is_the_camera_s_unless_set(monkeypatch):
    from models.air import heads
    from models.air.config import make_config
    from models.air.search import pipeline
    from models.air.search.config import explain_gain

    assert explain_gain(make_config({"camera": "perspective"})) == 3.0
    assert explain_gain(make_config({})) == 4.0
    assert explain_gain(make_config({"camera": "perspective", "explain_gain": 6.0})) == 6.0

    class Network:                      # what the search asks of a network before reading
        head_type, camera = heads.get("grid"), "perspective"

    gains = []
    monkeypatch.setattr(pipeline, "explain", lambda *args: gains.append(args[5]))
    for overrides in ({}, {"explain_gain": 5.0}):
        search = pipeline.Search(Network(), make_config({"camera": "perspective", **overrides}))
        search.count(np.zeros((1, 64, 64, 1), np.float32), {})
    assert gains == [3.0, 5.0]


def test_long_stages_say_how_far_they_have_got(monkeypatch):
    """Counting and fitting report ``done/n`` per chunk; the search turns that into a line
    at most every ``PROGRESS_SECONDS`` (here every chunk)."""
    import concurrent.futures

    from models.air.config import make_config
    from models.air.search import pipeline
    from models.air.search.explain import refine

    image = render_3d_scene(TYPES, POSITIONS, EULER)
    cands = _candidates(TYPES, POSITIONS, EULER, [0.9, 0.9])
    images = np.repeat(image[None], 5, axis=0)
    cands = {k: np.repeat(v, 5, axis=0) for k, v in cands.items()}
    calls = []
    out = explain(cands, images, 3, 64, 2, chunk=2, progress=lambda *a: calls.append(a))
    assert calls == [(2, 5), (4, 5), (5, 5)]
    calls.clear()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:      # chunks done by an executor
        explain(cands, images, 3, 64, 2, chunk=2, progress=lambda *a: calls.append(a), pool=pool)
    assert calls == [(2, 5), (4, 5), (5, 5)]
    calls.clear()
    refine(out, images, 64, 2, rounds=1, chunk=3, progress=lambda *a: calls.append(a))
    assert calls == [(3, 5), (5, 5)]

    lines = []
    search = pipeline.Search(_LooksTwice(cands, cands), make_config({}), log=lines.append)
    monkeypatch.setattr(pipeline.Search, "PROGRESS_SECONDS", 0.0)
    report = search._progress("fitting poses")
    for done in (100, 200, 250):
        report(done, 250)
    assert lines == ["[search] fitting poses: 100/250 images",
                     "[search] fitting poses: 200/250 images"]  # the stage's own line ends it


def test_search_in_threads_gives_the_answer_of_one_thread(monkeypatch):
    """``predict_slots`` with ``workers`` threads over several chunks answers as one."""
    from models.air.config import make_config
    from models.air.search import pipeline

    data, cands = _scenes_and_candidates(10, seed=8)
    model = _LooksTwice({k: v[:1] for k, v in cands.items()}, {k: v[:1] for k, v in cands.items()})
    config = make_config({"explain_mirror": False, "repeat": 0})
    monkeypatch.setattr(pipeline.Search, "CHUNK", 8)                # chunks of 2 images
    one = pipeline.predict_slots(model, data["images"], config, workers=1)
    search = pipeline.Search(model, config, workers=3)
    several = search(data["images"])
    assert search.chunk == 2
    for key in one:
        np.testing.assert_array_equal(several[key], one[key])
