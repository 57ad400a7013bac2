"""FCR-alphaGAN generator: latent grid ``z`` -> class probabilities of a voxel scene.

Kept from the original ``generate``: ``z`` [B, 5, 3, 5, 16] flattened (1200), fully
connected to 5*3*5*512 = 38400 + batch norm + ReLU, reshaped to [B, 5, 3, 5, 512];
transposed convolutions (kernel 5x3x5, stride 2, SAME, no bias) to 10x6x10x256,
20x12x20x128, 40x24x40x64 (each batch norm + ReLU) and 80x48x80x12; softmax over the
12 classes. 59,117,696 trainable parameters at the default sizes (the original's
``gen_bn_g5``/``gen_bn_b5`` are declared but never used and are dropped).
"""
import keras
import numpy as np
import tensorflow as tf

from models.fcr_alphagan._common import DEFAULT_KERNELS, deconv, dense
from models.fcr_alphagan.layers import BatchNorm


class Generator(keras.Model):
    """``call(z) -> probs`` with ``z`` [B, *start_vox, dim_z] and probs [B, *16 start_vox,
    dim[4]]."""

    def __init__(self, dim=(512, 256, 128, 64, 12), start_vox=(5, 3, 5), dim_z=16,
                 kernels=DEFAULT_KERNELS, bn_moving_averages=False, **kwargs):
        kwargs.setdefault("name", "generator")
        super().__init__(**kwargs)
        self.dim = tuple(int(d) for d in dim)
        self.start_vox = tuple(int(s) for s in start_vox)
        self.dim_z = int(dim_z)
        cells = int(np.prod(self.start_vox))
        policy = self.dtype_policy
        self.fc = dense(self.dim[0] * cells, name="fc", dtype=policy)
        self.bn_fc = BatchNorm(bn_moving_averages, name="bn_fc", dtype=policy)
        self.deconvs = [deconv(self.dim[i], kernels[i], name=f"deconv{i + 1}", dtype=policy)
                        for i in range(1, 5)]
        self.bns = [BatchNorm(bn_moving_averages, name=f"bn{i + 1}", dtype=policy)
                    for i in range(1, 4)]

    def call(self, z, training=False):
        batch = tf.shape(z)[0]
        h = tf.reshape(z, [batch, int(np.prod(self.start_vox)) * self.dim_z])
        h = tf.nn.relu(self.bn_fc(self.fc(h), training=training))
        h = tf.reshape(h, [batch, *self.start_vox, self.dim[0]])
        for deconv_layer, bn in zip(self.deconvs[:3], self.bns):
            h = tf.nn.relu(bn(deconv_layer(h), training=training))
        logits = self.deconvs[3](h)
        return tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
