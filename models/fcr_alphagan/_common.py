"""Small helpers shared by the FCR-alphaGAN networks (initialisers, convolutions)."""
import keras

DEFAULT_KERNELS = ((5, 3, 5),) * 5


def weight_init():
    """Every weight of the original is drawn from ``N(0, 0.02)``."""
    return keras.initializers.RandomNormal(mean=0.0, stddev=0.02)


def conv(filters, kernel, strides=1, name=None, dtype=None):
    """3-D convolution, SAME padding, no bias (as ``tf.nn.conv3d`` in the original)."""
    return keras.layers.Conv3D(filters, kernel, strides=strides, padding="same", use_bias=False,
                               kernel_initializer=weight_init(), name=name, dtype=dtype)


def deconv(filters, kernel, strides=2, name=None, dtype=None):
    """3-D transposed convolution, SAME padding, no bias (``tf.nn.conv3d_transpose``)."""
    return keras.layers.Conv3DTranspose(filters, kernel, strides=strides, padding="same",
                                        use_bias=False, kernel_initializer=weight_init(),
                                        name=name, dtype=dtype)


def dense(units, name=None, dtype=None):
    """Fully connected layer without bias (``tf.matmul`` in the original)."""
    return keras.layers.Dense(units, use_bias=False, kernel_initializer=weight_init(),
                              name=name, dtype=dtype)


def downsampling_convs(dim, kernels, dtype=None):
    """The four stride-2 convolutions shared by the encoder and the discriminator.

    Channels ``dim[3], dim[2], dim[1], dim[0]`` (64, 128, 256, 512 by default) with
    kernels ``kernels[4], kernels[3], kernels[2], kernels[1]``, named ``conv1..conv4``.
    """
    channels = [dim[3], dim[2], dim[1], dim[0]]
    layer_kernels = [kernels[4], kernels[3], kernels[2], kernels[1]]
    return [conv(c, k, strides=2, name=f"conv{i + 1}", dtype=dtype)
            for i, (c, k) in enumerate(zip(channels, layer_kernels))]
