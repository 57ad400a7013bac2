"""Rotations of the AIR primitives: 6-D representation and symmetry-aware errors.

* 6-D representation (Zhou et al., "On the continuity of rotation
  representations in neural networks", CVPR 2019): the network emits two
  3-vectors ``a1, a2``; Gram-Schmidt gives the columns
  ``b1 = a1 / |a1|``, ``b2 = (a2 - (b1 . a2) b1) / |...|``, ``b3 = b1 x b2``.
* Symmetries of the primitives (local frame: cube axes along x, y, z;
  cylinder axis along z): a sphere has every rotation (rotation ignored); a
  cube the 24 proper rotations ``S`` of ``CUBE_GROUP`` (signed permutation
  matrices of determinant +1), ``R`` and ``R S`` look alike; a cylinder any
  rotation about its axis and the half-turn that flips it, so only its axis
  ``R e_z`` up to sign can be seen.
* Symmetry-aware geodesic error: the angle of the smallest rotation taking
  the prediction to the nearest symmetric equivalent of the truth,
  ``min_S arccos((tr(R_hat^T R S) - 1) / 2)`` for a cube and
  ``arccos(|R_hat e_z . R e_z|)`` for a cylinder.
"""
import itertools

import numpy as np
import tensorflow as tf

SPHERE, CUBE, CYLINDER = 0, 1, 2


def _cube_group():
    group = []
    for perm in itertools.permutations(range(3)):
        for signs in itertools.product((1.0, -1.0), repeat=3):
            s = np.zeros((3, 3))
            s[np.arange(3), perm] = signs
            if np.linalg.det(s) > 0:
                group.append(s)
    return np.stack(group)


CUBE_GROUP = _cube_group()   # [24, 3, 3]


def rotation_from_6d(x):
    """``[..., 6]`` (``a1, a2``) -> rotation matrices ``[..., 3, 3]`` (columns ``b1 b2 b3``)."""
    x = tf.cast(x, tf.float32)
    a1, a2 = x[..., :3], x[..., 3:]
    b1 = tf.math.l2_normalize(a1, axis=-1, epsilon=1e-12)
    b2 = tf.math.l2_normalize(a2 - tf.reduce_sum(b1 * a2, -1, keepdims=True) * b1,
                              axis=-1, epsilon=1e-12)
    b3 = tf.linalg.cross(b1, b2)
    return tf.stack([b1, b2, b3], axis=-1)


def symmetric_cosine(r_pred, r_true, types):
    """``cos`` of the symmetry-aware geodesic angle (TensorFlow, broadcasting).

    ``r_pred``, ``r_true [..., 3, 3]``, ``types [...]`` (int). Cube:
    ``(max_S tr(R_hat^T R S) - 1) / 2``; cylinder: ``|R_hat e_z . R e_z|``;
    sphere: 1 (no error). ``1 - symmetric_cosine`` is the rotation loss.
    """
    r_pred, r_true = tf.cast(r_pred, tf.float32), tf.cast(r_true, tf.float32)
    m = tf.linalg.matmul(r_pred, r_true, transpose_a=True)
    traces = tf.einsum("...ij,gji->...g", m, tf.constant(CUBE_GROUP, tf.float32))
    cube = (tf.reduce_max(traces, axis=-1) - 1.0) / 2.0
    cylinder = tf.abs(tf.reduce_sum(r_pred[..., :, 2] * r_true[..., :, 2], axis=-1))
    types = tf.convert_to_tensor(types)
    return tf.where(types == CUBE, cube, tf.where(types == CYLINDER, cylinder, tf.ones_like(cube)))


def symmetric_geodesic_error(r_pred, r_true, types):
    """Symmetry-aware geodesic angle in radians (numpy); ``nan`` for spheres.

    ``r_pred``, ``r_true [..., 3, 3]``, ``types [...]``.
    """
    r_pred, r_true = np.asarray(r_pred, np.float64), np.asarray(r_true, np.float64)
    types = np.asarray(types)
    m = np.swapaxes(r_pred, -1, -2) @ r_true
    traces = np.einsum("...ij,gji->...g", m, CUBE_GROUP)
    cube = np.arccos(np.clip((traces.max(axis=-1) - 1.0) / 2.0, -1.0, 1.0))
    cylinder = np.arccos(np.clip(np.abs(np.sum(r_pred[..., :, 2] * r_true[..., :, 2], -1)), 0, 1))
    return np.where(types == CUBE, cube, np.where(types == CYLINDER, cylinder, np.nan))


def axis_angle(axis, angle):
    """Rotations ``[..., 3, 3]`` by ``angle [...]`` about unit ``axis [..., 3]`` (Rodrigues)."""
    axis = np.asarray(axis, np.float64)
    angle = np.asarray(angle, np.float64)[..., None, None]
    k = np.zeros(axis.shape[:-1] + (3, 3))
    k[..., 0, 1], k[..., 0, 2], k[..., 1, 2] = -axis[..., 2], axis[..., 1], -axis[..., 0]
    k = k - np.swapaxes(k, -1, -2)
    return np.eye(3) + np.sin(angle) * k + (1.0 - np.cos(angle)) * (k @ k)


def symmetric_equivalents(rotation, type_index, n_axial=8):
    """Rotations that render the same primitive as ``rotation`` (numpy, for tests).

    Cube: ``R S`` for the 24 ``S``; cylinder: ``R Rz(theta)`` and ``R Rz(theta) Rx(pi)``
    for ``n_axial`` angles; sphere: a few arbitrary rotations.
    """
    rotation = np.asarray(rotation, np.float64)
    if type_index == CUBE:
        return rotation @ CUBE_GROUP
    angles = np.linspace(0.0, 2.0 * np.pi, n_axial, endpoint=False) + 0.3
    rz = np.stack([[[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]]
                   for a in angles])
    if type_index == CYLINDER:
        flip = np.diag([1.0, -1.0, -1.0])
        return np.concatenate([rotation @ rz, rotation @ rz @ flip])
    return rz


def matrix_to_euler(rotation):
    """Both Euler triples ``(rx, ry, rz)`` of ``R = Rz Ry Rx``: ``[2, ..., 3]`` (numpy).

    The second is ``(rx + pi, pi - ry, rz + pi)``; angles wrapped to (-pi, pi].
    """
    r = np.asarray(rotation, np.float64)
    ry = -np.arcsin(np.clip(r[..., 2, 0], -1.0, 1.0))
    rx = np.arctan2(r[..., 2, 1], r[..., 2, 2])
    rz = np.arctan2(r[..., 1, 0], r[..., 0, 0])
    first = np.stack([rx, ry, rz], -1)
    second = np.stack([rx + np.pi, np.pi - ry, rz + np.pi], -1)
    wrap = lambda a: np.pi - np.mod(np.pi - a, 2.0 * np.pi)  # noqa: E731
    return np.stack([wrap(first), wrap(second)])


def euler_abs_error(r_pred, euler_true):
    """Per-axis absolute Euler-angle error ``[..., 3]`` (the reference's metric, no symmetry).

    The predicted rotation's Euler triple nearest the truth (of its two),
    each difference wrapped to [0, pi].
    """
    candidates = matrix_to_euler(r_pred)                      # [2, ..., 3]
    diff = np.abs(np.mod(candidates - np.asarray(euler_true) + np.pi, 2.0 * np.pi) - np.pi)
    best = np.argmin(diff.sum(-1), axis=0)                    # [...]
    return np.take_along_axis(diff, best[None, ..., None], axis=0)[0]
