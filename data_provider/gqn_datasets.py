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
import logging
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

# GEN's names for the two datasets it reads, and the context views per scene of a hotel
HotelData = collections.namedtuple("HotelData", ["dataset", "context_size"])
HOTEL_DATASETS = {
    "Labyrinth": HotelData("mazes", 8),
    "Room": HotelData("rooms_ring_camera", 5),
}

NUM_CHANNELS = 3
NUM_RAW_CAMERA_PARAMS = 5
MODES = ("train", "test")

logger = logging.getLogger(__name__)


def dataset_info(dataset):
    """The ``DatasetInfo`` of ``dataset``; a clear ``UsageError`` (a ``ValueError``) when
    unknown."""
    try:
        return DATASETS[dataset]
    except KeyError:
        raise UsageError(
            f"unknown GQN dataset {dataset!r}; expected one of: {', '.join(sorted(DATASETS))}"
        ) from None


def hotel_data(name):
    """The ``HotelData`` of ``name`` (Labyrinth or Room); a clear ``ValueError`` if unknown."""
    try:
        return HOTEL_DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown GEN dataset {name!r}; expected one of: "
                         f"{', '.join(HOTEL_DATASETS)}") from None


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


class _LocalFiles:
    """``isdir`` and ``listdir`` of local folders, the two ``tf.io.gfile`` calls used here."""
    isdir = staticmethod(os.path.isdir)
    listdir = staticmethod(os.listdir)


def _file_system(root):
    """``tf.io.gfile`` for a URL (``gs://...``), plain ``os`` for a local folder, so that a
    wrong local ``--data_dir`` is reported before TensorFlow's seconds of start-up."""
    if "://" in root:
        from data_provider.cli import quiet_tensorflow

        return quiet_tensorflow().io.gfile
    return _LocalFiles


def find_shard_files(root, dataset, mode):
    """Present shard files of ``dataset``/``mode`` under ``root``, in shard order.

    Raises ``FileNotFoundError`` for a missing root or split folder or when no
    file of the expected naming is present; logs ``found K of N expected files``.
    """
    files_of = _file_system("" if root is None else str(root))
    if root is None or not files_of.isdir(str(root)):
        raise FileNotFoundError(f"GQN data root {root!r} is not a directory (argument root)")
    folder = split_dir(str(root), dataset, mode)
    if not files_of.isdir(folder):
        raise FileNotFoundError(
            f"split folder {folder} does not exist; expected "
            f"<root>/{dataset_info(dataset).basepath}/{canonical_mode(mode)}/ with shard files")
    expected = expected_files(str(root), dataset, mode)
    present = set(files_of.listdir(folder))
    files = [p for p in expected if os.path.basename(p) in present]
    if not files:
        raise FileNotFoundError(
            f"no shard files in {folder}; expected names like {os.path.basename(expected[0])}")
    logger.info("%s/%s: found %d of %d expected files in %s",
                dataset, canonical_mode(mode), len(files), len(expected), folder)
    return files
