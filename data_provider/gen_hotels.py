"""Hotels of mazes for GEN, read from the GQN tfrecords (no conversion step).

A hotel is a ``d x d`` arrangement of scenes on one ground plane. Facts kept
from the original (``Utils/dataset.py``, ``sample_batch`` and
``organize_hotel_data``; ``train_scene_rendering.py``):

- a raw batch holds ``B max_d^2`` scenes; per batch one ``d`` (uniform in
  the allowed sizes) and one ``shift`` (uniform in ``[0, 10 - 2 d]^2``);
  ``floor(B max_d^2 / d^2)`` hotels are made of its first scenes
  (consecutive ``d^2`` scenes form a hotel), so a step has ``B max_d^2``
  queries whenever ``d^2`` divides ``B max_d^2`` (64 queries at B = 16, d in
  1..2);
- the views of each scene are drawn independently of the other scenes'
  (each maze of a hotel has its own random view indices);
- scene ``s`` of a hotel moves by ``(2 (s // d), 2 (s % d)) + shift`` (a maze
  is 2.0 wide and centred on the origin, so the hotel starts at
  ``-1 + shift``); only x and y of the cameras change;
- per scene ``context_size`` context views and 1 query view: Labyrinth
  (``mazes``) 8 + 1, Room (``rooms_ring_camera``) 5 + 1; the hotel's
  context views are those of all its scenes, scene after scene, and it has
  one query per scene;
- frames are 64x64: the 84x84 mazes JPEGs are resized as torchvision's
  ``Resize(64)`` resizes a PIL image, PIL's antialiased bilinear filter with
  its 8-bit fixed-point arithmetic (``pil_bilinear_resize``, equal to PIL's
  output; ``resize="align_corners"`` keeps the GQN readers' resize).

Differences: the context and query views of a scene are distinct (the
original draws the query independently, so it can be a context view);
cameras are the provider's ``[x, y, z, sin yaw, cos yaw, sin pitch,
cos pitch]`` where the original's loader gives ``[x, y, z, cos yaw, sin yaw,
cos pitch, sin pitch]`` (a weight import from the original would permute the
pose channels of the first layers that read them). The random draws are
stateless, keyed by ``(seed, batch number)``.

Elements are dicts: ``context_frames`` [H, d^2 K, 64, 64, 3],
``context_cameras`` [H, d^2 K, 7], ``query_cameras`` [H, d^2, 7], ``target``
[H, d^2, 64, 64, 3], ``num_scenes_per_dim`` (int32 d) and ``shift`` [2].
"""
import random

import numpy as np
import tensorflow as tf

from data_provider import gqn_tfr_provider as provider
from data_provider.gqn_datasets import HOTEL_DATASETS, HotelData, hotel_data  # noqa: F401

SCENE_WIDTH = 2.0
PLANE_WIDTH = 10.0
IMAGE_SIZE = 64
RESIZES = ("pil_bilinear", "align_corners")
_PIL_PRECISION_BITS = 22   # PIL's 8-bit resampling: 32 - 8 - 2 fractional bits


def pil_bilinear_coefficients(in_size, out_size):
    """``[out_size, in_size]`` integer weights (scaled by ``2^22``) of PIL's bilinear
    resampling along one axis: a triangle filter widened by the downscale factor,
    normalised per output pixel, then rounded to fixed point as PIL rounds them."""
    scale = in_size / out_size
    filterscale = max(scale, 1.0)
    support = 1.0 * filterscale
    weights = np.zeros((out_size, in_size))
    for x in range(out_size):
        centre = (x + 0.5) * scale
        lo = max(int(centre - support + 0.5), 0)
        hi = min(int(centre + support + 0.5), in_size)
        taps = np.arange(lo, hi)
        w = np.maximum(0.0, 1.0 - np.abs((taps - centre + 0.5) / filterscale))
        w = w / w.sum() if w.sum() else w
        weights[x, lo:hi] = w
    unit = float(1 << _PIL_PRECISION_BITS)
    return np.where(weights < 0, np.trunc(weights * unit - 0.5), np.trunc(weights * unit + 0.5))


def pil_bilinear_resize(images, size):
    """``[..., H, W, 3]`` float images in [0, 1] (whole multiples of 1/255) -> ``[..., size,
    size, 3]``: what ``PIL.Image.resize((size, size), BILINEAR)`` gives on the 8-bit image
    (torchvision's ``Resize`` of a PIL image), divided by 255. The horizontal pass comes first
    and both passes round to 8 bits, in PIL's fixed-point arithmetic (float64 is exact here).
    """
    images = tf.convert_to_tensor(images)
    height, width = images.shape[-3], images.shape[-2]
    ky = tf.constant(pil_bilinear_coefficients(height, size), tf.float64)
    kx = tf.constant(pil_bilinear_coefficients(width, size), tf.float64)
    half, unit = float(1 << (_PIL_PRECISION_BITS - 1)), float(1 << _PIL_PRECISION_BITS)

    def to_8_bits(x):
        return tf.clip_by_value(tf.floor((x + half) / unit), 0.0, 255.0)

    pixels = tf.round(tf.cast(images, tf.float64) * 255.0)
    rows = to_8_bits(tf.einsum("...hwc,vw->...hvc", pixels, kx))
    out = to_8_bits(tf.einsum("...hvc,uh->...uvc", rows, ky))
    return tf.cast(out / 255.0, tf.float32)


def decode_views(jpegs, paths, gqn_dataset, resize="pil_bilinear"):
    """Decoded views ``[n, k, 64, 64, 3]`` (float32 in [0, 1]) of JPEG strings ``[n, k]``,
    resized to 64x64 when larger (``resize``: one of ``RESIZES``)."""
    if resize not in RESIZES:
        raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
    if resize == "align_corners":
        return provider.decode_frames(jpegs, paths, gqn_dataset, IMAGE_SIZE)
    frames = provider.decode_frames(jpegs, paths, gqn_dataset)
    if frames.shape[-2] is not None and frames.shape[-2] == IMAGE_SIZE:
        return frames
    return pil_bilinear_resize(frames, IMAGE_SIZE)


def hotels_per_batch(batch_size, max_dim, dim):
    """``floor(batch_size max_dim^2 / dim^2)`` (int or int32 tensor)."""
    return (batch_size * max_dim ** 2) // (dim * dim)


def hotel_offsets(dim, shift):
    """[d^2, 2] offsets of the scenes of a hotel: ``(2 (s // d), 2 (s % d)) + shift``."""
    s = tf.range(dim * dim)
    cells = tf.cast(tf.stack([s // dim, s % dim], axis=1), tf.float32)
    return SCENE_WIDTH * cells + tf.cast(tf.reshape(shift, [1, 2]), tf.float32)


def assemble_hotels(frames, cameras, dim, shift, context_size):
    """Hotels from scenes of drawn views.

    ``frames`` [n, K + 1, h, w, 3] and ``cameras`` [n, K + 1, 7] (the last view
    of a scene is its query) with ``n`` a multiple of ``d^2``, ``dim`` = d.
    Returns the element dict (see the module docstring).
    """
    scenes_per_hotel = dim * dim
    hotels = tf.shape(frames)[0] // scenes_per_hotel
    offsets = tf.tile(hotel_offsets(dim, shift), [hotels, 1])  # [n, 2]
    xy = cameras[..., :2] + offsets[:, None, :]
    cameras = tf.concat([xy, cameras[..., 2:]], axis=-1)

    def per_hotel(x, views):
        return tf.reshape(x, tf.concat([[hotels, scenes_per_hotel * views], tf.shape(x)[2:]], 0))

    return {
        "context_frames": per_hotel(frames[:, :context_size], context_size),
        "context_cameras": per_hotel(cameras[:, :context_size], context_size),
        "query_cameras": per_hotel(cameras[:, context_size:], 1),
        "target": per_hotel(frames[:, context_size:], 1),
        "num_scenes_per_dim": tf.cast(dim, tf.int32),
        "shift": tf.cast(tf.reshape(shift, [2]), tf.float32),
    }


def _draw(batch_id, seed, dims, sequence_size, example_size, num_scenes):
    """(d, shift [2], view indices [num_scenes, example_size]) of one batch: each scene
    its own draw of distinct views."""
    keys = tf.random.experimental.stateless_split(
        tf.stack([tf.constant(seed, tf.int64), batch_id]), 3)
    choice = tf.random.stateless_uniform([], keys[0], 0, len(dims), dtype=tf.int32)
    dim = tf.gather(tf.constant(dims, tf.int32), choice)
    room = PLANE_WIDTH - SCENE_WIDTH * tf.cast(dim, tf.float32)
    shift = tf.random.stateless_uniform([2], keys[1]) * room
    order = tf.argsort(tf.random.stateless_uniform([num_scenes, sequence_size], keys[2]), axis=1)
    return dim, shift, order[:, :example_size]


def gen_hotel_dataset(dataset, root, mode, *, batch_size=16, dims=(1, 2), max_dim=None,
                      num_batches=None, num_epochs=1, seed=None, buffer_size=64,
                      num_threads=4, num_shards=1, shard_index=0, skip_corrupt=False,
                      resize="pil_bilinear"):
    """``tf.data.Dataset`` of hotel batches (dicts, see the module docstring).

    Args:
      dataset: ``"Labyrinth"`` (GQN ``mazes``) or ``"Room"`` (``rooms_ring_camera``).
      root: folder holding ``<gqn dataset>/<train|test>/*.tfrecord``.
      mode: ``"train"`` (scenes shuffled in a buffer of ``buffer_size``) or
        ``"test"``/``"eval"`` (fixed order, deterministic for a seed).
      batch_size: B; a raw batch holds ``B max_dim^2`` scenes.
      dims: hotel sizes d to draw from, uniformly (one per batch).
      max_dim: the d that sizes raw batches (default ``max(dims)``).
      num_batches: stop after this many batches (test mode reads the scenes
        again and again until then, so a small test split still fills a 5x5
        hotel); None: one pass of ``num_epochs`` over the scenes.
      num_epochs: passes over the scenes (None: forever); partial raw batches
        are dropped.
      seed: makes everything reproducible; None draws one.
      resize: ``"pil_bilinear"`` (the original's 84 -> 64 resize) or
        ``"align_corners"`` (the GQN readers').
    """
    info = hotel_data(dataset)
    if resize not in RESIZES:
        raise ValueError(f"resize must be one of {RESIZES}, got {resize!r}")
    provider.positive_int("batch_size", batch_size)
    provider.positive_int("num_batches", num_batches, allow_none=True)
    provider.positive_int("buffer_size", buffer_size)
    dims = tuple(dims)
    for d in dims:
        provider.positive_int("hotel size (dims)", d)
        if SCENE_WIDTH * d > PLANE_WIDTH:
            raise ValueError(f"a {d}x{d} hotel does not fit the {PLANE_WIDTH:g}-wide plane")
    if not dims:
        raise ValueError("dims must name at least one hotel size")
    max_dim = max(dims) if max_dim is None else max_dim
    provider.positive_int("max_dim", max_dim)
    if max_dim < max(dims):
        raise ValueError(f"max_dim={max_dim} is smaller than the largest hotel size {max(dims)}")
    train = provider.canonical_mode(mode) == "train"
    if seed is None:
        seed = random.getrandbits(31)
    if not train and num_batches is not None:
        num_epochs = None  # read the test scenes again until num_batches are made
    scenes = provider.gqn_scene_dataset(
        info.dataset, root, mode, num_epochs=num_epochs, num_threads=num_threads, seed=seed,
        num_shards=num_shards, shard_index=shard_index, skip_corrupt=skip_corrupt)
    corrupt_count = scenes.corrupt_count
    if train:
        scenes = scenes.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True)
    raw = scenes.batch(batch_size * max_dim ** 2, drop_remainder=True)
    if num_batches is not None:
        raw = raw.take(num_batches)
    sequence_size = provider.dataset_info(info.dataset).sequence_size
    example_size = info.context_size + 1

    raw_size = batch_size * max_dim ** 2

    @tf.autograph.experimental.do_not_convert  # Python control flow on Python values only
    def make(batch_id, paths, jpegs, cameras):
        dim, shift, views = _draw(batch_id, seed, dims, sequence_size, example_size, raw_size)
        used = hotels_per_batch(batch_size, max_dim, dim) * dim * dim
        paths, jpegs, cameras, views = paths[:used], jpegs[:used], cameras[:used], views[:used]
        frames = decode_views(tf.gather(jpegs, views, batch_dims=1), paths, info.dataset,
                              resize)
        return assemble_hotels(frames, tf.gather(cameras, views, batch_dims=1), dim, shift,
                               info.context_size)

    hotels = raw.enumerate().map(tf.autograph.experimental.do_not_convert(
                                     lambda i, batch: make(i, *batch)),
                                 num_parallel_calls=tf.data.AUTOTUNE, deterministic=not train)
    hotels = hotels.prefetch(tf.data.AUTOTUNE)
    hotels.corrupt_count = corrupt_count
    return hotels


def gen_hotel_dataset_fn(dataset, root, mode, global_batch_size, **kwargs):
    """``dataset_fn(input_context)`` for ``strategy.distribute_datasets_from_function``.

    Each input pipeline reads its share of the files with a per-replica B of
    ``input_context.get_per_replica_batch_size(global_batch_size)``; a given
    ``seed`` is offset by the pipeline id. Other keyword arguments go to
    ``gen_hotel_dataset``.
    """
    def dataset_fn(input_context):
        args = dict(kwargs)
        if args.get("seed") is not None:
            args["seed"] = args["seed"] + input_context.input_pipeline_id
        return gen_hotel_dataset(
            dataset, root, mode,
            batch_size=input_context.get_per_replica_batch_size(global_batch_size),
            num_shards=input_context.num_input_pipelines,
            shard_index=input_context.input_pipeline_id, **args)

    return dataset_fn
