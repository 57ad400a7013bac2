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
listed there raises FileExistsError. It refuses as well to add rooms of
another grid size to a tree (a usage error naming the size found there): one
tree, one size, as the trainer expects. ``--overwrite`` replaces the rooms of
another size that it wrote there itself (they are removed once the new rooms
are in place); files it did not write are never removed. The rooms are
written under temporary names and appear together when all are complete;
while it writes, the tool holds ``--root`` (``data_provider/folder_lock.py``),
so a second writer is refused.

CLI::

    python data_provider/render_voxel_scenes.py --root DIR --num_scenes N --seed S \
        [--size 80 48 80] [--overwrite]
"""
import contextlib
import os
import sys

import numpy as np

from data_provider import cli, folder_lock
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
        bw = min(_span(rng, inner_w, f_lo, f_hi), inner_w)
        bd = min(_span(rng, inner_d, f_lo, f_hi), inner_d)
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


def _sizes_in(root):
    """``{shape: [relative names]}`` of the scene files under ``root`` (headers only).

    Files that are not readable ``.npy`` arrays hold no size and are left out.
    """
    sizes = {}
    if not os.path.isdir(root):
        return sizes
    for scene in sorted(os.listdir(root)):
        folder = os.path.join(root, scene)
        if not os.path.isdir(folder):
            continue
        for name in sorted(os.listdir(folder)):
            if not name.endswith(".npy"):
                continue
            try:
                shape = cli.load_npy(os.path.join(folder, name), mmap_mode="r").shape
            except cli.UsageError:
                continue
            sizes.setdefault(tuple(shape), []).append(os.path.join(scene, name))
    return sizes


def _to_stderr(line):
    print(line, file=sys.stderr, flush=True)


def _size_text(shape):
    return "x".join(map(str, shape))


def _other_sizes(root, size, created, overwrite):
    """The names of this tool's rooms of another size that ``overwrite`` replaces.

    Raises ``cli.UsageError`` when ``root`` holds rooms of another size and
    ``overwrite`` is off, or when some of them were not written by this tool.
    """
    others = {shape: names for shape, names in _sizes_in(root).items() if shape != size}
    if not others:
        return []
    found = ", ".join(f"{len(names)} of {_size_text(shape)}" for shape, names in others.items())
    example = os.path.join(root, next(iter(others.values()))[0])
    if not overwrite:
        raise cli.UsageError(
            f"--root {root} holds rooms of another size ({found}, e.g. {example}); --size "
            f"{' '.join(map(str, size))} would mix grid sizes in one tree: choose another "
            "--root, or pass --overwrite to replace the rooms written there before")
    foreign = [name for names in others.values() for name in names if name not in created]
    if foreign:
        raise cli.UsageError(
            f"--overwrite: {os.path.join(root, foreign[0])} (another size) was not written by "
            "render_voxel_scenes and is never removed; choose another --root")
    return [name for names in others.values() for name in names]


def _write_manifest(root, names):
    with cli.atomic_write(os.path.join(root, MANIFEST)) as f:
        f.writelines(name + "\n" for name in sorted(names))


def render_rooms(root, num_scenes, seed=0, size=(80, 48, 80), log=None, overwrite=False):
    """Write ``num_scenes`` synthetic rooms under ``root``; returns their paths.

    Names: ``<root>/synth<seed>_<k>/rm<j>.npy`` with four rooms per scene
    directory. Raises FileExistsError for an existing file this tool did not
    write (it is never overwritten), ``cli.UsageError`` (a ``ValueError``) for
    a bad count or size and for rooms of another size under ``root`` (unless
    ``overwrite``: then the ones this tool wrote are removed once the new
    rooms are in place), ``folder_lock.FolderBusyError`` while another process
    writes ``root``; all before anything is written. Progress lines go to
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
    with folder_lock.hold(root, "--root", "render_voxel_scenes.py", log=log):
        return _render_rooms(root, int(num_scenes), seed, size, log, overwrite)


def _render_rooms(root, num_scenes, seed, size, log, overwrite):
    rng = np.random.default_rng(seed)
    names = [os.path.join(f"synth{seed:03d}_{i // ROOMS_PER_SCENE:05d}",
                          f"rm{i % ROOMS_PER_SCENE:02d}.npy") for i in range(num_scenes)]
    created = _read_manifest(root)
    for name in names:
        path = os.path.join(root, name)
        if os.path.exists(path) and name not in created:
            raise FileExistsError(f"{path} exists and was not written by render_voxel_scenes; "
                                  "refusing to overwrite it (choose another --root or --seed)")
    replaced = [name for name in _other_sizes(root, size, created, overwrite)
                if name not in names]
    paths = []
    progress = Progress("render_voxel_scenes", len(names), "rooms", log=log)
    with cli.OutputSet(root) as outputs:
        for done, name in enumerate(names, 1):
            paths.append(outputs.save_npy(name, make_room(rng, size)))
            progress.update(done)
        _write_manifest(root, created | set(names))  # before the rooms appear
    for name in replaced:  # the rooms of another size, once the new ones are in place
        os.remove(os.path.join(root, name))
        with contextlib.suppress(OSError):  # its scene folder, when that was its last room
            os.rmdir(os.path.dirname(os.path.join(root, name)))
    if replaced:
        _write_manifest(root, (created | set(names)) - set(replaced))
        (log or _to_stderr)(f"removed {len(replaced)} rooms of another size written before "
                            f"under {root}")
    return paths


def build_parser():
    parser = cli.ArgumentParser(prog="render_voxel_scenes.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", required=True, help="output voxel root")
    parser.add_argument("--num_scenes", type=int, required=True, help="number of rooms to write")
    parser.add_argument("--seed", type=int, default=0, help="random seed (names carry it too)")
    parser.add_argument("--size", type=int, nargs=3, default=[80, 48, 80], metavar=("X", "Y", "Z"),
                        help="grid size, middle axis the height")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the rooms of another size this tool wrote under --root "
                             "(without it, a tree of another size is refused)")
    return parser


def run(args):
    paths = render_rooms(args.root, args.num_scenes, args.seed, args.size,
                         overwrite=args.overwrite)
    print(f"wrote {len(paths)} rooms under {args.root}")
    return paths


def main(argv=None):
    """Command line: returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    return cli.run_main("render_voxel_scenes.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
