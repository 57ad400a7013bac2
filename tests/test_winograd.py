"""Winograd convolutions against TensorFlow's direct convolution."""
import numpy as np
import pytest
import tensorflow as tf

from models import winograd


@pytest.mark.parametrize("size", [3, 5])
def test_transforms_compute_a_tile_correlation_exactly(size):
    a_t, g, b_t = winograd.transforms(size)
    rng = np.random.default_rng(size)
    d, k = rng.normal(size=a_t.shape[1]), rng.normal(size=size)
    expected = [d[i:i + size] @ k for i in range(a_t.shape[0])]
    np.testing.assert_allclose(a_t @ ((g @ k) * (b_t @ d)), expected, atol=1e-12)


@pytest.mark.parametrize("size,height,width", [(5, 16, 16), (5, 8, 12), (3, 32, 32), (3, 10, 7)])
def test_conv2d_same_matches_the_direct_convolution_and_its_gradients(size, height, width):
    rng = np.random.default_rng(height * width)
    x = tf.constant(rng.normal(size=(3, height, width, 6)), tf.float32)
    kernel = tf.constant(rng.normal(size=(size, size, 6, 10)), tf.float32)
    weights = tf.constant(rng.normal(size=(3, height, width, 10)), tf.float32)
    results = []
    for conv in (winograd.conv2d_same, lambda a, b: tf.nn.conv2d(a, b, 1, "SAME")):
        with tf.GradientTape() as tape:
            tape.watch([x, kernel])
            y = conv(x, kernel)
            loss = tf.reduce_sum(weights * y)
        results.append([y, *tape.gradient(loss, [x, kernel])])
    assert results[0][0].shape == (3, height, width, 10)
    for fast, direct in zip(*results):
        scale = float(tf.reduce_max(tf.abs(direct)))
        np.testing.assert_allclose(fast.numpy() / scale, direct.numpy() / scale, atol=2e-5)


def test_conv2d_same_takes_a_batch_of_unknown_size_in_a_graph():
    kernel = tf.constant(np.random.default_rng(1).normal(size=(5, 5, 4, 8)), tf.float32)
    signature = [tf.TensorSpec([None, 16, 16, 4]), tf.TensorSpec(kernel.shape)]
    conv = tf.function(winograd.conv2d_same, input_signature=signature)
    x = tf.random.stateless_normal([2, 16, 16, 4], seed=[1, 2])
    direct = tf.nn.conv2d(x, kernel, 1, "SAME")
    scale = float(tf.reduce_max(tf.abs(direct)))
    np.testing.assert_allclose(conv(x, kernel) / scale, direct / scale, atol=2e-5)


def test_bfloat16_and_even_kernels_use_the_direct_convolution():
    x = tf.random.stateless_normal([1, 8, 8, 2], seed=[3, 4])
    assert winograd.supported(x, tf.zeros([5, 5, 2, 3]))
    assert not winograd.supported(tf.cast(x, tf.bfloat16), tf.zeros([5, 5, 2, 3], tf.bfloat16))
    assert not winograd.supported(x, tf.zeros([2, 2, 2, 3]))
    kernel = tf.random.stateless_normal([4, 4, 2, 3], seed=[5, 6])
    np.testing.assert_array_equal(winograd.conv2d_same(x, kernel),
                                  tf.nn.conv2d(x, kernel, 1, "SAME"))


def test_upcast_runs_bfloat16_inputs_in_float32():
    x = tf.random.stateless_normal([2, 8, 8, 4], seed=[7, 8])
    kernel = tf.random.stateless_normal([5, 5, 4, 6], seed=[9, 10])
    y = winograd.conv2d_same(tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16), upcast=True)
    assert y.dtype == tf.bfloat16
    exact = winograd.conv2d_same(tf.cast(tf.cast(x, tf.bfloat16), tf.float32),
                                 tf.cast(tf.cast(kernel, tf.bfloat16), tf.float32))
    np.testing.assert_array_equal(y.numpy(), tf.cast(exact, tf.bfloat16).numpy())


def test_a_visible_gpu_leaves_the_convolution_to_cudnn(monkeypatch):
    monkeypatch.setattr(winograd, "gpu_visible", lambda: True)
    x = tf.random.stateless_normal([2, 8, 8, 4], seed=[11, 12])
    kernel = tf.random.stateless_normal([5, 5, 4, 6], seed=[13, 14])
    assert not winograd.supported(x, kernel)
    np.testing.assert_array_equal(winograd.conv2d_same(x, kernel),
                                  tf.nn.conv2d(x, kernel, 1, "SAME"))
    low = winograd.conv2d_same(tf.cast(x, tf.bfloat16), tf.cast(kernel, tf.bfloat16), upcast=True)
    np.testing.assert_array_equal(low, tf.nn.conv2d(tf.cast(x, tf.bfloat16),
                                                    tf.cast(kernel, tf.bfloat16), 1, "SAME"))
