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
merged reading of two overlapping primitives. ``search = 2 K + 1`` candidates
give 63 renderings per image at ``K = 3``.
"""
import itertools

import numpy as np

from models.air.scenes import render_scenes


def explain(candidates, images, max_primitives, image_size, supersample, gain=4.0, floor=0.05,
            search=None):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``."""
    images = np.asarray(images).reshape(len(images), image_size, image_size)
    candidates = {k: np.asarray(v) for k, v in candidates.items()}
    n, m = candidates["presence_logit"].shape
    m = min(m, search or 2 * max_primitives + 1)
    logit = np.clip(candidates["presence_logit"][:, :m].astype(np.float64), -50.0, 50.0)
    allowed = 1.0 / (1.0 + np.exp(-logit)) > floor
    allowed[:, 0] = True
    types = candidates["type_logits"][:, :m].argmax(-1)
    best = np.full(n, np.inf)
    chosen = np.zeros((n, m), bool)
    for size in range(1, min(max_primitives, m) + 1):
        for subset in itertools.combinations(range(m), size):
            mask = np.zeros(m, bool)
            mask[list(subset)] = True
            todo = allowed[:, mask].all(axis=1)
            if not todo.any():
                continue
            rendered = render_scenes(np.where(mask, types[todo], -1),
                                     candidates["position"][todo, :m],
                                     candidates["rotation"][todo, :m], image_size, supersample)
            score = np.full(n, np.inf)
            score[todo] = np.abs(rendered - images[todo]).sum(axis=(1, 2)) + gain * size
            better = score < best
            best[better] = score[better]
            chosen[better] = mask
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: np.take_along_axis(v[:, :m], order.reshape(order.shape + (1,) * (v.ndim - 2)),
                                 axis=1) for k, v in candidates.items()}
    kept = np.take_along_axis(chosen, order, axis=1)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


def predict_slots(model, images, config, batch_size=250):
    """The model's slots for ``images [N, H, W, 1]`` (numpy dict ``[N, K, ...]``).

    Slot head: its slots. Grid heads: ``read_candidates`` (up to
    ``2 * max_primitives + 1`` merged candidates), then, with
    ``config["explain"]``, the count settled by re-rendering (``explain``).
    """
    import tensorflow as tf

    k = config["max_primitives"]
    if model.head_name == "slots":
        fn = tf.function(model.slots)
    else:
        fn = tf.function(lambda x: model.read_candidates(x, keep=2 * k + 1))
    outs = [fn(tf.constant(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    found = {name: np.concatenate([o[name].numpy() for o in outs])
             for name in ("presence_logit", "type_logits", "position", "rotation")}
    if model.head_name == "slots" or not config["explain"]:
        return {name: value[:, :k] for name, value in found.items()}
    return explain(found, images, k, config["image_size"], config["supersample"],
                   config["explain_gain"], config["explain_floor"])
