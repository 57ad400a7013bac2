"""FCR-alphaGAN scene discriminator: voxel class probabilities -> real/fake logit.

Kept from the original ``discriminate``: four convolutions (kernel 5x3x5, stride 2,
SAME, no bias) 12 -> 64 -> 128 -> 256 -> 512 with leaky ReLU 0.2, layer normalisation
(scalar gain and bias) on all but the first, flattened 5*3*5*512 = 38400, fully
connected to 1 without bias. Returns the logit ``h`` [B, 1] (the original also returns
``sigmoid(h)``, which no loss uses). 12,998,406 trainable parameters at the default
sizes (the unused ``discrim_bn_g1``/``discrim_bn_b1`` are dropped).
"""
import keras
import tensorflow as tf

from models.fcr_alphagan._common import DEFAULT_KERNELS, dense, downsampling_convs
from models.fcr_alphagan.layers import LayerNorm, lrelu


class Discriminator(keras.Model):
    """``call(vox) -> logits`` [B, 1] for vox [B, X, Y, Z, dim[4]] (one-hot or softmax)."""

    def __init__(self, dim=(512, 256, 128, 64, 12), kernels=DEFAULT_KERNELS, **kwargs):
        kwargs.setdefault("name", "discriminator")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.convs = downsampling_convs(dim, kernels, dtype=policy)
        self.norms = [LayerNorm(name=f"ln{i + 2}", dtype=policy) for i in range(3)]
        self.fc = dense(1, name="fc", dtype=policy)

    def call(self, vox, training=False):
        h = lrelu(self.convs[0](vox))
        for conv_layer, norm in zip(self.convs[1:], self.norms):
            h = lrelu(norm(conv_layer(h)))
        h = tf.reshape(h, [tf.shape(h)[0], -1])
        return tf.cast(self.fc(h), tf.float32)
