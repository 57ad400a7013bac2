"""Count by re-rendering: the subset of found primitives that best explains the image.

The inference network proposes candidates (``AIRInference3D.read_candidates``:
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

The subsets are not ray-cast one by one: each candidate is rendered once
alone, with its depth, at the renderer's sub-pixel resolution
(``render_layers``), and a subset's image is the z-buffer of its layers
followed by the renderer's box filter (``composite``), the same image. At
``K = 3`` and 12 candidates that is 298 subsets per image from 12 renderings.
"""
import itertools

import numpy as np

from data_provider import scene_renderer as sr
from models.air.scenes import _render_arguments, image_coordinates, take_slots


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


def composite(grey, depth, subset, supersample):
    """Image ``[N, H, W]`` of the layers ``subset`` (indices into axis 1 of ``grey`` and
    ``depth``, ``[N, M, S, S]``): the nearest layer per sub-pixel (the earlier one on a
    tie), then the mean over each pixel's ``supersample x supersample`` sub-pixels."""
    image, nearest = grey[:, subset[0]], depth[:, subset[0]]
    for j in subset[1:]:
        closer = depth[:, j] < nearest
        image = np.where(closer, grey[:, j], image)
        nearest = np.where(closer, depth[:, j], nearest)
    n, side = image.shape[0], image.shape[1]
    k = supersample
    return image.reshape(n, side // k, k, side // k, k).mean(axis=(2, 4))


def explain(candidates, images, max_primitives, image_size, supersample, gain=4.0, floor=0.05,
            search=None, chunk=100):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``.

    ``search`` (default ``2 * max_primitives + 1``) first candidates are tried,
    ``chunk`` images at a time."""
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
            score[todo] = np.abs(rendered - images[lo:hi][todo]).sum(axis=(1, 2)) + gain * len(subset)
            better = score < best
            best[better] = score[better]
            chosen[lo:hi][better] = False
            chosen[np.flatnonzero(better) + lo, np.array(subset)[:, None]] = True
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: take_slots(v[:, :m], order) for k, v in candidates.items()}
    kept = take_slots(chosen, order)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


MIRROR = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def unmirror(candidates):
    """Candidates read from left-right flipped images, as candidates of the images: the
    flip mirrors the scene through the plane ``x = y`` (positions swap x and y,
    rotations become ``P R P``; every primitive is mirror-symmetric)."""
    out = dict(candidates)
    out["position"] = np.asarray(candidates["position"])[..., [1, 0, 2]]
    out["rotation"] = MIRROR @ np.asarray(candidates["rotation"]) @ MIRROR
    return out


def join_candidates(views, keep, radius):
    """The ``keep`` most present of the candidates of several readings of the same images
    (dicts ``[N, M_i, ...]``), a candidate left out when a more present one of the same
    type has its image point within ``radius`` (image units)."""
    joined = {k: np.concatenate([np.asarray(v[k]) for v in views], 1) for k in views[0]}
    order = np.argsort(-joined["presence_logit"], axis=1, kind="stable")
    joined = {k: take_slots(v, order) for k, v in joined.items()}
    uv = image_coordinates(joined["position"])
    types = joined["type_logits"].argmax(-1)
    near = np.linalg.norm(uv[:, :, None] - uv[:, None], axis=-1) < radius
    same = near & (types[:, :, None] == types[:, None])
    earlier = np.tril(np.ones(same.shape[1:], bool), -1)           # [i, j]: j before i
    repeated = (same & earlier).any(-1)
    order = np.argsort(repeated, axis=1, kind="stable")[:, :keep]  # first readings first
    return {k: take_slots(v, order) for k, v in joined.items()}


def predict_slots(model, images, config, batch_size=250):
    """The model's slots for ``images [N, H, W, 1]`` (numpy dict ``[N, K, ...]``).

    Slot head: its slots. Grid heads: ``read_candidates`` (up to
    ``config["explain_pool"]`` merged candidates; with ``config["explain_mirror"]``
    also those read from the images flipped left-right, the same scenes mirrored,
    and the most present of both kept), then, with ``config["explain"]``, the
    count settled by re-rendering (``explain``).
    """
    import tensorflow as tf

    k = config["max_primitives"]
    keys = ("presence_logit", "type_logits", "position", "rotation")
    if model.head_name == "slots":
        fn = tf.function(model.slots)
    else:
        fn = tf.function(lambda x: model.read_candidates(x, keep=config["explain_pool"]))

    def read(x):
        outs = [fn(tf.constant(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
        return {name: np.concatenate([o[name].numpy() for o in outs]) for name in keys}

    found = read(images)
    if model.head_name == "slots" or not config["explain"]:
        return {name: value[:, :k] for name, value in found.items()}
    if config["explain_mirror"]:
        mirrored = unmirror(read(np.ascontiguousarray(np.asarray(images)[:, :, ::-1])))
        found = join_candidates([found, mirrored], config["explain_pool"],
                                config["merge_radius"] * 2.0 / config["image_size"])
    return explain(found, images, k, config["image_size"], config["supersample"],
                   config["explain_gain"], config["explain_floor"], config["explain_pool"])
