"""Camera head: the azimuth and elevation of the camera that saw the image.

Under a camera range (``camera_range``, ``models.air.scenes``) every scene is
seen by its own camera, and the network reads it from the image (the
markers at the cube's bottom corners show it). From the encoder's last map
(8x8 at the defaults), with the cells' image coordinates joined (CoordConv):
a 1x1 convolution to 16 channels (ReLU), flattened, a dense layer
(``hidden``, ReLU) and a dense layer to 3 numbers: a vector in the ground
plane normalised to ``(cos az, sin az)`` (the azimuth is periodic: no seam at
0 = 360 degrees) and the elevation in radians. 132,659 parameters at the
defaults (64 channels, 128 hidden units).
"""
import keras
import numpy as np
import tensorflow as tf

from models.air.grid_head import cell_centres


class CameraHead(keras.layers.Layer):
    """``call(maps) -> [B, 3]`` float32: ``cos az``, ``sin az``, elevation (radians)."""

    def __init__(self, hidden=128, **kwargs):
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.reduce = keras.layers.Conv2D(16, 1, activation="relu", name="reduce", dtype=policy)
        self.flatten = keras.layers.Flatten(dtype=policy)
        self.hidden = keras.layers.Dense(hidden, activation="relu", name="hidden", dtype=policy)
        self.out = keras.layers.Dense(3, name="camera", dtype="float32")

    def call(self, maps):
        final = maps[-1]
        h, w = final.shape[1], final.shape[2]
        coords = tf.cast(tf.reshape(tf.constant(cell_centres(h, w)), [1, h, w, 2]), final.dtype)
        coords = tf.tile(coords, [tf.shape(final)[0], 1, 1, 1])
        out = self.out(tf.cast(self.hidden(self.flatten(self.reduce(
            tf.concat([final, coords], -1)))), tf.float32))
        unit = out[:, :2] / tf.sqrt(tf.reduce_sum(tf.square(out[:, :2]), -1, keepdims=True)
                                    + 1e-12)
        return tf.concat([unit, out[:, 2:]], -1)


def camera_angles(output):
    """Azimuth in [0, 360) and elevation, degrees ``[..., 2]`` (numpy), of camera head
    outputs ``[..., 3]``."""
    output = np.asarray(output, np.float64)
    azimuth = np.degrees(np.arctan2(output[..., 1], output[..., 0])) % 360.0
    return np.stack([azimuth, np.degrees(output[..., 2])], -1)
