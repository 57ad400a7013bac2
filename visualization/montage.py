"""Real, reconstructed and refined scenes side by side in one labelled PNG.

    python visualization/montage.py [EVAL_DIR] [-n 4] [--first 1] [-o OUT.png]
        [--files real.npy recons.npy recons_refine.npy] [--labels real reconstructed refined]
        [--size 256] [--view iso|top|front] [-t 0.1] [-u 0.9]

Reads the ``[N, X, Y, Z]`` label files that ``evaluation/run.py --mode
evaluate_recons`` writes into ``EVAL_DIR`` (default ``./eval``) and draws
scenes ``first .. first+n-1`` (one-based, like ``voxviz.py -i``) as rows, one
column per file, with the column names on top and the scene numbers on the
left. Output: ``EVAL_DIR/montage.png`` unless ``-o`` is given. Every input is
checked before anything is drawn; the picture is written under a temporary
name and renamed into place when complete.
"""
import os
import sys

import numpy as np

from data_provider import cli, images
from data_provider.progress import Progress
from visualization.render_process import open_renderer
from visualization.voxel_render import VIEWS
from visualization.voxel_scene import VoxelInputError
from visualization.voxviz import check_output_folder, load_scenes, render_image

DEFAULT_FILES = ("real.npy", "recons.npy", "recons_refine.npy")
DEFAULT_LABELS = ("real", "reconstructed", "refined")


def montage(paths, labels, out_png, n=4, first=1, size=256, view="iso", log=None, **style):
    """Render scenes ``first..first+n-1`` of every file in ``paths`` into one PNG; returns
    ``out_png``.

    Progress lines go to ``log`` (default: stderr). With TensorFlow loaded the
    pictures are drawn in a TensorFlow-free child process (``render_process``);
    import TensorFlow before rendering, never after.
    """
    if len(labels) != len(paths):
        raise VoxelInputError(
            f"--labels: expected {len(paths)} names (one per file), got {len(labels)}")
    if n < 1 or first < 1:
        raise VoxelInputError(f"-n and --first: expected positive numbers, got {n} and {first}")
    if size < 16:
        raise VoxelInputError(f"--size: expected at least 16 pixels, got {size}")
    volumes = [load_scenes(p) for p in paths]
    for path, (scenes, _) in zip(paths, volumes):
        if first + n - 1 > scenes.shape[0]:
            raise VoxelInputError(
                f"{path}: holds {scenes.shape[0]} scenes, "
                f"scenes {first}..{first + n - 1} requested")
    check_output_folder(out_png, "-o/--out")
    progress = Progress("montage", n, "scenes", log=log)
    renderer = open_renderer(size)
    try:
        grid = []
        for index in range(first - 1, first - 1 + n):
            grid.append([render_image(np.asarray(scenes[index]), has_classes, view, size,
                                      renderer=renderer, **style)
                         for scenes, has_classes in volumes])
            progress.update(len(grid), f"scene {index + 1}")
    finally:
        renderer.close()
    rows = [str(i) for i in range(first, first + n)]
    return images.save_png(images.labelled_grid(grid, labels, rows), out_png)


def build_parser():
    p = cli.ArgumentParser(prog="montage.py", description=__doc__.splitlines()[0])
    p.add_argument("eval_dir", nargs="?", default="./eval", help="directory with the .npy files")
    p.add_argument("-n", type=int, default=4, help="number of scenes (rows)")
    p.add_argument("--first", type=int, default=1, help="one-based index of the first scene")
    p.add_argument("-o", "--out", default=None, help="output PNG [EVAL_DIR/montage.png]")
    p.add_argument("--files", nargs="+", default=list(DEFAULT_FILES), help="files, one column each")
    p.add_argument("--labels", nargs="+", default=None,
                   help="column names [real reconstructed refined, or the file names]")
    p.add_argument("--size", type=int, default=256, help="pixels per picture")
    p.add_argument("--view", choices=VIEWS, default="iso", help="camera (see voxviz.py --help)")
    p.add_argument("-t", "--threshold", type=float, default=0.1,
                   help="voxels below this value (or class probability) are not drawn")
    p.add_argument("-u", "--uniform-size", type=float, default=0.9, help="cube side")
    return p


def run(args):
    labels = args.labels or (list(DEFAULT_LABELS) if args.files == list(DEFAULT_FILES)
                             else [os.path.basename(f)[:-4] for f in args.files])
    paths = [f if os.path.isabs(f) else os.path.join(args.eval_dir, f) for f in args.files]
    if args.uniform_size <= 0:
        raise VoxelInputError(
            f"-u/--uniform-size: expected a positive size, got {args.uniform_size}")
    out = args.out or os.path.join(args.eval_dir, "montage.png")
    montage(paths, labels, out, args.n, args.first, args.size, args.view,
            threshold=args.threshold, uniform_size=args.uniform_size)
    print(f"[montage] wrote {out}")
    return out


def main(argv=None):
    """Command line: returns the exit code (0 done, 1 rendering failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return cli.run_main("montage.py", run, args, failure_types=(RuntimeError,))


if __name__ == "__main__":
    sys.exit(main())
