"""Convolutional image encoder of the AIR 3D inference network.

``[B, H, W, 1]`` image -> the feature maps of every layer: convolutions
(``channels``, ``kernels``, ``strides``, SAME padding, ReLU). Defaults at
64x64: 4x4/2 -> 32x32x32, 3x3/2 -> 16x16x64, 3x3/2 -> 8x8x128,
3x3/1 -> 8x8x128; the last layer sees 32x32 pixels, more than a primitive
(about 13 pixels, 22 for a cube seen along its diagonal). 258,592
parameters. The reference network was an MLP on the 2x mean-pooled image.
"""
import keras
import tensorflow as tf

DEFAULT_CHANNELS = (32, 64, 128, 128)
DEFAULT_KERNELS = (4, 3, 3, 3)
DEFAULT_STRIDES = (2, 2, 2, 1)


class ConvEncoder(keras.Model):
    """``call(images) -> [feature map of each layer]`` (``[B, h_i, w_i, channels[i]]``)."""

    def __init__(self, channels=DEFAULT_CHANNELS, kernels=DEFAULT_KERNELS,
                 strides=DEFAULT_STRIDES, **kwargs):
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        if not len(channels) == len(kernels) == len(strides):
            raise ValueError("channels, kernels and strides must have the same length")
        self.convs = [keras.layers.Conv2D(c, k, s, padding="same", activation="relu",
                                          name=f"conv{i}", dtype=self.dtype_policy)
                      for i, (c, k, s) in enumerate(zip(channels, kernels, strides))]

    def call(self, images):
        h = tf.cast(images, self.compute_dtype)
        maps = []
        for conv in self.convs:
            h = conv(h)
            maps.append(h)
        return maps
