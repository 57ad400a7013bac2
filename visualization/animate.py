"""Interpolation and latent-noise outputs as animated GIFs.

    python visualization/animate.py PATH [PATH ...] [-o OUT.gif] [--size 256]
        [--duration 120] [--view iso|top|front] [-t 0.1] [-u 0.9]

A PATH is either one ``[T, X, Y, Z]`` label file or a directory, in which case
every ``interpolation{l}-{r}.npy`` (30 steps from scene l to scene r) and
``noise{b}_{c}{l}{d}.npy`` (10 variants: the base code, then 9 noise vectors
added at latent position c, l, d) written by ``evaluation/run.py`` is
animated; the code files ``*_z*.npy`` are skipped. Each file becomes a GIF
beside it with the same name (``interpolation0-1.gif``), one frame per step,
the step number printed in the corner, looping forever. Every input is
checked before anything is drawn; each GIF is written under a temporary name
and renamed into place when complete.
"""
import glob
import os
import re
import sys

import numpy as np

from data_provider import cli, images
from data_provider.progress import Progress
from visualization.render_process import open_renderer
from visualization.voxel_render import VIEWS
from visualization.voxel_scene import VoxelInputError
from visualization.voxviz import check_output_folder, load_scenes, render_image

ANIMATED = re.compile(r"^(interpolation\d+-\d+|noise\d+_\d+)\.npy$")


def animation_files(directory):
    """The interpolation and noise volume files in ``directory``, sorted."""
    names = sorted(os.path.basename(p) for p in glob.glob(os.path.join(directory, "*.npy")))
    return [os.path.join(directory, n) for n in names if ANIMATED.match(n)]


def animate_file(path, out_gif=None, size=256, view="iso", duration=120, renderer=None, **style):
    """Render every step of a ``[T, X, Y, Z]`` file into a GIF (default: beside it, ``.gif``).

    With TensorFlow loaded the frames are drawn in a TensorFlow-free child
    process (``render_process``); import TensorFlow before rendering, never after.
    """
    scenes, has_classes = load_scenes(path)
    out_gif = out_gif or os.fspath(path)[:-4] + ".gif"
    own = renderer is None
    renderer = renderer or open_renderer(size)
    try:
        count = scenes.shape[0]
        frames = [images.caption(render_image(np.asarray(scenes[t]), has_classes, view, size,
                                       renderer=renderer, **style), f"{t + 1}/{count}")
                  for t in range(count)]
    finally:
        if own:
            renderer.close()
    return images.write_gif(frames, out_gif, duration)


def animate_paths(paths, out_gif=None, size=256, view="iso", duration=120, log=None, **style):
    """Animate files and directories (see module doc); returns the GIF names.

    Progress lines go to ``log`` (default: stderr).
    """
    if duration <= 0:
        raise VoxelInputError(f"--duration: expected a positive number of ms, got {duration}")
    if size < 16:
        raise VoxelInputError(f"--size: expected at least 16 pixels, got {size}")
    files = []
    for path in paths:
        if os.path.isdir(path):
            found = animation_files(path)
            if not found:
                raise VoxelInputError(f"{path}: no interpolation*.npy or noise*.npy files")
            files += found
        else:
            files.append(path)
    if out_gif and len(files) != 1:
        raise VoxelInputError(f"-o/--out: needs exactly one input file, got {len(files)}")
    for path in files:  # check every input before rendering anything
        load_scenes(path)
    if out_gif:
        check_output_folder(out_gif, "-o/--out")
    written = []
    progress = Progress("animate", len(files), "files", log=log)
    renderer = open_renderer(size)
    try:
        for n, path in enumerate(files, 1):
            written.append(animate_file(path, out_gif, size, view, duration, renderer, **style))
            progress.update(n, f"-> {written[-1]}")
    finally:
        renderer.close()
    return written


def build_parser():
    p = cli.ArgumentParser(prog="animate.py", description=__doc__.splitlines()[0])
    p.add_argument("paths", nargs="+", help="[T,X,Y,Z] .npy files or evaluation directories")
    p.add_argument("-o", "--out", default=None, help="output GIF (only with one input file)")
    p.add_argument("--size", type=int, default=256, help="pixels per frame")
    p.add_argument("--duration", type=int, default=120, help="milliseconds per frame")
    p.add_argument("--view", choices=VIEWS, default="iso", help="camera (see voxviz.py --help)")
    p.add_argument("-t", "--threshold", type=float, default=0.1,
                   help="voxels below this value (or class probability) are not drawn")
    p.add_argument("-u", "--uniform-size", type=float, default=0.9, help="cube side")
    return p


def run(args):
    if args.uniform_size <= 0:
        raise VoxelInputError(
            f"-u/--uniform-size: expected a positive size, got {args.uniform_size}")
    written = animate_paths(args.paths, args.out, args.size, args.view, args.duration,
                            threshold=args.threshold, uniform_size=args.uniform_size)
    print(f"[animate] wrote {written[0]}" if len(written) == 1 else
          f"[animate] wrote {len(written)} GIFs: {written[0]} .. {written[-1]}")
    return written


def main(argv=None):
    """Command line: returns the exit code (0 done, 1 rendering failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return cli.run_main("animate.py", run, args, failure_types=(RuntimeError,))


if __name__ == "__main__":
    sys.exit(main())
