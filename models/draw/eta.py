"""The Gaussian heads of ConvDRAW: eta_pi (prior, from h_g) and eta_q (posterior, from h_e).

A SAME ``k x k`` convolution (with bias) of a hidden state to ``2 Z``
channels, split into the mean and a scale parameter:

- tf-gqn (``gqn_utils.compute_eta_and_sample_z``, ``scale="softplus"``):
  ``sigma = softplus(x + 0.5) + 1e-8``;
- torch-gqn / GEN (``scale="log_variance"``): the second half is
  ``log sigma^2``, ``sigma = exp(0.5 x)``.

``z = mu + sigma * eps`` with ``eps ~ N(0, 1)`` (``sample_z``).
"""
import keras
import tensorflow as tf

SCALES = ("softplus", "log_variance")


def sample_z(mu, sigma, eps):
    """Reparameterisation: z = mu + sigma * eps."""
    return mu + sigma * tf.cast(eps, mu.dtype)


class GaussianHead(keras.layers.Layer):
    """h [B, h, w, C] -> (mu, sigma), each [B, h, w, Z]."""

    def __init__(self, z_channels, kernel_size, in_channels, height, width, scale="softplus",
                 **kwargs):
        super().__init__(**kwargs)
        if scale not in SCALES:
            raise ValueError(f"scale must be one of {SCALES}, got {scale!r}")
        self.scale = scale
        self.height, self.width = height, width
        self.conv = keras.layers.Conv2D(2 * z_channels, kernel_size, padding="same",
                                        name="eta_conv", dtype=self.dtype_policy)
        self.conv.build((None, height, width, in_channels))
        self.built = True

    def call(self, hidden):
        return self.statistics(self.conv(hidden))

    def statistics(self, x):
        """(mu, sigma) from the convolution's output."""
        mu, raw = tf.split(x, 2, axis=-1)
        if self.scale == "softplus":
            return mu, tf.nn.softplus(raw + 0.5) + 1e-8
        return mu, tf.exp(0.5 * raw)

    def of_zero(self, batch):
        """``call`` on a zero hidden state (the first DRAW step): only the bias
        remains (exactly equal, no convolution)."""
        bias = tf.cast(self.conv.bias, self.compute_dtype)
        return self.statistics(
            tf.broadcast_to(bias, [batch, self.height, self.width, bias.shape[0]]))
