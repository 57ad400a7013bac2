"""Render time of a full voxel scene: one glyph actor vs one actor per voxel.

    python benchmarks/voxviz.py [--voxels 25000] [--subset 2500] [--size 512] [--repeats 3]

Scene: 80x48x80 labels with ``--voxels`` occupied voxels of random classes
1..11, drawn offscreen to PNG with the default camera. "one actor" is our
path (``visualization.voxviz.render_voxels``, a fresh window each time, as the
CLI does). "per voxel" rebuilds the original ``eval/util_vtk.py`` approach:
for every voxel its own 8-point, 6-quad polydata, mapper and actor. That is
slow, so by default it is timed on ``--subset`` voxels and scaled linearly to
the full count (set ``--subset 0`` to time it on all voxels); the printout says
which. "child process" is the same one-actor picture drawn by the
TensorFlow-free worker that the viewer uses when TensorFlow is loaded
(``visualization/render_process.py``): its start-up once, then per picture
(scene points sent, uint8 picture returned, PNG written by the caller).
"""
import argparse
import os
import tempfile
import time

import numpy as np

from data_provider import images
from visualization import render_process
from visualization.voxel_render import VoxelRenderer, style_actor
from visualization.voxel_scene import scene_points
from visualization.voxviz import render_image, render_voxels

CUBE_FACES = [[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 5, 4], [1, 2, 6, 5], [2, 3, 7, 6], [3, 0, 4, 7]]


def random_scene(voxels, shape=(80, 48, 80), seed=0):
    """Labels ``shape`` with ``voxels`` occupied cells of classes 1..11."""
    rng = np.random.default_rng(seed)
    scene = np.zeros(shape, np.int64)
    cells = rng.choice(scene.size, voxels, replace=False)
    scene.flat[cells] = rng.integers(1, 12, voxels)
    return scene


def per_voxel_actors(vtk, centers, colors, size=0.9):
    """The original's way: one polydata, mapper and actor per voxel."""
    actors = []
    offsets = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0],
                        [0, 0, 1], [1, 0, 1], [1, 1, 1], [0, 1, 1]], float) - 0.5
    for center, color in zip(centers.astype(float), colors / 255.0):
        points = vtk.vtkPoints()
        for i, corner in enumerate(center + offsets * size):
            points.InsertPoint(i, *corner)
        polys = vtk.vtkCellArray()
        for face in CUBE_FACES:
            polys.InsertNextCell(4)
            for p in face:
                polys.InsertCellPoint(p)
        cube = vtk.vtkPolyData()
        cube.SetPoints(points)
        cube.SetPolys(polys)
        mapper = vtk.vtkPolyDataMapper()
        mapper.SetInputData(cube)
        actor = vtk.vtkActor()
        actor.SetMapper(mapper)
        style_actor(actor.GetProperty())
        actor.GetProperty().SetColor(*color)
        actor.GetProperty().SetSpecularColor(1, 1, 1)
        actors.append(actor)
    return actors


def time_one_actor(scene, out_png, size, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        render_voxels(scene, out_png, size=size)
        times.append(time.perf_counter() - start)
    return min(times)


def time_child(scene, out_png, size, repeats):
    """(worker start-up s, first picture s, best per-picture s) for the child-process path."""
    start = time.perf_counter()
    renderer = render_process.open_renderer(size, child=True)
    startup = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        images.save_png(render_image(scene, size=size, renderer=renderer), out_png)
        times.append(time.perf_counter() - start)
    render_process.shutdown()
    return startup, times[0], min(times)


def time_per_voxel(scene, out_png, size, subset):
    centers, colors, grid = scene_points(scene)
    if subset:
        centers, colors = centers[:subset], colors[:subset]
    start = time.perf_counter()
    renderer = VoxelRenderer(size, offscreen=True)
    renderer.set_actors(per_voxel_actors(renderer.vtk, centers, colors), grid)
    images.save_png(renderer.image(), out_png)
    renderer.close()
    return time.perf_counter() - start, len(centers)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--voxels", type=int, default=25000)
    p.add_argument("--subset", type=int, default=2500,
                   help="time the per-voxel approach on this many voxels and scale (0: all)")
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    scene = random_scene(args.voxels)
    with tempfile.TemporaryDirectory() as tmp:
        fast = time_one_actor(scene, os.path.join(tmp, "one.png"), args.size, args.repeats)
        startup, first, child = time_child(scene, os.path.join(tmp, "child.png"), args.size,
                                           args.repeats)
        slow, measured = time_per_voxel(scene, os.path.join(tmp, "per.png"), args.size, args.subset)
    scaled = slow * args.voxels / measured
    print(f"scene 80x48x80, {args.voxels} occupied voxels, {args.size}x{args.size} PNG, offscreen")
    print(f"one glyph actor : {fast:7.2f} s  (best of {args.repeats}, fresh window each)")
    note = ("measured" if measured == args.voxels
            else f"measured {slow:.2f} s on {measured} voxels, scaled linearly")
    print(f"child process   : {child:7.2f} s  (best of {args.repeats}; "
          f"{child / fast:.2f}x in-process; once: worker start {startup:.2f} s, "
          f"first picture with VTK import {first:.2f} s)")
    print(f"actor per voxel : {scaled:7.2f} s  ({note})")
    print(f"speed-up        : {scaled / fast:7.1f}x")


if __name__ == "__main__":
    main()
