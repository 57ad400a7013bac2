"""ConvDRAW, the renderer shared by GQN and GEN: both flavours, vector and map
conditioning, fused path == naive path (outputs and gradients), parameter counts."""
import numpy as np
import pytest
import tensorflow as tf

from models.draw import ConvDRAW, ConvLSTMCore, GaussianHead
from models.draw.objective import elbo_terms

SMALL = dict(image_size=16, grid_size=4, hidden_channels=6, canvas_channels=5, z_channels=3,
             kernel_size=3, eta_kernel_size=3, num_steps=3, pose_channels=7)


def inputs(conditioning_shape, batch=2, seed=0, steps=3):
    rng = np.random.default_rng(seed)
    r = tf.constant(rng.normal(size=(batch, *conditioning_shape)).astype(np.float32))
    pose = tf.constant(rng.normal(size=(batch, 7)).astype(np.float32))
    target = tf.constant(rng.uniform(size=(batch, 16, 16, 3)).astype(np.float32))
    noise = tf.constant(rng.normal(size=(steps, batch, 4, 4, 3)).astype(np.float32))
    return r, pose, target, noise


def count(layer):
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


def randomise(layer, seed=1):
    """Non-zero values everywhere (biases start at zero) so that every term counts."""
    rng = np.random.default_rng(seed)
    for v in layer.trainable_variables:
        v.assign(rng.normal(scale=0.3, size=v.shape).astype(np.float32))


def assert_fused_equals_naive(flavour, conditioning_shape, shared, **options):
    channels = conditioning_shape[-1]
    naive = ConvDRAW(conditioning_channels=channels, flavour=flavour, shared_cores=shared,
                     optimized=False, upsample_channels=8, **SMALL, **options)
    fused = ConvDRAW(conditioning_channels=channels, flavour=flavour, shared_cores=shared,
                     optimized=True, upsample_channels=8, **SMALL, **options)
    randomise(naive)
    fused.set_weights(naive.get_weights())
    r, pose, target, noise = inputs(conditioning_shape)
    a, b = naive((r, pose, target), noise=noise), fused((r, pose, target), noise=noise)
    for key in a:
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=key)
    ga, gb = naive.generate(r, pose, noise=noise), fused.generate(r, pose, noise=noise)
    np.testing.assert_allclose(gb["canvases"].numpy(), ga["canvases"].numpy(), atol=1e-4)
    grads = []
    for draw in (naive, fused):
        with tf.GradientTape() as tape:
            tape.watch(r)
            nll, kl, _ = elbo_terms(draw((r, pose, target), noise=noise), target, 0.7)
            loss = tf.reduce_mean(nll + kl)
        grads.append(tape.gradient(loss, [r] + draw.trainable_variables))
    zero_state = set()
    if not shared:  # core 0 runs only at the first step, where states and canvas are zero
        inference_zero = ["h_g"] if flavour == "tf_gqn" else ["h_g", "h_e", "canvas"]
        zero_state = {id(fused.generator_cores[0].lstm.kernels["h_g"])} | {
            id(fused.inference_cores[0].lstm.kernels[name]) for name in inference_zero}
        if flavour == "gen":  # the canvas reading of core 0 reads a zero canvas
            zero_state.add(id(fused.inference_cores[0].downsample_canvas.kernel))
    for ref, got, var in zip(*grads, [r] + fused.trainable_variables):
        if id(var) in zero_state:
            assert got is None
            np.testing.assert_array_equal(ref.numpy(), 0)
            continue
        if ref is None:  # unused by both: the upsampling of a map conditioning
            assert got is None and conditioning_shape[0] == 4, var.path
            continue
        scale = max(1.0, float(np.abs(ref.numpy()).max()))
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-3, atol=1e-4 * scale,
                                   err_msg=getattr(var, "path", "conditioning"))
    assert fused.inference_cores[0].lstm.winograd == options.get("winograd", False)
    return naive


@pytest.mark.parametrize("conditioning_shape", [(9,), (4, 4, 9)], ids=["vector", "map"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
@pytest.mark.parametrize("winograd", [False, True], ids=["direct", "winograd"])
def test_tf_gqn_flavour_fused_equals_naive(conditioning_shape, shared, winograd):
    assert_fused_equals_naive("tf_gqn", conditioning_shape, shared, winograd=winograd)


@pytest.mark.parametrize("conditioning_shape", [(9,), (4, 4, 8)], ids=["vector", "map"])
@pytest.mark.parametrize("shared", [True, False], ids=["shared", "unshared"])
@pytest.mark.parametrize("winograd", [False, True], ids=["direct", "winograd"])
def test_gen_flavour_fused_equals_naive(conditioning_shape, shared, winograd):
    draw = assert_fused_equals_naive("gen", conditioning_shape, shared, winograd=winograd)
    assert draw.generator_cores[0].lstm.winograd is False  # the naive path stays direct
    assert draw.generator_cores[0].upsample.bias is None
    assert draw.generator_cores[0].lstm.forget_bias == 0.0


def test_original_prior_timing_in_the_gen_flavour():
    fixed = ConvDRAW(conditioning_channels=9, flavour="gen", upsample_channels=8, **SMALL)
    shifted = ConvDRAW(conditioning_channels=9, flavour="gen", upsample_channels=8,
                       original_prior_timing=True, **SMALL)
    randomise(fixed)
    shifted.set_weights(fixed.get_weights())
    r, pose, target, noise = inputs((9,))
    a, b = fixed((r, pose, target), noise=noise), shifted((r, pose, target), noise=noise)
    np.testing.assert_allclose(b["prior_mu"][:-1].numpy(), a["prior_mu"][1:].numpy(), atol=1e-5)


def test_shapes_and_generation():
    draw = ConvDRAW(conditioning_channels=9, **SMALL)
    r, pose, target, _ = inputs((9,), batch=3)
    out = draw((r, pose, target))
    assert out["mu_target"].shape == (3, 16, 16, 3) and out["canvases"].shape == (3, 3, 16, 16, 3)
    for key in ("posterior_mu", "posterior_sigma", "prior_mu", "prior_sigma"):
        assert out[key].shape == (3, 3, 4, 4, 3) and out[key].dtype == tf.float32
    np.testing.assert_allclose(out["canvases"][-1].numpy(), out["mu_target"].numpy())
    assert draw.generate(r, pose)["mu_target"].shape == (3, 16, 16, 3)
    with pytest.raises(ValueError, match="flavour"):
        ConvDRAW(conditioning_channels=9, flavour="pytorch", **SMALL)
    with pytest.raises(ValueError, match="multiple of the grid"):
        ConvDRAW(conditioning_channels=9, **dict(SMALL, image_size=(16, 12)))


def test_gen_flavour_parameter_counts():
    """torch-gqn's cores as GEN uses them (r of 312 channels upsampled to 256,
    128-channel LSTMs at 16x16, z 3): generation core 25,765,632, inference
    core 29,042,576, eta_pi / eta_q 19,206 each, eta_g 387."""
    draw = ConvDRAW(conditioning_channels=312, hidden_channels=128, canvas_channels=128,
                    z_channels=3, flavour="gen", upsample_channels=256)
    assert count(draw.generator_cores[0]) == 25_765_632
    assert count(draw.inference_cores[0]) == 29_042_576
    assert count(draw.eta_pi) == count(draw.eta_q) == 19_206
    assert count(draw.eta_g) == 387


def test_concatenated_lstm_matches_numpy_without_forget_bias():
    rng = np.random.default_rng(4)
    core = ConvLSTMCore({"x": 3, "h": 4}, 4, 3, 5, 6, forget_bias=0.0, bias_per_input=False)
    core.biases["gates"].assign(rng.normal(size=16).astype(np.float32))
    x, h, c = (rng.normal(size=(2, 5, 6, n)).astype(np.float32) for n in (3, 4, 4))
    new_c, new_h = core({"x": tf.constant(x), "h": tf.constant(h)}, tf.constant(c))
    joint = np.concatenate([x, h], axis=-1)
    kernel = np.concatenate([core.kernels["x"].numpy(), core.kernels["h"].numpy()], axis=2)
    gates = tf.nn.conv2d(joint, kernel, 1, "SAME").numpy() + core.biases["gates"].numpy()
    i, j, f, o = np.split(gates, 4, axis=-1)
    sig = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
    want_c = sig(f) * c + sig(i) * np.tanh(j)
    np.testing.assert_allclose(new_c.numpy(), want_c, atol=1e-5)
    np.testing.assert_allclose(new_h.numpy(), np.tanh(want_c) * sig(o), atol=1e-5)


def test_log_variance_head():
    rng = np.random.default_rng(5)
    head = GaussianHead(2, 3, 4, 3, 3, scale="log_variance")
    hidden = tf.constant(rng.normal(size=(1, 3, 3, 4)).astype(np.float32))
    mu, sigma = head(hidden)
    raw = head.conv(hidden).numpy()
    np.testing.assert_allclose(mu.numpy(), raw[..., :2], atol=1e-6)
    np.testing.assert_allclose(sigma.numpy(), np.exp(0.5 * raw[..., 2:]), rtol=1e-5)
    with pytest.raises(ValueError, match="scale"):
        GaussianHead(2, 3, 4, 3, 3, scale="exp")
