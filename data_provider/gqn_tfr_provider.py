"""tf.data input pipeline over DeepMind's GQN tfrecords (no conversion step).

Facts kept from the original readers (deepmind/gqn-datasets ``data_reader.py``,
tf-gqn ``data_provider/gqn_tfr_provider.py``):

* the dataset table and shard naming (re-exported from ``gqn_datasets``);
* a record holds ``frames`` (``sequence_size`` JPEG strings) and ``cameras``
  (``sequence_size * 5`` floats ``x, y, z, yaw, pitch``);
* an example is ``context_size + 1`` distinct views of one scene drawn at
  random; the last drawn view is the query / target;
* frames are decoded to float32 in ``[0, 1]``; ``custom_frame_size`` resizes
  bilinearly with ``align_corners=True`` (``tf.image.resize_bilinear``; here
  :func:`resize_bilinear_align_corners`, same output without the deprecated op);
* a camera becomes ``[x, y, z, sin(yaw), cos(yaw), sin(pitch), cos(pitch)]``;
* elements are ``(Query(Context(frames, cameras), query_camera), target)``;
  train shuffles with a buffer of ``buffer_size * batch_size`` examples.

Beyond the original:

* only the shard files that are present are read (a partial download is the
  normal case); the count is logged as ``found K of N expected files``;
* ``samples_per_scene=k`` draws ``k`` independent examples from every record
  read, so a 300-view mazes record is not read for 6 views only;
* files are read in parallel (interleave), records parsed in batches taken
  from one file (32 rooms records, 1 mazes record), only the drawn JPEGs are
  decoded, and the shuffle buffer holds the drawn JPEG strings
  (not decoded frames), so it costs little memory;
* view draws use stateless random numbers keyed by ``(seed, parse batch
  number)``, so test mode (fixed file and record order) is
  deterministic for a seed, and every epoch draws new views;
* epochs repeat at the file level (files reshuffled per epoch in train), so the
  train shuffle buffer blends the end of one epoch with the next one, where
  the original shuffled examples first and repeated after;
* ``num_shards`` / ``shard_index`` shard by file for ``tf.distribute`` input
  pipelines (see ``gqn_dataset_fn``);
* ``gqn_scene_dataset`` gives whole scenes undecoded (JPEG strings and camera
  7-vectors) for readers that draw views themselves (GEN's hotels), and
  ``decode_frames`` decodes the views they drew.

Errors. Arguments are checked when the dataset is built (``ValueError`` /
``FileNotFoundError`` naming the flag, value or path). Damaged data is found
while iterating, inside the graph, and raised as
``tf.errors.InvalidArgumentError`` whose message names the file:

* corrupted or truncated tfrecord files: TensorFlow's own reader error names
  no file, so every file is read with errors ignored and the framed bytes it
  yielded (record length + 16 per record) are compared with the file size at
  its end; a shortfall means the file stopped at a damaged record (the rest
  of that file is unreadable). The message starts with the file name, then the
  byte offset of the damaged record and the cause: ``<file>: damaged tfrecord
  at byte <offset> of <size>: the file ends inside this record (truncated
  file)`` or ``...: record checksum mismatch (corrupted data)``. TensorFlow
  wraps it (``{{function_node ...}} assertion failed: [...]``);
  ``data_provider.cli.one_line`` strips that for the command line;
* records whose ``frames`` / ``cameras`` lengths differ from the table (also
  missing features) are found after the batched parse;
* drawn JPEGs are checked for the JPEG start (``FF D8 FF``) and end
  (``FF D9``) markers before decoding; tfrecord checksums protect the bytes in
  between, so a JPEG that passes both checks and still fails in the decoder
  was written broken and gets TensorFlow's decoder error.

With ``skip_corrupt=True`` damaged records (and the rest of a damaged file) are
skipped instead, each logged with its file name and counted in the int64
variable ``dataset.corrupt_count`` of the returned dataset.
"""
import collections
import logging
import random

import numpy as np
import tensorflow as tf

from data_provider.gqn_datasets import (  # noqa: F401  (re-exported)
    DATASETS,
    NUM_CHANNELS,
    NUM_RAW_CAMERA_PARAMS,
    DatasetInfo,
    canonical_mode,
    dataset_info,
    expected_files,
    find_shard_files,
    split_dir,
)

Context = collections.namedtuple("Context", ["frames", "cameras"])
Query = collections.namedtuple("Query", ["context", "query_camera"])

logger = logging.getLogger(__name__)

_RECORD_FRAMING_BYTES = 16  # uint64 length + 2 x uint32 CRC around each record
_RECORD_HEADER_BYTES = 12  # uint64 length + its uint32 CRC, before the data
# Records are parsed in batches from one file: 32 rooms records (10 views), 1 mazes record.
_VIEWS_PER_PARSE_BATCH = 320
_MAX_UNROLLED_DECODES = 32
_AUTOTUNE = tf.data.AUTOTUNE
# Pipeline functions use Python control flow on Python values only: no AutoGraph.
_graph_only = tf.autograph.experimental.do_not_convert


def count_records(files):
    """The number of records (scenes) in ``files``; reads them whole, so for small splits."""
    return int(tf.data.TFRecordDataset(files).reduce(np.int64(0), lambda n, _: n + 1))


def smaller_than_a_batch(root, dataset, mode, batch_scenes, flag_hint):
    """The usage error for a split of fewer scenes than one batch needs, naming both."""
    scenes = count_records(find_shard_files(root, dataset, mode))
    return ValueError(f"the {canonical_mode(mode)} split of {dataset} in {root} holds {scenes} "
                      f"scenes, fewer than one batch needs ({batch_scenes}); {flag_hint(scenes)}")


def positive_int(name, value, allow_none=False):
    """Raise ``ValueError`` naming ``name`` unless ``value`` is an int >= 1 (or None if allowed)."""
    if allow_none and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _check_shard(num_shards, shard_index):
    positive_int("num_shards", num_shards)
    if isinstance(shard_index, bool) or not isinstance(shard_index, int) \
            or not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index must be in [0, {num_shards}), got {shard_index!r}")


def _check_args(info, dataset, context_size, batch_size, num_epochs, custom_frame_size,
                num_threads, buffer_size, samples_per_scene, num_shards, shard_index):
    positive_int("context_size", context_size)
    if context_size >= info.sequence_size:
        raise ValueError(
            f"context_size={context_size} too large for {dataset}: scenes have "
            f"{info.sequence_size} views, so context_size must be at most {info.sequence_size - 1}")
    positive_int("batch_size", batch_size)
    positive_int("num_epochs", num_epochs, allow_none=True)
    positive_int("custom_frame_size", custom_frame_size, allow_none=True)
    positive_int("num_threads", num_threads)
    positive_int("buffer_size", buffer_size)
    positive_int("samples_per_scene", samples_per_scene)
    _check_shard(num_shards, shard_index)


@_graph_only
def _file_batches(path, size, records_per_batch, skip_corrupt, counter):
    """Batches of records of one file as ``(path, records, False)``; damage check at the end."""
    batches = tf.data.TFRecordDataset(path).ignore_errors().batch(records_per_batch)
    batches = batches.map(_graph_only(lambda records: (records, tf.constant(False))))
    batches = batches.concatenate(tf.data.Dataset.from_tensors(
        (tf.constant([], tf.string), tf.constant(True))))

    def account(consumed, element):
        records, is_end = element
        lengths = tf.cast(tf.strings.length(records), tf.int64)
        framed = tf.reduce_sum(lengths + _RECORD_FRAMING_BYTES)
        damaged = tf.logical_and(is_end, tf.not_equal(consumed, size))
        message = tf.cond(damaged, lambda: _damage_message(path, consumed, size),
                          lambda: tf.constant(""))
        if skip_corrupt:
            guard = _count_skip(counter, damaged, message)
        else:
            guard = tf.debugging.Assert(tf.logical_not(damaged), [message], summarize=1)
        with tf.control_dependencies([guard]):
            new_consumed = consumed + framed
        return new_consumed, (path, records, is_end)

    batches = batches.scan(tf.constant(0, tf.int64), account)
    return batches.filter(_graph_only(lambda path, records, is_end: tf.logical_not(is_end)))


@_graph_only
def _damage_message(path, offset, size):
    """``<path>: damaged tfrecord at byte <offset> of <size>: <cause>`` (string scalar).

    ``offset`` is where the readable records end. The cause is "truncated" when
    the file ends inside the record that starts there (its 12-byte header or the
    length that header declares does not fit), else "corrupted" (a checksum
    does not match).
    """
    remaining = size - offset
    header = tf.cond(remaining >= 8,
                     lambda: tf.strings.substr(tf.io.read_file(path), offset, 8),
                     lambda: tf.constant(b"\0" * 8))
    length = tf.reshape(tf.io.decode_raw(header, tf.int64), [])
    truncated = tf.logical_or(remaining < _RECORD_HEADER_BYTES, tf.logical_or(
        length < 0, length > remaining - _RECORD_FRAMING_BYTES))
    cause = tf.where(truncated, "the file ends inside this record (truncated file)",
                     "record checksum mismatch (corrupted data)")
    return tf.strings.join([path, ": damaged tfrecord at byte ", tf.strings.as_string(offset),
                            " of ", tf.strings.as_string(size), ": ", cause,
                            "; the rest of the file is unreadable"])


@_graph_only
def _count_skip(counter, bad, message):
    """Log and count ``bad`` (bool scalar or vector) items; returns the op."""
    bad = tf.reshape(bad, [-1])
    message = tf.reshape(message, [-1])
    n_bad = tf.reduce_sum(tf.cast(bad, tf.int64))

    def log_and_count():
        printed = tf.print("skipping", tf.boolean_mask(message, bad), summarize=-1,
                           output_stream=tf.compat.v1.logging.warning)
        with tf.control_dependencies([printed]):
            return counter.assign_add(n_bad).read_value()

    return tf.cond(n_bad > 0, log_and_count, lambda: tf.identity(counter))


@_graph_only
def _guard(ok, messages, skip_corrupt, counter):
    """Fail on the first ``False`` in ``ok`` with its message, or count and log all."""
    if skip_corrupt:
        guard = _count_skip(counter, tf.logical_not(ok), messages)
    else:
        first_bad = tf.argmin(tf.cast(ok, tf.int32))
        guard = tf.debugging.Assert(tf.reduce_all(ok), [tf.gather(messages, first_bad)],
                                    summarize=1)
    with tf.control_dependencies([guard]):
        return tf.identity(ok)


@_graph_only
def _parse_scenes(path, records, info, skip_corrupt, counter, dataset):
    """Batched parse of ``records`` (from the file ``path``) and the length checks.

    Returns (paths [n], JPEG strings [n, S], raw cameras [n, S, 5]) of the
    records that passed (all of them, or an error, unless ``skip_corrupt``).
    """
    paths = tf.fill(tf.shape(records), path)
    features = tf.io.parse_example(records, {
        "frames": tf.io.RaggedFeature(tf.string),
        "cameras": tf.io.RaggedFeature(tf.float32),
    })
    n_frames = features["frames"].row_lengths()
    n_cameras = features["cameras"].row_lengths()
    seq = info.sequence_size
    ok = tf.logical_and(tf.equal(n_frames, seq), tf.equal(n_cameras, seq * NUM_RAW_CAMERA_PARAMS))
    messages = tf.strings.join([
        "record in ", paths, ": frames has ", tf.strings.as_string(n_frames),
        " JPEG strings and cameras has ", tf.strings.as_string(n_cameras),
        f" floats; {dataset} expects {seq} JPEG strings and "
        f"{seq * NUM_RAW_CAMERA_PARAMS} floats"])
    ok = _guard(ok, messages, skip_corrupt, counter)
    frames, cameras = features["frames"], features["cameras"]
    if skip_corrupt:  # else the guard has failed the pipeline unless every record is whole
        paths = tf.boolean_mask(paths, ok)
        frames, cameras = tf.ragged.boolean_mask(frames, ok), tf.ragged.boolean_mask(cameras, ok)
    with tf.control_dependencies([ok]):
        frames = tf.reshape(frames.flat_values, [-1, seq])
        cameras = tf.reshape(cameras.flat_values, [-1, seq, NUM_RAW_CAMERA_PARAMS])
    return paths, frames, cameras


@_graph_only
def _draw_views(batch_id, path, records, info, example_size, samples_per_scene, seed,
                skip_corrupt, counter, dataset):
    """Batched parse, checks, and ``samples_per_scene`` draws of ``example_size`` views.

    ``records`` come from the file ``path``; ``batch_id`` numbers the batch in
    the stream and keys the random draws (with ``seed``).

    Returns undecoded examples: JPEG strings ``[n, example_size]`` and camera
    7-vectors ``[n, example_size, 7]``.
    """
    paths, frames, cameras = _parse_scenes(path, records, info, skip_corrupt, counter, dataset)
    seq = info.sequence_size

    # k draws per record: the first example_size entries of a random permutation,
    # keyed by (seed, batch number) so the draws are reproducible.
    key = tf.stack([tf.constant(seed, tf.int64), batch_id])
    noise = tf.random.stateless_uniform([tf.shape(frames)[0], samples_per_scene, seq], seed=key)
    indices = tf.argsort(noise, axis=2)[:, :, :example_size]
    jpegs = tf.gather(frames, indices, batch_dims=1)             # [N, k, E]
    raw = tf.gather(cameras, indices, batch_dims=1)              # [N, k, E, 5]
    n = tf.shape(jpegs)[0] * samples_per_scene
    jpegs = tf.reshape(jpegs, [n, example_size])
    raw = tf.reshape(raw, [n, example_size, NUM_RAW_CAMERA_PARAMS])
    paths = tf.reshape(tf.repeat(paths, samples_per_scene), [n])

    # Only the drawn JPEGs are checked (and later decoded).
    ok = tf.reduce_all(_jpeg_ok(jpegs), axis=1)
    messages = tf.strings.join([
        "undecodable JPEG in a record of ", paths,
        " (expected JPEG start FF D8 FF and end FF D9)"])
    ok = _guard(ok, messages, skip_corrupt, counter)
    if skip_corrupt:  # else the guard has failed the pipeline unless every JPEG is whole
        jpegs, raw = tf.boolean_mask(jpegs, ok), tf.boolean_mask(raw, ok)
    with tf.control_dependencies([ok]):
        return tf.identity(jpegs), _camera_vectors(raw)


@_graph_only
def _camera_vectors(raw):
    """``[..., 5]`` (x, y, z, yaw, pitch) -> ``[..., 7]`` (x, y, z, sin/cos yaw, sin/cos pitch)."""
    pos, yaw, pitch = raw[..., 0:3], raw[..., 3:4], raw[..., 4:5]
    return tf.concat([pos, tf.sin(yaw), tf.cos(yaw), tf.sin(pitch), tf.cos(pitch)], axis=-1)


@_graph_only
def _jpeg_ok(jpegs):
    """Bool per JPEG string: starts with ``FF D8 FF`` and ends with ``FF D9``."""
    head = tf.strings.substr(jpegs, 0, 3)
    tail = tf.strings.substr(jpegs, -2, 2)
    long_enough = tf.strings.length(jpegs) >= 5
    return tf.logical_and(long_enough, tf.logical_and(
        tf.equal(head, b"\xff\xd8\xff"), tf.equal(tail, b"\xff\xd9")))


def _align_corners_weights(n_in, n_out):
    """Source rows (lower, upper) and float32 weights of the upper one, per output row.

    ``align_corners`` maps output ``i`` to input ``i * (n_in - 1) / (n_out - 1)``,
    computed in float32 exactly as TensorFlow's legacy bilinear kernel does.
    """
    scale = np.float32(n_in - 1) / np.float32(n_out - 1) if n_out > 1 else np.float32(n_in)
    position = np.arange(n_out, dtype=np.float32) * scale
    floor = np.floor(position)
    lower = np.maximum(floor.astype(np.int64), 0)
    upper = np.minimum(np.ceil(position).astype(np.int64), n_in - 1)
    return lower, upper, (position - floor).astype(np.float32)


def resize_bilinear_align_corners(images, size):
    """Bilinear resize of ``[..., H, W, C]`` float images to ``[..., size, size, C]``,
    corners aligned.

    The output of the deprecated ``tf.compat.v1.image.resize_bilinear(images,
    [size, size], align_corners=True)`` (the original's resize), bit for bit:
    the same source rows, float32 weights and order of operations
    ``top + (bottom - top) * dy`` with ``top = left + (right - left) * dx``.
    ``tf.image.resize`` has no ``align_corners``. ``H`` and ``W`` must be static.
    """
    height, width = images.shape[-3], images.shape[-2]
    y_lo, y_hi, dy = _align_corners_weights(height, size)
    x_lo, x_hi, dx = _align_corners_weights(width, size)
    dx = tf.constant(dx[:, None], images.dtype)
    dy = tf.constant(dy[:, None, None], images.dtype)

    def along_x(rows):
        left = tf.gather(rows, x_lo, axis=-2)
        return left + (tf.gather(rows, x_hi, axis=-2) - left) * dx

    top = along_x(tf.gather(images, y_lo, axis=-3))
    bottom = along_x(tf.gather(images, y_hi, axis=-3))
    return top + (bottom - top) * dy


@_graph_only
def decode_frames(jpegs, paths, dataset, custom_frame_size=None):
    """Check and decode JPEG strings ``[n, k]`` of scenes read from ``paths`` [n].

    Returns float32 frames in [0, 1], ``[n, k, H, W, 3]`` (``H = W =
    custom_frame_size or frame_size``, bilinear resize with ``align_corners``).
    A string without the JPEG start / end markers fails the pipeline with an
    error naming its file.
    """
    info = dataset_info(dataset)
    ok = tf.reduce_all(_jpeg_ok(jpegs), axis=1)
    messages = tf.strings.join([
        "undecodable JPEG in a record of ", paths,
        " (expected JPEG start FF D8 FF and end FF D9)"])
    ok = _guard(ok, messages, False, None)
    size = info.frame_size

    def decode(jpeg):
        image = tf.io.decode_jpeg(jpeg, channels=NUM_CHANNELS)
        return tf.ensure_shape(image, [size, size, NUM_CHANNELS])

    with tf.control_dependencies([ok]):
        flat = tf.reshape(jpegs, [-1])
    frames = tf.map_fn(decode, flat, fn_output_signature=tf.uint8, parallel_iterations=16)
    frames = tf.image.convert_image_dtype(frames, tf.float32)
    frames = tf.ensure_shape(frames, [None, size, size, NUM_CHANNELS])
    if custom_frame_size and custom_frame_size != size:
        frames = resize_bilinear_align_corners(frames, custom_frame_size)
    return tf.reshape(frames, tf.concat([tf.shape(jpegs), tf.shape(frames)[1:]], 0))


@_graph_only
def _decode_example(jpegs, cameras, info, custom_frame_size):
    """Decode the ``E`` drawn JPEGs of one example and split off the query.

    Frames are float32 in [0, 1]; the last drawn view is the query / target.
    """
    size = info.frame_size
    example_size = jpegs.shape[0]

    def decode(jpeg):
        image = tf.io.decode_jpeg(jpeg, channels=NUM_CHANNELS)
        return tf.ensure_shape(image, [size, size, NUM_CHANNELS])

    if example_size <= _MAX_UNROLLED_DECODES:  # the decodes run in parallel
        frames = tf.stack([decode(jpegs[i]) for i in range(example_size)])
    else:
        frames = tf.map_fn(decode, jpegs, fn_output_signature=tf.uint8, parallel_iterations=16)
    frames = tf.image.convert_image_dtype(frames, tf.float32)
    if custom_frame_size and custom_frame_size != size:
        frames = resize_bilinear_align_corners(frames, custom_frame_size)
    context = Context(frames=frames[:-1], cameras=cameras[:-1])
    return Query(context=context, query_camera=cameras[-1]), frames[-1]


def _record_batches(files, info, train, seed, num_epochs, num_threads, skip_corrupt, counter):
    """``(path, records)`` batches read from ``files``, interleaved, repeated per epoch
    (file order shuffled per epoch in train), with the damage check of each file."""
    sizes = [tf.io.gfile.stat(p).length for p in files]
    file_ds = tf.data.Dataset.from_tensor_slices((files, tf.constant(sizes, tf.int64)))
    if train:
        file_ds = file_ds.shuffle(len(files), seed=seed, reshuffle_each_iteration=True)
    file_ds = file_ds.repeat(num_epochs)
    cycle = min(num_threads, len(files))
    records_per_batch = max(1, _VIEWS_PER_PARSE_BATCH // info.sequence_size)
    batches = file_ds.interleave(
        _graph_only(lambda path, size: _file_batches(path, size, records_per_batch,
                                                     skip_corrupt, counter)),
        cycle_length=cycle, block_length=1, num_parallel_calls=cycle, deterministic=not train)
    return batches.map(_graph_only(lambda path, records, is_end: (path, records)))


def _corrupt_counter(skip_corrupt):
    if not skip_corrupt:
        return None
    with tf.init_scope():
        return tf.Variable(0, dtype=tf.int64, trainable=False, name="gqn_corrupt_count")


def _sharded_files(root, dataset, mode, num_shards, shard_index):
    files = find_shard_files(root, dataset, mode)
    if len(files) < num_shards:
        raise ValueError(
            f"num_shards={num_shards} but only {len(files)} shard files are present in "
            f"{split_dir(str(root), dataset, mode)}; files are the unit of sharding")
    return files[shard_index::num_shards]


def gqn_input_fn(dataset, context_size, root, mode, batch_size=1, num_epochs=1,
                 custom_frame_size=None, num_threads=4, buffer_size=256, seed=None,
                 samples_per_scene=1, *, num_shards=1, shard_index=0, skip_corrupt=False):
    """``tf.data.Dataset`` of GQN examples read from the original tfrecords.

    Elements: ``(Query(context=Context(frames, cameras), query_camera), target)``,
    float32, shapes ``[B, context_size, H, W, 3]``, ``[B, context_size, 7]``,
    ``[B, 7]``, ``[B, H, W, 3]``; ``H = W = custom_frame_size or frame_size``.

    Args:
      dataset: a key of ``DATASETS``.
      context_size: context views per example, ``1 .. sequence_size - 1``.
      root: folder holding ``<basepath>/<train|test>/*.tfrecord``.
      mode: ``'train'`` or ``'test'`` (``'eval'`` means test).
      batch_size: examples per batch. Train drops the last partial batch
        (fixed shapes for distributed training); test keeps it, so every drawn
        test example is seen once per epoch and the batch dimension is ``None``.
      num_epochs: passes over the files; ``None`` repeats forever.
      custom_frame_size: optional square side to resize frames to (bilinear,
        ``align_corners=True``).
      num_threads: files read in parallel (interleave cycle length).
      buffer_size: train shuffle buffer is ``buffer_size * batch_size`` examples
        (of undecoded JPEG strings).
      seed: makes file order, shuffling and view draws reproducible; test mode
        is deterministic for a given seed (train reads files in parallel
        without order guarantees). ``None`` draws a fresh seed.
      samples_per_scene: independent examples drawn from each record read.
      num_shards, shard_index: keep only files ``shard_index::num_shards`` of the
        present files (one input pipeline of ``num_shards``).
      skip_corrupt: skip, log and count damaged records instead of failing; the
        count is ``dataset.corrupt_count`` (an int64 ``tf.Variable``).

    Raises:
      ValueError: unknown dataset or mode, bad numeric argument,
        ``context_size >= sequence_size``, fewer files than ``num_shards``.
      FileNotFoundError: missing root or split folder, no matching files.
    """
    info = dataset_info(dataset)
    mode = canonical_mode(mode)
    _check_args(info, dataset, context_size, batch_size, num_epochs, custom_frame_size,
                num_threads, buffer_size, samples_per_scene, num_shards, shard_index)
    files = _sharded_files(root, dataset, mode, num_shards, shard_index)
    if seed is None:
        seed = random.getrandbits(31)
    train = mode == "train"
    example_size = context_size + 1
    counter = _corrupt_counter(skip_corrupt)

    batches = _record_batches(files, info, train, seed, num_epochs, num_threads, skip_corrupt,
                              counter)
    examples = batches.enumerate().map(
        _graph_only(lambda i, batch: _draw_views(i, batch[0], batch[1], info, example_size,
                                                 samples_per_scene, seed, skip_corrupt, counter,
                                                 dataset)),
        num_parallel_calls=_AUTOTUNE, deterministic=not train)
    examples = examples.unbatch()
    if train:
        examples = examples.shuffle(buffer_size * batch_size, seed=seed,
                                    reshuffle_each_iteration=True)
    examples = examples.map(
        _graph_only(lambda jpegs, cameras: _decode_example(jpegs, cameras, info,
                                                           custom_frame_size)),
        num_parallel_calls=_AUTOTUNE, deterministic=not train)
    examples = examples.batch(batch_size, drop_remainder=train)
    examples = examples.prefetch(_AUTOTUNE)
    examples.corrupt_count = counter
    return examples


def gqn_scene_dataset(dataset, root, mode, num_epochs=1, num_threads=4, seed=None, *,
                      num_shards=1, shard_index=0, skip_corrupt=False):
    """``tf.data.Dataset`` of whole scenes, undecoded, for readers that draw views themselves.

    Elements: ``(path, jpegs, cameras)``: the scene's file name, its
    ``sequence_size`` JPEG strings and camera 7-vectors ``[S, 7]`` (as
    ``gqn_input_fn`` gives them). Files are read as ``gqn_input_fn`` reads
    them (present shards, in parallel, damage checks, file order shuffled per
    epoch in train mode); decode drawn views with ``decode_frames``. Arguments
    and errors as in ``gqn_input_fn``.
    """
    info = dataset_info(dataset)
    mode = canonical_mode(mode)
    positive_int("num_epochs", num_epochs, allow_none=True)
    positive_int("num_threads", num_threads)
    _check_shard(num_shards, shard_index)
    files = _sharded_files(root, dataset, mode, num_shards, shard_index)
    if seed is None:
        seed = random.getrandbits(31)
    counter = _corrupt_counter(skip_corrupt)
    batches = _record_batches(files, info, mode == "train", seed, num_epochs, num_threads,
                              skip_corrupt, counter)
    scenes = batches.map(_graph_only(
        lambda path, records: _parse_scenes(path, records, info, skip_corrupt, counter, dataset)))
    scenes = scenes.unbatch().map(_graph_only(
        lambda path, jpegs, raw: (path, jpegs, _camera_vectors(raw))))
    scenes.corrupt_count = counter
    return scenes


def gqn_dataset_fn(dataset, context_size, root, mode, global_batch_size, **kwargs):
    """``dataset_fn(input_context)`` for ``strategy.distribute_datasets_from_function``.

    Each input pipeline reads its share of the files (``input_pipeline_id`` of
    ``num_input_pipelines``) in batches of
    ``input_context.get_per_replica_batch_size(global_batch_size)``; other
    keyword arguments go to ``gqn_input_fn``. A given ``seed`` is offset by the
    pipeline id so pipelines draw different views.
    """
    def dataset_fn(input_context):
        args = dict(kwargs)
        if args.get("seed") is not None:
            args["seed"] = args["seed"] + input_context.input_pipeline_id
        return gqn_input_fn(
            dataset, context_size, root, mode,
            batch_size=input_context.get_per_replica_batch_size(global_batch_size),
            num_shards=input_context.num_input_pipelines,
            shard_index=input_context.input_pipeline_id, **args)

    return dataset_fn
