"""The rendered ``mazes`` stand-in: eye-level views of random labyrinths by 2-D ray casting.

A maze is a square grid of ``blocks x blocks`` cells, each a solid wall block
or free floor, covering ``[-extent, extent]^2`` of the ground plane (the GQN
``mazes`` cameras lie within about +-0.38, so the default 9 x 9 blocks of
1/9 cover [-0.5, 0.5] and the free cells [-0.39, 0.39]). The outer ring is
wall; the inner cells form a random spanning tree of ``rooms x rooms`` rooms
(depth-first, ``blocks = 2 rooms + 1``) with some extra openings, so there
are loops and open places as in the DeepMind Lab mazes.

Looks, drawn per maze: the maze is cut in two regions by a random axis-aligned
line; each region has its own wall colour (from ``WALL_HUES`` x shades) and
floor colour (``FLOOR_COLOURS``), the walls one texture of ``TEXTURES``; a
light sky above. Which maze a view comes from is visible from its colours.

Camera conventions, measured on the real shards (``../shared/data``): the
camera at ``(x, y)`` looks along ``(cos yaw, sin yaw)`` (yaw counter-clockwise
from +x, seen from above; a larger yaw moves the picture to the right),
horizontal field of view 90 degrees (42 pixels per radian at the centre of an
84-pixel frame), pitch 0 so the horizon is the middle row; records store
``x, y, 0, yaw, 0`` with yaw uniform in ``[-pi, pi)``.

Rendering is one vectorised DDA (Amanatides-Woo) walk per image column over
all views at once, then per pixel: sky above the wall's top, the wall's
texture between, the floor (cast back to the ground plane) below.
"""
import colorsys
import dataclasses

import numpy as np


@dataclasses.dataclass(frozen=True)
class MazeConfig:
    """Constants of the mazes stand-in (lengths in the dataset's units)."""

    num_views: int = 300
    image_size: int = 84
    rooms: int = 4                    # rooms per side; blocks = 2 rooms + 1
    extent: float = 0.5               # the grid covers [-extent, extent]^2
    extra_openings: float = 0.35      # share of the remaining inner walls removed
    wall_height: float = 0.10
    eye_height: float = 0.03
    fov_degrees: float = 90.0
    camera_margin: float = 0.005      # cameras keep this far from walls
    supersample: int = 2
    sky: tuple = (0.62, 0.86, 0.98)

    @property
    def blocks(self):
        return 2 * self.rooms + 1

    @property
    def block_size(self):
        return 2.0 * self.extent / self.blocks


MAZES = MazeConfig()
WALL_HUES = tuple(np.arange(12) / 12.0)
WALL_SHADES = ((0.55, 0.75), (0.35, 0.85), (0.25, 0.6))   # (saturation, value)
FLOOR_COLOURS = ((0.85, 0.62, 0.25), (0.25, 0.45, 0.80), (0.55, 0.75, 0.35),
                 (0.85, 0.75, 0.60), (0.55, 0.55, 0.58), (0.70, 0.40, 0.35),
                 (0.60, 0.82, 0.88), (0.88, 0.82, 0.40))
TEXTURES = ("bricks", "panels", "dots", "stripes")


def random_maze(rng, config=MAZES):
    """``bool [blocks, blocks]``, True for a wall block; index ``[i, j]`` is the
    block at x index ``i``, y index ``j``. Every free block is reachable."""
    n, rooms = config.blocks, config.rooms
    walls = np.ones((n, n), dtype=bool)
    walls[1::2, 1::2] = False
    seen = np.zeros((rooms, rooms), dtype=bool)
    stack = [(int(rng.integers(rooms)), int(rng.integers(rooms)))]
    seen[stack[0]] = True
    while stack:
        i, j = stack[-1]
        options = [(i + di, j + dj) for di, dj in ((1, 0), (-1, 0), (0, 1), (0, -1))
                   if 0 <= i + di < rooms and 0 <= j + dj < rooms and not seen[i + di, j + dj]]
        if not options:
            stack.pop()
            continue
        k, m = options[rng.integers(len(options))]
        walls[i + k + 1, j + m + 1] = False     # the block between rooms (i, j) and (k, m)
        seen[k, m] = True
        stack.append((k, m))
    # Inner walls between two rooms (one odd, one even index) may open too.
    between = np.zeros_like(walls)
    between[1:-1, 1:-1] = True
    between[1::2, 1::2] = False
    between[::2, ::2] = False
    candidates = np.argwhere(walls & between)
    opened = candidates[rng.uniform(size=len(candidates)) < config.extra_openings]
    walls[opened[:, 0], opened[:, 1]] = False
    return walls


def maze_looks(rng):
    """Per-maze looks: the region split and each region's wall and floor colour."""
    hues = rng.choice(len(WALL_HUES), 2, replace=False)
    shades = rng.integers(len(WALL_SHADES), size=2)
    walls = [colorsys.hsv_to_rgb(WALL_HUES[h], *WALL_SHADES[s]) for h, s in zip(hues, shades)]
    floors = [FLOOR_COLOURS[k] for k in rng.choice(len(FLOOR_COLOURS), 2, replace=False)]
    return {
        "split_axis": int(rng.integers(2)),
        "split_at": float(rng.uniform(-0.25, 0.25)),
        "wall_colours": np.asarray(walls, dtype=np.float32),
        "floor_colours": np.asarray(floors, dtype=np.float32),
        "texture": TEXTURES[rng.integers(len(TEXTURES))],
    }


def random_cameras(rng, walls, num_views, config=MAZES):
    """``float32 [num_views, 5]`` cameras ``x, y, 0, yaw, 0`` in free blocks (uniform over
    the free area, ``camera_margin`` from the walls), yaw uniform in ``[-pi, pi)``."""
    free = np.argwhere(~walls)
    cells = free[rng.integers(len(free), size=num_views)]
    s, m = config.block_size, config.camera_margin
    xy = -config.extent + (cells + m / s + rng.uniform(size=(num_views, 2)) * (1 - 2 * m / s)) * s
    yaw = rng.uniform(-np.pi, np.pi, size=num_views)
    zeros = np.zeros(num_views)
    return np.stack([xy[:, 0], xy[:, 1], zeros, yaw, zeros], axis=1).astype(np.float32)


def cast_rays(walls, origin, angle, config=MAZES):
    """First wall hit of rays from ``origin [..., 2]`` at ``angle [...]`` (radians).

    Returns ``(distance, hit [..., 2], side)``: the Euclidean distance, the hit
    point, and ``side`` 0 where the ray crossed a block boundary of constant x
    (a face seen along x), 1 for constant y.
    """
    n, s = walls.shape[0], 2.0 * config.extent / walls.shape[0]
    direction = np.stack([np.cos(angle), np.sin(angle)], axis=-1)
    p = (origin + config.extent) / s                         # block units
    cell = np.floor(p).astype(np.int64)
    with np.errstate(divide="ignore"):
        delta = np.where(direction == 0, np.inf, np.abs(1.0 / direction))
    step = np.where(direction >= 0, 1, -1)
    t_next = np.where(direction >= 0, cell + 1 - p, p - cell) * delta
    t = np.zeros(angle.shape)
    side = np.zeros(angle.shape, dtype=np.int64)
    active = ~walls[np.clip(cell[..., 0], 0, n - 1), np.clip(cell[..., 1], 0, n - 1)]
    for _ in range(2 * n + 2):
        if not active.any():
            break
        along_x = t_next[..., 0] < t_next[..., 1]
        axis = np.where(along_x, 0, 1)
        t = np.where(active, np.where(along_x, t_next[..., 0], t_next[..., 1]), t)
        side = np.where(active, axis, side)
        move = active[..., None] & (np.arange(2) == axis[..., None])
        cell = np.where(move, cell + step, cell)
        t_next = np.where(move, t_next + delta, t_next)
        inside = np.clip(cell, 0, n - 1)
        active &= ~walls[inside[..., 0], inside[..., 1]]
    distance = t * s
    return distance, origin + distance[..., None] * direction, side


def _region(looks, x, y):
    coordinate = x if looks["split_axis"] == 0 else y
    return (coordinate > looks["split_at"]).astype(np.int64)


def _wall_pattern(texture, u, v):
    """Brightness factor of a wall texture at face coordinates ``u`` (across the block,
    [0, 1)) and ``v`` (height, [0, 1])."""
    if texture == "bricks":
        row = np.floor(v * 5)
        mortar = (np.mod(v * 5, 1) < 0.1) | (np.mod(u * 2 + 0.5 * np.mod(row, 2), 1) < 0.06)
        return np.where(mortar, 0.7, 1.0)
    if texture == "panels":
        edge = (np.minimum(u, 1 - u) < 0.07) | (np.minimum(v, 1 - v) < 0.05)
        return np.where(edge, 0.65, np.where(np.abs(v - 0.5) < 0.03, 0.8, 1.0))
    if texture == "dots":
        du, dv = np.mod(u * 2, 1) - 0.5, np.mod(v * 3, 1) - 0.5
        return np.where(du ** 2 + dv ** 2 < 0.09, 0.72, 1.0)
    return np.where(np.mod(u * 4, 1) < 0.5, 0.85, 1.0)   # stripes


def render_views(walls, looks, cameras, config=MAZES, chunk=25):
    """``uint8 [S, size, size, 3]`` views of a maze from raw ``cameras [S, 5]``
    (``chunk`` views at a time, so the temporaries stay small)."""
    return np.concatenate([_render_chunk(walls, looks, cameras[i:i + chunk], config)
                           for i in range(0, len(cameras), chunk)])


def _render_chunk(walls, looks, cameras, config):
    size = config.image_size * config.supersample
    focal = (size / 2.0) / np.tan(np.radians(config.fov_degrees) / 2.0)
    offset = (np.arange(size) + 0.5 - size / 2.0) / focal            # right of centre
    yaw = cameras[:, 3].astype(np.float64)
    angle = yaw[:, None] - np.arctan(offset)[None, :]                  # [S, W]
    origin = np.broadcast_to(cameras[:, None, :2].astype(np.float64), angle.shape + (2,))
    distance, hit, side = cast_rays(walls, origin, angle, config)
    depth = np.maximum(distance * np.cos(angle - yaw[:, None]), 1e-6)  # along the view axis

    rows = (size / 2.0 - (np.arange(size) + 0.5))[None, :, None]       # up from the horizon
    rows = rows.astype(np.float32)
    depth = depth.astype(np.float32)
    height = config.eye_height + rows * depth[:, None, :] / focal      # [S, H, W] on the wall
    s = config.block_size
    u = np.where(side == 0, hit[..., 1], hit[..., 0]) / s
    u = np.mod(u, 1.0)[:, None, :]
    region = _region(looks, hit[..., 0] - 1e-6 * np.cos(angle), hit[..., 1] - 1e-6 * np.sin(angle))
    wall = looks["wall_colours"][region][:, None, :, :]                # [S, 1, W, 3]
    shade = np.where(side == 0, 1.0, 0.82)[:, None, :, None]
    pattern = _wall_pattern(looks["texture"], u, np.clip(height / config.wall_height, 0, 1))
    wall = wall * shade * pattern[..., None]

    # Floor: the ground point seen by each pixel below the horizon.
    below = np.maximum(-rows, 1e-6)
    floor_depth = config.eye_height * focal / below                      # [1, H, 1]
    ray = (np.stack([np.cos(angle), np.sin(angle)]) / np.cos(angle - yaw[:, None]))
    ray = ray.astype(np.float32)[:, :, None, :]                        # [2, S, 1, W]
    fx = cameras[:, 0, None, None] + floor_depth * ray[0]              # [S, H, W]
    fy = cameras[:, 1, None, None] + floor_depth * ray[1]
    tiles = np.mod(np.floor(fx / (s / 2)) + np.floor(fy / (s / 2)), 2)
    floor = looks["floor_colours"][_region(looks, fx, fy)] * (0.9 + 0.1 * tiles)[..., None]

    wall = wall.astype(np.float32)
    image = np.where((height <= config.wall_height)[..., None], wall,
                     np.asarray(config.sky, dtype=np.float32))
    image = np.where((height < 0)[..., None], floor, image)
    if config.supersample > 1:
        k = config.supersample
        image = image.reshape(len(cameras), size // k, k, size // k, k, 3).mean(axis=(2, 4))
    return np.clip(np.round(image * 255), 0, 255).astype(np.uint8)


def maze_scene(rng, config=MAZES, num_views=None):
    """One maze: ``(frames uint8 [S, 84, 84, 3], cameras float32 [S, 5])``."""
    walls = random_maze(rng, config)
    looks = maze_looks(rng)
    cameras = random_cameras(rng, walls, num_views or config.num_views, config)
    return render_views(walls, looks, cameras, config), cameras


def summarise_records(paths, max_scenes=40, every=10):
    """Camera ranges and mean colour of GQN ``mazes`` shards: ``{"scenes", "camera_min" [5],
    "camera_max" [5], "mean_colour" [3]}`` over all views' cameras and every
    ``every``-th frame of the first ``max_scenes`` records (colours in [0, 1])."""
    import io

    import tensorflow as tf
    from PIL import Image

    lows, highs, colours, scenes = [], [], [], 0
    for record in tf.data.TFRecordDataset(list(paths)).take(max_scenes):
        features = tf.train.Example.FromString(record.numpy()).features.feature
        cameras = np.asarray(features["cameras"].float_list.value).reshape(-1, 5)
        lows.append(cameras.min(axis=0))
        highs.append(cameras.max(axis=0))
        for jpeg in features["frames"].bytes_list.value[::every]:
            image = np.asarray(Image.open(io.BytesIO(jpeg)).convert("RGB"), np.float64)
            colours.append(image.reshape(-1, 3).mean(axis=0) / 255.0)
        scenes += 1
    if not scenes:
        raise ValueError(f"no mazes records in {list(paths)}")
    return {"scenes": scenes, "camera_min": np.min(lows, axis=0).tolist(),
            "camera_max": np.max(highs, axis=0).tolist(),
            "mean_colour": np.mean(colours, axis=0).tolist()}
