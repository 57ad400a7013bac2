"""Render a stand-in GQN dataset and write it in the original tfrecord layout.

    python data_provider/render_dataset.py --dataset rooms_ring_camera \\
        --root DIR --num_train N --num_test M --seed S \\
        [--scenes_per_file K] [--workers W] [--quality Q] [--views_per_scene V]

writes ``DIR/<dataset>/train/`` and ``DIR/<dataset>/test/`` with shard files
named after the full dataset (``0001-of-2160.tfrecord`` ...), ``K`` scenes per
file, so the tree reads like a partial download of the real data and
``data_provider.gqn_tfr_provider.gqn_input_fn`` reads it unchanged.

Stand-ins: ``rooms_ring_camera`` and ``shepard_metzler_{5,7}_parts``
(``gqn_scenes``), ``mazes`` (``maze_renderer``: ray-cast labyrinths, 300 views
of 84x84 per record as the real shards; ``--views_per_scene`` changes that
for mazes only, and the GQN readers expect 300).

Scene ``i`` of a split is drawn from its own generator seeded by
``(seed, split, i)``, so the output does not depend on ``--workers``. Scenes
are rendered and JPEG-encoded by a pool of ``W`` processes (default: every
core) and written in order by this process. Existing shards are never
overwritten: the run stops before rendering anything when one of its target
files exists. The shards of both splits are written under temporary names and
appear together when the last one is complete. Progress lines (count,
scenes/s, ETA) go to stderr; exit codes 0 done, 2 bad input (one line).
"""
import multiprocessing
import os
import sys
import time

import numpy as np

from data_provider import cli, folder_lock, gqn_datasets, gqn_scenes, gqn_tfr_writer, maze_renderer
from data_provider.progress import Progress

_SPLIT_IDS = {"train": 0, "test": 1}
STAND_INS = dict(gqn_scenes.SCENE_GENERATORS, mazes=maze_renderer.maze_scene)
VARIABLE_VIEWS = ("mazes",)


def scene_rng(seed, mode, index):
    """The generator of scene ``index`` of split ``mode``: independent of workers."""
    return np.random.default_rng([seed, _SPLIT_IDS[mode], index])


def render_scene_record(task):
    """Render one scene and JPEG-encode its frames: ``(jpegs, cameras)``.

    ``task`` is ``(dataset, seed, mode, index, quality, views)`` (a picklable
    tuple, so the function runs in worker processes); ``views`` None keeps the
    dataset's own count.
    """
    dataset, seed, mode, index, quality, views = task
    rng = scene_rng(seed, mode, index)
    if dataset in VARIABLE_VIEWS:
        frames, cameras = STAND_INS[dataset](rng, num_views=views)
    else:
        frames, cameras = gqn_scenes.generate_scene(dataset, rng)
    return [gqn_tfr_writer.encode_jpeg(frame, quality) for frame in frames], cameras


def planned_shards(root, dataset, mode, num_scenes, scenes_per_file):
    """Paths of the shards a split of ``num_scenes`` scenes will be written to."""
    count = -(-num_scenes // scenes_per_file)
    total = gqn_datasets.num_shards(dataset, mode)
    if count > total:
        raise cli.UsageError(
            f"{num_scenes} {mode} scenes at --scenes_per_file {scenes_per_file} need {count} "
            f"shards but {dataset}/{mode} has only {total}; raise --scenes_per_file")
    base = gqn_datasets.split_dir(root, dataset, mode)
    return [os.path.join(base, gqn_datasets.shard_name(i, total)) for i in range(1, count + 1)]


def _scene_stream(tasks, workers, progress):
    """Rendered records of ``tasks`` in order, from a pool of ``workers``."""
    if workers <= 1:
        for done, task in enumerate(tasks, 1):
            yield render_scene_record(task)
            progress.update(done)
        return
    # 'spawn' keeps the workers free of this process's TensorFlow state.
    context = multiprocessing.get_context("spawn")
    with context.Pool(workers) as pool:
        chunk = max(1, min(8, len(tasks) // (4 * workers)))
        records = pool.imap(render_scene_record, tasks, chunksize=chunk)
        for done, record in enumerate(records, 1):
            yield record
            progress.update(done)


def _refuse_existing(plans):
    for paths in plans.values():
        for path in paths:
            if os.path.exists(path):
                raise FileExistsError(
                    f"refusing to overwrite existing shard {path}; choose another --root "
                    "or remove the old files yourself")


def render_dataset(dataset, root, num_train, num_test, seed=0, scenes_per_file=100,
                   workers=None, quality=95, log=None, views_per_scene=None):
    """Render ``num_train`` / ``num_test`` scenes of the stand-in for ``dataset``
    under ``root``; returns ``{"train": [paths], "test": [paths],
    "scenes_per_minute": rate}``. Progress lines (count, rate, ETA) go to
    ``log`` (a callable taking a string; default: stderr).

    Raises ``cli.UsageError`` (a ``ValueError``) on a bad argument and
    ``FileExistsError`` (naming the file) before rendering anything when a
    target shard already exists. Every shard appears when all are written.
    While it writes, it holds ``root`` (``folder_lock``): a second writer is
    refused naming this one.
    ``views_per_scene`` (mazes only; default the dataset's 300) sets the
    views of a record.
    """
    if dataset not in STAND_INS:
        raise cli.UsageError(
            f"--dataset {dataset!r} has no rendered stand-in; expected one of: "
            f"{', '.join(STAND_INS)}")
    if views_per_scene is not None:
        if int(views_per_scene) != views_per_scene or views_per_scene < 1:
            raise cli.UsageError(
                f"--views_per_scene must be a positive integer, got {views_per_scene!r}")
        if dataset not in VARIABLE_VIEWS:
            raise cli.UsageError(f"--views_per_scene applies to {', '.join(VARIABLE_VIEWS)} "
                                 f"only, not {dataset}")
    for name, value in (("num_train", num_train), ("num_test", num_test)):
        if int(value) != value or value < 0:
            raise cli.UsageError(f"--{name} must be a non-negative integer, got {value!r}")
    if int(scenes_per_file) != scenes_per_file or scenes_per_file < 1:
        raise cli.UsageError(
            f"--scenes_per_file must be a positive integer, got {scenes_per_file!r}")
    if not 1 <= quality <= 100:
        raise cli.UsageError(f"--quality must lie in [1, 100], got {quality!r}")
    workers = (os.cpu_count() or 1) if workers is None else workers
    if int(workers) != workers or workers < 1:
        raise cli.UsageError(f"--workers must be a positive integer, got {workers!r}")
    if os.path.exists(root) and not os.path.isdir(root):
        raise cli.UsageError(f"--root {root} exists and is not a directory")
    sizes = {"train": int(num_train), "test": int(num_test)}
    plans = {mode: planned_shards(root, dataset, mode, n, scenes_per_file)
             for mode, n in sizes.items()}
    cli.quiet_tensorflow()  # loaded before the clock starts (the writer needs it), quietly

    written, rendered, start = {}, 0, time.perf_counter()
    lock = folder_lock.hold(root, "--root", "render_dataset.py", log)
    with lock, cli.OutputSet(root) as outputs:
        _refuse_existing(plans)  # under the lock: no other writer can add them meanwhile
        for mode, count in sizes.items():
            written[mode] = []
            if count == 0:
                continue
            tasks = [(dataset, seed, mode, i, quality, views_per_scene) for i in range(count)]
            progress = Progress(f"{dataset}/{mode}", count, "scenes", log=log)
            written[mode] = gqn_tfr_writer.write_shards(
                root, dataset, mode, _scene_stream(tasks, min(workers, count), progress),
                scenes_per_file, quality=quality, outputs=outputs)
            rendered += count
    elapsed = time.perf_counter() - start
    written["scenes_per_minute"] = 60.0 * rendered / max(elapsed, 1e-9)
    return written


def build_parser():
    parser = cli.ArgumentParser(
        prog="render_dataset.py",
        description="Render a stand-in GQN dataset in the original tfrecord format.")
    parser.add_argument("--dataset", required=True, choices=sorted(STAND_INS),
                        help="which stand-in to render")
    parser.add_argument("--root", required=True,
                        help="output root; writes ROOT/<dataset>/{train,test}")
    parser.add_argument("--num_train", type=int, required=True, help="number of train scenes")
    parser.add_argument("--num_test", type=int, required=True, help="number of test scenes")
    parser.add_argument("--seed", type=int, default=0, help="scene i of a split is seeded by "
                        "(seed, split, i): the same output for any --workers")
    parser.add_argument("--scenes_per_file", type=int, default=100, help="records per shard")
    parser.add_argument("--workers", type=int, default=None,
                        help="render processes [all cores]")
    parser.add_argument("--quality", type=int, default=95, help="JPEG quality")
    parser.add_argument("--views_per_scene", type=int, default=None,
                        help="views per mazes record [300, as the real shards and the "
                        "GQN readers expect]")
    cli.add_verbose_argument(parser)
    return parser


def run(args):
    if args.verbose:
        cli.quiet_tensorflow(verbose=True)   # with TensorFlow's start-up lines
    written = render_dataset(args.dataset, args.root, args.num_train, args.num_test,
                             args.seed, args.scenes_per_file, args.workers, args.quality,
                             views_per_scene=args.views_per_scene)
    print(f"wrote {len(written['train'])} train and {len(written['test'])} test shards under "
          f"{os.path.join(args.root, args.dataset)} "
          f"({written['scenes_per_minute']:.0f} scenes/min)")
    return written


def main(argv=None):
    """Command line: returns the exit code (0 done, 2 bad input, 130 interrupted)."""
    return cli.run_main("render_dataset.py", run, build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
