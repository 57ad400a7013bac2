"""Count by re-rendering (``explain``) and pose fitting (``refine``), with the renderer.

The inference network proposes candidates (``models.air.heads``, ``propose``:
type, position, rotation and presence of each, most present first). The
renderer is the generative model the network inverts, so the count is settled
with it: every non-empty subset of at most ``max_primitives`` of the first
``search`` candidates (those with presence above ``floor``, the first always)
is rendered, and the subset with the smallest

    sum over pixels |rendering - image| + gain x (number of primitives)

is kept: a primitive must explain at least ``gain`` grey-level units (a
primitive covers about 130 pixels at 64x64) to be counted. A second reading of
a primitive already in the scene explains nothing new and is left out; a
primitive the network doubted but the image shows is taken in. Unlike adding
candidates one at a time, the search also finds the pair that replaces one
merged reading of two overlapping primitives.

Then the kept primitives are fitted to the image by the renderer (``refine``:
small turns and shifts that lower the same error) and the search runs again,
so that a primitive read a few degrees off no longer leaves a rim for a
phantom to explain (the order of these steps: ``models.air.search.pipeline``).

The subsets are not ray-cast one by one: each candidate is rendered once
alone, with its depth, at the renderer's sub-pixel resolution
(``render_layers``), and a subset's image is the z-buffer of its layers
followed by the renderer's box filter (``composite``), the same image. At
``K = 3`` and 12 candidates that is 298 subsets per image from 12 renderings.

How it is fast (the same numbers as rendering every subset and every trial
pose with ``render_batch``, float for float, so the same answer):

- layers are kept pixel by pixel, ``[..., H * W, k * k]`` with the ``k x k``
  sub-pixels of a pixel side by side, and the box filter sums them in the
  order numpy's mean over a ``[H, k, W, k]`` image does (each sub-row left to
  right, then the sub-rows top to bottom);
- ``explain`` takes one image at a time and all its subsets at once, and
  composites only the pixels some candidate covers: elsewhere every subset
  renders the background, 0, so ``|rendering - image|`` is ``|image|``;
- ``refine`` ray-casts a trial pose only where the primitive can be
  (``data_provider.scene_renderer.primitive_hits``), for the images where
  the primitive is kept, and lays the hits over the others' z-buffer, made
  once per primitive and round.
"""
import itertools

import numpy as np

from data_provider import scene_renderer as sr
from models.air.scenes import _render_arguments, take_slots


def layer_hits(types, positions, rotations, image_size, supersample):
    """The sub-pixels each primitive covers when rendered alone (``types [P]``,
    ``positions [P, 3]``, ``rotations [P, 3, 3]``; no empty slots): ``index`` (which
    primitive), ``pixel`` (``row * W + col``), ``sub`` (``sub_row * k + sub_col``) and
    float32 grey level and depth, the values ``render_batch`` gives a lone primitive."""
    k = supersample
    side = image_size * k
    args, kwargs = _render_arguments(np.reshape(types, (-1, 1)), np.reshape(positions, (-1, 1, 3)),
                                     np.reshape(rotations, (-1, 1, 3, 3)), side, 1)
    kinds, world, matrices, size, camera = args[:5]
    index, row, col, t, intensity = sr.primitive_hits(
        kinds[:, 0], world[:, 0], matrices[:, 0], size, camera, side, side,
        light_dir=kwargs["light_dir"], ambient=kwargs["ambient"])
    pixel = (row // k) * image_size + col // k
    grey = np.clip(intensity.astype(np.float32), 0.0, 1.0)    # colour 1 on background 0
    return index, pixel, (row % k) * k + col % k, grey, t.astype(np.float32)


def render_layers(types, positions, rotations, image_size, supersample):
    """Every candidate alone (``types [N, M]``, -1 none), at sub-pixel resolution: grey
    levels and depths, each ``[N, M, H * W, k * k]`` (``k = supersample``, the
    sub-pixels of each pixel side by side; depth ``inf`` off the primitive).

    Any subset of the candidates is then rendered by ``composite``, without casting
    rays again: a z-buffer keeps the nearest layer per sub-pixel, as the renderer does.
    """
    types = np.asarray(types)
    n, m = types.shape
    k = supersample
    grey = np.zeros((n * m, image_size * image_size, k * k), np.float32)
    depth = np.full(grey.shape, np.inf, np.float32)
    some = np.flatnonzero(types.reshape(-1) >= 0)
    index, pixel, sub, g, d = layer_hits(types.reshape(-1)[some],
                                         np.reshape(positions, (-1, 3))[some],
                                         np.reshape(rotations, (-1, 3, 3))[some],
                                         image_size, supersample)
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
    sub-pixels (``box_filter``)."""
    return box_filter(zbuffer(grey, depth, subsets)[0], supersample)


def explain(candidates, images, max_primitives, image_size, supersample, gain=4.0, floor=0.05,
            search=None, chunk=100, progress=None):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``.

    ``search`` (default ``2 * max_primitives + 1``) first candidates are tried,
    ``chunk`` images at a time; ``progress(done, n)`` is called after each chunk."""
    images = np.asarray(images).reshape(len(images), image_size * image_size)
    candidates = {k: np.asarray(v) for k, v in candidates.items()}
    n, m = candidates["presence_logit"].shape
    m = min(m, search or 2 * max_primitives + 1)
    logit = np.clip(candidates["presence_logit"][:, :m].astype(np.float64), -50.0, 50.0)
    allowed = 1.0 / (1.0 + np.exp(-logit)) > floor
    allowed[:, 0] = True
    types = candidates["type_logits"][:, :m].argmax(-1)
    subsets = [list(s) for size in range(1, min(max_primitives, m) + 1)
               for s in itertools.combinations(range(m), size)]
    width = len(subsets[-1])
    table = np.array([s + [m] * (width - len(s)) for s in subsets])  # m: an empty layer
    sizes = np.array([len(s) for s in subsets])
    chosen = np.zeros((n, m), bool)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        grey, depth = render_layers(types[lo:hi], candidates["position"][lo:hi, :m],
                                    candidates["rotation"][lo:hi, :m], image_size, supersample)
        for i in range(lo, hi):
            best = _best_subset(grey[i - lo], depth[i - lo], images[i], allowed[i], table, sizes,
                                gain, supersample)
            chosen[i, subsets[best]] = True
        if progress is not None:
            progress(hi, n)
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: take_slots(v[:, :m], order) for k, v in candidates.items()}
    kept = take_slots(chosen, order)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


def _best_subset(grey, depth, image, allowed, table, sizes, gain, supersample):
    """Index of the subset (row of ``table``, padded with the empty layer ``M``) of one
    image's candidate layers (``[M, H * W, k * k]``) with the smallest ``sum |rendering -
    image| + gain x size`` among those of ``allowed`` candidates, the first on a tie."""
    ok = np.append(allowed, True)[table].all(axis=1)
    lit = np.flatnonzero(np.isfinite(depth[allowed]).any(axis=(0, 2)))   # covered pixels
    grey = np.concatenate([grey[:, lit], np.zeros((1, lit.size, grey.shape[2]), grey.dtype)])
    depth = np.concatenate([depth[:, lit], np.full((1,) + grey.shape[1:], np.inf, depth.dtype)])
    diff = np.repeat(-image[None], ok.sum(), axis=0)                  # 0 - image off them
    diff[:, lit] = composite(grey, depth, table[ok], supersample) - image[lit]
    error = np.abs(diff, out=diff).sum(axis=1)
    score = error + (gain * sizes[ok]).astype(error.dtype)
    return np.flatnonzero(ok)[np.argmin(score)]


def refine(slots, images, image_size, supersample, rounds=3, turn=0.12, shift=0.5, chunk=100,
           progress=None):
    """``slots`` (numpy dict ``[N, K, ...]``) with the kept primitives (presence logit
    > 0) fitted to ``images [N, H, W(, 1)]`` by the renderer: coordinate descent on
    the summed |rendering - image|.

    Each round tries, for each kept primitive in turn, turns by ``+-turn``
    radians about the image's right, up and viewing axes and shifts by
    ``+-shift`` pixels along right and up, keeping every move that lowers the
    error; each round halves the steps. A reading that is a few degrees off
    leaves a rim that another primitive could "explain"; fitted, it does not.
    Only the moved primitive is ray-cast again, over the z-buffer of the others
    (``layer_hits``, ``zbuffer``). ``progress(done, n)`` is called after each ``chunk``
    images.
    """
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, view_axes

    images = np.asarray(images, np.float64).reshape(len(images), image_size * image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.asarray(slots["type_logits"]).argmax(-1)
    positions = np.asarray(slots["position"], np.float64).copy()
    rotations = np.asarray(slots["rotation"], np.float64).copy()
    n, k = kept.shape
    axes = view_axes()                                            # right, up, forward
    pixel = CAMERA_EXTENT / image_size / WORLD_HALF               # in position units

    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        grey, depth = render_layers(np.where(kept[lo:hi], types[lo:hi], -1), positions[lo:hi],
                                    rotations[lo:hi], image_size, supersample)
        for r in range(rounds):
            scale = 0.5 ** r
            moves = [(axis_angle(axis, sign * turn * scale), 0.0) for axis in axes
                     for sign in (1, -1)]
            moves += [(np.eye(3), sign * shift * scale * pixel * axis) for axis in axes[:2]
                      for sign in (1, -1)]
            for j in range(k):
                rows = np.flatnonzero(kept[lo:hi, j])
                if rows.size == 0:
                    continue
                fitted = _Fit(grey[rows], depth[rows], j, images[lo + rows], supersample)
                for turned, shifted in moves:
                    pos = positions[lo + rows, j] + shifted
                    rot = turned @ rotations[lo + rows, j]
                    hits = layer_hits(types[lo + rows, j], pos, rot, image_size, supersample)
                    better = fitted.trial(*hits)
                    positions[lo + rows[better], j] = pos[better]
                    rotations[lo + rows[better], j] = rot[better]
                grey[rows, j], depth[rows, j] = fitted.grey, fitted.depth
        if progress is not None:
            progress(hi, n)
    return dict(slots, position=positions.astype(np.float32),
                rotation=rotations.astype(np.float32))


class _Fit:
    """Trial poses of primitive ``j`` of some images (their layers ``[R, K, H * W, k * k]``
    with the primitives not kept empty): ``trial`` takes the hits of one trial pose per
    image and keeps those that lower ``sum |rendering - image|`` by more than 1e-9."""

    def __init__(self, grey, depth, j, images, supersample):
        self.k, self.images = supersample, images
        others = [i for i in range(grey.shape[1]) if i != j]
        # the others' z-buffer, once; a trial of primitive j goes over or under it
        self.back, self.near = zbuffer(np.moveaxis(grey, 1, 0), np.moveaxis(depth, 1, 0),
                                       others)
        self.grey, self.depth = grey[:, j], depth[:, j]
        self.best = self.error(np.where(self.depth < self.near, self.grey, self.back))

    def error(self, sub):
        return np.abs(box_filter(sub, self.k) - self.images).sum(axis=1)

    def trial(self, index, pixel, sub, grey, depth):
        """Boolean ``[R]``: the images whose trial (hits of ``layer_hits``) was kept."""
        over = depth < self.near[index, pixel, sub]
        image = self.back.copy()
        image[index[over], pixel[over], sub[over]] = grey[over]
        error = self.error(image)
        better = error < self.best - 1e-9
        self.best[better] = error[better]
        took = better[index]
        rows = np.flatnonzero(better)
        self.grey[rows], self.depth[rows] = 0.0, np.inf
        self.grey[index[took], pixel[took], sub[took]] = grey[took]
        self.depth[index[took], pixel[took], sub[took]] = depth[took]
        return better
