"""Throughput of ``gqn_input_fn`` beside the raw limits measured in the same run.

Raw limits on this machine, per dataset:

* records/s: ``TFRecordDataset`` reading the shard files in parallel, nothing else;
* JPEG decodes/s: a bare parallel ``decode_jpeg`` + float conversion over JPEG
  strings already in memory;
* limit in examples/s = ``min(records/s * samples_per_scene,
  decodes/s / (context_size + 1))``; also printed, the bound when reading and
  decoding share the same cores, ``1 / (1 / (records/s * k) + views / decodes/s)``.

Reported: examples/s of ``gqn_input_fn`` (train mode, repeating) on the mazes
shards with ``samples_per_scene`` 1 and 8, and on a rooms_ring_camera stand-in
written to a temporary folder (noise-plus-gradient 64x64 frames through
``gqn_tfr_writer.write_shards``, or the scene renderer with ``--render``), each
with its fraction of the limit, and the mazes k=8 / k=1 ratio beside its
ceiling (the k=8 decode limit over the measured k=1 rate): once k=1 reads
records near their limit, k=8 can only gain up to the decode limit.

    python benchmarks/gqn_input.py [--mazes_root DIR] [--seconds 8]
"""
import argparse
import os
import sys
import tempfile
import time

import numpy as np

from data_provider import cli, gqn_tfr_writer
from data_provider.gqn_datasets import dataset_info

# TensorFlow quiet before anything imports it (the input pipeline is imported where used).
tf = cli.quiet_tensorflow()

DEFAULT_MAZES_ROOT = "/work/shared/data/gqn-dataset"


def rate(iterator, count_fn, seconds, warmup=3):
    """Items per second of ``iterator`` over about ``seconds`` after ``warmup`` steps."""
    for _ in range(warmup):
        next(iterator)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        n += count_fn(next(iterator))
    return n / (time.perf_counter() - start)


def records_per_second(files, seconds, num_threads=4):
    ds = tf.data.TFRecordDataset(files, num_parallel_reads=min(num_threads, len(files)))
    ds = ds.repeat().batch(8).prefetch(tf.data.AUTOTUNE)
    return rate(iter(ds), lambda b: int(b.shape[0]), seconds)


def decodes_per_second(files, views, seconds, max_jpegs=2000):
    """Bare decode rate: groups of ``views`` JPEGs from memory, decoded in parallel."""
    jpegs = []
    for record in tf.data.TFRecordDataset(files):
        example = tf.train.Example.FromString(record.numpy())
        jpegs.extend(example.features.feature["frames"].bytes_list.value)
        if len(jpegs) >= max_jpegs:
            break
    groups = len(jpegs) // views
    ds = tf.data.Dataset.from_tensor_slices(
        tf.reshape(tf.constant(jpegs[:groups * views]), [groups, views])).repeat()

    def decode(group):
        return tf.stack([tf.image.convert_image_dtype(tf.io.decode_jpeg(group[i], channels=3),
                                                      tf.float32) for i in range(views)])

    ds = ds.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(16)
    ds = ds.prefetch(tf.data.AUTOTUNE)
    return rate(iter(ds), lambda b: int(b.shape[0]) * views, seconds)


def pipeline_per_second(dataset, root, context_size, batch_size, samples_per_scene, seconds):
    from data_provider.gqn_tfr_provider import gqn_input_fn

    ds = gqn_input_fn(dataset, context_size, root, "train", batch_size=batch_size,
                      num_epochs=None, seed=0, samples_per_scene=samples_per_scene)
    return rate(iter(ds), lambda e: int(e[1].shape[0]), seconds)


def write_rooms(root, num_scenes, seed=0, render=False):
    """rooms_ring_camera stand-in: 10 views of 64x64 per scene, 50 scenes per file."""
    rng = np.random.default_rng(seed)
    info = dataset_info("rooms_ring_camera")

    def scenes():
        gradient = np.linspace(0, 180, info.frame_size)[None, :, None, None]
        for _ in range(num_scenes):
            noise = rng.integers(0, 75, (info.sequence_size, info.frame_size, info.frame_size, 3))
            frames = (noise + gradient).clip(0, 255).astype(np.uint8)
            yaw = np.linspace(0, 2 * np.pi, info.sequence_size, endpoint=False)
            cameras = np.stack([2 * np.cos(yaw), 2 * np.sin(yaw), np.zeros_like(yaw),
                                yaw + np.pi, np.zeros_like(yaw)], axis=1)
            yield frames, cameras

    if render:
        from data_provider import render_dataset  # written separately; optional
        render_dataset.render_dataset("rooms_ring_camera", root, num_scenes, 0, seed=seed)
    else:
        gqn_tfr_writer.write_shards(root, "rooms_ring_camera", "train", scenes(), 50)


def measure(name, dataset, root, context_size, batch_size, samples, seconds):
    from data_provider.gqn_tfr_provider import find_shard_files

    files = find_shard_files(root, dataset, "train")
    records = records_per_second(files, seconds)
    decodes = decodes_per_second(files, context_size + 1, seconds)
    print(f"{name}: raw limits  records/s {records:9.1f}   JPEG decodes/s {decodes:9.1f}"
          f"   ({context_size + 1} views per example)")
    results = {}
    for k in samples:
        limit = min(records * k, decodes / (context_size + 1))
        shared = 1.0 / (1.0 / (records * k) + (context_size + 1) / decodes)
        got = pipeline_per_second(dataset, root, context_size, batch_size, k, seconds)
        results[k] = got, limit
        print(f"{name}: samples_per_scene={k}  gqn_input_fn {got:9.1f} examples/s   "
              f"limit {limit:9.1f}   fraction {got / limit:5.2f}   "
              f"(reads and decodes on the same cores: {shared:9.1f})")
    return results


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mazes_root", default=DEFAULT_MAZES_ROOT,
                        help="root holding mazes/train/*.tfrecord")
    parser.add_argument("--context_size", type=int, default=5)
    parser.add_argument("--batch_size", type=int, default=36)
    parser.add_argument("--seconds", type=float, default=8.0, help="measuring time per figure")
    parser.add_argument("--rooms_scenes", type=int, default=1000,
                        help="rooms_ring_camera stand-in scenes to write")
    parser.add_argument("--render", action="store_true",
                        help="render the rooms stand-in with data_provider.render_dataset")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not os.path.isdir(os.path.join(args.mazes_root, "mazes", "train")):
        print(f"error: no mazes shards under {args.mazes_root} (flag --mazes_root)",
              file=sys.stderr)
        return 2
    print(f"TensorFlow {tf.__version__}, {os.cpu_count()} CPUs, context_size "
          f"{args.context_size}, batch_size {args.batch_size}, {args.seconds:.0f} s per figure")
    with tempfile.TemporaryDirectory() as tmp:
        write_rooms(tmp, args.rooms_scenes, render=args.render)
        rooms = measure("rooms_ring_camera", "rooms_ring_camera", tmp, args.context_size,
                        args.batch_size, [1], args.seconds)
    mazes = measure("mazes", "mazes", args.mazes_root, args.context_size, args.batch_size,
                    [1, 8], args.seconds)
    (got1, _), (got8, limit8) = mazes[1], mazes[8]
    print(f"mazes: samples_per_scene 8 / 1 examples/s ratio {got8 / got1:5.2f} (target >= 3; "
          f"ceiling on this machine, k=8 decode limit / measured k=1: {limit8 / got1:5.2f})")
    got, limit = rooms[1]
    print(f"rooms_ring_camera: fraction of raw limit {got / limit:5.2f} (target >= 0.70)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
