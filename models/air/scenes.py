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

The perspective camera (``camera="perspective"``, the config key ``camera``)
is a pin-hole on the same isometric direction, its eye where the orthographic
camera's image plane is centred: ``CAMERA_DISTANCE`` = 3 world units from the
cube's centre along ``-CAMERA_DIRECTION`` (the nearest corner of the unit
cube is 2.13 away, the farthest 3.87), with the head light at the eye. Its
vertical field of view ``PERSPECTIVE_FOV_DEGREES`` = ``2 atan(1 / 3)`` = 36.87
degrees makes the view at the cube's centre depth exactly ``CAMERA_EXTENT`` = 2
world units high, the orthographic view's: a point on the plane through the
centre facing the camera falls on the same pixel under both cameras, and a
primitive at the centre is drawn at the same size (nearer ones up to 1.41 times
larger, farther ones down to 0.78 times). The unit cube spans 0.90 of the
frame's half-height (0.81 orthographic). Under it a primitive's size tells its
depth, which the orthographic image hides.

Depth under either camera is ``s``, the offset along the view axis from the
plane through the cube's centre, in position units ([-1, 1] units): a point of
image point ``(u, v)`` at depth ``s`` is ``q(u, v) + s ray(u, v)`` with
``q = 2 (u right + v up)`` the point of that plane on the pixel (in position
units) and ``ray`` the direction of the pixel's ray scaled to a unit
component along the view axis: ``forward`` (orthographic), ``forward + (u
right + v up) / 3`` (perspective, through the eye). ``image_coordinates``
projects positions to ``(u, v)``; ``models.air.grid_head`` has the same in
TensorFlow.

Cameras that vary (``camera_range``, ``[az_min, az_max, el_min, el_max]`` in
degrees; None, the default, is the one isometric camera above): each scene
draws its camera's azimuth and elevation uniformly in the range, the camera
orbiting the cube's centre at ``CAMERA_DISTANCE`` and looking at it, world z up
in the image, the head light at its eye. The azimuth is the angle of the
direction from the cube's centre to the eye in the ground (x-y) plane, from
``+x`` towards ``+y``; the elevation is that direction's angle above the ground
plane (positive: looking down). The isometric camera is ``(45, 35.26)``
degrees (``ISOMETRIC_ANGLES``: ``atan(1 / sqrt 2)``, the eye on ``(1, 1,
1)``). Nothing about primitives floating in an unseen cube tells the camera (a
sphere at the centre looks the same from everywhere), so under a camera range
the scene also holds four small spheres, ``MARKERS``, at the cube's bottom
corners, the one at ``(+x, +y)`` the brightest, the one at ``(-x, -y)`` the
darkest (the mirror through ``x = y`` leaves them as they are, so the left-right
flip is still a scene of the same kind). The markers are not primitives: never
targets, never counted, never rendered by the search.

A camera is a turn ``C`` of the isometric one about the cube's centre
(``camera_rotation``: its axes are ``C`` times the isometric camera's), so the
image of a scene seen by it is the image of the scene turned by ``C^T`` seen by
the isometric camera: positions ``C^T p``, rotations ``C^T R``
(``to_camera_frame``). That is how scenes of many cameras are rendered in one
batch (``render_scenes(..., cameras=...)``; the same images as each scene's own
``camera_at`` to the last bits of rounding), how the network reads them (in
that camera frame, as under the one camera) and how its answer goes back to
the world (``to_world``).

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
CAMERA_EXTENT = 2.0        # world height of the view (perspective: at the centre's depth)
CAMERA_DISTANCE = 3.0      # the eye (the orthographic image plane's centre) from the centre
# 2 atan(1 / 3): the perspective view is CAMERA_EXTENT high at the centre's depth
PERSPECTIVE_FOV_DEGREES = float(np.degrees(2.0 * np.arctan(CAMERA_EXTENT / 2.0
                                                           / CAMERA_DISTANCE)))
CAMERAS = ("orthographic", "perspective")
# The isometric camera's azimuth and elevation in degrees (the eye on (1, 1, 1)).
ISOMETRIC_ANGLES = (45.0, float(np.degrees(np.arctan(1.0 / np.sqrt(2.0)))))
# Under a camera range: small spheres at the unit cube's bottom corners (position units),
# their radius (world units) and grey levels; symmetric under the mirror x <-> y only.
MARKERS = np.array([[1.0, 1.0, -1.0], [-1.0, -1.0, -1.0], [1.0, -1.0, -1.0],
                    [-1.0, 1.0, -1.0]])
MARKER_RADIUS = 0.06
MARKER_COLOURS = np.array([1.0, 0.35, 0.65, 0.65])
SPLITS = {"train": 0, "val": 1, "test": 2}


def check_camera(camera):
    """``ValueError`` unless ``camera`` names one of ``CAMERAS``."""
    if camera not in CAMERAS:
        raise ValueError(f"camera must be one of {CAMERAS}, got {camera!r}")


def camera(name="orthographic"):
    """The isometric camera of the AIR scenes, ``"orthographic"`` (the default) or
    ``"perspective"`` (see the module docstring)."""
    check_camera(name)
    yaw, pitch = sr.look_at(-CAMERA_DIRECTION, (0.0, 0.0, 0.0))
    eye = -CAMERA_DISTANCE * CAMERA_DIRECTION
    if name == "perspective":
        return sr.PerspectiveCamera(eye, yaw, pitch, PERSPECTIVE_FOV_DEGREES)
    return sr.OrthographicCamera(eye, yaw, pitch, CAMERA_EXTENT)


def check_camera_range(camera_range):
    """``ValueError`` naming what is wrong with a camera range (None: the fixed camera):
    four numbers ``az_min, az_max, el_min, el_max`` in degrees, each minimum at most its
    maximum, the azimuths at most 360 apart, the elevations inside (-90, 90)."""
    if camera_range is None:
        return
    if isinstance(camera_range, (str, bytes)) or not hasattr(camera_range, "__len__") \
            or len(camera_range) != 4:
        shown = " ".join(f"{v:g}" if isinstance(v, (int, float)) else repr(v)
                         for v in camera_range) if isinstance(camera_range, (list, tuple)) \
            else repr(camera_range)
        raise ValueError("camera_range must be 4 numbers AZ_MIN AZ_MAX EL_MIN EL_MAX "
                         f"(degrees), got {shown}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
               for v in camera_range):
        raise ValueError(f"camera_range must be 4 finite numbers, got {list(camera_range)!r}")
    az_min, az_max, el_min, el_max = camera_range
    shown = " ".join(f"{v:g}" for v in camera_range)
    if az_min > az_max or el_min > el_max:
        raise ValueError(f"camera_range {shown}: each minimum must be at most its maximum "
                         "(AZ_MIN AZ_MAX EL_MIN EL_MAX)")
    if az_max - az_min > 360:
        raise ValueError(f"camera_range {shown}: the azimuths span more than 360 degrees")
    if not (-90 < el_min and el_max < 90):
        raise ValueError(f"camera_range {shown}: elevations must lie inside (-90, 90) degrees")


def eye_direction(angles):
    """Unit directions ``[..., 3]`` from the cube's centre to the eye of cameras of
    ``angles [..., 2]`` (azimuth, elevation in degrees; the module docstring)."""
    angles = np.radians(np.asarray(angles, np.float64))
    az, el = angles[..., 0], angles[..., 1]
    return np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], -1)


def camera_at(azimuth, elevation, name="orthographic"):
    """The camera of that azimuth and elevation (degrees), ``"orthographic"`` or
    ``"perspective"``: ``CAMERA_DISTANCE`` from the cube's centre, looking at it, world z
    up in the image, as ``camera(name)`` from its own place."""
    check_camera(name)
    direction = eye_direction([azimuth, elevation])
    yaw, pitch = sr.look_at(direction, (0.0, 0.0, 0.0))
    eye = CAMERA_DISTANCE * direction
    if name == "perspective":
        return sr.PerspectiveCamera(eye, yaw, pitch, PERSPECTIVE_FOV_DEGREES)
    return sr.OrthographicCamera(eye, yaw, pitch, CAMERA_EXTENT)


def _camera_axes(angles):
    """``[..., 3, 3]``: columns forward, right, up of the cameras of ``angles [..., 2]``."""
    direction = eye_direction(angles)
    az = np.radians(np.asarray(angles, np.float64)[..., 0])
    forward = -direction
    right = np.stack([-np.sin(az), np.cos(az), np.zeros_like(az)], -1)
    return np.stack([forward, right, np.cross(right, forward)], -1)


def camera_rotation(angles):
    """``C [..., 3, 3]``: the turn about the cube's centre that takes the isometric camera
    to the cameras of ``angles [..., 2]`` (degrees): their axes are ``C`` times its axes."""
    return _camera_axes(angles) @ _camera_axes(ISOMETRIC_ANGLES).T


def to_camera_frame(positions, rotations, angles):
    """Positions ``[n, K, 3]`` and rotations ``[n, K, 3, 3]`` of scenes seen by the cameras
    of ``angles [n, 2]`` as the scenes the isometric camera sees the same way: ``C^T p``,
    ``C^T R`` (``camera_rotation``)."""
    turn = camera_rotation(angles)
    positions = np.einsum("nkj,nji->nki", np.asarray(positions, np.float64), turn)
    return positions, np.swapaxes(turn, -1, -2)[:, None] @ np.asarray(rotations, np.float64)


def to_world(positions, rotations, angles):
    """The inverse of ``to_camera_frame``: ``C p``, ``C R``."""
    turn = camera_rotation(angles)
    positions = np.einsum("nij,nkj->nki", turn, np.asarray(positions, np.float64))
    return positions, turn[:, None] @ np.asarray(rotations, np.float64)


def sample_cameras(n, rng, camera_range):
    """``[n, 2]`` azimuths and elevations (degrees, float32 values), each uniform in its
    part of ``camera_range``."""
    az_min, az_max, el_min, el_max = camera_range
    angles = np.stack([rng.uniform(az_min, az_max, size=n), rng.uniform(el_min, el_max, size=n)],
                      -1)
    return angles.astype(np.float32).astype(np.float64)


def wrapped_degrees(difference):
    """``|difference|`` of angles in degrees, wrapped to [0, 180]: 359 against 1 is 2."""
    return np.abs((np.asarray(difference, np.float64) + 180.0) % 360.0 - 180.0)


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


def _render_arguments(types, positions, rotations, image_size, supersample,
                      camera_name="orthographic", cameras=None):
    types = np.asarray(types)
    rotations = np.asarray(rotations, np.float64)
    if rotations.shape[-1] == 3 and rotations.ndim == types.ndim + 1:
        rotations = euler_to_matrix(rotations)
    lookup = np.asarray([sr.KINDS.index(k) for k in RENDER_KINDS])
    kinds = np.where(types >= 0, lookup[np.clip(types, 0, None)], -1)
    positions, sizes, colours = np.asarray(positions, np.float64), SIDE / 2.0, 1.0
    if cameras is not None:          # each scene in its camera's frame, with the markers
        n, k = kinds.shape
        m = len(MARKERS)
        markers = np.broadcast_to(MARKERS, (n, m, 3))
        positions, rotations = to_camera_frame(np.concatenate([positions, markers], 1),
                                               np.concatenate([rotations, np.broadcast_to(
                                                   np.eye(3), (n, m, 3, 3))], 1), cameras)
        kinds = np.concatenate([kinds, np.full((n, m), sr.KINDS.index("sphere"))], 1)
        sizes = np.concatenate([np.full((n, k), SIDE / 2.0), np.full((n, m), MARKER_RADIUS)], 1)
        colours = np.concatenate([np.ones((n, k)), np.broadcast_to(MARKER_COLOURS, (n, m))], 1)
    return ((kinds, WORLD_HALF * positions, rotations, sizes, camera(camera_name), image_size,
             image_size),
            dict(colours=colours, light_dir=None, ambient=AMBIENT, background=0.0,
                 supersample=supersample))


def _render_chunk(arguments):
    args, kwargs = arguments
    return sr.render_batch(*args, **kwargs)[..., 0]


def render_scenes(types, positions, rotations, image_size=64, supersample=2, workers=1,
                  chunk=500, progress=None, camera="orthographic", cameras=None):
    """Grey images ``[n, H, W]`` (float32 in [0, 1]) of scenes given as slot arrays.

    ``types [n, K]`` (-1 empty), ``positions [n, K, 3]`` in [-1, 1],
    ``rotations [n, K, 3, 3]`` (or Euler angles ``[n, K, 3]``), seen by the
    ``camera`` of that name (``CAMERAS``), from its isometric place or, given
    ``cameras [n, 2]`` (azimuth, elevation in degrees), each scene from its own
    and with the ``MARKERS``. Scenes are rendered ``chunk`` at a time, by
    ``workers`` processes when more than 1; ``progress(done)`` is called after
    each chunk.
    """
    check_camera(camera)
    types = np.asarray(types)
    n = len(types)
    jobs = [_render_arguments(types[i:i + chunk], positions[i:i + chunk],
                              rotations[i:i + chunk], image_size, supersample, camera,
                              None if cameras is None else np.asarray(cameras)[i:i + chunk])
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


def render_3d_scene(types, positions, euler, image_size=64, supersample=2,
                    camera="orthographic"):
    """One scene: ``types [n]`` (names or indices), ``positions [n, 3]`` in
    [-1, 1], ``euler [n, 3]`` -> grey image ``[H, W]`` float32."""
    types = [TYPES.index(t) if isinstance(t, str) else int(t) for t in types]
    positions = np.asarray(positions, np.float64).reshape(len(types), 3)
    euler = np.asarray(euler, np.float64).reshape(len(types), 3)
    return render_scenes(np.asarray(types)[None], positions[None], euler[None], image_size,
                         supersample, camera=camera)[0]


def _split_rng(seed, split):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {tuple(SPLITS)}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), SPLITS[split]]))


def generate_dataset(n, seed=0, image_size=64, max_primitives=3, split="train", supersample=2,
                     workers=1, progress=None, camera="orthographic", camera_range=None):
    """``n`` rendered scenes and their latents; the same ``(seed, split)`` gives the same set.

    Returns a dict of numpy arrays: ``images [n, H, W, 1]`` float32,
    ``count [n]``, ``presence [n, K]`` float32, ``types [n, K]`` int32 (-1
    empty), ``positions [n, K, 3]`` float32 in [-1, 1], ``euler [n, K, 3]``
    and ``rotations [n, K, 3, 3]`` float32, in the world frame. ``split``
    (train, val or test) picks an independent random stream of the seed;
    ``workers``, ``progress`` and ``camera`` as in ``render_scenes`` (the camera
    changes the images only: the same seed gives the same scenes under either
    camera). With a ``camera_range`` (``check_camera_range``) each scene's camera is
    drawn after the scenes from the same stream (the scenes are those of the fixed
    camera) and returned as ``camera [n, 2]`` float32 (azimuth, elevation, degrees).
    """
    check_camera_range(camera_range)
    rng = _split_rng(seed, split)
    count, types, positions, euler = sample_scenes(n, rng, max_primitives)
    rotations = euler_to_matrix(euler)
    cameras = None if camera_range is None else sample_cameras(n, rng, camera_range)
    images = render_scenes(types, positions, rotations, image_size, supersample, workers,
                           progress=progress, camera=camera, cameras=cameras)
    data = {"images": images[..., None].astype(np.float32),
            "count": count.astype(np.int32),
            "presence": (types >= 0).astype(np.float32),
            "types": types.astype(np.int32),
            "positions": positions.astype(np.float32),
            "euler": euler.astype(np.float32),
            "rotations": rotations.astype(np.float32)}
    if cameras is not None:
        data["camera"] = cameras.astype(np.float32)
    return data


def seen_from(data, cameras, image_size=64, supersample=2, workers=1, camera="orthographic"):
    """``data`` (a ``generate_dataset`` dict of a camera range) seen by other cameras
    ``[n, 2]`` (azimuth, elevation in degrees): the same scenes, other images."""
    cameras = np.asarray(cameras, np.float32)
    images = render_scenes(data["types"], data["positions"], data["rotations"], image_size,
                           supersample, workers, camera=camera,
                           cameras=cameras.astype(np.float64))
    return dict(data, images=images[..., None].astype(np.float32), camera=cameras)


def in_camera_frame(data):
    """``data`` (a ``generate_dataset`` dict of a camera range) with positions and
    rotations in each scene's camera frame (``to_camera_frame``: what the isometric
    camera would see the same way), slots sorted by x there: what the network reads."""
    from models.air.rotations import matrix_to_euler

    positions, rotations = to_camera_frame(data["positions"], data["rotations"],
                                           np.asarray(data["camera"], np.float64))
    types, positions, rotations = sort_slots_by_x(data["types"], positions, rotations)
    present = types >= 0
    positions = np.where(present[..., None], positions, 0.0)
    rotations = np.where(present[..., None, None], rotations, np.eye(3))
    return dict(data, types=types.astype(np.int32), presence=present.astype(np.float32),
                positions=positions.astype(np.float32), rotations=rotations.astype(np.float32),
                euler=np.where(present[..., None], matrix_to_euler(rotations)[0], 0.0)
                .astype(np.float32))


# The cyclic permutation (x, y, z) -> (z, x, y) turns the world by 120 degrees
# about the diagonal (1, 1, 1), the isometric view axis: it maps the unit cube,
# either camera (its eye is on the axis) and the head light onto themselves, so
# a scene turned by it is another scene of the same distribution (its image
# turned by 120 degrees).
TURN = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def turn_about_view(data, turns, image_size=64, supersample=2, workers=1,
                    camera="orthographic"):
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
    images = render_scenes(types, positions, rotations, image_size, supersample, workers,
                           camera=camera)
    return dict(data, images=images[..., None].astype(np.float32),
                types=types.astype(np.int32), presence=present.astype(np.float32),
                positions=positions.astype(np.float32),
                euler=np.where(present[..., None], matrix_to_euler(rotations)[0], 0.0)
                .astype(np.float32),
                rotations=rotations.astype(np.float32))


def depth_blind_positions(positions, camera="orthographic", cameras=None):
    """The best positions knowing all but the depth along the pixel's ray.

    Each position ``p [..., 3]`` in [-1, 1] is moved along the ray of its
    image point (the viewing direction ``d``, or for the perspective camera
    the line from the eye through ``p``) to the middle of the ray's chord
    inside the cube [-1, 1]^3. Under the orthographic camera that is the
    per-axis median of the uniform posterior over the hidden depth (primitive
    centres are uniform in the cube), so its absolute error per axis bounds
    the error of any estimate from one image, occlusions aside. Under the
    perspective camera the depth is not hidden (a primitive's size tells it):
    the same estimate is then what the image point alone says, a baseline that
    reading the size beats, not a bound. ``cameras [..., 2]`` (azimuth, elevation
    in degrees, one per position; None: the isometric camera): each position seen
    by its own camera.
    """
    p = np.asarray(positions, np.float64)
    check_camera(camera)
    if cameras is None:
        eye, forward = eye_position(), CAMERA_DIRECTION
    else:
        direction = eye_direction(cameras)
        eye, forward = CAMERA_DISTANCE / WORLD_HALF * direction, -direction
        forward = np.where(forward == 0.0, 1e-12, forward)     # no zero component
    d = p - eye if camera == "perspective" else forward
    low = np.minimum((-1.0 - p) / d, (1.0 - p) / d).max(axis=-1)
    high = np.maximum((-1.0 - p) / d, (1.0 - p) / d).min(axis=-1)
    return p + ((low + high) / 2.0)[..., None] * d


def view_axes():
    """Unit ``right``, ``up`` (image plane) and ``forward`` (view) vectors in world axes
    (the same for both cameras)."""
    cam = camera()
    forward, right, up = sr.camera_axes(cam)
    return right, up, forward


def eye_position():
    """The perspective camera's eye in position units (``world / WORLD_HALF``)."""
    return -CAMERA_DISTANCE / WORLD_HALF * CAMERA_DIRECTION


def image_coordinates(positions, camera="orthographic"):
    """Image-plane coordinates ``(u, v)`` in [-1, 1] (right, up) of positions ``[..., 3]``:
    the pixel the point falls on (``u = (col + 0.5) / W * 2 - 1``, ``v = 1 - (row + 0.5) /
    H * 2``)."""
    right, up, forward = view_axes()
    if camera == "perspective":    # x / (z tan(fov / 2)) in the camera's frame
        offset = np.asarray(positions, np.float64) - eye_position()
        depth = (offset @ forward)[..., None] * (CAMERA_EXTENT / 2.0 / CAMERA_DISTANCE)
        return np.stack([offset @ right, offset @ up], -1) / depth
    check_camera(camera)
    world = WORLD_HALF * np.asarray(positions, np.float64)
    return np.stack([world @ right, world @ up], -1) / (CAMERA_EXTENT / 2.0)


def view_depth(positions):
    """Depth ``s [...]`` of positions ``[..., 3]``: the offset along the view axis from the
    plane through the cube's centre, in position units (both cameras)."""
    return np.asarray(positions, np.float64) @ view_axes()[2]


def positions_at(uv, depth, camera="orthographic"):
    """Positions ``[..., 3]`` of image points ``uv [..., 2]`` at depth ``depth [...]``
    (``view_depth``): ``q + s ray`` (the module docstring), the inverse of
    ``image_coordinates`` and ``view_depth``."""
    check_camera(camera)
    right, up, forward = view_axes()
    uv = np.asarray(uv, np.float64)
    plane = CAMERA_EXTENT / 2.0 / WORLD_HALF * (uv[..., :1] * right + uv[..., 1:] * up)
    ray = forward + plane / (CAMERA_DISTANCE / WORLD_HALF) if camera == "perspective" \
        else forward
    return plane + np.asarray(depth, np.float64)[..., None] * ray


def image_scale(positions, camera="orthographic"):
    """``[...]``: the world size of a pixel at the depth of each position over its size at
    the cube's centre: 1 (orthographic), the distance from the eye along the view axis
    over ``CAMERA_DISTANCE`` (perspective). A move of ``x`` position units across the
    view axis at the centre's depth moves the image point as ``image_scale x`` does at
    the position's depth."""
    check_camera(camera)
    if camera == "orthographic":
        return np.ones(np.shape(positions)[:-1])
    return 1.0 + view_depth(positions) / (CAMERA_DISTANCE / WORLD_HALF)


def small_rotations(n, sigma, rng):
    """``n`` random rotations ``[n, 3, 3]`` about uniform axes by angles ``|N(0, sigma)|``."""
    from models.air.rotations import axis_angle

    axis = rng.normal(size=(n, 3))
    axis /= np.linalg.norm(axis, axis=-1, keepdims=True)
    return axis_angle(axis, np.abs(rng.normal(0.0, sigma, size=n)))


def explained_canvases(data, rng, rate=0.5, jitter=0.5, turn_sigma=0.1, image_size=64,
                       supersample=2, workers=1, camera="orthographic"):
    """Canvases for AIR's repeat: what an earlier pass may already have explained.

    A fraction ``rate`` of the scenes of ``data`` (a ``generate_dataset``
    dict) gets a non-empty subset of its primitives, drawn uniformly among
    the non-empty subsets (the whole scene included), rendered alone with
    the errors of a reading: image-plane shifts of ``jitter`` pixels
    (standard deviation per axis) and turns by ``|N(0, turn_sigma)|``
    radians; the others get an empty canvas; seen by ``camera``. Returns
    ``canvas [n, H, W, 1]`` float32 and ``explained [n, K]`` (bool: in the canvas).
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
    positions = np.asarray(data["positions"], np.float64)
    if camera != "orthographic":     # pixels at each primitive's depth
        shift = shift * image_scale(positions, camera)[..., None]
    positions = positions + shift[..., :1] * right + shift[..., 1:] * up
    rotations = (small_rotations(n * k, turn_sigma, rng).reshape(n, k, 3, 3)
                 @ np.asarray(data["rotations"], np.float64))
    canvas = render_scenes(np.where(explained, types, -1), positions, rotations, image_size,
                           supersample, workers, camera=camera)
    return canvas[..., None].astype(np.float32), explained
