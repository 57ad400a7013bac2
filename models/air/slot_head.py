"""Slot head: the reference's layout, every slot read from the whole image.

Features flattened (``[B, h * w * C]``), one dense ReLU layer (``hidden``),
one dense layer to ``max_primitives x 13`` numbers: per slot a presence
logit, 3 type logits, a position (linear, targets in [-1, 1]) and a 6-D
rotation. Slots are told apart only by their own output units, so the slot
assignment (x-sorted as the reference, or Hungarian) decides what each learns.
"""
import keras
import tensorflow as tf

from models.air.rotations import rotation_from_6d


class SlotHead(keras.layers.Layer):
    """``call(maps) -> dict`` of per-slot outputs ``[B, K, ...]`` from the last map
    ``[B, h, w, C]``."""

    def __init__(self, max_primitives=3, hidden=512, **kwargs):
        super().__init__(**kwargs)
        self.max_primitives = max_primitives
        self.flatten = keras.layers.Flatten(dtype=self.dtype_policy)
        self.hidden = keras.layers.Dense(hidden, activation="relu", name="hidden",
                                         dtype=self.dtype_policy)
        self.out = keras.layers.Dense(max_primitives * 13, name="slots", dtype="float32")

    def call(self, maps):
        h = tf.cast(self.hidden(self.flatten(maps[-1])), tf.float32)
        out = tf.reshape(self.out(h), [-1, self.max_primitives, 13])
        return {"presence_logit": out[..., 0], "type_logits": out[..., 1:4],
                "position": out[..., 4:7], "rotation": rotation_from_6d(out[..., 7:13])}
