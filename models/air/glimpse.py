"""Glimpse reader: what is at an attended point of the image.

AIR's attend-infer step: a window of ``size x size`` pixels (default 24, a
primitive spans at most 22) is cut from the image at 1:1 scale around an
image point ``(u, v)`` (``tf.image.crop_and_resize``, bilinear for the
sub-pixel part) and read by a small CNN: 3x3/1 -> 16, 3x3/2 -> 32,
3x3/1 -> 64, 3x3/2 -> 64 (SAME, ReLU), flatten, dense ``hidden`` (ReLU),
dense to 12 numbers: 3 type logits, a 6-D rotation, the offset of the
primitive's centre from the window centre ``(du, dv)`` in image units and a
depth correction ``delta``. 179,852 parameters at the defaults.
"""
import keras
import tensorflow as tf

from models.air.rotations import rotation_from_6d


def crop_glimpses(images, image_index, uv, size):
    """``size x size`` windows ``[N, size, size, 1]`` of ``images [B, H, W, 1]`` centred on
    ``uv [N, 2]`` (image units, right/up in [-1, 1]) of image ``image_index [N]``."""
    height, width = images.shape[1], images.shape[2]
    # crop_and_resize samples y1 + i (y2 - y1) / (size - 1) in units of (H - 1).
    col = (uv[:, 0] + 1.0) / 2.0 * width - 0.5
    row = (1.0 - uv[:, 1]) / 2.0 * height - 0.5
    half = (size - 1) / 2.0
    boxes = tf.stack([(row - half) / (height - 1), (col - half) / (width - 1),
                      (row + half) / (height - 1), (col + half) / (width - 1)], -1)
    return tf.image.crop_and_resize(tf.cast(images, tf.float32), boxes,
                                    tf.cast(image_index, tf.int32), [size, size])


class GlimpseReader(keras.Model):
    """``call(glimpses [N, s, s, 1]) -> dict(type_logits, rotation, offset_uv, delta)``."""

    def __init__(self, channels=(16, 32, 64, 64), strides=(1, 2, 1, 2), hidden=256, **kwargs):
        kwargs.setdefault("name", "glimpse_reader")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.convs = [keras.layers.Conv2D(c, 3, s, padding="same", activation="relu",
                                          name=f"conv{i}", dtype=policy)
                      for i, (c, s) in enumerate(zip(channels, strides))]
        self.flatten = keras.layers.Flatten(dtype=policy)
        self.hidden = keras.layers.Dense(hidden, activation="relu", name="hidden", dtype=policy)
        self.out = keras.layers.Dense(12, name="what", dtype="float32")

    def call(self, glimpses):
        h = tf.cast(glimpses, self.compute_dtype)
        for conv in self.convs:
            h = conv(h)
        out = self.out(tf.cast(self.hidden(self.flatten(h)), tf.float32))
        return {"type_logits": out[:, :3], "rotation": rotation_from_6d(out[:, 3:9]),
                "offset_uv": 0.1 * out[:, 9:11], "delta": out[:, 11]}
