"""Scene generators of the rendered stand-ins for three GQN datasets.

Each generator takes a ``numpy.random.Generator`` and returns one scene in the
GQN record layout: ``frames`` ``uint8 [S, 64, 64, 3]`` and ``cameras``
``float32 [S, 5]`` (``x, y, z, yaw, pitch``, radians; the world convention of
``data_provider.scene_renderer``: ``z`` up, yaw from ``+x`` towards ``+y``,
pitch positive looking up).

``rooms_ring_camera`` (10 views): a square 7 x 7 room (floor at ``z = 0``,
centred on the origin, four walls), wall colour from 5 and floor colour from
3 fixed options, 1 to 3 objects of random shape (sphere, box, cylinder, cone),
colour, position and rotation about the vertical axis, resting on the floor;
the camera sits on a fixed ring (radius ``ring_radius``, height
``camera_height``) at a random angle per view and looks at the room centre.

``shepard_metzler_5_parts`` / ``_7_parts`` (15 views): 5 or 7 unit cubes
placed by a self-avoiding random walk on the integer lattice, centred on the
origin, each with a random colour; the camera is at a fixed ``distance`` from
the origin at a random azimuth and elevation and looks at the origin.

The constants are plain data (``RoomsConfig``, ``ShepardMetzlerConfig``).
"""
import colorsys
import dataclasses
import functools

import numpy as np

from data_provider import scene_renderer as sr

OBJECT_KINDS = ("sphere", "box", "cylinder", "cone")
WALL_COLOURS = ((0.80, 0.75, 0.65), (0.55, 0.70, 0.85), (0.85, 0.55, 0.55),
                (0.60, 0.80, 0.60), (0.75, 0.65, 0.85))
FLOOR_COLOURS = ((0.45, 0.40, 0.35), (0.60, 0.60, 0.60), (0.35, 0.45, 0.55))


@dataclasses.dataclass(frozen=True)
class RoomsConfig:
    """Constants of the rooms_ring_camera stand-in (lengths in world units)."""

    num_views: int = 10
    image_size: int = 64
    room_size: float = 7.0
    wall_height: float = 4.0
    min_objects: int = 1
    max_objects: int = 3
    object_size: tuple = (0.35, 0.6)       # half-extent range
    object_area_radius: float = 1.6        # object centres lie in this disc
    ring_radius: float = 3.0
    camera_height: float = 1.2
    look_at_height: float = 0.4
    fov_degrees: float = 60.0
    light_dir: tuple = (0.4, 0.3, 1.0)
    ambient: float = 0.35
    background: tuple = (0.0, 0.0, 0.0)
    supersample: int = 2


@dataclasses.dataclass(frozen=True)
class ShepardMetzlerConfig:
    """Constants of the Shepard-Metzler stand-ins."""

    num_views: int = 15
    image_size: int = 64
    distance: float = 5.5
    elevation_range: tuple = (-np.pi / 3, np.pi / 3)
    fov_degrees: float = 50.0
    light_dir: tuple = (0.5, 0.3, 1.0)
    ambient: float = 0.4
    background: tuple = (0.0, 0.0, 0.0)
    supersample: int = 2


ROOMS = RoomsConfig()
SHEPARD_METZLER = ShepardMetzlerConfig()


def random_colour(rng, saturation=(0.5, 1.0), value=(0.6, 1.0)):
    """A saturated random RGB colour (uniform hue)."""
    return colorsys.hsv_to_rgb(rng.uniform(), rng.uniform(*saturation), rng.uniform(*value))


def room_walls(wall_colour, floor_colour, config=ROOMS):
    """Floor and four inward-visible walls of the square room as quads."""
    half, height = config.room_size / 2.0, config.wall_height / 2.0
    floor = sr.Primitive("quad", floor_colour, (0.0, 0.0, 0.0), 0.0, (half, half, 1.0))
    # A wall is a quad turned upright (local z -> horizontal normal) and yawed.
    upright = sr.rotation_euler(np.pi / 2, 0.0, 0.0)
    walls = []
    for k in range(4):
        yaw = k * np.pi / 2
        centre = (half * np.cos(yaw - np.pi / 2), half * np.sin(yaw - np.pi / 2), height)
        walls.append(sr.Primitive("quad", wall_colour, centre, sr.rotation_z(yaw) @ upright,
                                  (half, height, 1.0)))
    return [floor] + walls


def sample_room_objects(rng, config=ROOMS):
    """1 to 3 non-overlapping objects resting on the floor."""
    count = rng.integers(config.min_objects, config.max_objects + 1)
    objects, placed = [], []
    while len(objects) < count:
        size = rng.uniform(*config.object_size)
        radius = config.object_area_radius * np.sqrt(rng.uniform())
        angle = rng.uniform(-np.pi, np.pi)
        xy = np.array([radius * np.cos(angle), radius * np.sin(angle)])
        # Bounding circles (half-diagonal of a box) must not overlap; retry.
        reach = size * np.sqrt(2.0)
        if any(np.linalg.norm(xy - q) < reach + r for q, r in placed):
            continue
        placed.append((xy, reach))
        kind = OBJECT_KINDS[rng.integers(len(OBJECT_KINDS))]
        objects.append(sr.Primitive(kind, random_colour(rng), (xy[0], xy[1], size),
                                    rng.uniform(-np.pi, np.pi), size))
    return objects


def ring_cameras(rng, config=ROOMS):
    """``[S, 5]`` cameras on the ring at random angles, facing the centre."""
    angles = rng.uniform(-np.pi, np.pi, config.num_views)
    cameras = []
    for angle in angles:
        position = (config.ring_radius * np.cos(angle), config.ring_radius * np.sin(angle),
                    config.camera_height)
        yaw, pitch = sr.look_at(position, (0.0, 0.0, config.look_at_height))
        cameras.append([*position, yaw, pitch])
    return np.asarray(cameras, dtype=np.float32)


def self_avoiding_walk(rng, num_parts):
    """``[num_parts, 3]`` integer lattice cells, each a neighbour of the previous
    one, none repeated (restarts when the walk traps itself)."""
    steps = np.concatenate([np.eye(3, dtype=int), -np.eye(3, dtype=int)])
    while True:
        cells = [np.zeros(3, dtype=int)]
        occupied = {(0, 0, 0)}
        while len(cells) < num_parts:
            free = [cells[-1] + s for s in steps if tuple(cells[-1] + s) not in occupied]
            if not free:
                break
            cell = free[rng.integers(len(free))]
            cells.append(cell)
            occupied.add(tuple(cell))
        if len(cells) == num_parts:
            return np.asarray(cells)


def shepard_metzler_object(rng, num_parts):
    """Unit cubes on a self-avoiding walk, centred on the origin, random colours."""
    cells = self_avoiding_walk(rng, num_parts).astype(np.float64)
    cells -= cells.mean(axis=0)
    return [sr.Primitive("box", random_colour(rng), cell, 0.0, 0.5) for cell in cells]


def orbit_cameras(rng, config=SHEPARD_METZLER):
    """``[S, 5]`` cameras at ``config.distance`` from the origin, facing it."""
    cameras = []
    for _ in range(config.num_views):
        azimuth = rng.uniform(-np.pi, np.pi)
        elevation = rng.uniform(*config.elevation_range)
        position = config.distance * np.array(
            [np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth),
             np.sin(elevation)])
        yaw, pitch = sr.look_at(position, (0.0, 0.0, 0.0))
        cameras.append([*position, yaw, pitch])
    return np.asarray(cameras, dtype=np.float32)


def render_views(primitives, cameras, config):
    """``uint8 [S, H, W, 3]`` views of ``primitives`` from raw ``cameras [S, 5]``."""
    size = config.image_size
    frames = [
        sr.to_uint8(sr.render(primitives, sr.PerspectiveCamera.from_raw(raw, config.fov_degrees),
                              size, size, config.light_dir, config.ambient, config.background,
                              config.supersample))
        for raw in cameras
    ]
    return np.stack(frames)


def rooms_ring_camera_scene(rng, config=ROOMS):
    """One rooms_ring_camera scene: ``(frames uint8 [10,64,64,3], cameras float32 [10,5])``."""
    wall = WALL_COLOURS[rng.integers(len(WALL_COLOURS))]
    floor = FLOOR_COLOURS[rng.integers(len(FLOOR_COLOURS))]
    primitives = room_walls(wall, floor, config) + sample_room_objects(rng, config)
    cameras = ring_cameras(rng, config)
    return render_views(primitives, cameras, config), cameras


def shepard_metzler_scene(rng, num_parts, config=SHEPARD_METZLER):
    """One Shepard-Metzler scene: ``(frames uint8 [15,64,64,3], cameras float32 [15,5])``."""
    primitives = shepard_metzler_object(rng, num_parts)
    cameras = orbit_cameras(rng, config)
    return render_views(primitives, cameras, config), cameras


SCENE_GENERATORS = {
    "rooms_ring_camera": rooms_ring_camera_scene,
    "shepard_metzler_5_parts": functools.partial(shepard_metzler_scene, num_parts=5),
    "shepard_metzler_7_parts": functools.partial(shepard_metzler_scene, num_parts=7),
}


def generate_scene(dataset, rng):
    """One scene of the stand-in for ``dataset`` (a key of ``SCENE_GENERATORS``)."""
    try:
        generator = SCENE_GENERATORS[dataset]
    except KeyError:
        raise ValueError(
            f"no rendered stand-in for dataset {dataset!r}; expected one of: "
            f"{', '.join(SCENE_GENERATORS)}") from None
    return generator(rng)
