"""The table of DeepMind's GQN datasets and their shard file naming.

Facts kept from the original reader (deepmind/gqn-datasets ``data_reader.py``,
tf-gqn ``gqn_tfr_provider.py``):

* seven datasets, each ``DatasetInfo(basepath, train_size, test_size,
  frame_size, sequence_size)`` where ``train_size`` / ``test_size`` count shard
  files, ``frame_size`` is the square image side and ``sequence_size`` the
  number of views stored per scene;
* shard files live in ``<root>/<basepath>/<train|test>/`` and are named
  ``{i:0Nd}-of-{n:0Nd}.tfrecord``, ``i`` 1-based, ``N`` the number of digits
  of ``n`` (``0001-of-1080.tfrecord``, ``001-of-120.tfrecord``);
* every record holds ``frames`` (``sequence_size`` JPEG strings) and
  ``cameras`` (``sequence_size * 5`` floats: x, y, z, yaw, pitch).
"""
import collections
import os

from data_provider.cli import UsageError

DatasetInfo = collections.namedtuple(
    "DatasetInfo", ["basepath", "train_size", "test_size", "frame_size", "sequence_size"])

DATASETS = {
    "jaco": DatasetInfo("jaco", 3600, 400, 64, 11),
    "mazes": DatasetInfo("mazes", 1080, 120, 84, 300),
    "rooms_free_camera_with_object_rotations": DatasetInfo(
        "rooms_free_camera_with_object_rotations", 2034, 226, 128, 10),
    "rooms_ring_camera": DatasetInfo("rooms_ring_camera", 2160, 240, 64, 10),
    "rooms_free_camera_no_object_rotations": DatasetInfo(
        "rooms_free_camera_no_object_rotations", 2160, 240, 64, 10),
    "shepard_metzler_5_parts": DatasetInfo("shepard_metzler_5_parts", 900, 100, 64, 15),
    "shepard_metzler_7_parts": DatasetInfo("shepard_metzler_7_parts", 900, 100, 64, 15),
}

NUM_CHANNELS = 3
NUM_RAW_CAMERA_PARAMS = 5
MODES = ("train", "test")


def dataset_info(dataset):
    """The ``DatasetInfo`` of ``dataset``; a clear ``UsageError`` (a ``ValueError``) when
    unknown."""
    try:
        return DATASETS[dataset]
    except KeyError:
        raise UsageError(
            f"unknown GQN dataset {dataset!r}; expected one of: {', '.join(sorted(DATASETS))}"
        ) from None


def canonical_mode(mode):
    """``'train'`` or ``'test'`` (``'eval'`` is accepted for ``'test'``)."""
    if mode == "eval":
        return "test"
    if mode not in MODES:
        raise UsageError(f"unknown mode {mode!r}; expected 'train', 'test' or 'eval'")
    return mode


def num_shards(dataset, mode):
    """Number of shard files of the full dataset split."""
    info = dataset_info(dataset)
    return info.train_size if canonical_mode(mode) == "train" else info.test_size


def shard_name(index, total):
    """File name of 1-based shard ``index`` of ``total``: ``0001-of-1080.tfrecord``."""
    width = len(str(total))
    return f"{index:0{width}d}-of-{total:0{width}d}.tfrecord"


def split_dir(root, dataset, mode):
    """``<root>/<basepath>/<train|test>``."""
    return os.path.join(root, dataset_info(dataset).basepath, canonical_mode(mode))


def expected_files(root, dataset, mode):
    """Paths of every shard of the full split, in order (most may be absent)."""
    total = num_shards(dataset, mode)
    base = split_dir(root, dataset, mode)
    return [os.path.join(base, shard_name(i, total)) for i in range(1, total + 1)]
