"""Count by re-rendering: keep a found primitive only if it explains more of the image.

The inference network proposes candidates (``AIRInference3D.read_candidates``:
type, position, rotation and presence of each). The renderer is the
generative model the network inverts, so the count is settled with it:
starting from the most present candidate, each next candidate (most present
first, presence above ``floor``) joins the scene if rendering the scene with it
lowers the summed absolute difference to the image by more than ``gain``
(grey-level units summed over pixels; a primitive covers about 130 pixels
at 64x64). A second reading of a primitive already in the scene explains
nothing new and is left out; a primitive the network doubted but the image
shows is taken in. At most ``max_primitives`` are kept, at least one.
"""
import numpy as np

from models.air.scenes import render_scenes


def explain(candidates, images, max_primitives, image_size, supersample, gain=6.0, floor=0.1):
    """Slots ``[N, max_primitives, ...]`` (numpy dict) chosen from ``candidates`` (numpy dict
    ``[N, M, ...]``, most present first) by re-rendering against ``images [N, H, W(, 1)]``."""
    images = np.asarray(images).reshape(len(images), image_size, image_size)
    logit = np.clip(np.asarray(candidates["presence_logit"], np.float64), -50.0, 50.0)
    p = 1.0 / (1.0 + np.exp(-logit))
    types = np.asarray(candidates["type_logits"]).argmax(-1)
    n, m = p.shape
    chosen = np.zeros((n, m), bool)
    chosen[:, 0] = True
    error = _error(chosen, types, candidates, images, image_size, supersample)
    for j in range(1, m):
        trial = chosen.copy()
        trial[:, j] = (p[:, j] > floor) & (chosen.sum(1) < max_primitives)
        todo = trial[:, j]
        if not todo.any():
            continue
        new_error = error.copy()
        new_error[todo] = _error(trial[todo], types[todo], {k: v[todo] for k, v in
                                                           candidates.items()},
                                 images[todo], image_size, supersample)
        better = todo & (new_error < error - gain)
        chosen[better, j] = True
        error[better] = new_error[better]
    order = np.argsort(~chosen, axis=1, kind="stable")[:, :max_primitives]    # chosen first
    out = {k: np.take_along_axis(np.asarray(v), order.reshape(order.shape + (1,) * (np.ndim(v) - 2)),
                                 axis=1) for k, v in candidates.items()}
    kept = np.take_along_axis(chosen, order, axis=1)
    out["presence_logit"] = np.where(kept, np.abs(out["presence_logit"]) + 1.0, -10.0)
    return out


def _error(chosen, types, candidates, images, image_size, supersample):
    rendered = render_scenes(np.where(chosen, types, -1), candidates["position"],
                             candidates["rotation"], image_size, supersample)
    return np.abs(rendered - images).sum(axis=(1, 2))


def predict_slots(model, images, config, batch_size=250):
    """The model's slots for ``images [N, H, W, 1]`` (numpy dict ``[N, K, ...]``).

    Slot head: its slots. Grid heads: ``read_candidates`` (up to
    ``2 * max_primitives + 2`` merged candidates), then, with
    ``config["explain"]``, the count settled by re-rendering (``explain``).
    """
    import tensorflow as tf

    k = config["max_primitives"]
    if model.head_name == "slots":
        fn = tf.function(model.slots)
    else:
        fn = tf.function(lambda x: model.read_candidates(x, keep=2 * k + 2))
    outs = [fn(tf.constant(images[i:i + batch_size])) for i in range(0, len(images), batch_size)]
    found = {name: np.concatenate([o[name].numpy() for o in outs])
             for name in ("presence_logit", "type_logits", "position", "rotation")}
    if model.head_name == "slots" or not config["explain"]:
        return {name: value[:, :k] for name, value in found.items()}
    return explain(found, images, k, config["image_size"], config["supersample"],
                   config["explain_gain"], config["explain_floor"])
