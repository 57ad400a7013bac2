"""ConvDRAW pieces of the GQN: convolutional LSTM cores and the eta functions.

Facts kept from tf-gqn (``gqn/gqn_draw.py``, ``gqn/gqn_utils.py``):

- ConvLSTM core: the gates are a SAME ``k x k`` convolution of every input and
  of the hidden state, one convolution per input, each with its own bias,
  summed; 4 * C channels split in the order (i, j, f, o);
  ``c' = sigmoid(f + forget_bias) * c + sigmoid(i) * tanh(j)`` with
  ``forget_bias = 1.0`` and ``h' = tanh(c') * sigmoid(o)``.
- generator core: inputs (representation, query_pose, z) and h_g; afterwards
  ``canvas += conv2d_transpose(h_g, canvas_channels, 4x4, stride 4)`` (bias).
- inference core: inputs (representation, query_pose, h_g) and h_e, where
  first ``h_e += conv2d(concat(target, canvas), C, 4x4, stride 4, VALID, no
  bias)``; the shifted h_e only feeds the gate convolution.
- eta (``eta_pi`` from h_g, ``eta_q`` from h_e): a SAME conv
  (ETA_INTERNAL_KERNEL_SIZE) to 2 * Z channels split into mu and
  ``sigma = softplus(x + 0.5) + 1e-8``; z = mu + sigma * eps.
- eta_g: a SAME conv (ETA_EXTERNAL_KERNEL_SIZE) of the canvas to the image
  channels, the mean image.

Speed: ``ConvLSTMCore`` keeps one convolution per input (the original's
variables), and offers a fused path over the SAME variables: the contribution
of inputs that do not change across DRAW steps (representation, query pose) is
computed once per forward pass (``constant_gates``; for inputs constant over
the grid, as the pool representation and the pose, in closed form from the
kernel taps without any convolution over the grid), and the inputs that change
are concatenated and convolved with the concatenated kernels in one call
(``fused_step``). At the first DRAW step the states and the canvas are zero,
so the fused path skips their kernel slices (``InferenceCore.first_shift``,
``Eta.of_zero``, sliced gate kernels in ``GQNModel``): exactly the same sums
without the products with zeros.
"""
import keras
import tensorflow as tf


def lstm_update(gates, cell, forget_bias=1.0):
    """One ConvLSTM state update from the gate pre-activations.

    gates [..., 4C] split as (i, j, f, o);
    c' = sigmoid(f + forget_bias) c + sigmoid(i) tanh(j); h' = tanh(c') sigmoid(o).
    ``cell=None`` stands for a zero cell (the forget term vanishes).
    Returns (c', h').
    """
    i, j, f, o = tf.split(gates, 4, axis=-1)
    new_cell = tf.sigmoid(i) * tf.tanh(j)
    if cell is not None:
        new_cell = tf.sigmoid(f + forget_bias) * cell + new_cell
    return new_cell, tf.tanh(new_cell) * tf.sigmoid(o)


def _same_valid_taps(size, kernel_size):
    """[size, k] float mask: 1 where tap ``d`` of output ``y`` reads inside the grid.

    SAME padding puts (k - 1) // 2 rows before the grid (as TensorFlow does).
    """
    pad = (kernel_size - 1) // 2
    rows = tf.range(size)[:, None] + tf.range(kernel_size)[None, :] - pad
    return tf.cast((rows >= 0) & (rows < size), tf.float32)


def broadcast_conv(vectors, kernels, height, width):
    """SAME convolution of vectors [B, Cin] broadcast to a [height, width] grid.

    ``vectors`` / ``kernels``: one tensor each, or lists of them (summed, as
    the convolution of the concatenated vectors, without concatenating the
    kernels). Equal to ``conv2d(tile(vector), kernel, SAME)`` without the bias:
    out[b, y, x] = sum over taps (dy, dx) inside the grid of kernel[dy, dx]^T v[b].
    Costs B*k*k*Cin*Cout + B*H*W*k*Cout instead of B*H*W*k*k*Cin*Cout.
    Written as matrix products on free reshapes of the kernel (no transpose of
    the kernel): per tap v @ kernel[dy, dx], then the valid-tap sums over dy
    and over dx, ~3x faster forward + backward than einsum.
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
    """Convolutional LSTM core with one SAME convolution (with bias) per input.

    ``input_channels``: ordered {name: channels}; the last one is the core's
    own hidden state. Variables are created in ``__init__`` for a
    [height, width] grid.
    """

    def __init__(self, input_channels, output_channels, kernel_size, height, width,
                 forget_bias=1.0, **kwargs):
        super().__init__(**kwargs)
        self.input_names = list(input_channels)
        self.output_channels = output_channels
        self.forget_bias = forget_bias
        self.height, self.width = height, width
        self.convs = {}
        for key, channels in input_channels.items():
            conv = keras.layers.Conv2D(4 * output_channels, kernel_size, padding="same",
                                       name=f"{key}_lstm_conv", dtype=self.dtype_policy)
            conv.build((None, height, width, channels))
            self.convs[key] = conv
        self.built = True

    def call(self, inputs, cell):
        """Naive step as the original: ``inputs`` {name: [B,h,w,C]} incl. the hidden state."""
        gates = tf.add_n([self.convs[k](inputs[k]) for k in self.input_names])
        return lstm_update(gates, cell, self.forget_bias)

    def _kernel(self, key, dtype):
        return tf.cast(self.convs[key].kernel, dtype)

    def constant_gates(self, maps=None, vectors=None, dtype=tf.float32):
        """Gate contribution of the step-invariant inputs plus every bias.

        maps: {name: [B, h, w, C]} convolved once; vectors: {name: [B, C]}
        constant over the grid, done in closed form (``broadcast_conv``).
        """
        maps, vectors = maps or {}, vectors or {}
        bias = tf.add_n([tf.cast(c.bias, dtype) for c in self.convs.values()])
        total = bias
        if vectors:
            total = total + broadcast_conv([tf.cast(vectors[k], dtype) for k in vectors],
                                           [self._kernel(k, dtype) for k in vectors],
                                           self.height, self.width)
        if maps:
            x = tf.concat([tf.cast(maps[k], dtype) for k in maps], axis=-1)
            kernel = tf.concat([self._kernel(k, dtype) for k in maps], axis=2)
            total = total + tf.nn.conv2d(x, kernel, 1, "SAME")
        return total

    def fused_kernel(self, names, dtype=tf.float32):
        """The kernels of ``names`` concatenated along the input channels."""
        return tf.concat([self._kernel(k, dtype) for k in names], axis=2)

    def fused_step(self, varying, kernel, constant, cell):
        """Fused step: one conv of the concatenated varying inputs + constant part
        (``cell=None``: zero cell)."""
        gates = tf.nn.conv2d(tf.concat(varying, axis=-1), kernel, 1, "SAME") + constant
        return lstm_update(gates, cell, self.forget_bias)

    def update(self, gates, cell):
        """State update from given gate pre-activations (``cell=None``: zero cell)."""
        return lstm_update(gates, cell, self.forget_bias)


class GeneratorCore(keras.layers.Layer):
    """Generator core: ConvLSTM over (representation, query_pose, z, h_g) and
    ``canvas += conv2d_transpose(h_g, 4x4 / 4)``."""

    def __init__(self, cfg, **kwargs):
        super().__init__(**kwargs)
        h, w, c = cfg.ENC_HEIGHT, cfg.ENC_WIDTH, cfg.LSTM_OUTPUT_CHANNELS
        self.lstm = ConvLSTMCore(
            {"representation": cfg.ENC_CHANNELS, "query_pose": cfg.POSE_CHANNELS,
             "z": cfg.Z_CHANNELS, "h_g": c},
            c, cfg.LSTM_KERNEL_SIZE, h, w, name="generator_lstm", dtype=self.dtype_policy)
        self.upsample = keras.layers.Conv2DTranspose(
            cfg.LSTM_CANVAS_CHANNELS, 4, strides=4, name="upsample_generator_output",
            dtype=self.dtype_policy)
        self.upsample.build((None, h, w, c))
        self.built = True

    def call(self, inputs, cell, canvas):
        """Naive step; returns (c_g, h_g, canvas)."""
        cell, hidden = self.lstm(inputs, cell)
        return cell, hidden, canvas + self.upsample(hidden)


class InferenceCore(keras.layers.Layer):
    """Inference core: ``h_e += conv(concat(target, canvas), 4x4 / 4, no bias)``,
    then a ConvLSTM over (representation, query_pose, h_g, h_e)."""

    def __init__(self, cfg, **kwargs):
        super().__init__(**kwargs)
        h, w, c = cfg.ENC_HEIGHT, cfg.ENC_WIDTH, cfg.LSTM_OUTPUT_CHANNELS
        self.lstm = ConvLSTMCore(
            {"representation": cfg.ENC_CHANNELS, "query_pose": cfg.POSE_CHANNELS,
             "h_g": c, "h_e": c},
            c, cfg.LSTM_KERNEL_SIZE, h, w, name="inference_lstm", dtype=self.dtype_policy)
        self.downsample = keras.layers.Conv2D(
            c, 4, strides=4, padding="valid", use_bias=False,
            name="downsample_inference_input", dtype=self.dtype_policy)
        self.downsample.build(
            (None, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS + cfg.LSTM_CANVAS_CHANNELS))
        self.built = True

    def shift_hidden(self, hidden, target, canvas):
        """h_e + conv(concat(target, canvas))."""
        x = tf.concat([tf.cast(target, canvas.dtype), canvas], axis=-1)
        return hidden + self.downsample(x)

    def first_shift(self, target):
        """The target's part of ``shift_hidden``: conv(concat(target, 0)); at the
        first DRAW step, where h_e and the canvas are zero, all of it."""
        kernel = tf.cast(self.downsample.kernel, self.compute_dtype)
        channels = target.shape[-1]
        return tf.nn.conv2d(tf.cast(target, kernel.dtype), kernel[:, :, :channels, :], 4, "VALID")

    def first_gates(self, target, h_e_kernel):
        """conv(first_shift(target), h_e_kernel, SAME) without forming the shift.

        The 4x4 / stride-4 convolution is space_to_depth(target, 4) times a
        matrix D [16 * 3, C] at every position, so the two convolutions
        compose into one SAME convolution of the 3-channel target blocks with
        the per-tap products D @ h_e_kernel[dy, dx] ([k, k, 48, 4C]): a
        48-channel instead of a C-channel input (exactly equal up to rounding).
        """
        kernel = tf.cast(self.downsample.kernel, self.compute_dtype)
        block, channels = kernel.shape[0], target.shape[-1]
        down = tf.reshape(kernel[:, :, :channels, :], [-1, kernel.shape[-1]])  # [48, C]
        k_h, k_w, c, gates = h_e_kernel.shape
        composed = tf.matmul(tf.broadcast_to(down[None], [k_h * k_w, *down.shape]),
                             tf.reshape(h_e_kernel, [k_h * k_w, c, gates]))
        composed = tf.reshape(composed, [k_h, k_w, down.shape[0], gates])
        blocks = tf.nn.space_to_depth(tf.cast(target, kernel.dtype), block)
        return tf.nn.conv2d(blocks, composed, 1, "SAME")

    def call(self, inputs, cell, target, canvas):
        """Naive step; ``inputs`` holds representation, query_pose, h_g, h_e."""
        inputs = dict(inputs)
        inputs["h_e"] = self.shift_hidden(inputs["h_e"], target, canvas)
        return self.lstm(inputs, cell)


class Eta(keras.layers.Layer):
    """eta_pi / eta_q: h -> (mu, sigma) with sigma = softplus(x + 0.5) + 1e-8."""

    def __init__(self, z_channels, kernel_size, in_channels, height, width, **kwargs):
        super().__init__(**kwargs)
        self.conv = keras.layers.Conv2D(2 * z_channels, kernel_size, padding="same",
                                        name="eta_conv", dtype=self.dtype_policy)
        self.conv.build((None, height, width, in_channels))
        self.built = True

    def call(self, hidden):
        return self._statistics(self.conv(hidden))

    def _statistics(self, x):
        mu, raw = tf.split(x, 2, axis=-1)
        return mu, tf.nn.softplus(raw + 0.5) + 1e-8

    def of_zero(self, batch, height, width):
        """``call`` on a zero hidden state (the first DRAW step): the conv is
        zero, only the bias remains (exactly equal, no convolution)."""
        bias = tf.cast(self.conv.bias, self.compute_dtype)
        return self._statistics(tf.broadcast_to(bias, [batch, height, width, bias.shape[0]]))


def sample_z(mu, sigma, eps):
    """Reparameterisation: z = mu + sigma * eps, eps ~ N(0, 1)."""
    return mu + sigma * tf.cast(eps, mu.dtype)
