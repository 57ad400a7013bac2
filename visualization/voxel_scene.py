"""From a voxel array to the points and colours the viewer draws (no VTK here).

Facts kept from 3D-FCR-alphaGAN ``eval/util.py`` and ``eval/util_vtk.py``:

- Input files are ``.npy`` arrays; a file holds ``[N, X, Y, Z]`` scenes (the
  original's ``read_tensor`` keeps the first four axes) of class labels 0..11
  (0 is empty) as written by the evaluation (``real.npy``, ``recons.npy`` ...).
- A voxel is drawn when its value is ``>= threshold`` (default 0.1), so label 0
  is never drawn, and it gets colour ``PALETTE[int(value)]`` from the
  original's 13-colour palette (the 12 classes use the first 12; a drawn
  value outside ``0..11`` is an error, see ``data_provider/voxel_classes.py``).
- Voxel ``(i, j, k)`` is a cube of side ``uniform_size`` (default 0.9) centred
  at world point ``(j + 0.5, i + 0.5, k + 0.5)`` (the original swaps the first
  two axes; kept so the fixed camera sees the same picture).
- Downsampling pools non-overlapping ``factor^3`` blocks with ``max`` or
  ``mean`` (the original pools the label values themselves).

Beyond the original:

- Probability or one-hot volumes with a trailing class axis (``[N, X, Y, Z, C]``,
  or one ``[X, Y, Z, 12]`` scene) are accepted: the label is the argmax, the
  confidence its probability, and a voxel is drawn when its label is not 0 and
  its confidence is ``>= threshold``.
- ``colormap=True`` colours voxels by confidence with a jet-like ramp (the
  original parses ``-cm`` but ignores it).
- ``max_component=D > 0`` keeps the largest connected set of drawn voxels,
  where voxels at Euclidean distance ``<= D`` are connected (the original
  parses ``-mc`` but has that code commented out).
"""
import numpy as np

from data_provider.cli import UsageError
from data_provider.voxel_classes import NUM_CLASSES, check_labels, label_range

# The original's 13 RGB colours in [0, 1], indexed by class label.
PALETTE = np.array([
    [0.09, 0.75, 0.81], [0.84, 0.15, 0.16], [0.17, 0.63, 0.17], [0.62, 0.85, 0.90],
    [0.45, 0.62, 0.81], [0.80, 0.80, 0.36], [1.00, 0.73, 0.47], [0.58, 0.40, 0.74],
    [0.12, 0.47, 0.71], [0.74, 0.74, 0.13], [1.00, 0.50, 0.05], [0.77, 0.69, 0.84],
    [0.60, 0.60, 0.60]])

PALETTE_UINT8 = np.round(PALETTE * 255).astype(np.uint8)


class VoxelInputError(UsageError):
    """A voxel array or option the viewer cannot draw; the message says why.

    A ``cli.UsageError``: the viewer's commands report it in one line, exit code 2.
    """


def as_scenes(array, name="array"):
    """View an array as a batch of scenes.

    Returns ``(scenes, has_classes)``: ``scenes`` is ``[N, X, Y, Z]`` (values)
    or ``[N, X, Y, Z, C]`` (class probabilities) and ``has_classes`` tells which.
    Ranks: 3 = one scene of values; 4 = ``[N, X, Y, Z]`` values, except a
    floating array whose last axis has length 12 which is one
    ``[X, Y, Z, 12]`` probability scene; 5 = ``[N, X, Y, Z, C]`` with ``C <= 13`` (``C == 1``
    is squeezed to values, as the original's reshape did).
    """
    array = np.asarray(array)
    if array.dtype.kind not in "biuf":
        raise VoxelInputError(f"{name}: expected a numeric voxel array, got dtype {array.dtype}")
    if array.ndim == 3:
        return array[None], False
    if array.ndim == 4:
        if array.dtype.kind == "f" and array.shape[-1] == NUM_CLASSES:
            return array[None], True
        return array, False
    if array.ndim == 5:
        if array.shape[-1] == 1:
            return array[..., 0], False
        if array.shape[-1] > NUM_CLASSES:
            raise VoxelInputError(
                f"{name}: shape {array.shape} has no class axis: expected [N,X,Y,Z,C] with "
                f"at most {NUM_CLASSES} classes")
        return array, True
    raise VoxelInputError(
        f"{name}: expected rank 3 [X,Y,Z], 4 [N,X,Y,Z] or 5 [N,X,Y,Z,C], got shape {array.shape}")


def downsample(scene, factor, method="max"):
    """Pool non-overlapping ``factor^3`` blocks of a ``[X, Y, Z(, C)]`` scene."""
    if method not in ("max", "mean"):
        raise VoxelInputError(f"downsample method: expected 'max' or 'mean', got {method!r}")
    if factor < 1:
        raise VoxelInputError(f"downsample factor: expected an integer >= 1, got {factor}")
    if factor == 1:
        return scene
    x, y, z = scene.shape[:3]
    if x % factor or y % factor or z % factor:
        raise VoxelInputError(
            f"downsample factor {factor} does not divide the scene shape {scene.shape[:3]}")
    blocks = scene.reshape((x // factor, factor, y // factor, factor, z // factor, factor)
                           + scene.shape[3:])
    pool = np.max if method == "max" else np.mean
    return pool(blocks, axis=(1, 3, 5))


def jet(values):
    """Jet-like colour ramp for values in [0, 1]: uint8 ``[M, 3]``."""
    v = np.clip(np.asarray(values, np.float64), 0.0, 1.0)[:, None]
    rgb = np.clip(1.5 - np.abs(4.0 * v - np.array([3.0, 2.0, 1.0])), 0.0, 1.0)
    return np.round(rgb * 255).astype(np.uint8)


def largest_component(indices, distance):
    """Mask of the largest set of points connected by steps of length <= distance."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    n = len(indices)
    if n == 0:
        return np.zeros(0, bool)
    pairs = cKDTree(indices).query_pairs(r=float(distance), output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    return labels == np.argmax(np.bincount(labels))


def scene_points(scene, has_classes=False, threshold=0.1, colormap=False,
                 downsample_factor=1, downsample_method="max", max_component=0):
    """Cube centres and colours of the drawn voxels of one scene.

    Args: ``scene`` ``[X, Y, Z]`` values or ``[X, Y, Z, C]`` probabilities.
    Returns ``(centers float32 [M, 3], colors uint8 [M, 3], grid_shape (X', Y', Z'))``
    with centres in world coordinates ``(j + .5, i + .5, k + .5)``.
    """
    scene = downsample(np.asarray(scene), int(downsample_factor), downsample_method)
    if has_classes:
        labels = np.argmax(scene, axis=-1)
        confidence = np.take_along_axis(scene, labels[..., None], axis=-1)[..., 0]
        shown = (labels != 0) & (confidence >= threshold)
    else:
        values = scene.astype(np.float64, copy=False)
        if np.isnan(values).any():
            raise VoxelInputError("voxel values contain NaN")
        shown = values >= threshold
        labels = values
        confidence = values
    i, j, k = np.nonzero(shown)
    if max_component and len(i):
        keep = largest_component(np.stack([i, j, k], 1), max_component)
        i, j, k = i[keep], j[keep], k[keep]
    if colormap:
        colors = jet(confidence[i, j, k])
    else:
        try:
            classes = check_labels(labels[i, j, k].astype(np.int64), "drawn voxel values",
                                   error=VoxelInputError)
        except VoxelInputError as err:
            raise VoxelInputError(f"{err}; class labels are {label_range()} "
                                  f"({NUM_CLASSES} classes), or use -cm to colour by value"
                                  ) from None
        colors = PALETTE_UINT8[classes]
    centers = np.stack([j + 0.5, i + 0.5, k + 0.5], axis=1).astype(np.float32)
    return centers, colors, scene.shape[:3]
