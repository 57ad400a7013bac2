"""Scenes per minute of the rendered GQN stand-ins: one process vs the worker pool.

    python benchmarks/render_speed.py [--scenes 60] [--workers 2] [--datasets ...]

Each figure is the whole ``render_dataset`` pipeline (render, JPEG-encode,
write tfrecords) into a temporary directory, pool start-up included. On a
shared machine the wall-clock figures depend on the load (printed); the
scenes per CPU-minute of the single process do not. Both
runs of a dataset render the same scenes (same seed), one after the other.
The target of the foundation issue is 200 rooms_ring_camera scenes per minute.
"""
import argparse
import logging
import os
import tempfile
import time

from data_provider import gqn_scenes, render_dataset

TARGET_ROOMS_PER_MINUTE = 200.0


def measure(dataset, scenes, workers, seed=0):
    """Wall-clock scenes per minute of ``render_dataset`` for ``scenes`` train
    scenes, and the scenes per CPU-minute of this process (meaningful for
    ``workers=1`` only: it does not see the workers' CPU time)."""
    with tempfile.TemporaryDirectory() as root:
        cpu = time.process_time()
        written = render_dataset.render_dataset(dataset, root, scenes, 0, seed=seed,
                                                scenes_per_file=scenes, workers=workers,
                                                log=lambda line: None)
        cpu = time.process_time() - cpu
    return written["scenes_per_minute"], 60.0 * scenes / max(cpu, 1e-9)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=60, help="scenes per measurement")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--datasets", nargs="+", default=list(gqn_scenes.SCENE_GENERATORS),
                        choices=list(gqn_scenes.SCENE_GENERATORS))
    args = parser.parse_args(argv)
    if args.scenes < 1 or args.workers < 1:
        parser.error("--scenes and --workers must be positive")
    logging.basicConfig(level=logging.WARNING)
    import tensorflow  # noqa: F401  (the writer's import, kept out of the first figure)

    print(f"cores: {os.cpu_count()}, load average at start: "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}, {args.scenes} scenes per run")
    print("wall-clock scenes/min (1 process, pool, pool/1 ratio); scenes per CPU-minute of "
          "the single process (the rate one idle core would give)")
    print(f"{'dataset':28s} {'1 process':>12s} {f'{args.workers} workers':>12s} {'ratio':>7s} "
          f"{'per CPU-min':>12s}")
    results = {}
    for dataset in args.datasets:
        single, per_cpu = measure(dataset, args.scenes, 1)
        pool, _ = measure(dataset, args.scenes, args.workers)
        results[dataset] = (single, pool)
        print(f"{dataset:28s} {single:9.0f}/min {pool:9.0f}/min {pool / single:6.2f}x "
              f"{per_cpu:9.0f}/min")
    if "rooms_ring_camera" in results:
        best = max(results["rooms_ring_camera"])
        verdict = "meets" if best >= TARGET_ROOMS_PER_MINUTE else "misses"
        print(f"rooms_ring_camera: {best:.0f} scenes/min {verdict} the target of "
              f"{TARGET_ROOMS_PER_MINUTE:.0f}/min")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return results


if __name__ == "__main__":
    main()
