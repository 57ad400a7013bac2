"""Candidates rendered alone, then any subset of them composited without casting rays again.

Each primitive is ray-cast once, alone, with its depth, at the renderer's
sub-pixel resolution (``layer_hits``, ``render_layers``); a subset's image is
the z-buffer of its layers (``zbuffer``: the nearest per sub-pixel, the
earlier layer on a tie, as ``render_batch``) followed by the renderer's box
filter (``box_filter``): ``composite``. These are the numbers
``render_batch`` gives the subset, float for float.

Layers are kept pixel by pixel, ``[..., H * W, k * k]`` (``k`` the
supersampling), the ``k x k`` sub-pixels of a pixel side by side in row-major
order, so that a few pixels of many layers or subsets are cheap to take.
"""
import numpy as np

from data_provider import scene_renderer as sr
from models.air.scenes import _render_arguments


def layer_hits(types, positions, rotations, image_size, supersample, camera="orthographic"):
    """The sub-pixels each primitive covers when rendered alone (``types [P]``,
    ``positions [P, 3]``, ``rotations [P, 3, 3]``; no empty slots) by ``camera``
    (``models.air.scenes.CAMERAS``): ``index`` (which primitive), ``pixel`` (``row * W +
    col``), ``sub`` (``sub_row * k + sub_col``) and float32 grey level and depth, the
    values ``render_batch`` gives a lone primitive."""
    k = supersample
    side = image_size * k
    args, kwargs = _render_arguments(np.reshape(types, (-1, 1)), np.reshape(positions, (-1, 1, 3)),
                                     np.reshape(rotations, (-1, 1, 3, 3)), side, 1, camera)
    kinds, world, matrices, size, camera = args[:5]
    index, row, col, t, intensity = sr.primitive_hits(
        kinds[:, 0], world[:, 0], matrices[:, 0], size, camera, side, side,
        light_dir=kwargs["light_dir"], ambient=kwargs["ambient"])
    pixel = (row // k) * image_size + col // k
    grey = np.clip(intensity.astype(np.float32), 0.0, 1.0)    # colour 1 on background 0
    return index, pixel, (row % k) * k + col % k, grey, t.astype(np.float32)


def render_layers(types, positions, rotations, image_size, supersample, camera="orthographic"):
    """Every candidate alone (``types [N, M]``, -1 none), at sub-pixel resolution: grey
    levels and depths, each ``[N, M, H * W, k * k]`` (``k = supersample``; depth ``inf``
    off the primitive), seen by ``camera``."""
    types = np.asarray(types)
    n, m = types.shape
    k = supersample
    grey = np.zeros((n * m, image_size * image_size, k * k), np.float32)
    depth = np.full(grey.shape, np.inf, np.float32)
    some = np.flatnonzero(types.reshape(-1) >= 0)
    index, pixel, sub, g, d = layer_hits(types.reshape(-1)[some],
                                         np.reshape(positions, (-1, 3))[some],
                                         np.reshape(rotations, (-1, 3, 3))[some],
                                         image_size, supersample, camera)
    grey[some[index], pixel, sub], depth[some[index], pixel, sub] = g, d
    return grey.reshape(n, m, *grey.shape[1:]), depth.reshape(n, m, *depth.shape[1:])


def zbuffer(grey, depth, layers):
    """The nearest of the layers per sub-pixel, the earlier one on a tie: ``layers
    [..., L]`` (indices into axis 0 of ``grey`` and ``depth``) -> grey levels and depths
    ``layers.shape[:-1] + grey.shape[1:]`` (background 0 at depth ``inf`` when ``L = 0``)."""
    layers = np.asarray(layers, int)
    if layers.shape[-1] == 0:
        shape = layers.shape[:-1] + grey.shape[1:]
        return np.zeros(shape, grey.dtype), np.full(shape, np.inf, depth.dtype)
    image, nearest = grey[layers[..., 0]], depth[layers[..., 0]]
    for j in range(1, layers.shape[-1]):
        d = depth[layers[..., j]]
        closer = d < nearest
        image = np.where(closer, grey[layers[..., j]], image)
        nearest = np.where(closer, d, nearest)
    return image, nearest


def box_filter(sub, supersample):
    """``[..., k * k]`` sub-pixels (row-major) -> ``[...]`` pixels, their mean summed as
    numpy's mean over the ``k x k`` axes of a ``[H, k, W, k]`` image sums them (each
    sub-row left to right, then the sub-rows top to bottom): the same float32 numbers."""
    k = supersample
    rows = [sub[..., i * k] for i in range(k)]
    for i in range(k):
        for j in range(1, k):
            rows[i] = rows[i] + sub[..., i * k + j]
    total = rows[0]
    for row in rows[1:]:
        total = total + row
    return total / (k * k)


def composite(grey, depth, subsets, supersample):
    """Pixels ``[S, P]`` of the subsets ``[S, L]`` (indices into axis 0 of one image's
    layers ``grey``, ``depth [M, P, k * k]``): the nearest layer per sub-pixel (the
    earlier one on a tie, ``zbuffer``), then the mean over each pixel's ``k x k``
    sub-pixels (``box_filter``). Subsets that share all but their last layer share the
    z-buffer of those (298 subsets of 12 candidates have 78 such prefixes)."""
    subsets = np.asarray(subsets, int)
    if subsets.shape[1] < 2:
        return box_filter(zbuffer(grey, depth, subsets)[0], supersample)
    prefixes, index = np.unique(subsets[:, :-1], axis=0, return_inverse=True)
    image, nearest = zbuffer(grey, depth, prefixes)
    last = subsets[:, -1]
    closer = depth[last] < nearest[index.reshape(-1)]
    return box_filter(np.where(closer, grey[last], image[index.reshape(-1)]), supersample)
