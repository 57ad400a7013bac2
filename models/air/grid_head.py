"""Grid head: every cell of a feature map is a candidate primitive.

The grid is the encoder's last map that has twice the resolution of its
final map (16x16 cells of 4x4 pixels at the defaults); the final map
(8x8, which sees more context) is upsampled and joined to it. Per cell,
from these features and the cell's image coordinates (CoordConv): a 1x1
convolution (``hidden``, ReLU) and a 1x1 convolution to 13 numbers: presence
logit, 3 type logits, image-plane offset ``(du, dv)`` from
the cell centre (``1.5 tanh``, in cells), a depth correction ``delta`` and a
6-D rotation. The image-plane point ``q`` (on the plane through the cube's
centre) is ``(u right + v up)`` in world units; the depth is the middle of the
chord of the cube along the pixel's ray through ``q`` (``chord_middle``, what
the image point alone says: the best depth without other cues) plus ``delta``
(what occlusions add, and under the perspective camera the primitive's size).
The ray is the view axis (orthographic camera) or the line from the eye through
``q`` (perspective), and the depth is measured along the view axis from the
plane through the cube's centre, in position units, under both
(``position_from_view``, ``models.air.scenes``). The same weights serve every
cell, so what a primitive looks like is learnt once for the whole image.
"""
import keras
import numpy as np
import tensorflow as tf

from models.air import scenes
from models.air.rotations import rotation_from_6d


def cell_centres(grid_h, grid_w):
    """Image coordinates ``(u, v)`` in [-1, 1] (right, up) of the cell centres ``[h * w, 2]``."""
    u = (np.arange(grid_w) + 0.5) / grid_w * 2.0 - 1.0
    v = 1.0 - (np.arange(grid_h) + 0.5) / grid_h * 2.0
    uu, vv = np.meshgrid(u, v)
    return np.stack([uu.reshape(-1), vv.reshape(-1)], -1).astype(np.float32)


def chord_middle(points, direction):
    """``s`` with ``points + s direction`` the middle of the line's chord through the
    cube [-1, 1]^3 (TensorFlow; ``points [..., 3]``, ``direction [3]`` or ``[..., 3]``,
    without zeros)."""
    a, b = (-1.0 - points) / direction, (1.0 - points) / direction
    low = tf.reduce_max(tf.minimum(a, b), axis=-1)
    high = tf.reduce_min(tf.maximum(a, b), axis=-1)
    return (low + high) / 2.0


def _view_constants():
    right, up, forward = scenes.view_axes()
    half = scenes.CAMERA_EXTENT / 2.0 / scenes.WORLD_HALF   # image unit -> position units
    return (tf.constant(np.stack([right * half, up * half]), tf.float32),
            tf.constant(forward, tf.float32))


def position_from_view(uv, delta, camera="orthographic"):
    """Positions ``[..., 3]`` in [-1, 1] units of image points ``uv [..., 2]`` at depth
    ``s = chord_middle + delta [...]`` along the view axis from the plane through the
    cube's centre: ``q + s ray`` with ``q`` the plane's point on the pixel and ``ray`` the
    pixel's ray scaled to a unit component along the view axis, ``forward`` or, for the
    ``"perspective"`` camera, ``forward + q / eye distance`` (the line from the eye through
    ``q``); ``chord_middle`` is the middle of that ray's chord through the cube."""
    plane_axes, forward = _view_constants()
    plane = tf.linalg.matmul(uv, plane_axes)
    if camera == "perspective":
        ray = forward + plane / (scenes.CAMERA_DISTANCE / scenes.WORLD_HALF)
        depth = chord_middle(plane, ray) + delta
        return plane + depth[..., None] * ray
    scenes.check_camera(camera)
    depth = chord_middle(plane, forward) + delta
    return plane + depth[..., None] * forward


class GridHead(keras.layers.Layer):
    """``call(maps) -> dict`` of per-cell outputs ``[B, h * w, ...]`` (``maps``: the encoder's)."""

    def __init__(self, hidden=128, camera="orthographic", **kwargs):
        super().__init__(**kwargs)
        scenes.check_camera(camera)
        self.camera = camera
        self.hidden = keras.layers.Conv2D(hidden, 1, activation="relu", name="hidden",
                                          dtype=self.dtype_policy)
        # Presence starts at 1 % (sigmoid(-4.6)): most cells hold nothing.
        bias = np.zeros(13, np.float32)
        bias[0] = -4.6
        self.out = keras.layers.Conv2D(
            13, 1, name="cells", dtype="float32",
            bias_initializer=lambda shape, dtype=None: tf.constant(bias, dtype or tf.float32))

    def call(self, maps):
        final = maps[-1]
        finer = [m for m in maps if m.shape[1] == 2 * final.shape[1]]
        if finer:
            up = tf.repeat(tf.repeat(final, 2, axis=1), 2, axis=2)
            features = tf.concat([finer[-1], up], -1)
        else:
            features = final
        h, w = features.shape[1], features.shape[2]
        centres = tf.constant(cell_centres(h, w))
        coords = tf.cast(tf.reshape(centres, [1, h, w, 2]), features.dtype)
        coords = tf.tile(coords, [tf.shape(features)[0], 1, 1, 1])
        out = self.out(self.hidden(tf.concat([features, coords], -1)))
        out = tf.reshape(tf.cast(out, tf.float32), [-1, h * w, 13])
        cell = tf.constant([2.0 / w, 2.0 / h])
        uv = centres + 1.5 * tf.tanh(out[..., 4:6]) * cell
        return {"presence_logit": out[..., 0], "type_logits": out[..., 1:4],
                "position": position_from_view(uv, out[..., 6], self.camera),
                "rotation": rotation_from_6d(out[..., 7:13]), "image_uv": uv}


def image_uv(positions, camera="orthographic"):
    """Image points ``[..., 2]`` (right, up in [-1, 1]) of positions ``[..., 3]`` in [-1, 1]
    units seen by ``camera``: the pixel they fall on (``scenes.image_coordinates``)."""
    right, up, forward = scenes.view_axes()
    positions = tf.cast(positions, tf.float32)
    if camera == "perspective":    # x / (z tan(fov / 2)) in the camera's frame
        offset = positions - tf.constant(scenes.eye_position(), tf.float32)
        depth = tf.linalg.matmul(offset, tf.constant(forward[:, None], tf.float32))
        plane = tf.linalg.matmul(offset, tf.constant(np.stack([right, up], 1), tf.float32))
        return plane / (depth * (scenes.CAMERA_EXTENT / 2.0 / scenes.CAMERA_DISTANCE))
    scenes.check_camera(camera)
    scale = scenes.WORLD_HALF / (scenes.CAMERA_EXTENT / 2.0)
    return tf.linalg.matmul(positions,
                            tf.constant(np.stack([right, up], 1) * scale, tf.float32))
