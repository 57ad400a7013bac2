"""The convolutional LSTM of ConvDRAW, and convolutions of grid-constant inputs.

A core's gate pre-activations are a SAME ``k x k`` convolution of its inputs
and its hidden state, ``4 C`` channels split as (i, j, f, o)::

    c' = sigmoid(f + forget_bias) c + sigmoid(i) tanh(j)
    h' = tanh(c') sigmoid(o)

Two layouts of the same maths (``bias_per_input``):

- tf-gqn (``tf.contrib`` ConvLSTM in ``gqn_draw.py``): one convolution per
  input, each with its own bias, summed; ``forget_bias = 1``;
- torch-gqn / GEN (``Conv2dLSTMCell``): one convolution of the concatenated
  inputs (four per-gate convolutions, each with a bias, which is the same
  parameter count), ``forget_bias = 0``.

The kernels are kept per input in both layouts, so the fused path can use
any subset of them (see ``models/draw/conv_draw.py``). With ``winograd=True``
the fused path's convolutions (``conv``) run as Winograd F(4x4, k x k) in
float32, bfloat16 inputs included (``models/winograd.py``); the naive
``call`` stays direct.
"""
import keras
import tensorflow as tf

from models import winograd as winograd_conv


def lstm_update(gates, cell, forget_bias=1.0):
    """One ConvLSTM state update from the gate pre-activations ``[..., 4C]``.

    ``cell=None`` stands for a zero cell (the forget term vanishes).
    Returns (c', h').
    """
    i, j, f, o = tf.split(gates, 4, axis=-1)
    new_cell = tf.sigmoid(i) * tf.tanh(j)
    if cell is not None:
        new_cell = tf.sigmoid(f + forget_bias) * cell + new_cell
    return new_cell, tf.tanh(new_cell) * tf.sigmoid(o)


def _same_valid_taps(size, kernel_size):
    """[size, k] mask: 1 where tap ``d`` of output ``y`` reads inside the grid.

    SAME padding puts (k - 1) // 2 rows before the grid (as TensorFlow does).
    """
    pad = (kernel_size - 1) // 2
    rows = tf.range(size)[:, None] + tf.range(kernel_size)[None, :] - pad
    return tf.cast((rows >= 0) & (rows < size), tf.float32)


def broadcast_conv(vectors, kernels, height, width):
    """SAME convolution, without bias, of vectors [B, Cin] broadcast to a grid.

    ``vectors`` / ``kernels``: one tensor each, or lists (summed, i.e. the
    convolution of the concatenated vectors). Equal to
    ``conv2d(tile(v), kernel, SAME)``: out[b, y, x] = sum over the taps
    (dy, dx) that read inside the grid of ``v[b] @ kernel[dy, dx]``. Costs
    B k^2 Cin Cout + B H W k Cout instead of B H W k^2 Cin Cout, as matrix
    products on free reshapes of the kernel.
    """
    if not isinstance(vectors, (list, tuple)):
        vectors, kernels = [vectors], [kernels]
    k_h, k_w, _, cout = kernels[0].shape
    batch = vectors[0].shape[0] if vectors[0].shape[0] is not None else tf.shape(vectors[0])[0]
    taps = tf.add_n([  # [k*k, B, Cout]
        tf.matmul(tf.broadcast_to(v[None], [k_h * k_w, batch, v.shape[-1]]),
                  tf.reshape(k, [k_h * k_w, k.shape[2], cout]))
        for v, k in zip(vectors, kernels)])
    valid_y = tf.cast(_same_valid_taps(height, k_h), taps.dtype)  # [H, k]
    valid_x = tf.cast(_same_valid_taps(width, k_w), taps.dtype)  # [W, k]
    rows = tf.matmul(valid_y, tf.reshape(taps, [k_h, k_w * batch * cout]))  # [H, k*B*Cout]
    rows = tf.reshape(rows, [height, k_w, batch * cout])
    grid = tf.matmul(tf.broadcast_to(valid_x[None], [height, width, k_w]), rows)  # [H, W, B*Cout]
    return tf.transpose(tf.reshape(grid, [height, width, batch, cout]), [2, 0, 1, 3])


class ConvLSTMCore(keras.layers.Layer):
    """Convolutional LSTM core over named inputs on an [height, width] grid.

    ``input_channels``: ordered {name: channels}, the core's own hidden state
    included. ``bias_per_input``: one bias per input convolution (tf-gqn) or
    one bias (a single convolution of the concatenated inputs). Kernels are
    ``kernels[name]`` [k, k, C_name, 4 C], initialised as Keras initialises
    the convolutions of the layout (Glorot over each input's kernel, or over
    the concatenated kernel); biases start at zero.
    """

    def __init__(self, input_channels, output_channels, kernel_size, height, width,
                 forget_bias=1.0, bias_per_input=True, winograd=False, **kwargs):
        super().__init__(**kwargs)
        self.winograd = winograd
        self.input_names = list(input_channels)
        self.output_channels, self.forget_bias = output_channels, forget_bias
        self.height, self.width, self.bias_per_input = height, width, bias_per_input
        gates, k = 4 * output_channels, kernel_size
        glorot = keras.initializers.GlorotUniform()  # Keras' default for convolutions
        if bias_per_input:
            initial = [glorot((k, k, c, gates)) for c in input_channels.values()]
        else:
            whole = glorot((k, k, sum(input_channels.values()), gates))
            initial = tf.split(whole, list(input_channels.values()), axis=2)
        self.kernels, self.biases = {}, {}
        for (name, channels), value in zip(input_channels.items(), initial):
            self.kernels[name] = self.add_weight(
                shape=(k, k, channels, gates), name=f"{name}_kernel",
                initializer=lambda shape, dtype=None, value=value: tf.cast(value, dtype))
            if bias_per_input:
                self.biases[name] = self.add_weight(shape=(gates,), name=f"{name}_bias",
                                                    initializer="zeros")
        if not bias_per_input:
            self.biases["gates"] = self.add_weight(shape=(gates,), name="bias",
                                                   initializer="zeros")
        self.built = True

    def conv(self, x, kernel):
        """SAME stride-1 convolution of the fused path (Winograd if ``winograd``)."""
        if self.winograd:
            return winograd_conv.conv2d_same(x, kernel, upcast=True)
        return tf.nn.conv2d(x, kernel, 1, "SAME")

    def kernel(self, name):
        return tf.cast(self.kernels[name], self.compute_dtype)

    def bias(self):
        """The sum of the biases (the step-invariant part of every gate)."""
        return tf.add_n([tf.cast(b, self.compute_dtype) for b in self.biases.values()])

    def call(self, inputs, cell):
        """Naive step as the originals: ``inputs`` {name: [B, h, w, C]}, hidden state included."""
        if self.bias_per_input:
            gates = tf.add_n([tf.nn.conv2d(inputs[n], self.kernel(n), 1, "SAME")
                              + tf.cast(self.biases[n], self.compute_dtype)
                              for n in self.input_names])
        else:
            x = tf.concat([inputs[n] for n in self.input_names], axis=-1)
            kernel = tf.concat([self.kernel(n) for n in self.input_names], axis=2)
            gates = tf.nn.conv2d(x, kernel, 1, "SAME") + self.bias()
        return lstm_update(gates, cell, self.forget_bias)

    def gates_of(self, maps=None, vectors=None):
        """Gate contribution, without bias, of inputs given as maps and/or vectors.

        ``maps`` {name: [B, h, w, C]}: one convolution of their concatenation;
        ``vectors`` {name: [B, C]} constant over the grid: ``broadcast_conv``.
        """
        terms = []
        if vectors:
            terms.append(broadcast_conv(list(vectors.values()),
                                        [self.kernel(n) for n in vectors],
                                        self.height, self.width))
        if maps:
            x = maps[next(iter(maps))] if len(maps) == 1 else tf.concat(list(maps.values()), -1)
            terms.append(self.conv(x, self.fused_kernel(list(maps))))
        return tf.add_n(terms)

    def fused_kernel(self, names):
        """The kernels of ``names`` concatenated along the input channels."""
        if len(names) == 1:
            return self.kernel(names[0])
        return tf.concat([self.kernel(n) for n in names], axis=2)

    def fused_step(self, varying, kernel, constant, cell):
        """One convolution of the concatenated varying inputs plus the constant gates."""
        x = varying[0] if len(varying) == 1 else tf.concat(varying, axis=-1)
        gates = self.conv(x, kernel) + constant
        return lstm_update(gates, cell, self.forget_bias)

    def update(self, gates, cell):
        """State update from given gate pre-activations (``cell=None``: zero cell)."""
        return lstm_update(gates, cell, self.forget_bias)
