"""AIR 3D scene synthesis: per-scene renderer vs the batched path vs worker processes.

    python benchmarks/air_render.py [--scenes 1000] [--supersample 2] [--workers 2]

Renders the same scenes (seed 0, up to 3 primitives, 64x64) three ways, one
after the other in one run: ``render`` called per scene (the renderer's
general path, ``adaptive=False``), ``render_batch`` over all scenes in this
process, and ``render_batch`` in ``--workers`` processes (pool start-up
included). Prints scenes per second, CPU seconds of this process, the largest
pixel difference between the paths, and the load average, since timings on a
shared machine depend on it.

Measured (2-core AMD EPYC, shared, load average about 7; 1000 scenes,
supersample 2): per scene 87 scenes/s, batched 370 scenes/s (4.3x), batched
in 2 processes 420 scenes/s; the paths agree to 0 (same rays, same maths).
"""
import argparse
import os
import time

import numpy as np

from data_provider import scene_renderer as sr
from models.air import scenes


def per_scene(types, positions, rotations, supersample):
    cam = scenes.camera()
    out = []
    for t, p, r in zip(types, positions, rotations):
        prims = [sr.Primitive(scenes.RENDER_KINDS[k], 1.0, scenes.WORLD_HALF * pos, rot,
                              scenes.SIDE / 2.0) for k, pos, rot in zip(t, p, r) if k >= 0]
        out.append(sr.render(prims, cam, 64, 64, light_dir=None, ambient=scenes.AMBIENT,
                             background=0.0, supersample=supersample, adaptive=False)[..., 0])
    return np.stack(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=1000)
    parser.add_argument("--supersample", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    _, types, positions, euler = scenes.sample_scenes(args.scenes, rng, 3)
    rotations = scenes.euler_to_matrix(euler)
    print(f"{args.scenes} scenes, supersample {args.supersample}, load average "
          f"{os.getloadavg()[0]:.1f}")
    results = {}
    for name, fn in (
            ("per scene (render)", lambda: per_scene(types, positions, rotations,
                                                     args.supersample)),
            ("batched (render_batch)", lambda: scenes.render_scenes(
                types, positions, rotations, 64, args.supersample)),
            (f"batched, {args.workers} processes", lambda: scenes.render_scenes(
                types, positions, rotations, 64, args.supersample, workers=args.workers,
                chunk=max(1, args.scenes // (2 * args.workers))))):
        cpu, wall = time.process_time(), time.perf_counter()
        results[name] = fn()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"{name:28s} {args.scenes / wall:7.1f} scenes/s  ({wall:.2f} s, "
              f"{cpu:.2f} CPU s in this process)")
    images = list(results.values())
    print("largest difference between paths:",
          max(float(np.abs(a - images[0]).max()) for a in images[1:]))
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
