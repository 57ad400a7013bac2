"""The view embedder of GEN: the GQN pool tower with 254 output channels.

Facts kept from the original (``GQN/modules.py``, ``Pool``), per view
[64, 64, 3] with pose [7]; every convolution has a bias and is followed by
a ReLU, the last one included:

    a = conv 3 -> 256, 2x2 / 2                        [32, 32, 256]
    s = conv 256 -> 256, 2x2 / 2 (a)                  [16, 16, 256]
    t = conv 128 -> 256, 2x2 / 2 (conv 256 -> 128, 3x3 (a)) + s
    b = concat(t, pose tiled to 16x16)                [16, 16, 263]
    s = conv 263 -> 256, 3x3 (b)
    t = conv 128 -> 256, 3x3 (conv 263 -> 128, 3x3 (b)) + s
    e = mean over the 16x16 positions of conv 256 -> 254, 1x1 (t)   [254]

(the residual sums are taken after the ReLUs). 1,961,854 parameters.

Weights and biases start as PyTorch starts ``nn.Conv2d`` and ``nn.Linear``
(the original's): uniform in +-1/sqrt(fan_in) (``torch_uniform``). With
Keras' Glorot kernels and zero biases the composer's 9 residual rounds grow
the node states to ~1e4 before any training; with these, to ~1.

``winograd=True`` (the fused path) runs the 3x3 convolutions, 84 % of the
0.73 G multiply-adds per view, as Winograd F(4x4, 3x3) in float32
(``models/winograd.py``); the weights are the same.
"""
import math

import keras
import tensorflow as tf

from models import winograd as winograd_conv


def torch_uniform(fan_in):
    """Keyword arguments of a Keras layer for PyTorch's default initialisation:
    kernel and bias uniform in +-1/sqrt(fan_in)."""
    limit = 1.0 / math.sqrt(fan_in)
    return {"kernel_initializer": keras.initializers.RandomUniform(-limit, limit),
            "bias_initializer": keras.initializers.RandomUniform(-limit, limit)}


class PoolEmbedder(keras.Model):
    """``embedder(frames [N, 64, 64, 3], poses [N, 7]) -> [N, 254]``."""

    def __init__(self, channels=256, out_channels=254, image_channels=3, pose_channels=7,
                 image_size=64, winograd=False, **kwargs):
        kwargs.setdefault("name", "pool_embedder")
        super().__init__(**kwargs)
        self.winograd = winograd
        half = channels // 2

        def conv(filters, size, stride, in_channels, at, name):
            layer = keras.layers.Conv2D(filters, size, strides=stride, activation="relu",
                                        padding="valid" if stride > 1 else "same", name=name,
                                        dtype=self.dtype_policy,
                                        **torch_uniform(in_channels * size * size))
            layer.build((None, at, at, in_channels))
            return layer

        s2, s4, wide = image_size // 2, image_size // 4, channels + pose_channels
        self.conv1 = conv(channels, 2, 2, image_channels, image_size, "conv1")
        self.conv2 = conv(channels, 2, 2, channels, s2, "conv2")
        self.conv3 = conv(half, 3, 1, channels, s2, "conv3")
        self.conv4 = conv(channels, 2, 2, half, s2, "conv4")
        self.conv5 = conv(channels, 3, 1, wide, s4, "conv5")
        self.conv6 = conv(half, 3, 1, wide, s4, "conv6")
        self.conv7 = conv(channels, 3, 1, half, s4, "conv7")
        self.conv8 = conv(out_channels, 1, 1, channels, s4, "conv8")
        self.built = True

    def _same(self, layer, x):
        """A 3x3 SAME layer, by Winograd when ``winograd`` (same variables)."""
        if not self.winograd:
            return layer(x)
        kernel = tf.cast(layer.kernel, x.dtype)
        return tf.nn.relu(winograd_conv.conv2d_same(x, kernel) + tf.cast(layer.bias, x.dtype))

    def call(self, frames, poses):
        a = self.conv1(frames)
        t = self.conv4(self._same(self.conv3, a)) + self.conv2(a)
        size = t.shape[1]
        pose = tf.tile(tf.cast(poses, t.dtype)[:, None, None, :], [1, size, size, 1])
        b = tf.concat([t, pose], axis=-1)
        t = self._same(self.conv7, self._same(self.conv6, b)) + self._same(self.conv5, b)
        return tf.reduce_mean(self.conv8(t), axis=[1, 2])
