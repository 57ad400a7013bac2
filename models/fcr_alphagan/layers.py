"""The original FCR-alphaGAN normalisations and activation as Keras layers.

Kept from the original ``model.py``:

- ``batchnormalize``: ``(x - mean) / sqrt(var + 1e-5) * gamma + beta`` with mean and
  (biased) variance over every axis but the channel axis (batch and space for 5-D
  inputs, batch for 2-D inputs); per-channel ``gamma ~ N(1, 0.02)``, ``beta = 0``. The
  original uses the batch statistics at test time too; that is the default here.
  ``moving_averages=True`` keeps moving averages (non-trainable) during training and uses
  them at inference instead. (The original also skips the normalisation of 5-D inputs
  when the model's batch size is 1; that quirk is not reproduced.)
- ``layernormalize`` (discriminator): ``(x - mean) / sqrt(var + 1e-5) * g + b`` with mean
  and variance per example over all of space and channels, one scalar ``g ~ N(1, 0.02)``
  and one scalar ``b = 0``.
- ``lrelu``: ``max(x, 0.2 x)``.
"""
import keras
import tensorflow as tf

EPSILON = 1e-5


def lrelu(x, leak=0.2):
    """Leaky ReLU of the original: ``max(x, leak * x)``."""
    return tf.maximum(x, leak * x)


def _gamma_init():
    return keras.initializers.RandomNormal(mean=1.0, stddev=0.02)


class BatchNorm(keras.layers.Layer):
    """Batch normalisation of the original (batch statistics also at inference by default)."""

    def __init__(self, moving_averages=False, momentum=0.99, epsilon=EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.moving_averages = moving_averages
        self.momentum = momentum
        self.epsilon = epsilon

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.gamma = self.add_weight(shape=(channels,), initializer=_gamma_init(), name="gamma")
        self.beta = self.add_weight(shape=(channels,), initializer="zeros", name="beta")
        if self.moving_averages:
            self.moving_mean = self.add_weight(shape=(channels,), initializer="zeros",
                                               trainable=False, name="moving_mean")
            self.moving_variance = self.add_weight(shape=(channels,), initializer="ones",
                                                   trainable=False, name="moving_variance")

    def call(self, x, training=False):
        axes = list(range(len(x.shape) - 1))
        x32 = tf.cast(x, tf.float32)
        if self.moving_averages and not training:
            mean = tf.cast(self.moving_mean, tf.float32)
            variance = tf.cast(self.moving_variance, tf.float32)
        else:
            mean = tf.reduce_mean(x32, axes)
            variance = tf.reduce_mean(tf.square(x32 - mean), axes)
            if self.moving_averages:
                m = self.momentum
                self.moving_mean.assign(m * self.moving_mean + (1.0 - m) * mean)
                self.moving_variance.assign(m * self.moving_variance + (1.0 - m) * variance)
        y = (x32 - mean) * tf.math.rsqrt(variance + self.epsilon)
        y = y * tf.cast(self.gamma, tf.float32) + tf.cast(self.beta, tf.float32)
        return tf.cast(y, x.dtype)


class LayerNorm(keras.layers.Layer):
    """Layer normalisation of the original: per-example statistics, scalar gain and bias."""

    def __init__(self, epsilon=EPSILON, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(1,), initializer=_gamma_init(), name="gamma")
        self.beta = self.add_weight(shape=(1,), initializer="zeros", name="beta")

    def call(self, x):
        axes = list(range(1, len(x.shape)))
        x32 = tf.cast(x, tf.float32)
        mean, variance = tf.nn.moments(x32, axes, keepdims=True)
        y = (x32 - mean) * tf.math.rsqrt(variance + self.epsilon)
        y = y * tf.cast(self.gamma, tf.float32) + tf.cast(self.beta, tf.float32)
        return tf.cast(y, x.dtype)
