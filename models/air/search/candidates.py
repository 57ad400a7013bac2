"""Candidates of several looks at the same images, joined into one pool.

``unmirror``: candidates read from the left-right flipped images, as
candidates of the images themselves (under either camera: the plane ``x = y``
holds the view axis and the perspective camera's eye). ``join_candidates``:
the most present of several pools, a candidate left out when a more present
one of the same type sits at the same image point. ``kept_first``: a search's
answer as candidates that outrank every other.
"""
import numpy as np

from models.air.scenes import image_coordinates, take_slots

MIRROR = np.array([[0.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])


def unmirror(candidates):
    """Candidates read from left-right flipped images, as candidates of the images: the
    flip mirrors the scene through the plane ``x = y`` (positions swap x and y,
    rotations become ``P R P``; every primitive is mirror-symmetric)."""
    out = dict(candidates)
    out["position"] = np.asarray(candidates["position"])[..., [1, 0, 2]]
    out["rotation"] = MIRROR @ np.asarray(candidates["rotation"]) @ MIRROR
    return out


def join_candidates(views, keep, radius, camera="orthographic"):
    """The ``keep`` most present of the candidates of several readings of the same images
    (dicts ``[N, M_i, ...]``), a candidate left out when a more present one of the same
    type has its image point (seen by ``camera``) within ``radius`` (image units)."""
    joined = {k: np.concatenate([np.asarray(v[k]) for v in views], 1) for k in views[0]}
    order = np.argsort(-joined["presence_logit"], axis=1, kind="stable")
    joined = {k: take_slots(v, order) for k, v in joined.items()}
    uv = image_coordinates(joined["position"], camera)
    types = joined["type_logits"].argmax(-1)
    near = np.linalg.norm(uv[:, :, None] - uv[:, None], axis=-1) < radius
    same = near & (types[:, :, None] == types[:, None])
    earlier = np.tril(np.ones(same.shape[1:], bool), -1)           # [i, j]: j before i
    repeated = (same & earlier).any(-1)
    order = np.argsort(repeated, axis=1, kind="stable")[:, :keep]  # first readings first
    return {k: take_slots(v, order) for k, v in joined.items()}


def kept_first(slots):
    """The primitives a search kept (presence logit > 0) as the most present of candidates
    (logit 50), the others as the least (-50)."""
    return dict(slots, presence_logit=np.where(slots["presence_logit"] > 0, 50.0, -50.0))
