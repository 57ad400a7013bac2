"""The generator and inference cores of ConvDRAW.

Generator core (both originals): a ConvLSTM over the conditioning r, the
query pose v, the latent z and its state h_g; afterwards
``u += conv2d_transpose(h_g, canvas_channels, block x block, stride block)``
(tf-gqn with a bias, torch-gqn / GEN without).

Inference core: a ConvLSTM over r, v, h_g and its state h_e that reads the
target image x and the canvas u through ``block x block`` / stride ``block``
VALID convolutions without bias, in one of two ways:

- tf-gqn (``reads_into_hidden=True``): ``h_e += conv(concat(x, u), C)`` before
  the gate convolution, so x and u enter the gates through h_e's kernel;
- torch-gqn / GEN: ``x' = conv(x, 3 -> 3)``, ``u' = conv(u, Cc -> Cc)`` are two
  more inputs of the gate convolution, in the order (x', v, r, h_g, u').

How r and v reach a core (``upsample``):

- tf-gqn: broadcast to the grid (a vector r, the pool representation) or
  as it is (a map r, the tower representation), no parameters;
- torch-gqn / GEN: each core has two transposed convolutions without bias,
  ``grid x grid`` with stride ``grid``, from 1x1 to the grid: r -> ``upsample``
  channels, v -> v's channels.
"""
import keras
import tensorflow as tf

from models.draw.convlstm import ConvLSTMCore


def _built(layer, input_shape):
    layer.build(input_shape)
    return layer


class _Conditioned(keras.layers.Layer):
    """What both cores share: how the conditioning r and pose v reach the gates."""

    def _init_conditioning(self, conditioning_channels, pose_channels, grid, upsample):
        self.grid, self.upsample_channels = grid, upsample
        if upsample is None:
            return {"conditioning": conditioning_channels, "pose": pose_channels}
        policy = self.dtype_policy

        def transposed(in_channels, out_channels, name):
            return _built(keras.layers.Conv2DTranspose(
                out_channels, grid, strides=grid, use_bias=False, name=name, dtype=policy),
                (None, 1, 1, in_channels))

        self.upsample_r = transposed(conditioning_channels, upsample, "upsample_conditioning")
        self.upsample_v = transposed(pose_channels, pose_channels, "upsample_pose")
        return {"conditioning": upsample, "pose": pose_channels}

    def condition(self, r, pose):
        """The inputs r and v of the gates: {"conditioning": ..., "pose": ...}.

        Maps [B, h, w, C] or, with broadcasting cores, vectors [B, C] (to be
        broadcast; the fused path convolves them in closed form).
        """
        if self.upsample_channels is None:
            return {"conditioning": r, "pose": pose}
        if r.shape.rank == 2:
            r = self.upsample_r(r[:, None, None, :])
        return {"conditioning": r, "pose": self.upsample_v(pose[:, None, None, :])}

    def condition_by_matmul(self, r, pose):
        """``condition`` with the upsamplings as the matrix products they are.

        A ``grid x grid`` / ``grid`` transposed convolution of a 1x1 input is
        ``x @ W`` with W [C_in, grid grid C_out]: one product instead of a
        convolution (same kernels, same values).
        """
        if self.upsample_channels is None:
            return self.condition(r, pose)

        def up(layer, x):
            kernel = tf.cast(layer.kernel, x.dtype)  # [gh, gw, C_out, C_in]
            flat = tf.matmul(x, tf.reshape(kernel, [-1, kernel.shape[-1]]), transpose_b=True)
            return tf.reshape(flat, [-1, *self.grid, kernel.shape[2]])

        maps = {"pose": up(self.upsample_v, pose)}
        maps["conditioning"] = up(self.upsample_r, r) if r.shape.rank == 2 else r
        return maps

    def condition_maps(self, r, pose):
        """``condition`` with every input as a map (the naive path)."""
        height, width = self.grid
        maps = {}
        for name, x in self.condition(r, pose).items():
            if x.shape.rank == 2:
                x = tf.tile(x[:, None, None, :], [1, height, width, 1])
            maps[name] = x
        return maps

    def constant_gates(self, r, pose):
        """Bias plus the gates of r and v: the same at every DRAW step."""
        inputs = self.condition_by_matmul(r, pose)
        vectors = {k: v for k, v in inputs.items() if v.shape.rank == 2}
        maps = {k: v for k, v in inputs.items() if v.shape.rank == 4}
        return self.lstm.bias() + self.lstm.gates_of(maps=maps, vectors=vectors)


class GeneratorCore(_Conditioned):
    """ConvLSTM over (r, v, z, h_g), then ``u += up(h_g)``."""

    def __init__(self, *, hidden_channels, canvas_channels, z_channels, conditioning_channels,
                 pose_channels, kernel_size, grid, block, bias_per_input, forget_bias,
                 canvas_bias, upsample=None, winograd=False, **kwargs):
        super().__init__(**kwargs)
        inputs = self._init_conditioning(conditioning_channels, pose_channels, grid, upsample)
        inputs.update(z=z_channels, h_g=hidden_channels)
        self.lstm = ConvLSTMCore(inputs, hidden_channels, kernel_size, *grid,
                                 forget_bias=forget_bias, bias_per_input=bias_per_input,
                                 winograd=winograd, name="generator_lstm",
                                 dtype=self.dtype_policy)
        self.upsample = _built(keras.layers.Conv2DTranspose(
            canvas_channels, block, strides=block, use_bias=canvas_bias,
            name="upsample_generator_output", dtype=self.dtype_policy),
            (None, *grid, hidden_channels))
        self.built = True

    def call(self, inputs, cell, canvas):
        """Naive step; ``inputs`` holds the maps of r, v, z and h_g. Returns (c_g, h_g, u)."""
        cell, hidden = self.lstm(inputs, cell)
        return cell, hidden, canvas + self.upsample(hidden)


class InferenceCore(_Conditioned):
    """ConvLSTM over (r, v, h_g, h_e) reading the target and the canvas."""

    def __init__(self, *, hidden_channels, canvas_channels, image_channels, conditioning_channels,
                 pose_channels, kernel_size, grid, block, bias_per_input, forget_bias,
                 reads_into_hidden, upsample=None, winograd=False, **kwargs):
        super().__init__(**kwargs)
        self.reads_into_hidden = reads_into_hidden
        self.image_channels, self.canvas_channels = image_channels, canvas_channels
        conditioning = self._init_conditioning(conditioning_channels, pose_channels, grid,
                                               upsample)
        policy = self.dtype_policy

        def down(channels, name, in_channels):
            return _built(keras.layers.Conv2D(channels, block, strides=block, padding="valid",
                                              use_bias=False, name=name, dtype=policy),
                          (None, block * grid[0], block * grid[1], in_channels))

        if reads_into_hidden:
            inputs = dict(conditioning, h_g=hidden_channels, h_e=hidden_channels)
            self.downsample = down(hidden_channels, "downsample_inference_input",
                                   image_channels + canvas_channels)
        else:
            inputs = dict(target=image_channels, pose=conditioning["pose"],
                          conditioning=conditioning["conditioning"], h_g=hidden_channels,
                          canvas=canvas_channels, h_e=hidden_channels)
            self.downsample_target = down(image_channels, "downsample_target", image_channels)
            self.downsample_canvas = down(canvas_channels, "downsample_canvas", canvas_channels)
        self.lstm = ConvLSTMCore(inputs, hidden_channels, kernel_size, *grid,
                                 forget_bias=forget_bias, bias_per_input=bias_per_input,
                                 winograd=winograd, name="inference_lstm",
                                 dtype=self.dtype_policy)
        self.built = True

    def call(self, inputs, cell, target, canvas):
        """Naive step; ``inputs`` holds the maps of r, v, h_g and h_e."""
        inputs = dict(inputs)
        target = tf.cast(target, canvas.dtype)
        if self.reads_into_hidden:
            inputs["h_e"] = inputs["h_e"] + self.downsample(tf.concat([target, canvas], -1))
        else:
            inputs["target"] = self.downsample_target(target)
            inputs["canvas"] = self.downsample_canvas(canvas)
        return self.lstm(inputs, cell)

    # -------------------------------------------------- pieces of the fused path
    def _down_kernel(self, part):
        if self.reads_into_hidden:
            kernel = self.downsample.kernel
            kernel = kernel[:, :, :self.image_channels] if part == "target" \
                else kernel[:, :, self.image_channels:]
        else:
            kernel = (self.downsample_target if part == "target" else self.downsample_canvas).kernel
        return tf.cast(kernel, self.compute_dtype)

    @property
    def canvas_down_kernel(self):
        """[block, block, Cc, C_read]: the convolution that reads the canvas."""
        return self._down_kernel("canvas")

    @property
    def canvas_gate_input(self):
        """The gate input through which the read canvas enters (h_e or its own)."""
        return "h_e" if self.reads_into_hidden else "canvas"

    def target_down(self, target):
        """The target read by its block x block / stride block convolution."""
        kernel = self._down_kernel("target")
        return tf.nn.conv2d(tf.cast(target, kernel.dtype), kernel, kernel.shape[0], "VALID")

    def target_gates(self, target):
        """conv(target_down(target), K, SAME) as one convolution of target blocks.

        K is the gate kernel the read target enters through (h_e's with
        tf-gqn, its own otherwise). The block x block / stride block reading
        is ``space_to_depth(target, block)`` times a matrix D [block^2 3, C_read]
        at every position, so the two convolutions compose into one SAME
        convolution of the 3-channel blocks with the per-tap products
        D @ K[dy, dx]: a block^2 3-channel input instead of C_read channels.
        """
        down = self._down_kernel("target")
        block = down.shape[0]
        down = tf.reshape(down, [-1, down.shape[-1]])  # [block^2 * 3, C_read]
        gate_kernel = self.lstm.kernel("h_e" if self.reads_into_hidden else "target")
        k_h, k_w, c, gates = gate_kernel.shape
        composed = tf.matmul(tf.broadcast_to(down[None], [k_h * k_w, *down.shape]),
                             tf.reshape(gate_kernel, [k_h * k_w, c, gates]))
        composed = tf.reshape(composed, [k_h, k_w, down.shape[0], gates])
        blocks = tf.nn.space_to_depth(tf.cast(target, composed.dtype), block)
        return self.lstm.conv(blocks, composed)
