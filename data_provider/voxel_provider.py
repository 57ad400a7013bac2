"""Voxel scene data for FCR-alphaGAN: listing, train/test split, validation, tf.data pipeline.

Layout kept from the original (3D-FCR-alphaGAN ``util.py``, ``cfg.DIR.VOXEL_PATH``)::

    <voxel_root>/<sceneId>/<modelId>.npy     integer labels, shape [80, 48, 80]

The middle axis is the height. Labels 0..11 are the 12 scene classes of
:mod:`data_provider.voxel_classes` (empty, ceiling, floor, wall, window, chair,
bed, sofa, table, tvs, furn, objs).

Facts kept from the original:

- ``scene_model_id_pair`` lists every (sceneId, modelId) pair and keeps the
  slice ``pairs[int(n * p0):int(n * p1)]`` of ``cfg.TRAIN.DATASET_PORTION =
  [0, 0.95]``: train is the first 95 %, test the rest.
- Training batches have a fixed size (the original feeds fixed-size
  placeholders), so the last incomplete batch of an epoch is dropped, and the
  order is reshuffled at every epoch.

Differences, on purpose:

- The original lists directories with ``os.listdir``, whose order depends on
  the file system, so its split differs between machines. Here the listing is
  **sorted** (scene ids, then model ids, as strings), so the split is the same
  on every machine.
- The original test list starts one pair after the end of the training slice
  (``int(n * p1) + 1``), silently dropping one scene; here test is exactly the
  complement of train.
- ``modelId`` is the file name without ``.npy`` (the original keeps the
  extension inside the id); use :func:`voxel_path` to build the file name.
- Files are validated (shape, integer dtype, labels in 0..11, readable); a bad
  file raises :class:`VoxelFileError` naming the file, or with
  ``skip_bad=True`` is skipped, logged and counted. :func:`check_files`
  checks a whole tree up front (the trainer does, before it writes anything),
  so a bad file is named before training rather than when it is first drawn.

Input format: the npy tree is read directly. Packing it into TFRecord shards
did not pay off (``benchmarks/voxel_input.py`` compares both; figures in the
README), so no packed format is provided; store the files as uint8 (as
``sscnet_to_voxels.py`` and ``render_voxel_scenes.py`` do) to keep them small.
"""
import logging
import os

import numpy as np
import tensorflow as tf

from data_provider.cli import UsageError
from data_provider.progress import Progress
from data_provider.voxel_classes import NUM_CLASSES, check_labels, label_range

N_VOX = (80, 48, 80)
DATASET_PORTION = (0.0, 0.95)

log = logging.getLogger(__name__)


class VoxelFileError(UsageError):
    """A voxel file that cannot be used; the message starts with the file's path.

    A ``cli.UsageError``: the command-line tools report it in one line, exit code 2.
    """


def voxel_path(voxel_root, scene_id, model_id):
    """Path of one scene: ``<voxel_root>/<scene_id>/<model_id>.npy``."""
    return os.path.join(os.fspath(voxel_root), scene_id, model_id + ".npy")


def list_pairs(voxel_root):
    """Every (scene_id, model_id) under ``voxel_root``, sorted (same order on every machine).

    Raises FileNotFoundError when the root is not a directory or holds no ``.npy`` scene.
    """
    root = os.fspath(voxel_root)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"voxel root {root!r} is not a directory "
                                "(expected <voxel_root>/<sceneId>/<modelId>.npy)")
    pairs = []
    for scene_id in sorted(os.listdir(root)):
        scene_dir = os.path.join(root, scene_id)
        if not os.path.isdir(scene_dir):
            continue
        pairs.extend((scene_id, name[:-4]) for name in sorted(os.listdir(scene_dir))
                     if name.endswith(".npy"))
    if not pairs:
        raise FileNotFoundError(f"no voxel scenes found under {root!r} "
                                "(expected <voxel_root>/<sceneId>/<modelId>.npy)")
    return pairs


def _check_portion(portion):
    try:
        lo, hi = (float(p) for p in portion)
    except (TypeError, ValueError):
        raise ValueError(f"portion must be two numbers (start, end), got {portion!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise ValueError(f"portion must satisfy 0 <= start <= end <= 1, got {portion!r}")
    return lo, hi


def scene_model_id_pairs(voxel_root, portion=DATASET_PORTION):
    """Sorted pairs sliced like the original: ``pairs[int(n * start):int(n * end)]``."""
    lo, hi = _check_portion(portion)
    pairs = list_pairs(voxel_root)
    n = len(pairs)
    return pairs[int(n * lo):int(n * hi)]


def train_test_pairs(voxel_root, portion=DATASET_PORTION):
    """(train, test): train is the ``portion`` slice of the sorted pairs, test the pairs
    after it."""
    lo, hi = _check_portion(portion)
    pairs = list_pairs(voxel_root)
    n = len(pairs)
    return pairs[int(n * lo):int(n * hi)], pairs[int(n * hi):]


def read_header(path, n_vox=N_VOX):
    """Validate a ``.npy`` header only (readable, shape ``n_vox``, integer dtype).

    Cheap: reads a few hundred bytes. Returns (dtype, fortran_order, data
    offset in bytes); raises VoxelFileError naming the file.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            return _read_header(f, path, n_vox)
    except OSError as err:
        raise VoxelFileError(f"{path}: unreadable .npy file ({err.strerror})") from None


def _read_header(f, path, n_vox):
    """``read_header`` of an open file, left at the start of the data."""
    if f.read(len(np.lib.format.MAGIC_PREFIX)) != np.lib.format.MAGIC_PREFIX:
        raise VoxelFileError(f"{path}: not a valid .npy array file")
    f.seek(0)
    try:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
        else:
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
        offset = f.tell()
    except Exception as err:  # any failure to read is reported the same way
        raise VoxelFileError(f"{path}: unreadable .npy file ({err})") from None
    _check_shape_dtype(path, shape, dtype, n_vox)
    return dtype, bool(fortran), offset


def _check_magic(path):
    """VoxelFileError when ``path`` cannot be opened or is not a ``.npy`` file at all.

    A text or other file renamed ``.npy`` gets "not a valid .npy array file"
    (numpy itself would talk about pickled data and ``allow_pickle``).
    """
    try:
        with open(path, "rb") as f:
            magic = f.read(len(np.lib.format.MAGIC_PREFIX))
    except OSError as err:
        raise VoxelFileError(f"{path}: unreadable .npy file ({err.strerror})") from None
    if magic != np.lib.format.MAGIC_PREFIX:
        raise VoxelFileError(f"{path}: not a valid .npy array file")


def _check_shape_dtype(path, shape, dtype, n_vox):
    if tuple(shape) != tuple(n_vox):
        raise VoxelFileError(f"{path}: shape {tuple(shape)}, expected {tuple(n_vox)}")
    if dtype.kind not in "iu":
        raise VoxelFileError(f"{path}: dtype {dtype}, expected an integer dtype "
                             f"with labels {label_range()}")


def load_scene(path, n_vox=N_VOX):
    """Load and validate one scene; returns int32 labels of shape ``n_vox``.

    Raises VoxelFileError naming the file when it is unreadable, has another
    shape, a non-integer dtype, or labels outside 0..11.
    """
    path = os.fspath(path)
    _check_magic(path)
    try:
        data = np.load(path, allow_pickle=False)
    except Exception as err:
        raise VoxelFileError(f"{path}: unreadable .npy file ({err})") from None
    if not isinstance(data, np.ndarray):
        raise VoxelFileError(f"{path}: expected one array, got {type(data).__name__}")
    _check_shape_dtype(path, data.shape, data.dtype, n_vox)
    check_labels(data, path, error=VoxelFileError)
    return data.astype(np.int32, copy=False)


def check_file(path, n_vox=N_VOX):
    """Validate one scene: header, length, labels in 0..11; raise VoxelFileError naming it.

    One open and one read per file: viewed as unsigned integers of the same
    width, a negative label is a huge number, so ``max < 12`` checks both
    ends in one pass. (Reading beats a memory map here: 0.3 MB per uint8
    scene; ``benchmarks/voxel_check.py`` measures the whole check.)
    """
    path = os.fspath(path)
    count = int(np.prod(n_vox))
    try:
        with open(path, "rb") as f:
            dtype, _, offset = _read_header(f, path, n_vox)
            data_bytes = os.fstat(f.fileno()).st_size - offset
            if data_bytes < count * dtype.itemsize:
                raise VoxelFileError(f"{path}: truncated: {data_bytes} bytes of data, expected "
                                     f"{count * dtype.itemsize}")
            unsigned = np.fromfile(f, dtype=dtype.str.replace("i", "u"), count=count)
    except OSError as err:
        raise VoxelFileError(f"{path}: unreadable .npy file ({err.strerror})") from None
    if count and int(unsigned.max()) >= NUM_CLASSES:  # the standard message, with min and max
        check_labels(unsigned.view(dtype), path, error=VoxelFileError)


def check_files(voxel_root, pairs, n_vox=N_VOX, log=None):
    """Validate every listed scene (see :func:`check_file`); raise on the first bad one.

    ``log`` receives progress lines (count, rate, ETA) on a large tree.
    Cost: ``benchmarks/voxel_check.py`` measures it.
    """
    progress = Progress("check voxel files", len(pairs), "files", log=log)
    for done, (scene_id, model_id) in enumerate(pairs, 1):
        check_file(voxel_path(voxel_root, scene_id, model_id), n_vox)
        progress.update(done)


def load_scenes(voxel_root, pairs, n_vox=N_VOX):
    """Load the listed scenes into one int32 array [N, X, Y, Z] (validated, in order)."""
    out = np.empty((len(pairs),) + tuple(n_vox), np.int32)
    for i, (scene_id, model_id) in enumerate(pairs):
        out[i] = load_scene(voxel_path(voxel_root, scene_id, model_id), n_vox)
    return out


def _usable_files(paths, n_vox, skip_bad, bad_files):
    """Header-check every path; raise on the first bad one or drop and record it.

    Returns (paths, headers) of the good files.
    """
    good, headers = [], []
    for path in paths:
        try:
            header = read_header(path, n_vox)
        except VoxelFileError as err:
            if not skip_bad:
                raise
            _record_bad(str(err), bad_files)
            continue
        good.append(path)
        headers.append(header)
    return good, headers


def _record_bad(message, bad_files):
    if bad_files is not None:
        bad_files.append(message)
        log.warning("skipping bad voxel file (%d so far): %s", len(bad_files), message)
    else:
        log.warning("skipping bad voxel file: %s", message)


_TF_INTEGER = {np.dtype(t): getattr(tf, t) for t in ("int8", "uint8", "int16", "uint16", "int32",
                                                      "int64")}


def _fast_dtype(headers):
    """The common numpy dtype when every file can be decoded in TensorFlow, else None."""
    dtypes = {dtype.newbyteorder("=") if dtype.byteorder != "|" else dtype
              for dtype, _, _ in headers}
    orders = {dtype.byteorder for dtype, _, _ in headers}
    if (len(dtypes) != 1 or any(fortran for _, fortran, _ in headers)
            or len(orders) != 1 or orders & {">"}):
        return None
    dtype = dtypes.pop()
    return dtype if dtype in _TF_INTEGER else None


def voxel_dataset(voxel_root, pairs, batch_size, n_vox=N_VOX, shuffle=True, seed=None,
                  num_shards=1, shard_index=0, skip_bad=False, bad_files=None):
    """One epoch of int32 label batches ``[batch_size, X, Y, Z]`` as a tf.data.Dataset.

    - shards the pair list first (``num_shards``/``shard_index``, for tf.distribute);
    - shuffles the whole (sharded) list, differently at every iteration of the
      dataset (that is, every epoch), reproducibly when ``seed`` is given;
    - loads and validates files in parallel, batches with the remainder
      dropped (fixed batch as in the original), prefetches.

    Reading: when all files share one little-endian integer dtype in C order
    (the usual case), they are decoded inside TensorFlow (``read_file`` +
    ``decode_raw`` after the header), and only a file that fails the checks
    goes through :func:`load_scene` in Python; otherwise every file is read
    with :func:`load_scene`.

    Validation: file headers (readable, shape, integer dtype) are checked when
    the dataset is built, so such files raise :class:`VoxelFileError` here;
    labels outside 0..11 (or truncated data) are found while loading and then
    surface as a ``tf.errors.InvalidArgumentError`` whose message contains
    ``VoxelFileError: <path>: labels outside 0..11``. With ``skip_bad=True``
    bad files are skipped instead, logged with a running count and, when
    ``bad_files`` is a list, appended to it as messages.
    """
    n_vox = tuple(int(n) for n in n_vox)
    if int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if int(num_shards) < 1 or not 0 <= int(shard_index) < int(num_shards):
        raise ValueError(f"shard_index must be in 0..num_shards-1, got shard_index={shard_index}, "
                         f"num_shards={num_shards}")
    paths = [voxel_path(voxel_root, s, m) for s, m in pairs]
    paths = paths[int(shard_index)::int(num_shards)]
    paths, headers = _usable_files(paths, n_vox, skip_bad, bad_files)
    if len(paths) < batch_size and not skip_bad:
        raise ValueError(f"{len(paths)} scenes in shard {shard_index} of {num_shards} under "
                         f"{os.fspath(voxel_root)!r}, fewer than batch_size={batch_size}: "
                         "no full batch")

    def load(path):
        path = path.decode()
        try:
            return load_scene(path, n_vox), True
        except VoxelFileError as err:
            if not skip_bad:
                raise
            _record_bad(str(err), bad_files)
            return np.zeros(n_vox, np.int32), False

    def load_py(path):
        vox, ok = tf.numpy_function(load, [path], (tf.int32, tf.bool), stateful=False)
        vox.set_shape(n_vox)
        ok.set_shape(())
        return vox, ok

    dtype = _fast_dtype(headers)
    size = int(np.prod(n_vox))

    def load_tf(path, offset):
        raw = tf.io.decode_raw(tf.strings.substr(tf.io.read_file(path), offset, -1),
                               _TF_INTEGER[dtype])
        ok = tf.size(raw) == size
        if size:
            ok = ok & (tf.reduce_max(raw) < NUM_CLASSES)
            if dtype.kind == "i":
                ok = ok & (tf.reduce_min(raw) >= 0)
        return tf.cond(ok, lambda: (tf.cast(tf.reshape(raw, n_vox), tf.int32), ok),
                       lambda: load_py(path))

    offsets = [offset for _, _, offset in headers]
    ds = tf.data.Dataset.from_tensor_slices((tf.constant(paths, tf.string),
                                             tf.constant(offsets, tf.int32)))
    if shuffle:
        ds = ds.shuffle(max(len(paths), 1), seed=seed, reshuffle_each_iteration=True)
    ds = ds.map(load_tf if dtype is not None else lambda path, offset: load_py(path),
                num_parallel_calls=tf.data.AUTOTUNE, deterministic=seed is not None or not shuffle)
    if skip_bad:
        ds = ds.filter(lambda vox, ok: ok)
    ds = ds.map(lambda vox, ok: vox)
    return ds.batch(int(batch_size), drop_remainder=True).prefetch(tf.data.AUTOTUNE)


def voxel_dataset_fn(voxel_root, pairs, global_batch_size, **kwargs):
    """A ``dataset_fn(input_context)`` for ``strategy.distribute_datasets_from_function``.

    Each input pipeline reads its own shard (``input_pipeline_id`` of
    ``num_input_pipelines``) with the per-replica batch size; ``kwargs`` go to
    :func:`voxel_dataset`.
    """
    def dataset_fn(input_context):
        return voxel_dataset(
            voxel_root, pairs, input_context.get_per_replica_batch_size(global_batch_size),
            num_shards=input_context.num_input_pipelines,
            shard_index=input_context.input_pipeline_id, **kwargs)
    return dataset_fn
