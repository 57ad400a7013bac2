"""Cost of checking every voxel file before FCR-alphaGAN trains, two ways side by side.

Converts the real SSCNet scene (``../shared/data/sscnet/NYU0001_0000.bin``, or
``$GEN3D_SHARED_DATA/sscnet/...``, or
synthetic rooms with ``--synthetic``) to an 80x48x80 voxel scene, writes
``--num_files`` copies of it as uint8 and as int64 files, and times over the
whole tree

- ``check``: ``voxel_provider.check_files`` (one open and one read per file:
  header, length, one unsigned-max pass over the labels), what the trainer
  runs before it writes anything;
- ``load``: ``voxel_provider.load_scene`` per file (``np.load`` into memory,
  then the label check), the per-file validation the input pipeline does.

Files are read once before timing, so both run from the page cache (the
steady state; a first read from disk costs what the first epoch pays anyway).
Prints files/s and milliseconds per file (= seconds per 1,000 scenes).

    python benchmarks/voxel_check.py [--num_files 400] [--rounds 3] [--synthetic]
"""
import argparse
import os
import pathlib
import shutil
import tempfile
import time

import numpy as np

from data_provider import cli, render_voxel_scenes, sscnet_to_voxels

SHARED = pathlib.Path(os.environ.get(
    "GEN3D_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))


def scene(synthetic):
    """One 80x48x80 uint8 scene: the real NYU0001 volume, or a synthetic room."""
    path = SHARED / "sscnet" / "NYU0001_0000.bin"
    if not synthetic and path.is_file():
        return sscnet_to_voxels.convert_file(path), f"real {path.name}"
    return render_voxel_scenes.make_room(np.random.default_rng(0)), "synthetic room"


def write_tree(root, vox, num_files, per_scene=4):
    for i in range(num_files):
        folder = os.path.join(root, f"s{i // per_scene:05d}")
        os.makedirs(folder, exist_ok=True)
        np.save(os.path.join(folder, f"m{i % per_scene}.npy"), vox)


def timed(fn, rounds):
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--num_files", type=int, default=400)
    p.add_argument("--rounds", type=int, default=3, help="best of this many passes")
    p.add_argument("--synthetic", action="store_true", help="a synthetic room, not the real scene")
    args = p.parse_args()
    cli.quiet_tensorflow()  # before voxel_provider imports it
    from data_provider import voxel_provider

    vox, source = scene(args.synthetic)
    print(f"scene: {source}, {vox.shape}, {np.count_nonzero(vox)} occupied voxels")
    work = tempfile.mkdtemp(prefix="voxel_check_")
    try:
        for dtype in ("uint8", "int64"):
            root = os.path.join(work, dtype)
            write_tree(root, vox.astype(dtype), args.num_files)
            pairs = voxel_provider.list_pairs(root)
            paths = [voxel_provider.voxel_path(root, *pair) for pair in pairs]
            for path in paths:  # into the page cache
                with open(path, "rb") as f:
                    while f.read(1 << 20):
                        pass
            check = timed(lambda root=root, pairs=pairs: voxel_provider.check_files(
                root, pairs, log=lambda line: None), args.rounds)
            load = timed(lambda paths=paths: [voxel_provider.load_scene(p) for p in paths],
                         args.rounds)
            size = os.path.getsize(paths[0]) / 1e6
            for name, seconds in (("check", check), ("load", load)):
                n = len(paths)
                print(f"{dtype:6s} {size:5.2f} MB/file  {name:5s}  {n / seconds:8.0f} files/s  "
                      f"{1e3 * seconds / n:6.3f} ms/file (= s per 1,000 scenes)")
            print(f"{dtype:6s} check is {load / check:.1f}x faster than load")
            shutil.rmtree(root)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
