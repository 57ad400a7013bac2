"""AIR 3D primitives scenes: sampling, rendering and the synthetic data set.

Facts kept from the reference description (AIR 3D primitives, numpy):

* 64x64 grey-scale images of 1 to ``max_primitives`` (3) primitives, count
  uniform; type uniform over sphere, cube, cylinder (``TYPES``);
* every primitive has side 0.4 (sphere diameter, cube edge, cylinder
  diameter and height), its centre uniform in the unit cube, Euler angles
  uniform in [0, pi] (``R = Rz(rz) Ry(ry) Rx(rx)``);
* orthographic camera, one light from the camera direction (a head light),
  ``pixel = 0.15 + 0.85 * max(0, n . l)`` on the primitive, 0 elsewhere;
  a z-buffer resolves occlusion; white primitives on black;
* positions are given to the network in [-1, 1] (``world = 0.5 * position``);
  ground-truth slots are sorted by x, empty slots last.

Camera (our choice, the reference does not state one): the isometric view,
looking from the ``(+x, +y, +z)`` corner towards the centre, direction
``-(1, 1, 1) / sqrt(3)``; world ``z`` points up in the image, ``+x`` goes to
the lower left and ``+y`` to the lower right. The vertical extent of the view
is 2 world units (``CAMERA_EXTENT``): the unit cube's hexagonal outline spans
0.81 of it, a primitive about 13 pixels. An orthographic image does not change
when every primitive moves along the viewing direction, so only the
component of a position along the view axis is hidden; under this view every
world axis makes the same angle with the image plane, so each of x, y and z
is two-thirds visible in the image and is hidden only through its share of
the depth (known up to the chord of the unit cube through the seen point,
and through occlusions). ``depth_blind_positions`` gives the best estimate that
knows everything but that depth; its error bounds what any network can reach.

Rendering goes through ``data_provider.scene_renderer.render_batch`` (every
scene of a set at once, ``supersample x supersample`` rays per pixel).
"""
import numpy as np

from data_provider import scene_renderer as sr

TYPES = ("sphere", "cube", "cylinder")
RENDER_KINDS = ("sphere", "box", "cylinder")   # renderer names of TYPES
SIDE = 0.4                 # primitive side in world units
WORLD_HALF = 0.5           # the unit cube [-0.5, 0.5]^3; world = WORLD_HALF * position
AMBIENT = 0.15
CAMERA_DIRECTION = -np.ones(3) / np.sqrt(3.0)
CAMERA_EXTENT = 2.0
SPLITS = {"train": 0, "val": 1, "test": 2}


def camera():
    """The orthographic isometric camera of every AIR scene (see the module docstring)."""
    yaw, pitch = sr.look_at(-CAMERA_DIRECTION, (0.0, 0.0, 0.0))
    return sr.OrthographicCamera(-3.0 * CAMERA_DIRECTION, yaw, pitch, CAMERA_EXTENT)


def euler_to_matrix(euler):
    """Rotation matrices ``Rz(rz) Ry(ry) Rx(rx)`` of Euler angles ``[..., 3]`` ->
    ``[..., 3, 3]``."""
    euler = np.asarray(euler, np.float64)
    cx, sx = np.cos(euler[..., 0]), np.sin(euler[..., 0])
    cy, sy = np.cos(euler[..., 1]), np.sin(euler[..., 1])
    cz, sz = np.cos(euler[..., 2]), np.sin(euler[..., 2])
    return np.stack([
        np.stack([cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx], -1),
        np.stack([sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx], -1),
        np.stack([-sy, cy * sx, cy * cx], -1)], -2)


def take_slots(array, order):
    """``array [n, K, ...]`` with its slots reordered (or picked) by ``order [n, L]``."""
    array = np.asarray(array)
    return np.take_along_axis(array, order.reshape(order.shape + (1,) * (array.ndim - 2)),
                              axis=1)


def sort_slots_by_x(types, *arrays):
    """Slot arrays ``[n, K, ...]`` reordered so that present slots (``types >= 0``) come
    in increasing x (``arrays[0]`` holds the positions), empty slots last."""
    present = np.asarray(types) >= 0
    order = np.argsort(np.where(present, arrays[0][..., 0], np.inf), axis=1, kind="stable")
    return tuple(take_slots(a, order) for a in (types,) + arrays)


def sample_scenes(n, rng, max_primitives=3):
    """Latents of ``n`` scenes, slots sorted by x (empty slots last).

    Returns ``count [n]``, ``types [n, K]`` (index into ``TYPES``, -1 empty),
    ``positions [n, K, 3]`` in [-1, 1] and ``euler [n, K, 3]`` in [0, pi]
    (zeros in empty slots).
    """
    k = max_primitives
    count = rng.integers(1, k + 1, size=n)
    types = rng.integers(0, len(TYPES), size=(n, k))
    positions = rng.uniform(-1.0, 1.0, size=(n, k, 3))
    euler = rng.uniform(0.0, np.pi, size=(n, k, 3))
    present = np.arange(k)[None, :] < count[:, None]
    types, positions, euler = sort_slots_by_x(np.where(present, types, -1), positions, euler)
    present = types >= 0
    positions = np.where(present[..., None], positions, 0.0)
    euler = np.where(present[..., None], euler, 0.0)
    return count, types, positions, euler


def _render_arguments(types, positions, rotations, image_size, supersample):
    types = np.asarray(types)
    rotations = np.asarray(rotations, np.float64)
    if rotations.shape[-1] == 3 and rotations.ndim == types.ndim + 1:
        rotations = euler_to_matrix(rotations)
    lookup = np.asarray([sr.KINDS.index(k) for k in RENDER_KINDS])
    kinds = np.where(types >= 0, lookup[np.clip(types, 0, None)], -1)
    return ((kinds, WORLD_HALF * np.asarray(positions, np.float64), rotations, SIDE / 2.0,
             camera(), image_size, image_size),
            dict(colours=1.0, light_dir=None, ambient=AMBIENT, background=0.0,
                 supersample=supersample))


def _render_chunk(arguments):
    args, kwargs = arguments
    return sr.render_batch(*args, **kwargs)[..., 0]


def render_scenes(types, positions, rotations, image_size=64, supersample=2, workers=1,
                  chunk=500, progress=None):
    """Grey images ``[n, H, W]`` (float32 in [0, 1]) of scenes given as slot arrays.

    ``types [n, K]`` (-1 empty), ``positions [n, K, 3]`` in [-1, 1],
    ``rotations [n, K, 3, 3]`` (or Euler angles ``[n, K, 3]``). Scenes are
    rendered ``chunk`` at a time, by ``workers`` processes when more than 1;
    ``progress(done)`` is called after each chunk.
    """
    types = np.asarray(types)
    n = len(types)
    jobs = [_render_arguments(types[i:i + chunk], positions[i:i + chunk],
                              rotations[i:i + chunk], image_size, supersample)
            for i in range(0, n, chunk)]
    images, done = [], 0
    if workers > 1 and len(jobs) > 1:
        import concurrent.futures
        import multiprocessing

        context = multiprocessing.get_context("spawn")  # no fork of a TensorFlow process
        with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
            results = pool.map(_render_chunk, jobs)
            for image in results:
                images.append(image)
                done += len(image)
                if progress:
                    progress(done)
    else:
        for job in jobs:
            images.append(_render_chunk(job))
            done += len(images[-1])
            if progress:
                progress(done)
    if not images:
        return np.zeros((0, image_size, image_size), np.float32)
    return np.concatenate(images)


def render_3d_scene(types, positions, euler, image_size=64, supersample=2):
    """One scene: ``types [n]`` (names or indices), ``positions [n, 3]`` in
    [-1, 1], ``euler [n, 3]`` -> grey image ``[H, W]`` float32."""
    types = [TYPES.index(t) if isinstance(t, str) else int(t) for t in types]
    positions = np.asarray(positions, np.float64).reshape(len(types), 3)
    euler = np.asarray(euler, np.float64).reshape(len(types), 3)
    return render_scenes(np.asarray(types)[None], positions[None], euler[None], image_size,
                         supersample)[0]


def _split_rng(seed, split):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split]]))


def generate_dataset(n, seed=0, image_size=64, max_primitives=3, split="train", supersample=2,
                     workers=1, progress=None):
    """``n`` rendered scenes and their latents; the same ``(seed, split)`` gives the same set.

    Returns a dict of numpy arrays: ``images [n, H, W, 1]`` float32,
    ``count [n]``, ``presence [n, K]`` float32, ``types [n, K]`` int32 (-1
    empty), ``positions [n, K, 3]`` float32 in [-1, 1], ``euler [n, K, 3]``
    and ``rotations [n, K, 3, 3]`` float32. ``split`` (train, val or test)
    picks an independent random stream of the seed; ``workers`` and
    ``progress`` as in ``render_scenes``.
    """
    rng = _split_rng(seed, split)
    count, types, positions, euler = sample_scenes(n, rng, max_primitives)
    rotations = euler_to_matrix(euler)
    images = render_scenes(types, positions, rotations, image_size, supersample, workers,
                           progress=progress)
    return {"images": images[..., None].astype(np.float32),
            "count": count.astype(np.int32),
            "presence": (types >= 0).astype(np.float32),
            "types": types.astype(np.int32),
            "positions": positions.astype(np.float32),
            "euler": euler.astype(np.float32),
            "rotations": rotations.astype(np.float32)}


# The cyclic permutation (x, y, z) -> (z, x, y) turns the world by 120 degrees
# about the diagonal (1, 1, 1), the isometric view axis: it maps the unit cube,
# the camera and the head light onto themselves, so a scene turned by it is
# another scene of the same distribution (its image turned by 120 degrees).
TURN = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def turn_about_view(data, turns, image_size=64, supersample=2, workers=1):
    """``data`` (a ``generate_dataset`` dict) turned ``turns`` times by 120 degrees about
    the view axis and rendered again: positions ``P^t p``, rotations ``P^t R``
    (``P = TURN``), slots sorted by x again. Types and counts are unchanged;
    Euler angles are those of the turned rotations."""
    from models.air.rotations import matrix_to_euler

    turn = np.linalg.matrix_power(TURN, int(turns) % 3)
    types, positions, rotations = sort_slots_by_x(
        data["types"], np.asarray(data["positions"], np.float64) @ turn.T,
        turn @ np.asarray(data["rotations"], np.float64))
    present = types >= 0
    positions = np.where(present[..., None], positions, 0.0)
    rotations = np.where(present[..., None, None], rotations, np.eye(3))
    images = render_scenes(types, positions, rotations, image_size, supersample, workers)
    return dict(data, images=images[..., None].astype(np.float32),
                types=types.astype(np.int32), presence=present.astype(np.float32),
                positions=positions.astype(np.float32),
                euler=np.where(present[..., None], matrix_to_euler(rotations)[0], 0.0)
                .astype(np.float32),
                rotations=rotations.astype(np.float32))


def depth_blind_positions(positions):
    """The best positions knowing all but the depth along the view axis.

    Each position ``p [..., 3]`` in [-1, 1] is moved along the viewing
    direction ``d`` to the middle of the chord ``{p + s d}`` inside the cube
    [-1, 1]^3: the per-axis median of the uniform posterior over the hidden
    depth (primitive centres are uniform in the cube), so its absolute error
    per axis bounds the error of any estimate from one image, occlusions aside.
    """
    p = np.asarray(positions, np.float64)
    d = CAMERA_DIRECTION
    low = np.minimum((-1.0 - p) / d, (1.0 - p) / d).max(axis=-1)
    high = np.maximum((-1.0 - p) / d, (1.0 - p) / d).min(axis=-1)
    return p + ((low + high) / 2.0)[..., None] * d


def view_axes():
    """Unit ``right``, ``up`` (image plane) and ``forward`` (view) vectors in world axes."""
    cam = camera()
    forward, right, up = sr.camera_axes(cam)
    return right, up, forward


def image_coordinates(positions):
    """Image-plane coordinates ``(u, v)`` in [-1, 1] (right, up) of positions ``[..., 3]``."""
    right, up, _ = view_axes()
    world = WORLD_HALF * np.asarray(positions, np.float64)
    return np.stack([world @ right, world @ up], -1) / (CAMERA_EXTENT / 2.0)


def small_rotations(n, sigma, rng):
    """``n`` random rotations ``[n, 3, 3]`` about uniform axes by angles ``|N(0, sigma)|``."""
    from models.air.rotations import axis_angle

    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis_angle(axis, np.abs(rng.normal(0.0, sigma, size=n)))


def explained_canvases(data, rng, rate=0.5, jitter=0.5, turn_sigma=0.1, image_size=64,
                       supersample=2, workers=1):
    """Canvases for AIR's repeat: what an earlier pass may already have explained.

    A fraction ``rate`` of the scenes of ``data`` (a ``generate_dataset``
    dict) gets a non-empty subset of its primitives, drawn uniformly among
    the non-empty subsets (the whole scene included), rendered alone with
    the errors of a reading: image-plane shifts of ``jitter`` pixels
    (standard deviation per axis) and turns by ``|N(0, turn_sigma)|``
    radians; the others get an empty canvas. Returns ``canvas [n, H, W, 1]``
    float32 and ``explained [n, K]`` (bool: in the canvas).
    """
    types = np.asarray(data["types"])
    n, k = types.shape
    present = types >= 0
    explained = np.zeros((n, k), bool)
    for i in np.flatnonzero(rng.random(n) < rate):
        slots = np.flatnonzero(present[i])
        mask = rng.integers(1, 2 ** len(slots))          # a non-empty subset, uniformly
        explained[i, slots] = (mask >> np.arange(len(slots))) & 1 == 1
    right, up, _ = view_axes()
    pixel = CAMERA_EXTENT / image_size / WORLD_HALF       # one pixel in position units
    shift = rng.normal(0.0, jitter * pixel, size=(n, k, 2))
    positions = (np.asarray(data["positions"], np.float64)
                 + shift[..., :1] * right + shift[..., 1:] * up)
    rotations = (small_rotations(n * k, turn_sigma, rng).reshape(n, k, 3, 3)
                 @ np.asarray(data["rotations"], np.float64))
    canvas = render_scenes(np.where(explained, types, -1), positions, rotations, image_size,
                           supersample, workers)
    return canvas[..., None].astype(np.float32), explained
