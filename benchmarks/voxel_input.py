"""Input throughput of FCR-alphaGAN voxel scenes, three ways side by side.

Renders synthetic 80x48x80 rooms (or uses ``--voxel_root``) and times full
epochs (batch 20, remainder dropped) of

- ``loop``: the original's reader (``util.DataProcess.get_voxel``): a Python
  loop of ``np.load`` into a float32 batch, one batch at a time;
- ``npy``: ``voxel_provider.voxel_dataset`` over the ``<sceneId>/<modelId>.npy``
  tree (validated ``np.load`` per scene, parallel map, prefetch);
- ``packed``: the same scenes packed into TFRecord shards (uint8 bytes per
  scene) read with ``TFRecordDataset`` + ``decode_raw``, the candidate format
  for a ``--pack`` tool.

Files are read once before timing, so all run from the page cache (the steady
state of training). Prints scenes/s and the ratios to ``npy``.

    python benchmarks/voxel_input.py [--num_scenes 600] [--batch_size 20] [--dtype uint8|int64]
"""
import argparse
import os
import tempfile
import time

import numpy as np
import tensorflow as tf

from data_provider import render_voxel_scenes, voxel_provider


def loop_batches(root, pairs, batch_size, n_vox=voxel_provider.N_VOX):
    """The original's reading: shuffled indices, np.load one file at a time into a float32 batch."""
    perm = np.random.permutation(len(pairs))
    for start in range(0, len(pairs) - batch_size + 1, batch_size):
        batch = np.zeros((batch_size,) + tuple(n_vox), np.float32)
        for i, index in enumerate(perm[start:start + batch_size]):
            batch[i] = np.load(voxel_provider.voxel_path(root, *pairs[index]))
        yield batch


def pack(root, pairs, out, per_shard=128):
    """Write uint8 scenes into TFRecord shards; returns the shard paths."""
    paths = []
    for s in range(0, len(pairs), per_shard):
        path = os.path.join(out, f"voxels-{s // per_shard:05d}.tfrecord")
        with tf.io.TFRecordWriter(path) as writer:
            for pair in pairs[s:s + per_shard]:
                vox = np.load(voxel_provider.voxel_path(root, *pair)).astype(np.uint8)
                writer.write(vox.tobytes())
        paths.append(path)
    return paths


def packed_dataset(paths, batch_size, n_vox=voxel_provider.N_VOX, seed=0):
    """Shuffled shards, interleaved records, 512-scene shuffle buffer, decode_raw, batch."""
    ds = tf.data.Dataset.from_tensor_slices(paths).shuffle(len(paths), seed=seed)
    ds = ds.interleave(tf.data.TFRecordDataset, cycle_length=4, num_parallel_calls=tf.data.AUTOTUNE)
    ds = ds.shuffle(512, seed=seed)
    ds = ds.map(lambda r: tf.cast(tf.reshape(tf.io.decode_raw(r, tf.uint8), n_vox), tf.int32),
                num_parallel_calls=tf.data.AUTOTUNE)
    return ds.batch(batch_size, drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def epoch_rate(make_batches):
    """Scenes/s of one full epoch."""
    start = time.perf_counter()
    count = sum(int(b.shape[0]) for b in make_batches())
    return count / (time.perf_counter() - start)


def best_rates(readers, epochs):
    """Best scenes/s of each reader; readers alternate epoch by epoch after one warm-up epoch,
    so a load change on a shared machine hits all of them alike."""
    for make in readers.values():
        epoch_rate(make)
    best = dict.fromkeys(readers, 0.0)
    for _ in range(epochs):
        for name, make in readers.items():
            best[name] = max(best[name], epoch_rate(make))
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--voxel_root",
                        help="existing 80x48x80 tree (default: render synthetic rooms)")
    parser.add_argument("--num_scenes", type=int, default=600)
    parser.add_argument("--batch_size", type=int, default=20)
    parser.add_argument("--dtype", default="uint8", choices=["uint8", "int64"],
                        help="dtype of the rendered npy files (int64 = numpy's default int)")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.voxel_root
        if root is None:
            root = os.path.join(tmp, "tree")
            for path in render_voxel_scenes.render_rooms(root, args.num_scenes, seed=0):
                np.save(path, np.load(path).astype(args.dtype))
        pairs = voxel_provider.list_pairs(root)
        bs = args.batch_size
        start = time.perf_counter()
        shards = pack(root, pairs, tmp)
        pack_time = time.perf_counter() - start
        rates = best_rates({
            "loop": lambda: loop_batches(root, pairs, bs),
            "npy": lambda: voxel_provider.voxel_dataset(root, pairs, bs, seed=0),
            "packed": lambda: packed_dataset(shards, bs)}, args.epochs)
    loop, npy, packed = rates["loop"], rates["npy"], rates["packed"]
    print(f"scenes: {len(pairs)} of 80x48x80 ({args.dtype} npy files), batch {bs}, "
          f"{os.cpu_count()} CPUs, best of {args.epochs} epochs")
    print(f"loop   (original reader) : {loop:8.0f} scenes/s   {loop / npy:5.2f}x npy")
    print(f"npy    (voxel_dataset)   : {npy:8.0f} scenes/s   1.00x")
    print(f"packed (tfrecord shards) : {packed:8.0f} scenes/s   {packed / npy:5.2f}x npy"
          f"   (packing {pack_time:.1f} s)")


if __name__ == "__main__":
    main()
