"""Write scenes as GQN tfrecords in the original layout and naming.

A scene is ``(frames, cameras)``: ``frames`` either a ``uint8`` array
``[S, H, W, 3]`` (JPEG-encoded here) or a sequence of ``S`` JPEG byte strings,
and ``cameras`` the raw ``[S, 5]`` camera parameters ``x, y, z, yaw, pitch``
(yaw and pitch in radians). Each scene becomes one ``tf.train.Example`` with
the features ``frames`` (bytes list) and ``cameras`` (float list, ``S * 5``),
exactly as the DeepMind datasets store them.

Shards are named after the full dataset (``0001-of-2160.tfrecord`` for
``rooms_ring_camera`` train), so a written tree looks like a partial download
of the real one.
"""
import io
import os

import numpy as np
from PIL import Image

from data_provider import cli, gqn_datasets


def encode_jpeg(image, quality=95):
    """JPEG bytes of one ``uint8`` ``[H, W, 3]`` image."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[-1] != 3:
        raise ValueError(
            f"expected a uint8 image of shape [H, W, 3], got {image.dtype} {image.shape}")
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def scene_example(frames, cameras, quality=95):
    """Serialised ``tf.train.Example`` of one scene."""
    import tensorflow as tf

    if isinstance(frames, np.ndarray):
        if frames.ndim != 4:
            raise ValueError(f"frames must be [S, H, W, 3] uint8, got shape {frames.shape}")
        jpegs = [encode_jpeg(f, quality) for f in frames]
    else:
        jpegs = [bytes(f) for f in frames]
    cameras = np.asarray(cameras, dtype=np.float32)
    if cameras.shape != (len(jpegs), gqn_datasets.NUM_RAW_CAMERA_PARAMS):
        raise ValueError(
            f"cameras must have shape [{len(jpegs)}, 5] (x, y, z, yaw, pitch), got {cameras.shape}")
    feature = {
        "frames": tf.train.Feature(bytes_list=tf.train.BytesList(value=jpegs)),
        "cameras": tf.train.Feature(float_list=tf.train.FloatList(value=cameras.reshape(-1))),
    }
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def write_shards(root, dataset, mode, scenes, scenes_per_file, first_shard=1, quality=95,
                 outputs=None):
    """Write ``scenes`` (an iterable of ``(frames, cameras)``) as shard files.

    Files are filled with ``scenes_per_file`` records each, numbered from
    ``first_shard`` and named after the full dataset's shard count. Returns the
    list of written paths. Refuses to overwrite an existing shard.

    The shards are written under temporary names and appear together when the
    last one is complete (a failure part-way leaves no shard behind).
    ``outputs``: a ``cli.OutputSet`` of ``root`` to add the shards to instead,
    renamed into place when the caller commits it (several splits as one set).
    """
    import tensorflow as tf

    if scenes_per_file < 1:
        raise ValueError(f"scenes_per_file must be >= 1, got {scenes_per_file}")
    total = gqn_datasets.num_shards(dataset, mode)
    base = gqn_datasets.split_dir(root, dataset, mode)
    os.makedirs(base, exist_ok=True)
    own = outputs is None
    outputs = cli.OutputSet(os.fspath(root)) if own else outputs
    paths, writer, index, in_file = [], None, first_shard - 1, 0
    try:
        for frames, cameras in scenes:
            if writer is None or in_file == scenes_per_file:
                if writer is not None:
                    writer.close()
                index += 1
                if index > total:
                    raise ValueError(
                        f"{dataset}/{mode} has only {total} shards; too many scenes for "
                        f"{scenes_per_file} per file")
                path = os.path.join(base, gqn_datasets.shard_name(index, total))
                if os.path.exists(path):
                    raise FileExistsError(f"refusing to overwrite existing shard {path}")
                writer = tf.io.TFRecordWriter(outputs.path(os.path.relpath(path, root)))
                paths.append(path)
                in_file = 0
            writer.write(scene_example(frames, cameras, quality))
            in_file += 1
    except BaseException:
        if writer is not None:
            writer.close()
        if own:
            outputs.discard()
        raise
    if writer is not None:
        writer.close()
    if own:
        outputs.commit()
    return paths
