"""SAME, stride-1 convolutions by Winograd's minimal filtering, F(4x4, r x r).

The same convolution as ``tf.nn.conv2d(x, kernel, 1, "SAME")`` (up to
float32 rounding, about 1e-5 relative) with far fewer multiplications: the
output is cut into 4x4 tiles, each read from an n x n input tile
(n = 4 + r - 1), and

    Y = A^T [ (G g G^T) * (B^T d B) ] A

per tile d, kernel g and output tile Y, where ``*`` is elementwise over the
n x n positions and a matrix product over the channels. A 5x5 kernel costs
64 instead of 16 x 25 = 400 multiply-adds per 16 outputs and input-output
channel pair (6.25x fewer); a 3x3 kernel 36 instead of 144 (4x fewer).

How it runs here (all matrix products, so gradients come from autodiff):

- A^T, G, B^T are derived on first use, in float64, from the evaluation points
  0, +-1, +-2, +-1/2 (5x5) or 0, +-1, +-2 (3x3) and the point at infinity
  (A^T and G are Vandermonde rows, B^T solves the identity above exactly);
- the input is moved to [H, W, B, C] once, so the row and column transforms
  of all tiles are two products with banded constant matrices; one more
  transpose (of whole blocks of tiles_x * B * C values) brings the n x n
  positions to the front, and the per-position products are one batched
  matmul of [n, n, tiles B, C] by [n, n, C, C_out];
- the output transform is two more products and one transpose back.

It runs where TensorFlow sees no GPU (on a GPU the direct convolution is
cuDNN's, which chooses its own algorithm), and computes in float32 only
(``supported``): the transforms' coefficients
(up to 5.25 and 8) would amplify bfloat16 rounding; ``upcast=True`` runs
bfloat16 inputs in float32.
"""
import functools

import numpy as np
import tensorflow as tf

OUTPUT_TILE = 4
POINTS = {3: (0.0, 1.0, -1.0, 2.0, -2.0),
          5: (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5)}


@functools.lru_cache(maxsize=None)
def transforms(kernel_size, output_tile=OUTPUT_TILE):
    """(A^T [m, n], G [n, r], B^T [n, n]) in float64 for F(m, r), n = m + r - 1."""
    m, r = output_tile, kernel_size
    n = m + r - 1
    points = POINTS[r][:n - 1]
    if len(points) != n - 1:
        raise ValueError(f"no evaluation points for F({m}, {r})")
    a_t, g = np.zeros((m, n)), np.zeros((n, r))
    for j, a in enumerate(points):
        scale = np.prod([a - b for b in points if b != a])
        a_t[:, j] = [a ** i for i in range(m)]
        g[j] = [a ** k / scale for k in range(r)]
    a_t[m - 1, n - 1] = g[n - 1, r - 1] = 1.0  # the point at infinity
    # B^T from sum_j A^T[i, j] G[j, k] B^T[j, l] = [l == i + k] (the tile's correlation)
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):  # noqa: E741  (l as in the formula above)
                row = np.zeros((n, n))
                row[:, l] = a_t[i] * g[:, k]
                rows.append(row.ravel())
                rhs.append(float(l == i + k))
    solution, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
    b_t = solution.reshape(n, n)
    if np.abs(np.array(rows) @ solution - rhs).max() > 1e-9:
        raise ArithmeticError(f"F({m}, {r}) has no exact input transform")
    return a_t, g, b_t


@functools.lru_cache(maxsize=None)
def _banded(kernel_size, size):
    """B^T of every tile along an axis of ``size`` outputs: [(n, tiles), padded size]."""
    m = OUTPUT_TILE
    _, _, b_t = transforms(kernel_size)
    n, tiles = b_t.shape[0], -(-size // m)
    out = np.zeros((n, tiles, tiles * m + kernel_size - 1))
    for t in range(tiles):
        out[:, t, t * m:t * m + n] = b_t
    return out.reshape(n * tiles, -1)


@functools.lru_cache(maxsize=None)
def gpu_visible():
    """Whether TensorFlow sees a GPU: there cuDNN picks its own convolution
    algorithms (Winograd among them) and ``conv2d_same`` leaves it to it."""
    return bool(tf.config.list_logical_devices("GPU"))


def supported(x, kernel):
    """Whether ``conv2d_same`` runs Winograd for these (else a direct convolution)."""
    k_h, k_w = kernel.shape[:2]
    return (x.dtype == tf.float32 and kernel.dtype == tf.float32 and k_h == k_w
            and k_h in POINTS and None not in x.shape[1:] and not gpu_visible())


def conv2d_same(x, kernel, upcast=False):
    """``tf.nn.conv2d(x, kernel, 1, "SAME")`` for x [B, H, W, C], kernel [r, r, C, C_out].

    Winograd F(4x4, r x r) where ``supported``, else the direct convolution.
    ``upcast=True``: bfloat16 inputs run Winograd in float32 and the result is
    cast back (for 5x5 kernels that beats the bfloat16 direct convolution on
    CPU, ``benchmarks/gen_train_step.py``).
    """
    if upcast and x.dtype == tf.bfloat16 and not gpu_visible():
        wide = conv2d_same(tf.cast(x, tf.float32), tf.cast(kernel, tf.float32))
        return tf.cast(wide, tf.bfloat16)
    if not supported(x, kernel):
        return tf.nn.conv2d(x, kernel, 1, "SAME")
    _, height, width, channels = x.shape
    r, m, c_out = kernel.shape[0], OUTPUT_TILE, kernel.shape[-1]
    a_t, g, _ = (tf.constant(t, tf.float32) for t in transforms(r))
    n = g.shape[0]
    rows = tf.constant(_banded(r, height), tf.float32)  # [(n, ty), Hp]
    cols = tf.constant(_banded(r, width), tf.float32)  # [(n, tx), Wp]
    tiles_y, tiles_x = rows.shape[0] // n, cols.shape[0] // n
    before = (r - 1) // 2
    u = tf.matmul(g, tf.reshape(kernel, [r, -1]))  # [n, r C C_out]
    u = tf.matmul(g, tf.reshape(u, [n, r, -1]))  # [n, n, C C_out]: G g G^T, no transposes
    u = tf.reshape(u, [n, n, channels, c_out])
    d = tf.pad(tf.transpose(x, [1, 2, 0, 3]),  # [Hp, Wp, B, C]
               [[before, rows.shape[1] - height - before],
                [before, cols.shape[1] - width - before], [0, 0], [0, 0]])
    v = tf.matmul(rows, tf.reshape(d, [rows.shape[1], -1]))  # [(n, ty), Wp B C]
    v = tf.matmul(cols, tf.reshape(v, [n * tiles_y, cols.shape[1], -1]))  # [(n, ty), (n, tx), B C]
    v = tf.reshape(v, [n, tiles_y, n, -1])  # [n, ty, n, tx B C]
    v = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [n, n, -1, channels])  # [n, n, ty tx B, C]
    products = tf.matmul(v, u)  # [n, n, ty tx B, C_out]
    y = tf.matmul(a_t, tf.reshape(products, [n, -1]))  # [m, n ty tx B C_out]
    y = tf.matmul(a_t, tf.reshape(y, [m, n, -1]))  # [m, m, ty tx B C_out]
    y = tf.reshape(y, [m, m, tiles_y, tiles_x, -1, c_out])
    y = tf.reshape(tf.transpose(y, [4, 2, 0, 3, 1, 5]), [-1, tiles_y * m, tiles_x * m, c_out])
    if tiles_y * m != height or tiles_x * m != width:
        y = y[:, :height, :width]
    return y
