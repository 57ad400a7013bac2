"""Render a stand-in GQN dataset and write it in the original tfrecord layout.

    python data_provider/render_dataset.py --dataset rooms_ring_camera \\
        --root DIR --num_train N --num_test M --seed S \\
        [--scenes_per_file K] [--workers W] [--quality Q]

writes ``DIR/<dataset>/train/`` and ``DIR/<dataset>/test/`` with shard files
named after the full dataset (``0001-of-2160.tfrecord`` ...), ``K`` scenes per
file, so the tree reads like a partial download of the real data and
``data_provider.gqn_tfr_provider.gqn_input_fn`` reads it unchanged.

Scene ``i`` of a split is drawn from its own generator seeded by
``(seed, split, i)``, so the output does not depend on ``--workers``. Scenes
are rendered and JPEG-encoded by a pool of ``W`` processes (default: every
core) and written in order by this process. Existing shards are never
overwritten: the run stops before rendering anything when one of its target
files exists.
"""
import argparse
import logging
import multiprocessing
import os
import sys
import time

import numpy as np

from data_provider import gqn_datasets, gqn_scenes, gqn_tfr_writer

LOG = logging.getLogger("render_dataset")
_SPLIT_IDS = {"train": 0, "test": 1}


def scene_rng(seed, mode, index):
    """The generator of scene ``index`` of split ``mode``: independent of workers."""
    return np.random.default_rng([seed, _SPLIT_IDS[mode], index])


def render_scene_record(task):
    """Render one scene and JPEG-encode its frames: ``(jpegs, cameras)``.

    ``task`` is ``(dataset, seed, mode, index, quality)`` (a picklable tuple, so
    the function runs in worker processes).
    """
    dataset, seed, mode, index, quality = task
    frames, cameras = gqn_scenes.generate_scene(dataset, scene_rng(seed, mode, index))
    return [gqn_tfr_writer.encode_jpeg(frame, quality) for frame in frames], cameras


def planned_shards(root, dataset, mode, num_scenes, scenes_per_file):
    """Paths of the shards a split of ``num_scenes`` scenes will be written to."""
    count = -(-num_scenes // scenes_per_file)
    total = gqn_datasets.num_shards(dataset, mode)
    if count > total:
        raise ValueError(
            f"{num_scenes} {mode} scenes at --scenes_per_file {scenes_per_file} need {count} "
            f"shards but {dataset}/{mode} has only {total}; raise --scenes_per_file")
    base = gqn_datasets.split_dir(root, dataset, mode)
    return [os.path.join(base, gqn_datasets.shard_name(i, total)) for i in range(1, count + 1)]


class Progress:
    """Reports ``done/total``, the rate in scenes per minute and the ETA through
    ``log`` (a callable taking one line; default: this module's logger)."""

    def __init__(self, total, label, every_seconds=5.0, log=None):
        self.total, self.label, self.every = total, label, every_seconds
        self.log = log or LOG.info
        self.start = self.last = time.perf_counter()
        self.done = 0

    def step(self, count=1):
        self.done += count
        now = time.perf_counter()
        if now - self.last >= self.every or self.done == self.total:
            self.last = now
            self.log(self.line(now))

    def rate(self, now=None):
        """Scenes per minute so far."""
        elapsed = (now or time.perf_counter()) - self.start
        return 60.0 * self.done / max(elapsed, 1e-9)

    def line(self, now):
        rate = self.rate(now)
        eta = (self.total - self.done) / rate * 60.0 if rate > 0 else float("inf")
        return (f"{self.label}: {self.done}/{self.total} scenes, {rate:.0f} scenes/min, "
                f"ETA {eta:.0f} s")


def _scene_stream(tasks, workers, progress):
    """Rendered records of ``tasks`` in order, from a pool of ``workers``."""
    if workers <= 1:
        for task in tasks:
            yield render_scene_record(task)
            progress.step()
        return
    # 'spawn' keeps the workers free of this process's TensorFlow state.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        chunk = max(1, min(8, len(tasks) // (4 * workers)))
        for record in pool.imap(render_scene_record, tasks, chunksize=chunk):
            yield record
            progress.step()


def render_dataset(dataset, root, num_train, num_test, seed=0, scenes_per_file=100,
                   workers=None, quality=95, log=None):
    """Render ``num_train`` / ``num_test`` scenes of the stand-in for ``dataset``
    under ``root``; returns ``{"train": [paths], "test": [paths],
    "scenes_per_minute": rate}``. Progress lines (count, rate, ETA) go to
    ``log`` (a callable taking a string; default: the ``render_dataset`` logger
    at INFO level).

    Raises ``ValueError`` on a bad argument and ``FileExistsError`` (naming the
    file) before rendering anything when a target shard already exists.
    """
    if dataset not in gqn_scenes.SCENE_GENERATORS:
        raise ValueError(
            f"--dataset {dataset!r} has no rendered stand-in; expected one of: "
            f"{', '.join(gqn_scenes.SCENE_GENERATORS)}")
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        if int(value) != value or value < 0:
            raise ValueError(f"--{name} must be a non-negative integer, got {value!r}")
    if int(scenes_per_file) != scenes_per_file or scenes_per_file < 1:
        raise ValueError(f"--scenes_per_file must be a positive integer, got {scenes_per_file!r}")
    if not 1 <= quality <= 100:
        raise ValueError(f"--quality must lie in [1, 100], got {quality!r}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if int(workers) != workers or workers < 1:
        raise ValueError(f"--workers must be a positive integer, got {workers!r}")
    if os.path.exists(root) and not os.path.isdir(root):
        raise ValueError(f"--root {root} exists and is not a directory")
    sizes = {"train": int(num_train), "test": int(num_test)}
    plans = {mode: planned_shards(root, dataset, mode, n, scenes_per_file)
             for mode, n in sizes.items()}
    for paths in plans.values():
        for path in paths:
            if os.path.exists(path):
                raise FileExistsError(
                    f"refusing to overwrite existing shard {path}; choose another --root "
                    "or remove the old files yourself")
    import tensorflow  # noqa: F401  (loaded before the clock starts: the writer needs it)

    written, rendered, start = {}, 0, time.perf_counter()
    for mode, count in sizes.items():
        written[mode] = []
        if count == 0:
            continue
        tasks = [(dataset, seed, mode, i, quality) for i in range(count)]
        progress = Progress(count, f"{dataset}/{mode}", log=log)
        written[mode] = gqn_tfr_writer.write_shards(
            root, dataset, mode, _scene_stream(tasks, workers, progress), scenes_per_file,
            quality=quality)
        rendered += count
    elapsed = time.perf_counter() - start
    written["scenes_per_minute"] = 60.0 * rendered / max(elapsed, 1e-9)
    return written


def build_parser():
    parser = argparse.ArgumentParser(
        description="Render a stand-in GQN dataset in the original tfrecord format.")
    parser.add_argument("--dataset", required=True, choices=sorted(gqn_scenes.SCENE_GENERATORS))
    parser.add_argument("--root", required=True,
                        help="output root; writes ROOT/<dataset>/{train,test}")
    parser.add_argument("--num_train", type=int, required=True, help="number of train scenes")
    parser.add_argument("--num_test", type=int, required=True, help="number of test scenes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scenes_per_file", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None,
                        help="render processes (default: all cores)")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    try:
        written = render_dataset(args.dataset, args.root, args.num_train, args.num_test,
                                 args.seed, args.scenes_per_file, args.workers, args.quality)
    except (ValueError, FileExistsError, OSError) as error:
        print(f"render_dataset.py: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {len(written['train'])} train and {len(written['test'])} test shards under "
          f"{os.path.join(args.root, args.dataset)} "
          f"({written['scenes_per_minute']:.0f} scenes/min)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
