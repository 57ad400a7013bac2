"""Synthetic voxel rooms in the FCR-alphaGAN layout, for demos and tests.

Writes ``<root>/<sceneId>/<modelId>.npy`` (uint8 labels, shape ``size``,
middle axis the height), four rooms per scene directory. Each room is a box
inside the grid with

- a floor (2) at a low height and a ceiling (1) above it,
- four walls (3) around it, each with 0..2 windows (4) cut into it,
- 4..10 furniture boxes standing on the floor, of the object classes chair (5),
  bed (6), sofa (7), table (8), tvs (9), furn (10), objs (11), each class
  with its own footprint and height relative to the room.

Outside the room and inside it between the objects the grid is empty (0).
At the original size 80x48x80 about 92 % of the voxels are empty on average,
as in the original SUNCG-derived dataset; on small grids the one-voxel shell
is a larger share of the volume, so they are fuller.

The generator refuses to overwrite a file it did not create: every file it
writes is recorded in ``<root>/.rendered_voxel_scenes``; an existing file not
listed there raises FileExistsError. The rooms are written under temporary
names and appear together when all are complete.

CLI::

    python data_provider/render_voxel_scenes.py --root DIR --num_scenes N --seed S [--size 80 48 80]
"""
import os
import sys

import numpy as np

from data_provider import cli
from data_provider.progress import Progress

MANIFEST = ".rendered_voxel_scenes"
ROOMS_PER_SCENE = 4
# class: (footprint fraction of the room side (min, max), height fraction of the room (min, max))
FURNITURE = {
    5: ((0.06, 0.10), (0.20, 0.28)),   # chair
    6: ((0.28, 0.38), (0.14, 0.20)),   # bed
    7: ((0.15, 0.35), (0.15, 0.22)),   # sofa
    8: ((0.12, 0.22), (0.20, 0.26)),   # table
    9: ((0.06, 0.12), (0.10, 0.16)),   # tvs
    10: ((0.12, 0.28), (0.35, 0.65)),  # furn (cupboards, shelves)
    11: ((0.03, 0.08), (0.04, 0.10)),  # objs
}


def _span(rng, n, lo_frac, hi_frac):
    """Random extent of at least one voxel, ``lo_frac..hi_frac`` of ``n``."""
    return max(1, int(round(n * rng.uniform(lo_frac, hi_frac))))


def make_room(rng, size=(80, 48, 80)):
    """One synthetic room: uint8 labels of shape ``size`` (see the module docstring)."""
    sx, sy, sz = (int(s) for s in size)
    if min(sx, sy, sz) < 4:
        raise ValueError(f"size must be at least 4 voxels per axis, got {tuple(size)}")
    vox = np.zeros((sx, sy, sz), np.uint8)
    # room box: x0..x1, z0..z1 inclusive walls, floor y0, ceiling y1
    w, d = _span(rng, sx, 0.6, 0.95), _span(rng, sz, 0.6, 0.95)
    w, d = max(w, 4), max(d, 4)
    x0, z0 = rng.integers(0, sx - w + 1), rng.integers(0, sz - d + 1)
    x1, z1 = x0 + w - 1, z0 + d - 1
    y0 = rng.integers(0, max(1, sy // 12) + 1)
    y1 = min(sy - 1, y0 + max(3, _span(rng, sy, 0.6, 0.8)))
    vox[x0:x1 + 1, y0, z0:z1 + 1] = 2
    vox[x0:x1 + 1, y1, z0:z1 + 1] = 1
    walls = [(slice(x0, x1 + 1), slice(z0, z0 + 1)), (slice(x0, x1 + 1), slice(z1, z1 + 1)),
             (slice(x0, x0 + 1), slice(z0, z1 + 1)), (slice(x1, x1 + 1), slice(z0, z1 + 1))]
    for ws_x, ws_z in walls:
        vox[ws_x, y0 + 1:y1, ws_z] = 3
    height = y1 - y0 - 1
    for ws_x, ws_z in walls:
        for _ in range(rng.integers(0, 3)):
            along_x = ws_x.stop - ws_x.start > 1
            n = (x1 - x0 - 1) if along_x else (z1 - z0 - 1)
            if n < 3 or height < 3:
                continue
            ww, wh = _span(rng, n, 0.15, 0.3), _span(rng, height, 0.25, 0.45)
            a = rng.integers(1, n - ww + 2)
            b = y0 + 1 + rng.integers(max(1, height // 4), max(2, height - wh) + 1)
            b = min(b, y1 - 1)
            if along_x:
                vox[x0 + a:x0 + a + ww, b:min(b + wh, y1), ws_z] = 4
            else:
                vox[ws_x, b:min(b + wh, y1), z0 + a:z0 + a + ww] = 4
    inner_w, inner_d = x1 - x0 - 1, z1 - z0 - 1
    for _ in range(rng.integers(4, 11)):
        cls = int(rng.choice(list(FURNITURE)))
        (f_lo, f_hi), (h_lo, h_hi) = FURNITURE[cls]
        bw, bd = min(_span(rng, inner_w, f_lo, f_hi), inner_w), min(_span(rng, inner_d, f_lo, f_hi), inner_d)
        bh = min(_span(rng, height, h_lo, h_hi), height)
        bx = x0 + 1 + rng.integers(0, inner_w - bw + 1)
        bz = z0 + 1 + rng.integers(0, inner_d - bd + 1)
        vox[bx:bx + bw, y0 + 1:y0 + 1 + bh, bz:bz + bd] = cls
    return vox


def _read_manifest(root):
    path = os.path.join(root, MANIFEST)
    if not os.path.isfile(path):
        return set()
    with open(path) as f:
        return {line.strip() for line in f if line.strip()}


def render_rooms(root, num_scenes, seed=0, size=(80, 48, 80), log=None):
    """Write ``num_scenes`` synthetic rooms under ``root``; returns their paths.

    Names: ``<root>/synth<seed>_<k>/rm<j>.npy`` with four rooms per scene
    directory. Raises FileExistsError for an existing file this tool did not
    write (it is never overwritten), ``cli.UsageError`` (a ``ValueError``) for
    a bad count or size, both before anything is written. Progress lines go to
    ``log`` (default: stderr).
    """
    root = os.fspath(root)
    if int(num_scenes) < 0:
        raise cli.UsageError(f"--num_scenes must be >= 0, got {num_scenes}")
    size = tuple(int(s) for s in size)
    if len(size) != 3:
        raise cli.UsageError(f"--size must be three integers X Y Z, got {size}")
    if min(size) < 4:
        raise cli.UsageError(f"--size must be at least 4 voxels per axis, got {size}")
    if os.path.exists(root) and not os.path.isdir(root):
        raise cli.UsageError(f"--root {root} exists and is not a directory")
    rng = np.random.default_rng(seed)
    names = [os.path.join(f"synth{seed:03d}_{i // ROOMS_PER_SCENE:05d}",
                          f"rm{i % ROOMS_PER_SCENE:02d}.npy") for i in range(int(num_scenes))]
    created = _read_manifest(root)
    for name in names:
        path = os.path.join(root, name)
        if os.path.exists(path) and name not in created:
            raise FileExistsError(f"{path} exists and was not written by render_voxel_scenes; "
                                  "refusing to overwrite it (choose another --root or --seed)")
    os.makedirs(root, exist_ok=True)
    paths = []
    progress = Progress("render_voxel_scenes", len(names), "rooms", log=log)
    with cli.OutputSet(root) as outputs:
        for done, name in enumerate(names, 1):
            paths.append(outputs.save_npy(name, make_room(rng, size)))
            progress.update(done)
        with open(os.path.join(root, MANIFEST), "a") as manifest:  # before the rooms appear
            manifest.writelines(name + "\n" for name in names if name not in created)
    return paths


def build_parser():
    parser = cli.ArgumentParser(prog="render_voxel_scenes.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="output voxel root")
    parser.add_argument("--num_scenes", type=int, required=True, help="number of rooms to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (names carry it too)")
    parser.add_argument("--size", type=int, nargs=3, default=[80, 48, 80], metavar=("X", "Y", "Z"),
                        help="grid size, middle axis the height")
    return parser


def run(args):
    paths = render_rooms(args.root, args.num_scenes, args.seed, args.size)
    print(f"wrote {len(paths)} rooms under {args.root}")
    return paths


def main(argv=None):
    """Command line: returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    return cli.run_main("render_voxel_scenes.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
