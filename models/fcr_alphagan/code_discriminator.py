"""FCR-alphaGAN code discriminator: latent grid -> logit "drawn from N(0, 1)" vs "encoded".

Kept from the original ``code_discriminator``: the [B, 5, 3, 5, 16] code flattened
(1200), fully connected (no bias) to 750 + batch norm + ReLU, to 750 + batch norm +
ReLU, to 1. Returns the logit [B, 1]. 1,466,250 trainable parameters at the defaults.
"""
import keras
import tensorflow as tf

from models.fcr_alphagan._common import dense
from models.fcr_alphagan.layers import BatchNorm


class CodeDiscriminator(keras.Model):
    """``call(z) -> logits`` [B, 1] for z [B, *start_vox, dim_z]."""

    def __init__(self, dim_code=750, bn_moving_averages=False, **kwargs):
        kwargs.setdefault("name", "code_discriminator")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        self.fc1 = dense(dim_code, name="fc1", dtype=policy)
        self.bn1 = BatchNorm(bn_moving_averages, name="bn1", dtype=policy)
        self.fc2 = dense(dim_code, name="fc2", dtype=policy)
        self.bn2 = BatchNorm(bn_moving_averages, name="bn2", dtype=policy)
        self.fc3 = dense(1, name="fc3", dtype=policy)

    def call(self, z, training=False):
        h = tf.reshape(z, [tf.shape(z)[0], -1])
        h = tf.nn.relu(self.bn1(self.fc1(h), training=training))
        h = tf.nn.relu(self.bn2(self.fc2(h), training=training))
        return tf.cast(self.fc3(h), tf.float32)
