"""The DRAW canvas of the fused path, held as the generator states.

The canvas after step l is u_l = sum_{k<=l} (up_k(h_k) + b_k): up_k is the
4x4 / stride-4 transposed convolution of generator core k (b_k its bias, zero
in torch-gqn / GEN), h_k its hidden state at step k (a [B, h, w, C] grid, the
canvas is [B, 4h, 4w, Cc]). Only two things read the canvas:

- the inference core of step l, through ``down_l``, a 4x4 / stride-4 VALID
  convolution (no bias) of u_{l-1} (of concat(target, u_{l-1}) in tf-gqn);
- eta_g, a 1x1 convolution to the image channels (the canvas images and the
  mean image) when its kernel is 1x1, the default of both originals.

Both read, for each grid position, exactly the 4x4 block that up_k wrote from
that position, so each composition is a per-position linear map. With the up
kernel K_k [4, 4, Cc, C], the canvas part of the down kernel D_l [4, 4, Cc, C]
(after the target's channels) and the eta_g kernel G [Cc, I]:

    down_l(up_k(h) + b_k) = h @ M_kl + b_k @ S_l
        M_kl[c, o] = sum_{dy, dx, i} K_k[dy, dx, i, c] D_l[dy, dx, i, o]
        S_l[i, o] = sum_{dy, dx} D_l[dy, dx, i, o]
    eta_g(up_k(h) + b_k) = depth_to_space(h @ V_k, 4) + b_k @ G + (eta_g bias)
        V_k[c, (dy, dx, j)] = sum_i K_k[dy, dx, i, c] G[i, j]

so the [B, 4h, 4w, Cc] canvas is never formed: the inference input costs
[C x C] matrix products on the h x w grid and the image an [C x 16 I] one,
instead of two 4x4 strided convolutions over the canvas per step. With
shared cores the states are summed (u_l is a function of sum_k h_k); with a
core per step they are kept and concatenated. The result equals the naive
path's convolutions up to floating-point rounding (tested).

With a larger eta_g kernel the image mixes neighbouring blocks; the canvas
is then formed from the same matrices (``depth_to_space(h @ U_k)``) for
eta_g only, and the inference input still uses the composition.
"""
import tensorflow as tf


def _flat(kernel):
    """[4, 4, Cc, C] -> [16 Cc, C], rows ordered (dy, dx, i) as depth_to_space."""
    k_h, k_w, cc, c = kernel.shape
    return tf.reshape(kernel, [k_h * k_w * cc, c])


def _per_position(x, matrix):
    """[B, h, w, Cin] @ [Cin, Cout] -> [B, h, w, Cout] as one 2-D matrix product."""
    shape = tf.shape(x)
    flat = tf.matmul(tf.reshape(x, [-1, x.shape[-1]]), matrix)
    return tf.reshape(flat, tf.concat([shape[:-1], [matrix.shape[-1]]], axis=0))


class LatentCanvas:
    """Canvas u = sum_k (up_k(h_k) + b_k) kept as the states h_k.

    ``generator_cores``: the model's cores (one if shared); ``eta_g``: the
    image Conv2D; ``dtype``: the compute dtype. ``add(h, core)`` after each
    generator step; ``down(inference_core)`` is down_l applied to the canvas
    part of its input; ``image`` is eta_g(u) (float of ``dtype``).
    """

    def __init__(self, generator_cores, eta_g, dtype):
        self.dtype = dtype
        self.shared = len(generator_cores) == 1
        self.eta_g = eta_g
        self.up = []
        for g in generator_cores:
            bias = None if g.upsample.bias is None else tf.cast(g.upsample.bias, dtype)
            self.up.append((tf.cast(g.upsample.kernel, dtype), bias))
        self.block = generator_cores[0].upsample.strides[0]
        self.states, self.cores, self.counts = [], [], []
        g_kernel = tf.cast(eta_g.kernel, dtype)
        self.composed_image = g_kernel.shape[0] == 1 and g_kernel.shape[1] == 1
        self.g_matrix = g_kernel[0, 0] if self.composed_image else None
        self.canvas = None
        self.image = None
        self._image_bias = tf.cast(eta_g.bias, dtype)
        self._cache = {}

    # ------------------------------------------------------------- writing
    def add(self, hidden, core):
        """u += up_core(hidden) (+ its bias); updates ``image``."""
        kernel, bias = self.up[core]
        if self.shared and self.states:
            self.states[0] = self.states[0] + hidden
            self.counts[0] += 1
        else:
            self.states.append(hidden)
            self.cores.append(core)
            self.counts.append(1)
        if self.composed_image:
            term = tf.nn.depth_to_space(_per_position(hidden, self._image_matrix(core)),
                                        self.block)
            if bias is not None:
                term = term + tf.linalg.matvec(self.g_matrix, bias, transpose_a=True)
            if self.image is None:
                term = term + self._image_bias
            self.image = term if self.image is None else self.image + term
        else:
            up = tf.nn.depth_to_space(
                _per_position(hidden, tf.transpose(_flat(kernel))), self.block)
            if bias is not None:
                up = up + bias
            self.canvas = up if self.canvas is None else self.canvas + up
            self.image = self.eta_g(self.canvas)

    def _image_matrix(self, core):
        """V_core [C, 16 I]: up_core followed by the 1x1 eta_g, per position."""
        key = ("image", core)
        if key not in self._cache:
            kernel = self.up[core][0]
            k_h, k_w, cc, c = kernel.shape
            taps = tf.reshape(kernel, [k_h * k_w, cc, c])
            g = tf.broadcast_to(self.g_matrix[None], [k_h * k_w, *self.g_matrix.shape])
            v = tf.matmul(taps, g, transpose_a=True)  # [16, C, I]
            self._cache[key] = tf.reshape(tf.transpose(v, [1, 0, 2]), [c, -1])
        return self._cache[key]

    # ------------------------------------------------------------- reading
    def down(self, inference_core):
        """The inference core's 4x4 / stride-4 reading (no bias) of the canvas
        u, [B, h, w, C_read]; needs a prior ``add``."""
        key = ("down", inference_core.name, tuple(self.cores))
        if key not in self._cache:  # with shared cores: computed once
            kernel = tf.cast(inference_core.canvas_down_kernel, self.dtype)  # [4, 4, Cc, C]
            ups = tf.concat([_flat(self.up[k][0]) for k in self.cores], axis=1)  # [16Cc, nC]
            m = tf.matmul(ups, _flat(kernel), transpose_a=True)  # [nC, C]: M_kl stacked
            taps = tf.reduce_sum(tf.reshape(kernel, [-1, *kernel.shape[2:]]), axis=0)
            self._cache[key] = (m, taps)
        m, taps = self._cache[key]
        states = self.states[0] if len(self.states) == 1 else tf.concat(self.states, axis=-1)
        read = _per_position(states, m)
        if self.up[0][1] is None:
            return read
        bias = tf.add_n([n * self.up[k][1] for k, n in zip(self.cores, self.counts)])
        return read + tf.linalg.matvec(taps, bias, transpose_a=True)
