"""View voxel scenes (``real.npy``, ``recons.npy`` ...) with VTK, or save them as PNG.

    python visualization/voxviz.py FILE.npy [-i INDEX] [-t THRESHOLD] [-df FACTOR]
        [-dm max|mean] [-u SIZE] [-cm] [-mc DISTANCE] [-sc SCREENFILE] [--all]
        [--view iso|top|front] [--size PIXELS]

Flags and defaults of 3D-FCR-alphaGAN ``eval/visualize.py`` and
``eval/screenshot.py``: ``-i 1`` (one-based scene index), ``-t 0.1``,
``-df 1``, ``-dm max``, ``-u 0.9``, ``-cm`` off, ``-mc 0`` off; ``-sc NAME``
saves ``NAME.png`` (``.png`` is appended unless already there) instead of
opening a window. ``--all`` does what ``screenshot.py`` did: every scene ``i``
(zero-based, as there) to ``FILE_<i>.png`` beside ``FILE.npy`` (with ``-sc``,
``SCREENFILE_<i>.png``). Without a display the single-scene picture is saved
as ``FILE_<INDEX-1>.png``, rendered offscreen through OSMesa.

Palette, camera and array layouts: see ``visualization/voxel_scene.py`` and
``visualization/voxel_render.py``. All voxels are drawn as one actor.
"""
import argparse
import os
import sys
import time

import numpy as np

from visualization import vtk_env
from visualization.render_process import open_renderer
from visualization.voxel_render import VIEWS, WINDOW_SIZE, VoxelRenderer
from visualization.voxel_scene import VoxelInputError, as_scenes, scene_points


def load_scenes(path):
    """Load ``path`` (a ``.npy`` file) as ``(scenes, has_classes)``; see ``as_scenes``."""
    path = os.fspath(path)
    if not path.endswith(".npy"):
        raise VoxelInputError(f"{path}: expected a .npy file")
    if not os.path.isfile(path):
        raise VoxelInputError(f"{path}: no such file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as err:
        raise VoxelInputError(f"{path}: not a readable .npy array ({err})") from None
    return as_scenes(array, name=path)


def pick_scene(scenes, index, name="file"):
    """The scene at one-based ``index`` (the original's ``-i``), as an in-memory array."""
    count = scenes.shape[0]
    if not 1 <= index <= count:
        raise VoxelInputError(f"{name}: index {index} out of range: expected 1..{count} (-i is one-based)")
    return np.asarray(scenes[index - 1])


def screen_name(screenfile):
    """The original's ``-sc`` naming: ``NAME`` -> ``NAME.png`` (kept as is when it ends in .png)."""
    return screenfile if screenfile.lower().endswith(".png") else screenfile + ".png"


def render_image(scene, has_classes=False, view="iso", size=WINDOW_SIZE, threshold=0.1,
                 uniform_size=0.9, colormap=False, downsample_factor=1,
                 downsample_method="max", max_component=0, renderer=None):
    """Render one scene offscreen; returns uint8 ``[size, size, 3]``.

    ``scene`` is ``[X, Y, Z]`` labels/values or ``[X, Y, Z, C]`` probabilities
    (set ``has_classes``). Pass a renderer from
    ``render_process.open_renderer`` (or a ``VoxelRenderer``) to reuse it for
    many pictures. When TensorFlow is already imported the picture is drawn in
    a TensorFlow-free child process (OSMesa crashes next to TensorFlow; see
    ``visualization/vtk_env.py``); importing TensorFlow after rendering in the
    same process is not supported (crash), so import it first.
    """
    centers, colors, grid = scene_points(scene, has_classes, threshold, colormap,
                                         downsample_factor, downsample_method, max_component)
    own = renderer is None
    renderer = renderer or open_renderer(size)
    try:
        return renderer.draw(centers, colors, grid, view, uniform_size)
    finally:
        if own:
            renderer.close()


def save_png(image, out_png):
    """Write a uint8 ``[H, W, 3]`` image as PNG."""
    from PIL import Image
    Image.fromarray(image).save(out_png)
    return out_png


def render_voxels(scene, out_png, has_classes=False, view="iso", size=WINDOW_SIZE, **style):
    """Render one scene offscreen to ``out_png``; ``style`` as in :func:`render_image`.

    Drawn in a child process when TensorFlow is loaded (see :func:`render_image`).
    """
    return save_png(render_image(scene, has_classes, view, size, **style), out_png)


def render_all(path, out_prefix=None, view="iso", size=WINDOW_SIZE, log=print, **style):
    """Every scene ``i`` of ``path`` to ``<prefix>_<i>.png`` (zero-based, like ``screenshot.py``).

    ``out_prefix`` defaults to ``path`` without ``.npy``. Returns the file names.
    One renderer for all scenes: in-process, or the TensorFlow-free child
    process when TensorFlow is loaded (see :func:`render_image`).
    """
    scenes, has_classes = load_scenes(path)
    prefix = out_prefix if out_prefix is not None else os.fspath(path)[:-4]
    renderer = open_renderer(size)
    written, start, count = [], time.time(), scenes.shape[0]
    try:
        for i in range(count):
            image = render_image(np.asarray(scenes[i]), has_classes, view, size,
                                 renderer=renderer, **style)
            written.append(save_png(image, f"{prefix}_{i}.png"))
            done, elapsed = i + 1, time.time() - start
            rate = done / max(elapsed, 1e-9)
            log(f"[voxviz] {done}/{count} scenes, {rate:.1f} scenes/s, ETA {(count - done) / rate:.0f} s"
                f" -> {written[-1]}")
    finally:
        renderer.close()
    return written


def show_scene(scene, has_classes=False, title=None, view="iso", size=WINDOW_SIZE, threshold=0.1,
               uniform_size=0.9, colormap=False, downsample_factor=1, downsample_method="max",
               max_component=0):
    """Open an interactive VTK window on one scene (needs a display)."""
    centers, colors, grid = scene_points(scene, has_classes, threshold, colormap,
                                         downsample_factor, downsample_method, max_component)
    renderer = VoxelRenderer(size, offscreen=False)
    renderer.set_actors([renderer.voxel_actor(centers, colors, uniform_size)], grid, view)
    renderer.show(title)


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line on stderr, exit code 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    p = _Parser(prog="voxviz.py", description="Visualise .npy voxel scenes with VTK.")
    p.add_argument("filename", help=".npy file with [N,X,Y,Z] labels (or [N,X,Y,Z,C] probabilities)")
    p.add_argument("-t", "--threshold", type=float, default=0.1,
                   help="voxels below this value (or class probability) are not drawn (0.1)")
    p.add_argument("-i", "--index", type=int, default=1, help="one-based index of the scene to draw (1)")
    p.add_argument("-df", "--downsample-factor", type=int, default=1, help="pool FACTOR^3 blocks (1)")
    p.add_argument("-dm", "--downsample-method", choices=("max", "mean"), default="max",
                   help="pooling for -df (max)")
    p.add_argument("-u", "--uniform-size", type=float, default=0.9, help="cube side (0.9)")
    p.add_argument("-cm", "--colormap", action="store_true",
                   help="colour by value/confidence instead of the class palette")
    p.add_argument("-mc", "--max-component", type=int, default=0,
                   help="keep only the largest component, voxels within DISTANCE connected (0: off)")
    p.add_argument("-sc", "--screenfile", default=None,
                   help="save the picture as SCREENFILE(.png) instead of opening a window")
    p.add_argument("--all", action="store_true", help="every scene i to FILE_<i>.png (zero-based)")
    p.add_argument("--view", choices=VIEWS, default="iso", help="camera (iso = the original's)")
    p.add_argument("--size", type=int, default=WINDOW_SIZE, help="picture side in pixels (512)")
    return p


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    style = dict(threshold=args.threshold, uniform_size=args.uniform_size, colormap=args.colormap,
                 downsample_factor=args.downsample_factor, downsample_method=args.downsample_method,
                 max_component=args.max_component)
    if args.uniform_size <= 0:
        parser.error(f"argument -u/--uniform-size: expected a positive size, got {args.uniform_size}")
    if args.size < 16:
        parser.error(f"argument --size: expected at least 16 pixels, got {args.size}")
    if args.downsample_factor < 1:
        parser.error(f"argument -df/--downsample-factor: expected >= 1, got {args.downsample_factor}")
    try:
        if args.all:
            render_all(args.filename, args.screenfile, args.view, args.size, **style)
            return 0
        scenes, has_classes = load_scenes(args.filename)
        scene = pick_scene(scenes, args.index, args.filename)
        offscreen = vtk_env.needs_offscreen(args.screenfile is not None)
        if offscreen:
            out = (screen_name(args.screenfile) if args.screenfile
                   else f"{args.filename[:-4]}_{args.index - 1}.png")
            render_voxels(scene, out, has_classes, args.view, args.size, **style)
            print(f"[voxviz] wrote {out}")
        else:
            show_scene(scene, has_classes, f"{args.index}/{scenes.shape[0]}", args.view,
                       args.size, **style)
    except (VoxelInputError, RuntimeError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
