"""FCR-alphaGAN refiner: class probabilities -> refined class probabilities, same grid.

Kept from the original ``refine``: a 3x3x3 convolution 12 -> 32 + ReLU; four residual
blocks ``relu(x + conv(relu(conv(x))))`` of 3x3x3 convolutions 32 -> 32; a 3x3x3
convolution 32 -> 12; softmax over classes. Stride 1, SAME, no biases, no
normalisation. 241,920 trainable parameters at the defaults.

Cost: every convolution has stride 1 at the full grid, so one forward takes as many
multiply-adds per voxel as the refiner has weights (241,920): 149 G multiply-adds for
two 80x48x80 scenes, more than the generator, encoder and discriminator together.
"""
import keras
import tensorflow as tf

from models.fcr_alphagan._common import conv


class Refiner(keras.Model):
    """``call(probs) -> refined probs``, both [B, X, Y, Z, n_class]."""

    def __init__(self, n_class=12, refine_ch=32, refine_kernel=3, num_blocks=4, **kwargs):
        kwargs.setdefault("name", "refiner")
        super().__init__(**kwargs)
        policy = self.dtype_policy
        k = int(refine_kernel)
        self.conv_in = conv(refine_ch, k, name="conv_in", dtype=policy)
        self.blocks = [(conv(refine_ch, k, name=f"res{i + 1}_conv1", dtype=policy),
                        conv(refine_ch, k, name=f"res{i + 1}_conv2", dtype=policy))
                       for i in range(num_blocks)]
        self.conv_out = conv(n_class, k, name="conv_out", dtype=policy)

    def call(self, probs, training=False):
        h = tf.nn.relu(self.conv_in(probs))
        for conv1, conv2 in self.blocks:
            h = tf.nn.relu(h + conv2(tf.nn.relu(conv1(h))))
        return tf.nn.softmax(tf.cast(self.conv_out(h), tf.float32), axis=-1)
