"""View voxel scenes (``real.npy``, ``recons.npy`` ...) with VTK, or save them as PNG.

    python visualization/voxviz.py FILE.npy [-i INDEX] [-t THRESHOLD] [-df FACTOR]
        [-dm max|mean] [-u SIZE] [-cm] [-mc DISTANCE] [-sc SCREENFILE] [--all]
        [--view iso|top|front|original] [--size PIXELS]

Flags and defaults of 3D-FCR-alphaGAN ``eval/visualize.py`` and
``eval/screenshot.py``: ``-i 1`` (one-based scene index), ``-t 0.1``,
``-df 1``, ``-dm max``, ``-u 0.9``, ``-cm`` off, ``-mc 0`` off; ``-sc NAME``
saves ``NAME.png`` (``.png`` is appended unless already there) instead of
opening a window. Without a display the picture of scene ``-i K`` is saved as
``FILE_K.png`` beside ``FILE.npy``, rendered offscreen through OSMesa.
``--all`` does what ``screenshot.py`` did: every scene to ``FILE_<i>.png``
(with ``-sc``, ``SCREENFILE_<i>.png``), numbered from 1 like ``-i`` (the
original numbered these from 0; one numbering means ``FILE_3.png`` is always
scene ``-i 3``).

Every input is checked before anything is drawn (file, index, flags, the
folder of the output); pictures are written under temporary names and renamed
into place when complete. Errors are one line on stderr, exit code 2.

Palette, camera and array layouts: see ``visualization/voxel_scene.py`` and
``visualization/voxel_render.py``. All voxels are drawn as one actor.
"""
import os
import sys

import numpy as np

from data_provider import cli, images
from data_provider.progress import Progress
from visualization import vtk_env
from visualization.render_process import open_renderer
from visualization.voxel_render import VIEWS, WINDOW_SIZE, VoxelRenderer
from visualization.voxel_scene import VoxelInputError, as_scenes, scene_points


def load_scenes(path):
    """Load ``path`` (a ``.npy`` file) as ``(scenes, has_classes)``; see ``as_scenes``."""
    path = os.fspath(path)
    if not path.endswith(".npy"):
        raise VoxelInputError(f"{path}: expected a .npy file")
    try:
        array = cli.load_npy(path, "scene file", mmap_mode="r")
    except cli.UsageError as err:
        raise VoxelInputError(str(err)) from None
    return as_scenes(array, name=path)


def pick_scene(scenes, index, name="file"):
    """The scene at one-based ``index`` (the original's ``-i``), as an in-memory array."""
    count = scenes.shape[0]
    if not 1 <= index <= count:
        raise VoxelInputError(
            f"{name}: index {index} out of range: expected 1..{count} (-i is one-based)")
    return np.asarray(scenes[index - 1])


def screen_name(screenfile):
    """The original's ``-sc`` naming: ``NAME`` -> ``NAME.png`` (kept as is when it ends in .png)."""
    return screenfile if screenfile.lower().endswith(".png") else screenfile + ".png"


def picture_name(prefix, index):
    """``<prefix>_<index>.png``, ``index`` one-based like ``-i`` (``real.npy -i 1`` ->
    ``real_1.png``)."""
    return f"{prefix}_{index}.png"


def check_output_folder(path, flag):
    """VoxelInputError naming ``flag`` when the folder ``path`` would be written to does not
    exist."""
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise VoxelInputError(f"{flag} {path}: folder {os.path.dirname(path) or folder} "
                              "does not exist")


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


def render_voxels(scene, out_png, has_classes=False, view="iso", size=WINDOW_SIZE, **style):
    """Render one scene offscreen to ``out_png``; ``style`` as in :func:`render_image`.

    Drawn in a child process when TensorFlow is loaded (see :func:`render_image`).
    """
    return images.save_png(render_image(scene, has_classes, view, size, **style), out_png)


def render_all(path, out_prefix=None, view="iso", size=WINDOW_SIZE, log=None, **style):
    """Every scene ``i`` of ``path`` to ``<prefix>_<i>.png``, ``i`` one-based like ``-i``.

    ``out_prefix`` defaults to ``path`` without ``.npy``. Returns the file
    names. The pictures appear together when all are drawn (a failure leaves
    earlier pictures of the same names untouched). Progress lines go to
    ``log`` (default: stderr). One renderer for all scenes: in-process, or the
    TensorFlow-free child process when TensorFlow is loaded (see
    :func:`render_image`).
    """
    scenes, has_classes = load_scenes(path)
    prefix = out_prefix if out_prefix is not None else os.fspath(path)[:-4]
    check_output_folder(prefix, "-sc/--screenfile" if out_prefix is not None else "FILE")
    count = scenes.shape[0]
    if count == 0:
        raise VoxelInputError(f"{path}: holds no scenes")
    progress = Progress("voxviz", count, "scenes", log=log)
    renderer = open_renderer(size)
    try:
        with cli.OutputSet(os.path.dirname(os.path.abspath(prefix))) as out:
            written = []
            for i in range(1, count + 1):
                image = render_image(np.asarray(scenes[i - 1]), has_classes, view, size,
                                     renderer=renderer, **style)
                name = os.path.basename(picture_name(prefix, i))
                images.save_png(image, out.path(name))
                written.append(picture_name(prefix, i))
                progress.update(i)
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


def build_parser():
    p = cli.ArgumentParser(prog="voxviz.py", description="Visualise .npy voxel scenes with VTK.")
    p.add_argument("filename",
                   help=".npy file with [N,X,Y,Z] labels (or [N,X,Y,Z,C] probabilities)")
    p.add_argument("-t", "--threshold", type=float, default=0.1,
                   help="voxels below this value (or class probability) are not drawn")
    p.add_argument("-i", "--index", type=int, default=1,
                   help="one-based index of the scene to draw")
    p.add_argument("-df", "--downsample-factor", type=int, default=1, help="pool FACTOR^3 blocks")
    p.add_argument("-dm", "--downsample-method", choices=("max", "mean"), default="max",
                   help="pooling for -df")
    p.add_argument("-u", "--uniform-size", type=float, default=0.9, help="cube side")
    p.add_argument("-cm", "--colormap", action="store_true",
                   help="colour by value/confidence instead of the class palette")
    p.add_argument("-mc", "--max-component", type=int, default=0,
                   help="keep only the largest component, voxels within DISTANCE connected "
                        "(0: off)")
    p.add_argument("-sc", "--screenfile", default=None,
                   help="save the picture as SCREENFILE(.png) instead of opening a window")
    p.add_argument("--all", action="store_true",
                   help="every scene i to FILE_<i>.png (one-based, like -i)")
    p.add_argument("--view", choices=VIEWS, default="iso",
                   help="camera: iso (the original's direction, fitted to the grid), top, front, "
                        "or original (the original's fixed camera)")
    p.add_argument("--size", type=int, default=WINDOW_SIZE, help="picture side in pixels")
    return p


def check_flags(args):
    """VoxelInputError naming the first flag with a value that cannot work."""
    if args.uniform_size <= 0:
        raise VoxelInputError(
            f"-u/--uniform-size: expected a positive size, got {args.uniform_size}")
    if args.size < 16:
        raise VoxelInputError(f"--size: expected at least 16 pixels, got {args.size}")
    if args.downsample_factor < 1:
        raise VoxelInputError(
            f"-df/--downsample-factor: expected >= 1, got {args.downsample_factor}")
    if args.max_component < 0:
        raise VoxelInputError(f"-mc/--max-component: expected >= 0, got {args.max_component}")


def run(args):
    """Draw what ``args`` ask for (see the module docstring)."""
    check_flags(args)
    style = dict(threshold=args.threshold, uniform_size=args.uniform_size, colormap=args.colormap,
                 downsample_factor=args.downsample_factor, downsample_method=args.downsample_method,
                 max_component=args.max_component)
    if args.all:
        written = render_all(args.filename, args.screenfile, args.view, args.size, **style)
        print(f"[voxviz] wrote {len(written)} pictures: {written[0]} .. {written[-1]}")
        return written
    scenes, has_classes = load_scenes(args.filename)
    scene = pick_scene(scenes, args.index, args.filename)
    if not vtk_env.needs_offscreen(args.screenfile is not None):
        show_scene(scene, has_classes, f"{args.index}/{scenes.shape[0]}", args.view, args.size,
                   **style)
        return []
    if args.screenfile:
        out = screen_name(args.screenfile)
        check_output_folder(out, "-sc/--screenfile")
    else:
        out = picture_name(args.filename[:-4], args.index)
    image = render_image(scene, has_classes, args.view, args.size, **style)
    images.save_png(image, out)
    print(f"[voxviz] wrote {out}")
    return [out]


def main(argv=None):
    """Command line: returns the exit code (0 done, 1 rendering failed, 2 bad input)."""
    args = build_parser().parse_args(argv)
    return cli.run_main("voxviz.py", run, args, failure_types=(RuntimeError,))


if __name__ == "__main__":
    sys.exit(main())
