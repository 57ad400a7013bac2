"""AIR 3D set loss: pure functions of tensors.

Candidates ``s`` (the slots, or the grid head's cells) carry a presence logit
``z``, type logits ``l``, a position ``p_hat`` and a rotation ``R_hat``; the
true primitives ``j`` a type ``c``, a position ``p`` and a rotation ``R``.
The cost of explaining primitive ``j`` with candidate ``s`` is

    C[s, j] = w_presence * softplus(-z_s)                  (-log sigmoid(z_s))
            + w_type * CE(c_j, softmax(l_s))
            + w_position * |p_hat_s - p_j|_1
            + w_rotation * [c_j != sphere] * (1 - cos theta_sym(R_hat_s, R_j, c_j))

and a candidate left unassigned costs ``A[s] = w_presence * softplus(z_s)``
(-log(1 - sigmoid(z_s))). For an assignment ``pi`` of every primitive to its
own candidate, a scene's loss is

    L = sum_j C[pi(j), j] + sum_{s not in pi} A[s]
      = sum_s A[s] + sum_j (C[pi(j), j] - A[pi(j)]),

so the Hungarian matching of ``C - A`` is the assignment of least loss.
Optionally the "absent" cost of some candidates is left out (``absent``
multiplied by 0): grid cells next to a primitive, which may see it as well
as the cell it is assigned to (duplicates are merged at inference).
``theta_sym`` is the symmetry-aware geodesic angle (``rotations``); the L1
position term makes the best estimate the per-axis median (the hidden depth is
put at the middle of its range).

Under a camera range the image's camera read as ``(c, s)`` (a unit vector)
and an elevation ``e`` (radians) costs, against the true azimuth ``a`` and
elevation ``b``,

    camera = |c - cos a| + |s - sin a| + |e - b|            (``camera_cost``)

(an L1 distance of the azimuth's unit vectors: no seam at 0 = 360 degrees),
added to a scene's loss with the weight ``w_camera``.
"""
import numpy as np
import tensorflow as tf

from models.air.rotations import SPHERE, symmetric_cosine

TERMS = ("presence", "type", "position", "rotation")


def pair_costs(pred, target):
    """Unweighted terms of ``C`` (dict keyed by ``TERMS``), each ``[B, S, K]``.

    ``pred``: ``presence_logit [B, S]``, ``type_logits [B, S, T]``,
    ``position [B, S, 3]``, ``rotation [B, S, 3, 3]``; ``target``: ``types [B, K]``
    (-1 empty), ``positions [B, K, 3]``, ``rotations [B, K, 3, 3]``.
    """
    z = tf.cast(pred["presence_logit"], tf.float32)
    types = tf.cast(target["types"], tf.int32)
    present = tf.cast(types >= 0, tf.float32)[:, None, :]
    types = tf.maximum(types, 0)
    log_q = tf.nn.log_softmax(tf.cast(pred["type_logits"], tf.float32), axis=-1)
    type_ce = -tf.gather(log_q, types, axis=2, batch_dims=1)                 # [B, S, K]
    position = tf.reduce_sum(tf.abs(tf.cast(pred["position"], tf.float32)[:, :, None]
                                    - tf.cast(target["positions"], tf.float32)[:, None]), -1)
    cosine = symmetric_cosine(pred["rotation"][:, :, None], target["rotations"][:, None],
                              types[:, None, :])
    rotated = tf.cast(types != SPHERE, tf.float32)[:, None, :]
    presence = tf.nn.softplus(-z)[:, :, None] * tf.ones_like(type_ce)
    return {"presence": presence * present, "type": type_ce * present,
            "position": position * present, "rotation": (1.0 - cosine) * rotated * present}


def absent_cost(pred):
    """``softplus(z) = -log(1 - sigmoid(z))`` per candidate ``[B, S]`` (unweighted)."""
    return tf.nn.softplus(tf.cast(pred["presence_logit"], tf.float32))


def matching_cost(costs, absent, weights, prior=None):
    """``C - A`` (weighted, ``[B, S, K]``) plus an optional ``prior [B, S, K]``."""
    total = tf.add_n([float(weights[name]) * costs[name] for name in TERMS])
    total = total - float(weights["presence"]) * absent[:, :, None]
    return total if prior is None else total + prior


def assigned_terms(costs, absent, assignment):
    """Per-example terms ``[B]`` under ``assignment [B, S]`` (target index, -1 unassigned)."""
    assignment = tf.cast(assignment, tf.int32)
    matched = assignment >= 0
    index = tf.maximum(assignment, 0)
    out = {}
    for name, c in costs.items():
        picked = tf.gather(c, index, axis=2, batch_dims=2)                    # [B, S]
        if name == "presence":
            picked = tf.where(matched, picked, absent)
        else:
            picked = tf.where(matched, picked, 0.0)
        out[name] = tf.reduce_sum(picked, axis=1)
    return out


def camera_cost(read, true_degrees):
    """``camera [B]`` of camera readings ``read [B, 3]`` (``cos az``, ``sin az``, elevation
    in radians) against the true ``[B, 2]`` azimuth and elevation in degrees."""
    true = tf.cast(true_degrees, tf.float32) * np.float32(np.pi / 180.0)
    read = tf.cast(read, tf.float32)
    return (tf.abs(read[:, 0] - tf.cos(true[:, 0])) + tf.abs(read[:, 1] - tf.sin(true[:, 0]))
            + tf.abs(read[:, 2] - true[:, 1]))


def total_loss(terms, weights):
    """Per-example loss ``[B]`` = ``sum_term weights[term] * terms[term]``."""
    return tf.add_n([float(weights[name]) * terms[name] for name in TERMS])


def object_terms(read, types, positions, rotations):
    """Unweighted terms of the readings of known primitives, each ``[N]``:
    ``type`` CE, ``position`` L1 and ``rotation`` ``[c != sphere] (1 - cos theta_sym)``
    (the terms of ``C`` for a given pair)."""
    types = tf.cast(types, tf.int32)
    log_q = tf.nn.log_softmax(tf.cast(read["type_logits"], tf.float32), axis=-1)
    type_ce = -tf.gather(log_q, types, axis=1, batch_dims=1)
    position = tf.reduce_sum(tf.abs(read["position"] - tf.cast(positions, tf.float32)), -1)
    cosine = symmetric_cosine(read["rotation"], rotations, types)
    return {"type": type_ce, "position": position,
            "rotation": (1.0 - cosine) * tf.cast(types != SPHERE, tf.float32)}
