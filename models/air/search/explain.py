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
"""
import itertools

import numpy as np

from data_provider import scene_renderer as sr
from models.air.scenes import _render_arguments, take_slots


def render_layers(types, positions, rotations, image_size, supersample):
    """Every candidate alone, at sub-pixel resolution: grey levels and depths, each
    ``[N, M, S, S]`` (``S = image_size * supersample``; depth ``inf`` off the primitive).

    Any subset of the candidates is then rendered by ``composite``, without casting
    rays again: a z-buffer keeps the nearest layer per sub-pixel, as the renderer does.
    """
    n, m = np.asarray(types).shape
    side = image_size * supersample
    args, kwargs = _render_arguments(np.reshape(types, (n * m, 1)),
                                     np.reshape(positions, (n * m, 1, 3)),
                                     np.reshape(rotations, (n * m, 1, 3, 3)), side, 1)
    kwargs["supersample"] = 1
    grey, depth = sr.render_batch(*args, return_depth=True, **kwargs)
    return grey[..., 0].reshape(n, m, side, side), depth.reshape(n, m, side, side)


def zbuffer(grey, depth, layers):
    """The nearest of the layers ``layers`` (indices into axis 1 of ``grey`` and ``depth``,
    ``[N, M, S, S]``) per sub-pixel, the earlier one on a tie: grey levels and depths
    ``[N, S, S]`` (background 0 at depth ``inf`` when ``layers`` is empty)."""
    layers = list(layers)
    if not layers:
        return np.zeros_like(grey[:, 0]), np.full_like(depth[:, 0], np.inf)
    image, nearest = grey[:, layers[0]], depth[:, layers[0]]
    for j in layers[1:]:
        closer = depth[:, j] < nearest
        image = np.where(closer, grey[:, j], image)
        nearest = np.where(closer, depth[:, j], nearest)
    return image, nearest


def box_filter(image, supersample):
    """``[N, S, S]`` sub-pixels -> ``[N, S / k, S / k]`` pixels, the mean of each ``k x k``."""
    n, side, k = image.shape[0], image.shape[1], supersample
    return image.reshape(n, side // k, k, side // k, k).mean(axis=(2, 4))


def composite(grey, depth, subset, supersample):
    """Image ``[N, H, W]`` of the layers ``subset`` (indices into axis 1 of ``grey`` and
    ``depth``, ``[N, M, S, S]``): the nearest layer per sub-pixel (the earlier one on a
    tie, ``zbuffer``), then the mean over each pixel's ``supersample x supersample``
    sub-pixels (``box_filter``)."""
    return box_filter(zbuffer(grey, depth, subset)[0], supersample)


def explain(candidates, images, max_primitives, image_size, supersample, gain=4.0, floor=0.05,
            search=None, chunk=100, progress=None):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``.

    ``search`` (default ``2 * max_primitives + 1``) first candidates are tried,
    ``chunk`` images at a time; ``progress(done, n)`` is called after each chunk."""
    images = np.asarray(images).reshape(len(images), image_size, image_size)
    candidates = {k: np.asarray(v) for k, v in candidates.items()}
    n, m = candidates["presence_logit"].shape
    m = min(m, search or 2 * max_primitives + 1)
    logit = np.clip(candidates["presence_logit"][:, :m].astype(np.float64), -50.0, 50.0)
    allowed = 1.0 / (1.0 + np.exp(-logit)) > floor
    allowed[:, 0] = True
    types = candidates["type_logits"][:, :m].argmax(-1)
    subsets = [list(s) for size in range(1, min(max_primitives, m) + 1)
               for s in itertools.combinations(range(m), size)]
    chosen = np.zeros((n, m), bool)
    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        grey, depth = render_layers(types[lo:hi], candidates["position"][lo:hi, :m],
                                    candidates["rotation"][lo:hi, :m], image_size, supersample)
        best = np.full(hi - lo, np.inf)
        for subset in subsets:
            todo = allowed[lo:hi, subset].all(axis=1)
            if not todo.any():
                continue
            rendered = composite(grey[todo], depth[todo], subset, supersample)
            score = np.full(hi - lo, np.inf)
            error = np.abs(rendered - images[lo:hi][todo]).sum(axis=(1, 2))
            score[todo] = error + gain * len(subset)
            better = score < best
            best[better] = score[better]
            chosen[lo:hi][better] = False
            chosen[np.flatnonzero(better) + lo, np.array(subset)[:, None]] = True
        if progress is not None:
            progress(hi, n)
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: take_slots(v[:, :m], order) for k, v in candidates.items()}
    kept = take_slots(chosen, order)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


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
    Only the layer of the moved primitive is ray-cast again (``render_layers``,
    ``composite``). ``progress(done, n)`` is called after each ``chunk`` images.
    """
    from models.air.rotations import axis_angle
    from models.air.scenes import CAMERA_EXTENT, WORLD_HALF, view_axes

    images = np.asarray(images, np.float64).reshape(len(images), image_size, image_size)
    kept = np.asarray(slots["presence_logit"]) > 0
    types = np.asarray(slots["type_logits"]).argmax(-1)
    positions = np.asarray(slots["position"], np.float64).copy()
    rotations = np.asarray(slots["rotation"], np.float64).copy()
    n, k = kept.shape
    axes = view_axes()                                            # right, up, forward
    pixel = CAMERA_EXTENT / image_size / WORLD_HALF               # in position units

    def layer(lo, hi, j, pos, rot):
        grey, depth = render_layers(types[lo:hi, j:j + 1], pos[:, None], rot[:, None],
                                    image_size, supersample)
        off = ~kept[lo:hi, j, None, None]
        return np.where(off, 0.0, grey[:, 0]), np.where(off, np.inf, depth[:, 0])

    def error(image, lo, hi):
        return np.abs(box_filter(image, supersample) - images[lo:hi]).sum(axis=(1, 2))

    for lo in range(0, n, chunk):
        hi = min(lo + chunk, n)
        grey, depth = render_layers(types[lo:hi], positions[lo:hi], rotations[lo:hi],
                                    image_size, supersample)
        grey = np.where(kept[lo:hi, :, None, None], grey, 0.0)
        depth = np.where(kept[lo:hi, :, None, None], depth, np.inf)
        for r in range(rounds):
            scale = 0.5 ** r
            for j in range(k):
                if not kept[lo:hi, j].any():
                    continue
                # the others' z-buffer, once; a trial of primitive j goes over or under it
                back, near = zbuffer(grey, depth, (i for i in range(k) if i != j))
                best = error(np.where(depth[:, j] < near, grey[:, j], back), lo, hi)
                moves = [(axis_angle(axis, sign * turn * scale), 0.0) for axis in axes
                         for sign in (1, -1)]
                moves += [(np.eye(3), sign * shift * scale * pixel * axis) for axis in axes[:2]
                          for sign in (1, -1)]
                for turned, shifted in moves:
                    pos = positions[lo:hi, j] + shifted
                    rot = turned @ rotations[lo:hi, j]
                    g, d = layer(lo, hi, j, pos, rot)
                    trial = error(np.where(d < near, g, back), lo, hi)
                    better = (trial < best - 1e-9) & kept[lo:hi, j]
                    positions[lo:hi, j][better] = pos[better]
                    rotations[lo:hi, j][better] = rot[better]
                    grey[better, j], depth[better, j] = g[better], d[better]
                    best[better] = trial[better]
        if progress is not None:
            progress(hi, n)
    return dict(slots, position=positions.astype(np.float32),
                rotation=rotations.astype(np.float32))
