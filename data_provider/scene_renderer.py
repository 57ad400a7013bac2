"""A vectorised numpy ray caster of shaded primitives.

Every pixel casts one ray (or ``supersample**2`` rays averaged); each primitive
is intersected in closed form in its own local frame, the nearest hit along the
ray wins (a z-buffer over primitives) and the hit is shaded Lambertian with an
ambient term::

    shade = ambient + (1 - ambient) * max(0, n . l)
    pixel = colour * shade            (background where no primitive is hit)

``n`` is the surface normal turned towards the viewer (surfaces are two-sided,
so the inside of a room made of quads is lit like the outside) and ``l`` the
unit direction *towards* the light. ``light_dir=None`` puts the light at the
camera (a head light, as in the AIR 3D primitives set-up).

World convention (the one of DeepMind's GQN data, checked on the real
``mazes`` records: their cameras all have ``z = 0``, yaw lies in
``(-pi, pi]``, and a growing yaw at a fixed position pans the view to the
left, i.e. turns the camera counter-clockwise seen from above):

* ``z`` is up, the floor is the ``x-y`` plane;
* ``yaw`` is measured in the ground plane from ``+x`` towards ``+y``;
* ``pitch`` is the elevation of the viewing direction, positive looking up;
* the viewing direction is ``(cos p cos y, cos p sin y, sin p)``; image rows
  go down the camera's up vector, columns along its right vector
  ``(sin y, -cos y, 0)``.

A GQN camera is the 5-vector ``x, y, z, yaw, pitch`` (radians)
(``PerspectiveCamera.raw`` / ``PerspectiveCamera.from_raw``).

Grey-scale scenes (AIR 3D): give each primitive a scalar ``colour`` and a
scalar ``background`` and keep channel 0 of the image.

Primitives live in a local frame scaled by ``size`` (half-extents), rotated by
``rotation`` and moved to ``position``: ``p_world = R @ (size * p_local) +
position``. The unit local shapes:

* ``sphere``: ``|p| <= 1`` (``size`` = radius);
* ``box``: ``[-1, 1]^3`` (``size`` = half side lengths; a unit cube has
  ``size=0.5``);
* ``cylinder``: ``x^2 + y^2 <= 1``, ``|z| <= 1`` (axis along local ``z``);
* ``cone``: base disc of radius 1 at ``z = -1``, apex at ``z = +1``;
* ``quad``: the square ``|x|, |y| <= 1`` in the plane ``z = 0`` (floors,
  walls; ``size[2]`` is ignored).
"""
import dataclasses

import numpy as np

KINDS = ("sphere", "box", "cylinder", "cone", "quad")
_EPS = 1e-6


def rotation_z(angle):
    """3x3 rotation by ``angle`` radians about the vertical ``z`` axis."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def rotation_euler(rx, ry, rz):
    """3x3 rotation ``Rz(rz) @ Ry(ry) @ Rx(rx)`` (angles in radians)."""
    cx, sx, cy, sy = np.cos(rx), np.sin(rx), np.cos(ry), np.sin(ry)
    rot_x = np.array([[1.0, 0.0, 0.0], [0.0, cx, -sx], [0.0, sx, cx]])
    rot_y = np.array([[cy, 0.0, sy], [0.0, 1.0, 0.0], [-sy, 0.0, cy]])
    return rotation_z(rz) @ rot_y @ rot_x


def _vector3(value, name):
    array = np.broadcast_to(np.asarray(value, dtype=np.float64), (3,)).copy() \
        if np.ndim(value) == 0 else np.asarray(value, dtype=np.float64)
    if array.shape != (3,) or not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be a finite scalar or 3-vector, got {value!r}")
    return array


@dataclasses.dataclass(frozen=True)
class Primitive:
    """One shape: ``kind`` (see ``KINDS``), ``colour`` (grey scalar or RGB in
    [0, 1]), ``position`` (3-vector), ``rotation`` (a 3x3 matrix or a yaw in
    radians about ``z``) and ``size`` (half-extents, scalar or 3-vector)."""

    kind: str
    colour: object = 1.0
    position: object = (0.0, 0.0, 0.0)
    rotation: object = 0.0
    size: object = 1.0

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(f"unknown primitive kind {self.kind!r}; expected one of {KINDS}")
        colour = _vector3(self.colour, "colour")
        if np.any(colour < 0) or np.any(colour > 1):
            raise ValueError(f"colour must lie in [0, 1], got {self.colour!r}")
        size = _vector3(self.size, "size")
        if self.kind == "quad":
            size[2] = 1.0
        if np.any(size <= 0):
            raise ValueError(f"size must be positive, got {self.size!r}")
        rotation = np.asarray(self.rotation, dtype=np.float64)
        if rotation.ndim == 0:
            rotation = rotation_z(float(rotation))
        if rotation.shape != (3, 3) or not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-6):
            raise ValueError("rotation must be a yaw angle or an orthonormal 3x3 matrix")
        object.__setattr__(self, "colour", colour)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "rotation", rotation)
        object.__setattr__(self, "position", _vector3(self.position, "position"))


def _direction(yaw, pitch):
    return np.array([np.cos(pitch) * np.cos(yaw), np.cos(pitch) * np.sin(yaw), np.sin(pitch)])


def _basis(yaw, pitch):
    """Forward, right and up unit vectors of a camera (z up, no roll)."""
    forward = _direction(yaw, pitch)
    right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
    up = np.cross(right, forward)
    return forward, right, up


def camera_axes(camera):
    """Unit ``forward``, ``right`` and ``up`` world vectors of a camera."""
    return _basis(camera.yaw, camera.pitch)


def _pixel_grid(height, width):
    """Normalised pixel-centre coordinates ``u`` (right) and ``v`` (up) in [-1, 1]."""
    u = (np.arange(width) + 0.5) / width * 2.0 - 1.0
    v = 1.0 - (np.arange(height) + 0.5) / height * 2.0
    return np.meshgrid(u, v)  # each [H, W]


def look_at(position, target):
    """``(yaw, pitch)`` of a camera at ``position`` looking at ``target``."""
    delta = np.asarray(target, dtype=np.float64) - np.asarray(position, dtype=np.float64)
    yaw = np.arctan2(delta[1], delta[0])
    pitch = np.arctan2(delta[2], np.hypot(delta[0], delta[1]))
    return float(yaw), float(pitch)


@dataclasses.dataclass(frozen=True)
class PerspectiveCamera:
    """Pin-hole camera at ``position`` with ``yaw``, ``pitch`` (radians) and a
    vertical field of view ``fov_degrees``."""

    position: object
    yaw: float = 0.0
    pitch: float = 0.0
    fov_degrees: float = 60.0

    def __post_init__(self):
        object.__setattr__(self, "position", _vector3(self.position, "position"))
        if not 0.0 < self.fov_degrees < 180.0:
            raise ValueError(f"fov_degrees must lie in (0, 180), got {self.fov_degrees}")

    @classmethod
    def from_raw(cls, raw, fov_degrees=60.0):
        """Camera from the GQN 5-vector ``x, y, z, yaw, pitch``."""
        raw = np.asarray(raw, dtype=np.float64)
        if raw.shape != (5,):
            raise ValueError(f"a raw GQN camera is 5 values (x, y, z, yaw, pitch), got {raw.shape}")
        return cls(raw[:3], float(raw[3]), float(raw[4]), fov_degrees)

    @property
    def raw(self):
        """The GQN 5-vector ``[x, y, z, yaw, pitch]`` (float32)."""
        return np.array([*self.position, self.yaw, self.pitch], dtype=np.float32)

    def rays(self, height, width):
        """``origins [1, 3]`` and unit ``directions [H*W, 3]``, row-major pixels."""
        u, v = _pixel_grid(height, width)
        return self.rays_at(u.reshape(-1), v.reshape(-1), width / height)

    def rays_at(self, u, v, aspect=1.0):
        """Rays through image points ``u`` (right), ``v`` (up) in [-1, 1]."""
        forward, right, up = _basis(self.yaw, self.pitch)
        half = np.tan(np.radians(self.fov_degrees) / 2.0)
        directions = (forward + (u * half * aspect)[:, None] * right
                      + (v * half)[:, None] * up)
        directions /= np.sqrt(_dot(directions, directions))[:, None]
        return self.position[None, :], directions


@dataclasses.dataclass(frozen=True)
class OrthographicCamera:
    """Parallel-projection camera: the image plane is centred on ``position``,
    faces ``yaw``/``pitch`` and spans ``extent`` world units vertically
    (``extent * width / height`` horizontally)."""

    position: object
    yaw: float = 0.0
    pitch: float = 0.0
    extent: float = 2.0

    def __post_init__(self):
        object.__setattr__(self, "position", _vector3(self.position, "position"))
        if not self.extent > 0:
            raise ValueError(f"extent must be positive, got {self.extent}")

    def rays(self, height, width):
        """``origins [H*W, 3]`` on the image plane and ``directions [1, 3]``."""
        u, v = _pixel_grid(height, width)
        return self.rays_at(u.reshape(-1), v.reshape(-1), width / height)

    def rays_at(self, u, v, aspect=1.0):
        """Rays through image points ``u`` (right), ``v`` (up) in [-1, 1]."""
        forward, right, up = _basis(self.yaw, self.pitch)
        half = self.extent / 2.0
        origins = (self.position + (u * half * aspect)[:, None] * right
                   + (v * half)[:, None] * up)
        return origins, forward[None, :]


def _smallest_positive(columns):
    """Per ray the smallest candidate ``t > eps`` of the columns ``[N]`` (``inf`` if none)
    and the index of its column, the first on a tie. (Here and below, work on columns:
    numpy reduces a short last axis many times slower.)"""
    best = np.where(columns[0] > _EPS, columns[0], np.inf)
    index = np.zeros(best.shape, int)
    for k, column in enumerate(columns[1:], 1):
        closer = np.where(column > _EPS, column, np.inf) < best
        best = np.where(closer, column, best)
        index[closer] = k
    return best, index


def _quadratic_roots(a, b, c):
    """Both roots of ``a t^2 + 2 b t + c = 0`` (``nan`` where none)."""
    disc = b * b - a * c
    sqrt = np.sqrt(np.where(disc >= 0, disc, np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = np.abs(a) < 1e-12
        safe_a = np.where(flat, 1.0, a)
        t0 = np.where(flat, -c / (2 * b), (-b - sqrt) / safe_a)
        t1 = np.where(flat, np.nan, (-b + sqrt) / safe_a)
    return t0, t1


def _intersect_sphere(o, d):
    t0, t1 = _quadratic_roots(_dot(d, d), _dot(o, d), _dot(o, o) - 1.0)
    t, _ = _smallest_positive([t0, t1])
    return t, o + np.where(np.isfinite(t), t, 0.0)[:, None] * d


def _intersect_box(o, d):
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    t1, t2 = (-1.0 - o) / d, (1.0 - o) / d
    near, far = np.minimum(t1, t2), np.maximum(t1, t2)
    t_near = np.maximum(np.maximum(near[:, 0], near[:, 1]), near[:, 2])
    t_far = np.minimum(np.minimum(far[:, 0], far[:, 1]), far[:, 2])
    hit = t_far >= np.maximum(t_near, _EPS)
    t = np.where(t_near > _EPS, t_near, t_far)
    t = np.where(hit, t, np.inf)
    p = o + np.where(hit, t, 0.0)[:, None] * d
    extent = np.abs(p)                                 # the normal: the largest axis, the
    axis = np.where(extent[:, 1] > extent[:, 0], 1, 0)  # first on a tie
    axis[extent[:, 2] > np.maximum(extent[:, 0], extent[:, 1])] = 2
    normal = np.zeros_like(p)
    rays = np.arange(len(p))
    normal[rays, axis] = np.sign(p[rays, axis])
    return t, normal


def _caps(o, d, z_values, radius_ok):
    """Hits of the planes ``z = z_k`` inside the unit disc, one column per plane."""
    with np.errstate(divide="ignore", invalid="ignore"):
        columns = []
        for z in z_values:
            t = (z - o[:, 2]) / d[:, 2]
            x, y = o[:, 0] + t * d[:, 0], o[:, 1] + t * d[:, 1]
            columns.append(np.where(radius_ok(x * x + y * y), t, np.nan))
    return columns


def _intersect_cylinder(o, d):
    a = d[:, 0] ** 2 + d[:, 1] ** 2
    b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1]
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - 1.0
    sides = []
    for t in _quadratic_roots(a, b, c):
        z = o[:, 2] + t * d[:, 2]
        sides.append(np.where(np.abs(z) <= 1.0, t, np.nan))
    caps = _caps(o, d, (-1.0, 1.0), lambda r2: r2 <= 1.0)
    t, which = _smallest_positive(sides + caps)
    p = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    normal = np.where((which < 2)[:, None],
                      p * np.array([1.0, 1.0, 0.0]),
                      np.stack([np.zeros_like(t), np.zeros_like(t), np.sign(p[:, 2])], 1))
    return t, normal


def _intersect_cone(o, d):
    k = 0.25  # radius (1 - z) / 2: x^2 + y^2 = k (1 - z)^2
    w = 1.0 - o[:, 2]
    a = d[:, 0] ** 2 + d[:, 1] ** 2 - k * d[:, 2] ** 2
    b = o[:, 0] * d[:, 0] + o[:, 1] * d[:, 1] + k * w * d[:, 2]
    c = o[:, 0] ** 2 + o[:, 1] ** 2 - k * w * w
    sides = []
    for t in _quadratic_roots(a, b, c):
        z = o[:, 2] + t * d[:, 2]
        sides.append(np.where(np.abs(z) <= 1.0, t, np.nan))
    caps = _caps(o, d, (-1.0,), lambda r2: r2 <= 1.0)
    t, which = _smallest_positive(sides + caps)
    p = o + np.where(np.isfinite(t), t, 0.0)[:, None] * d
    side_normal = np.stack([p[:, 0], p[:, 1], k * (1.0 - p[:, 2])], 1)
    base_normal = np.stack([np.zeros_like(t), np.zeros_like(t), -np.ones_like(t)], 1)
    return t, np.where((which < 2)[:, None], side_normal, base_normal)


def _intersect_quad(o, d):
    (t,) = _caps(o, d, (0.0,), lambda r2: np.ones_like(r2, dtype=bool))
    with np.errstate(invalid="ignore"):
        p = o + t[:, None] * d
        inside = (np.abs(p[:, 0]) <= 1.0) & (np.abs(p[:, 1]) <= 1.0) & (t > _EPS)
    t = np.where(inside, t, np.inf)
    return t, np.broadcast_to(np.array([0.0, 0.0, 1.0]), o.shape)


_INTERSECT = {
    "sphere": _intersect_sphere,
    "box": _intersect_box,
    "cylinder": _intersect_cylinder,
    "cone": _intersect_cone,
    "quad": _intersect_quad,
}


def _dot(a, b):
    """Row-wise dot product of ``[N, 3]`` arrays (column sums: faster than
    ``einsum`` or ``sum(a * b, 1)`` at these sizes)."""
    return a[:, 0] * b[:, 0] + a[:, 1] * b[:, 1] + a[:, 2] * b[:, 2]


def _bounding_sphere_rays(prim, origins, directions, d_dot_d):
    """Indices of the rays that meet the primitive's bounding sphere (a cheap
    cull before the exact intersection; quads are never culled)."""
    n = directions.shape[0]
    if prim.kind == "quad":
        return np.arange(n)
    radius = np.max(prim.size) if prim.kind == "sphere" else np.linalg.norm(prim.size)
    oc = origins - prim.position
    if oc.shape[0] == 1:  # one eye point (perspective camera)
        b = directions @ oc[0]
        c = oc[0] @ oc[0] - radius * radius * (1.0 + 1e-6)
    else:
        b = _dot(oc, directions) if directions.shape[0] > 1 else oc @ directions[0]
        c = _dot(oc, oc) - radius * radius * (1.0 + 1e-6)
    disc = b * b - d_dot_d * c
    far = (-b + np.sqrt(np.maximum(disc, 0.0))) / d_dot_d
    return np.flatnonzero((disc >= 0) & (far > _EPS))


def cast(primitives, origins, directions):
    """Nearest hit of each ray over all primitives (the z-buffer).

    ``origins`` and ``directions`` broadcast to ``[N, 3]`` (world units;
    directions need not be normalised, ``t`` is in units of their length).
    Returns ``t [N]`` (``inf`` on a miss), unit world normals ``[N, 3]`` and
    the index of the primitive hit ``[N]`` (``-1`` on a miss).
    """
    origins = np.atleast_2d(np.asarray(origins, np.float64))
    directions = np.atleast_2d(np.asarray(directions, np.float64))
    n = max(origins.shape[0], directions.shape[0])
    if origins.shape[0] not in (1, n) or directions.shape[0] not in (1, n):
        raise ValueError(f"origins {origins.shape} and directions {directions.shape} "
                         "must be [N, 3] or [1, 3]")
    d_dot_d = _dot(directions, directions)
    best_t = np.full(n, np.inf)
    best_normal = np.zeros((n, 3))
    best_id = np.full(n, -1)
    for index, prim in enumerate(primitives):
        rays = _bounding_sphere_rays(prim, origins, directions, d_dot_d)
        if rays.size == 0:
            continue
        # Local frame: p_local = R^T (p - c) / size; t is unchanged by the map.
        sub_o = origins if origins.shape[0] == 1 else origins[rays]
        sub_d = directions if directions.shape[0] == 1 else directions[rays]
        local_o = ((sub_o - prim.position) @ prim.rotation) / prim.size
        local_d = (sub_d @ prim.rotation) / prim.size
        local_o, local_d = np.broadcast_arrays(local_o, local_d)
        if local_o.shape[0] != rays.size:
            local_o, local_d = (np.broadcast_to(x, (rays.size, 3)) for x in (local_o, local_d))
        t_sub, normal_sub = _INTERSECT[prim.kind](local_o, local_d)
        closer_sub = t_sub < best_t[rays]
        if not np.any(closer_sub):
            continue
        closer = rays[closer_sub]
        # Normals transform with the inverse transpose: R @ (n / size).
        best_normal[closer] = (normal_sub[closer_sub] / prim.size) @ prim.rotation.T
        best_t[closer] = t_sub[closer_sub]
        best_id[closer] = index
    length = np.sqrt(_dot(best_normal, best_normal))[:, None]
    best_normal = best_normal / np.where(length > 0, length, 1.0)
    return best_t, best_normal, best_id


def _intensity(normals, directions, light_dir, ambient):
    """``ambient + (1 - ambient) * max(0, n . l)`` per ray ``[N]``, two-sided."""
    directions = np.broadcast_to(directions, normals.shape)
    n_dot_d = _dot(normals, directions)
    if light_dir is None:  # head light: l = -d / |d|
        n_dot_l = -n_dot_d / np.sqrt(_dot(directions, directions))
    else:
        to_light = np.asarray(light_dir, np.float64)
        n_dot_l = normals @ (to_light / np.linalg.norm(to_light))
    # Two-sided surfaces: the normal is turned towards the viewer.
    lambert = np.maximum(np.where(n_dot_d > 0, -n_dot_l, n_dot_l), 0.0)
    return ambient + (1.0 - ambient) * lambert


def shade(primitives, t, normals, ids, directions, light_dir=None, ambient=0.3,
          background=(0.0, 0.0, 0.0)):
    """Lambertian colours ``[N, 3]`` of cast rays (see the module docstring)."""
    intensity = _intensity(normals, directions, light_dir, ambient)
    colours = np.stack([np.asarray(p.colour) for p in primitives]
                       + [_vector3(background, "background")])
    colour = colours[ids]  # ids == -1 picks the background row
    hit = ids >= 0
    return np.where(hit[:, None], colour * intensity[:, None], colour)



def _check_render_arguments(ambient, supersample, height, width):
    """``ValueError`` naming the first bad rendering argument."""
    if not 0.0 <= ambient <= 1.0:
        raise ValueError(f"ambient must lie in [0, 1], got {ambient}")
    if int(supersample) != supersample or supersample < 1:
        raise ValueError(f"supersample must be a positive integer, got {supersample}")
    if height < 1 or width < 1:
        raise ValueError(f"image size must be positive, got {height}x{width}")

def render(primitives, camera, height=64, width=64, light_dir=None, ambient=0.3,
           background=(0.0, 0.0, 0.0), supersample=1, return_depth=False, adaptive=True):
    """Render ``primitives`` seen by ``camera``.

    Returns a float32 image ``[height, width, 3]`` in [0, 1]; with
    ``return_depth`` also the depth ``[height, width]``: the ray length to the
    nearest hit (along the viewing direction for an orthographic camera),
    ``inf`` where nothing is hit. ``supersample=k`` anti-aliases: a pixel gets
    the mean colour of ``k x k`` sub-pixel rays and the nearest of their
    depths. With ``adaptive`` (the default) only pixels whose primitive or
    colour differs from a 4-neighbour (silhouettes, contacts, edges) are
    supersampled, the others keep their centre ray; ``adaptive=False``
    supersamples every pixel. ``light_dir`` points towards the light (``None``:
    from the camera); ``ambient`` in [0, 1]; ``background`` a grey level or RGB.
    """
    _check_render_arguments(ambient, supersample, height, width)
    k = int(supersample)
    if k > 1 and not adaptive:
        origins, directions = camera.rays(height * k, width * k)
        t, normals, ids = cast(primitives, origins, directions)
        colour = shade(primitives, t, normals, ids, directions, light_dir, ambient, background)
        image = colour.reshape(height, k, width, k, 3).mean(axis=(1, 3))
        depth = t.reshape(height, k, width, k).min(axis=(1, 3))
    else:
        origins, directions = camera.rays(height, width)
        t, normals, ids = cast(primitives, origins, directions)
        image = shade(primitives, t, normals, ids, directions, light_dir, ambient, background)
        image, depth = image.reshape(height, width, 3), t.reshape(height, width)
        if k > 1:
            _refine_edges(image, depth, ids.reshape(height, width), primitives, camera, k,
                          (light_dir, ambient, background))
    image = np.clip(image, 0.0, 1.0).astype(np.float32)
    if not return_depth:
        return image
    return image, depth.astype(np.float32)


def _refine_edges(image, depth, ids, primitives, camera, k, shading, colour_step=0.1):
    """Adaptive anti-aliasing in place: pixels whose primitive differs from a
    4-neighbour, or whose colour differs from one by more than ``colour_step``
    (a box edge), get the mean of ``k x k`` sub-pixel rays and their nearest depth."""
    height, width = ids.shape
    edge = np.zeros((height, width), dtype=bool)
    for field in (ids, image):
        padded = np.pad(field, [(1, 1), (1, 1)] + [(0, 0)] * (field.ndim - 2), mode="edge")
        centre = padded[1:-1, 1:-1]
        for neighbour in (padded[:-2, 1:-1], padded[2:, 1:-1], padded[1:-1, :-2], padded[1:-1, 2:]):
            if field.ndim == 2:
                edge |= centre != neighbour
            else:
                edge |= np.abs(centre - neighbour).max(axis=-1) > colour_step
    rows, cols = np.nonzero(edge)
    if rows.size == 0:
        return
    offsets = (np.arange(k) + 0.5) / k
    sub_rows = (rows[:, None, None] + offsets[None, :, None]) * np.ones((1, 1, k))
    sub_cols = (cols[:, None, None] + offsets[None, None, :]) * np.ones((1, k, 1))
    u = (sub_cols.reshape(-1) / width) * 2.0 - 1.0
    v = 1.0 - (sub_rows.reshape(-1) / height) * 2.0
    origins, directions = camera.rays_at(u, v, width / height)
    t, normals, sub_ids = cast(primitives, origins, directions)
    colour = shade(primitives, t, normals, sub_ids, directions, *shading)
    image[rows, cols] = colour.reshape(rows.size, k * k, 3).mean(axis=1)
    depth[rows, cols] = t.reshape(rows.size, k * k).min(axis=1)


def to_uint8(image):
    """``uint8`` copy of a [0, 1] float image (rounded)."""
    return np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _kind_indices(kinds):
    """``[N, K]`` kind names (``""`` or ``None``: empty slot) or indices into
    ``KINDS`` (``-1``: empty) -> int array."""
    kinds = np.asarray(kinds)
    if kinds.dtype.kind in "iu":
        if np.any((kinds < -1) | (kinds >= len(KINDS))):
            raise ValueError(f"kind indices must lie in [-1, {len(KINDS) - 1}]")
        return kinds.astype(np.int64)
    lookup = {name: i for i, name in enumerate(KINDS)}
    lookup.update({"": -1, "None": -1, None: -1})
    unknown = {str(k) for k in kinds.reshape(-1) if k not in lookup}
    if unknown:
        raise ValueError(f"unknown primitive kind(s) {sorted(unknown)}; expected one of {KINDS}")
    return np.vectorize(lookup.get, otypes=[np.int64])(kinds)


def render_batch(kinds, positions, rotations, sizes, camera, height=64, width=64, *,
                 colours=1.0, light_dir=None, ambient=0.3, background=0.0, supersample=1,
                 return_depth=False, chunk=64):
    """Render ``N`` scenes of up to ``K`` primitives each with one camera, an
    ``OrthographicCamera`` or a ``PerspectiveCamera``.

    The same images and depths as ``render(scene, camera, height, width, ...,
    adaptive=False)`` for every scene (to the rounding of the last bits),
    computed for many scenes at once: each primitive is intersected only with
    the rays of a window of pixels that covers its projection (see
    ``_group_hits``), primitives of one kind are intersected together over all
    scenes, and the z-buffer takes slot ``0``, then ``1``, ... (an earlier slot
    wins a tie, as in ``cast``). Depth is ``render``'s: the ray length to the
    nearest hit, i.e. the distance along the viewing direction from the image
    plane (orthographic) or from the eye (perspective).

    ``kinds [N, K]``: names from ``KINDS`` or indices into it; ``""``,
    ``None`` or ``-1`` leaves a slot empty. ``positions [N, K, 3]``,
    ``rotations [N, K, 3, 3]`` (orthonormal), ``sizes`` and ``colours``
    broadcast to ``[N, K, 3]``; ``background`` a grey level or RGB. Returns
    float32 images ``[N, height, width, 3]`` (and depths ``[N, height, width]``
    with ``return_depth``). ``chunk`` scenes are rendered at a time.
    """
    _check_batch_camera(camera, "render_batch")
    _check_render_arguments(ambient, supersample, height, width)
    kinds = _kind_indices(kinds)
    if kinds.ndim != 2:
        raise ValueError(f"kinds must be [N, K], got shape {kinds.shape}")
    n, k_slots = kinds.shape
    positions = np.broadcast_to(np.asarray(positions, np.float64), (n, k_slots, 3))
    rotations = np.broadcast_to(np.asarray(rotations, np.float64), (n, k_slots, 3, 3))
    sizes = np.broadcast_to(np.asarray(sizes, np.float64)[..., None]
                            if np.ndim(sizes) < 3 else np.asarray(sizes, np.float64),
                            (n, k_slots, 3)).copy()
    sizes[kinds == KINDS.index("quad"), 2] = 1.0
    colours = np.broadcast_to(np.asarray(colours, np.float64)[..., None]
                              if np.ndim(colours) < 3 else np.asarray(colours, np.float64),
                              (n, k_slots, 3))
    used = kinds >= 0
    if np.any(sizes[used] <= 0):
        raise ValueError("sizes must be positive")
    if not np.all(np.isfinite(positions[used])):
        raise ValueError("positions must be finite")
    background = _vector3(background, "background")
    images = np.empty((n, height, width, 3), np.float32)
    depths = np.empty((n, height, width), np.float32) if return_depth else None
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        image, depth = _render_chunk(
            kinds[start:stop], positions[start:stop], rotations[start:stop], sizes[start:stop],
            colours[start:stop], camera, height, width, int(supersample), light_dir, ambient,
            background)
        images[start:stop] = image
        if return_depth:
            depths[start:stop] = depth
    return (images, depths) if return_depth else images


def _render_chunk(kinds, positions, rotations, sizes, colours, camera, height, width, k,
                  light_dir, ambient, background):
    """``render_batch`` of one chunk: sub-pixel z-buffer, shading, box filter."""
    n = kinds.shape[0]
    rows_k, cols_k = height * k, width * k
    # The z-buffer keeps the shaded colour of the nearest hit (shading needs
    # only the hit's own normal), initialised to the background.
    best_t = np.full(n * rows_k * cols_k, np.inf)
    best_rgb = np.broadcast_to(background, (best_t.size, 3)).copy()
    for slot in range(kinds.shape[1]):
        for kind_index in np.unique(kinds[:, slot]):
            if kind_index < 0:
                continue
            scenes = np.flatnonzero(kinds[:, slot] == kind_index)
            g, r, c, t, intensity = _group_hits(
                KINDS[kind_index], positions[scenes, slot], rotations[scenes, slot],
                sizes[scenes, slot], camera, rows_k, cols_k, light_dir, ambient)
            # Sub-pixels of a pixel are adjacent: [scene, row, col, sub-row, sub-col].
            index = ((((scenes[g] * height + r // k) * width + c // k) * k + r % k) * k + c % k)
            closer = t < best_t[index]
            index = index[closer]
            best_t[index] = t[closer]
            best_rgb[index] = colours[scenes[g[closer]], slot] * intensity[closer, None]
    # Box filter as a sum of k*k strided slices (faster than a reduction over
    # a short middle axis).
    rgb, t = best_rgb.reshape(n, height, width, k * k, 3), best_t.reshape(n, height, width, k * k)
    image, depth = rgb[:, :, :, 0].copy(), t[:, :, :, 0].copy()
    for sub in range(1, k * k):
        image += rgb[:, :, :, sub]
        np.minimum(depth, t[:, :, :, sub], out=depth)
    image /= k * k
    image = np.clip(image.astype(np.float32), 0.0, 1.0)
    return image, depth.astype(np.float32)


def primitive_hits(kinds, positions, rotations, sizes, camera, height=64, width=64, *,
                   light_dir=None, ambient=0.3):
    """Each of ``N`` primitives alone (no z-buffer between them), seen by ``camera`` (an
    ``OrthographicCamera`` or a ``PerspectiveCamera``): the pixels whose ray hits it, the
    ray's length (``render``'s depth) and the shading.

    ``kinds [N]`` (names or indices into ``KINDS``, none empty), ``positions [N, 3]``,
    ``rotations [N, 3, 3]``, ``sizes`` broadcast to ``[N, 3]``. Returns ``index``
    (which primitive), ``row``, ``col``, ``t`` and ``intensity`` (``ambient + (1 -
    ambient) max(0, n . l)``), one entry per hit pixel, float64: the values from which
    ``render_batch`` draws a scene of these primitives (``colour * intensity`` and
    depth ``t`` of the nearest), ray for ray the same.
    """
    _check_batch_camera(camera, "primitive_hits")
    kinds = _kind_indices(np.asarray(kinds).reshape(-1))
    n = len(kinds)
    positions = np.broadcast_to(np.asarray(positions, np.float64), (n, 3))
    rotations = np.broadcast_to(np.asarray(rotations, np.float64), (n, 3, 3))
    sizes = np.broadcast_to(np.asarray(sizes, np.float64)[..., None]
                            if np.ndim(sizes) < 2 else np.asarray(sizes, np.float64),
                            (n, 3)).copy()
    sizes[kinds == KINDS.index("quad"), 2] = 1.0
    parts = []
    for kind_index in np.unique(kinds):
        group = np.flatnonzero(kinds == kind_index)
        g, *rest = _group_hits(KINDS[kind_index], positions[group], rotations[group],
                               sizes[group], camera, height, width, light_dir, ambient)
        parts.append((group[g], *rest))
    if not parts:
        return tuple(np.zeros(0, dtype) for dtype in (int, int, int, float, float))
    return tuple(np.concatenate(column) for column in zip(*parts))


def _check_batch_camera(camera, caller):
    """``ValueError`` unless ``camera`` is one the batched ray grid knows."""
    if not isinstance(camera, (OrthographicCamera, PerspectiveCamera)):
        raise ValueError(f"{caller} needs an OrthographicCamera or a PerspectiveCamera, "
                         f"got {type(camera).__name__}")


def _group_hits(kind, pos, rot, size, camera, rows, cols, light_dir, ambient):
    """Hits of ``G`` primitives of one ``kind`` on a ``rows x cols`` ray grid (the rays
    of ``camera.rays(rows, cols)``): ``g`` (primitive), ``r``, ``c`` (inside the grid),
    ``t`` and ``intensity`` per hit.

    Each primitive is intersected, in its local frame, only with the rays of a window
    of pixels around its projection (``_orthographic_rays``, ``_perspective_rays``). A
    culled ray cannot hit, so the hits are those of all rays.
    """
    if isinstance(camera, PerspectiveCamera):
        g, r, c, local_o, local_d, directions = _perspective_rays(
            kind, pos, rot, size, camera, rows, cols)
    else:
        g, r, c, local_o, local_d, directions = _orthographic_rays(
            kind, pos, rot, size, camera, rows, cols)
    t, normal = _INTERSECT[kind](local_o, local_d)
    hit = np.flatnonzero(np.isfinite(t))
    g, r, c, t = g[hit], r[hit], c[hit], t[hit]
    if len(directions) > 1:  # one direction per ray, not one shared by all
        directions = directions[hit]
    # Normals transform with the inverse transpose: R @ (n / size).
    world = np.einsum("hj,hij->hi", normal[hit] / np.take(size, g, axis=0),
                      np.take(rot, g, axis=0))
    length = np.sqrt(_dot(world, world))[:, None]
    world /= np.where(length > 0, length, 1.0)
    return g, r, c, t, _intensity(world, directions, light_dir, ambient)


def _bounding_radius(kind, size):
    """``[G]`` radius of a sphere about each primitive's position that holds it."""
    if kind == "sphere":
        return size.max(axis=1)
    if kind == "quad":  # size[2] is not an extent of the flat square
        return np.hypot(size[:, 0], size[:, 1])
    return np.linalg.norm(size, axis=1)


def _window_candidates(inside, rows_g, cols_g, rows, cols):
    """``g, i, j``: the window rays ``rows_g[g, i]``, ``cols_g[g, j]`` that pass
    ``inside [G, span, span]`` and lie on the ``rows x cols`` grid."""
    return np.nonzero(inside
                      & ((rows_g >= 0) & (rows_g < rows))[:, :, None]
                      & ((cols_g >= 0) & (cols_g < cols))[:, None, :])


def _orthographic_rays(kind, pos, rot, size, camera, rows, cols):
    """Candidate rays of ``G`` primitives seen by an orthographic camera: ``g``, ``r``,
    ``c``, local origins and directions ``[M, 3]`` and the world direction ``[1, 3]``
    shared by all rays.

    Only the rays of the square window around each primitive's bounding sphere are
    considered, and of those only the ones whose image point lies inside the projection
    of the primitive's bounding box (a hexagon: the slabs orthogonal to each projected
    box edge) or, for a sphere, its disc, with a margin of a ray spacing; quads are
    tested against every ray.
    """
    forward, right, up = _basis(camera.yaw, camera.pitch)
    half, aspect = camera.extent / 2.0, cols / rows
    pixel = camera.extent / rows  # world size of a ray spacing (square)
    offset = pos - camera.position
    col_c = ((offset @ right) / (half * aspect) + 1.0) / 2.0 * cols - 0.5
    row_c = (1.0 - (offset @ up) / half) / 2.0 * rows - 0.5
    n = len(pos)
    if kind == "quad":  # unbounded cull radius: the whole image
        span, row0, col0 = max(rows, cols), np.zeros(n, int), np.zeros(n, int)
    else:
        r_px = _bounding_radius(kind, size) / pixel
        span = int(2 * np.ceil(r_px.max()) + 4)
        row0 = np.floor(row_c - r_px).astype(int) - 1
        col0 = np.floor(col_c - r_px).astype(int) - 1
    steps = np.arange(span)
    rows_g, cols_g = row0[:, None] + steps, col0[:, None] + steps      # [G, span]
    g, i, j = _window_candidates(_footprint(kind, rot, size, rows_g - row_c[:, None],
                                            cols_g - col_c[:, None], right, up, pixel),
                                 rows_g, cols_g, rows, cols)
    r, c = rows_g[g, i], cols_g[g, j]
    u = (cols_g + 0.5) / cols * 2.0 - 1.0
    v = 1.0 - (rows_g + 0.5) / rows * 2.0
    # Local frame p_local = R^T (p - c) / size of the ray origins
    # c_cam + u h a right + v h up, separable in the window's rows and columns.
    base = np.einsum("gi,gij->gj", camera.position - pos, rot) / size
    along_u = np.einsum("i,gij->gj", right * half * aspect, rot) / size
    along_v = np.einsum("i,gij->gj", up * half, rot) / size
    by_row = base[:, None, :] + v[:, :, None] * along_v[:, None, :]          # [G, span, 3]
    by_col = u[:, :, None] * along_u[:, None, :]
    local_o = (np.take(by_row.reshape(-1, 3), g * span + i, axis=0)
               + np.take(by_col.reshape(-1, 3), g * span + j, axis=0))
    local_d = np.take(np.einsum("i,gij->gj", forward, rot) / size, g, axis=0)
    return g, r, c, local_o, local_d, forward[None, :]


def _project_spheres(camera, centres, radii, rows, cols):
    """Where spheres fall on a ``rows x cols`` ray grid of a perspective camera:
    the pixel ``row``, ``col`` of each centre, a radius ``r_px`` in pixels that holds
    the whole sphere's image, and the centre's depth ``z`` along the viewing direction.

    In the camera frame ``x, y, z = (p - eye) . (right, up, forward)``, the ray of grid
    point ``(row, col)`` is ``forward + u h a right + v h up`` (``rays_at``) with
    ``h = tan(fov / 2)``, ``a = cols / rows``, ``u = (col + 0.5) / cols * 2 - 1`` and
    ``v = 1 - (row + 0.5) / rows * 2``, so a point in front of the camera projects to::

        col = (x / (z h a) + 1) / 2 * cols - 0.5,    row = (1 - y / (z h)) / 2 * rows - 0.5

    and a pixel is ``1 / f`` of ``x / z`` and of ``y / z``, ``f = rows / (2 h)``. A
    sphere of radius ``rho`` whose centre ``c`` lies at distance ``D`` from the eye, wholly
    in front of the camera plane (``z > rho``), projects within::

        r_px = f rho D / (z (z - rho))

    pixels of its centre's image: a point ``c + e`` with ``|e| <= rho`` projects
    ``(z e_xy - e_z c_xy) / (z (z + e_z))`` away from it, whose numerator is at most
    ``z |e_xy| + |e_z| |c_xy| <= |e| sqrt(z^2 + |c_xy|^2) <= rho D`` (Cauchy-Schwarz)
    and whose denominator is at least ``z (z - rho)``. On the axis the bound is
    ``rho / (z - rho)`` against the image's radius ``rho / sqrt(z^2 - rho^2)``; at an
    angle ``theta`` off the axis it is, to first order in ``rho``, ``rho / (D cos^2
    theta)``, the long half-axis of the elliptic image. ``r_px`` is ``inf`` where
    ``z <= rho`` (``row``, ``col`` are then meaningless).
    """
    forward, right, up = _basis(camera.yaw, camera.pitch)
    half, aspect = np.tan(np.radians(camera.fov_degrees) / 2.0), cols / rows
    focal = rows / (2.0 * half)
    offset = centres - camera.position
    x, y, z = offset @ right, offset @ up, offset @ forward
    front = z > radii
    safe_z = np.where(front, z, 1.0)
    col = (x / (safe_z * half * aspect) + 1.0) / 2.0 * cols - 0.5
    row = (1.0 - y / (safe_z * half)) / 2.0 * rows - 0.5
    distance = np.sqrt(_dot(offset, offset))
    near = np.where(front, z - radii, 1.0)  # the gap between the sphere and the camera plane
    r_px = np.where(front, focal * radii * distance / (safe_z * near), np.inf)
    return row, col, r_px, z


def _grid_run(centre, reach, length):
    """First index and count of the grid indices in ``[0, length)`` within ``reach`` of
    ``centre`` (``reach`` may be ``inf``: all of them)."""
    first = np.clip(np.floor(centre - reach), 0, length)
    stop = np.clip(np.floor(centre + reach) + 1, 0, length)
    return first.astype(int), (stop - first).astype(int)


def _perspective_rays(kind, pos, rot, size, camera, rows, cols):
    """Candidate rays of ``G`` primitives seen by a perspective camera: ``g``, ``r``,
    ``c``, local origins and directions ``[M, 3]`` and the world direction of each ray
    ``[M, 3]``.

    Every ray starts at the eye with the unit direction ``d`` of ``camera.rays(rows,
    cols)`` (the rays ``render`` casts): local origin ``R^T (eye - p) / size``, one per
    primitive, and local direction ``R^T d / size``, so ``t`` is ``render``'s depth, the
    distance from the eye. The rays considered are those whose pixel lies within
    ``r_px + 1`` pixels of the image of the primitive's bounding sphere
    (``_project_spheres``; the extra pixel absorbs rounding), clipped to the grid. A
    primitive wholly behind the camera plane (``z + rho <= 0``, with ``rho`` enlarged by
    a factor ``1 + 1e-6`` against rounding) gets none, since every ray has a positive
    component along ``forward`` and hits only at ``t > 0``. Quads, and primitives whose
    bounding sphere reaches the camera plane (``z <= rho``), are tested against every ray.
    """
    radius = _bounding_radius(kind, size)
    row_c, col_c, r_px, z = _project_spheres(camera, pos, radius, rows, cols)
    ahead = z + radius * (1.0 + 1e-6) > 0.0
    disc = ahead & np.isfinite(r_px) & (kind != "quad")
    reach = np.where(disc, r_px + 1.0, np.inf)
    row_c, col_c = np.where(disc, row_c, 0.0), np.where(disc, col_c, 0.0)
    row0, row_count = _grid_run(row_c, reach, rows)
    col0, col_count = _grid_run(col_c, reach, cols)
    span = int(np.max(np.where(ahead, np.maximum(row_count, col_count), 0)))
    steps = np.arange(span)
    rows_g, cols_g = row0[:, None] + steps, col0[:, None] + steps      # [G, span]
    dr = (rows_g - row_c[:, None])[:, :, None]
    dc = (cols_g - col_c[:, None])[:, None, :]
    inside = (dr * dr + dc * dc <= (reach * reach)[:, None, None]) & ahead[:, None, None]
    g, i, j = _window_candidates(inside, rows_g, cols_g, rows, cols)
    r, c = rows_g[g, i], cols_g[g, j]
    _, grid_directions = camera.rays(rows, cols)                         # row-major pixels
    directions = grid_directions[r * cols + c]
    local_o = np.take(np.einsum("gi,gij->gj", camera.position - pos, rot) / size, g, axis=0)
    local_d = (np.einsum("hi,hij->hj", directions, np.take(rot, g, axis=0))
               / np.take(size, g, axis=0))
    return g, r, c, local_o, local_d, directions


def _footprint(kind, rot, size, dr, dc, right, up, pixel):
    """``[G, span, span]``: may the ray at row offset ``dr [G, span]`` and column offset
    ``dc [G, span]`` from the primitive's image centre hit it (see ``_group_hits``)?"""
    if kind == "quad":
        return np.ones((len(dr), dr.shape[1], dc.shape[1]), bool)
    dr, dc = dr[:, :, None], dc[:, None, :]
    if kind == "sphere":
        reach = size.max(axis=1) / pixel + 1.0
        return dr * dr + dc * dc <= (reach * reach)[:, None, None]
    edges = rot * size[:, None, :] / pixel                      # [G, 3 world, 3 edges]
    e_col = np.einsum("i,gie->ge", right, edges)               # box half-edges on the grid
    e_row = -np.einsum("i,gie->ge", up, edges)
    inside = np.ones((len(dr), dr.shape[1], dc.shape[2]), bool)
    for e in range(3):                                          # slab across edge e
        n_col, n_row = -e_row[:, e], e_col[:, e]
        reach = (np.abs(n_col[:, None] * e_col + n_row[:, None] * e_row).sum(axis=1)
                 + np.hypot(n_col, n_row))
        inside &= (np.abs(n_col[:, None, None] * dc + n_row[:, None, None] * dr)
                   <= reach[:, None, None])
    return inside
