"""FCR-alphaGAN encoder: one-hot voxel scene -> mean and sigma of the latent grid.

Kept from the original ``encoder``: four convolutions (kernel 5x3x5, stride 2, SAME, no
bias) 12 -> 64 -> 128 -> 256 -> 512 with leaky ReLU 0.2, batch norm on all but the
first, down to [B, 5, 3, 5, 512]; two 1x1x1 convolutions to the mean and the sigma of
the [B, 5, 3, 5, 16] latent (the mean is the code used everywhere; sigma is computed
but not used by any loss of the original). 12,978,176 trainable parameters at the
default sizes (the unused ``encode_bn_g1``/``encode_bn_b1`` are dropped).
"""
import keras
import tensorflow as tf

from models.fcr_alphagan._common import DEFAULT_KERNELS, conv, downsampling_convs
from models.fcr_alphagan.layers import BatchNorm, lrelu


class Encoder(keras.Model):
    """``call(onehot) -> (z_mean, z_sigma)``, onehot float [B, X, Y, Z, dim[4]]."""

    def __init__(self, dim=(512, 256, 128, 64, 12), dim_z=16, kernels=DEFAULT_KERNELS,
                 bn_moving_averages=False, **kwargs):
        kwargs.setdefault("name", "encoder")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.convs = downsampling_convs(dim, kernels, dtype=policy)
        self.bns = [BatchNorm(bn_moving_averages, name=f"bn{i + 2}", dtype=policy)
                    for i in range(3)]
        self.to_mean = conv(dim_z, 1, name="to_mean", dtype=policy)
        self.to_sigma = conv(dim_z, 1, name="to_sigma", dtype=policy)

    def call(self, onehot, training=False):
        h = lrelu(self.convs[0](onehot))
        for conv_layer, bn in zip(self.convs[1:], self.bns):
            h = lrelu(bn(conv_layer(h), training=training))
        z_mean = tf.cast(self.to_mean(h), tf.float32)
        z_sigma = tf.cast(self.to_sigma(h), tf.float32)
        return z_mean, z_sigma
