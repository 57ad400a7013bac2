"""GQN model: layers against numpy references, fused path vs naive path, shapes,
the default parameter count, a tiny learning check."""
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from models.draw import ConvLSTMCore, GaussianHead, broadcast_conv
from models.gqn import GQN_DEFAULT_CONFIG, GQNModel, create_gqn_config, objective
from models.gqn.encoder import make_encoder, scene_representation

try:
    from data_provider.gqn_tfr_provider import Context, Query
except ImportError:  # the provider is optional for the model
    import collections
    Context = collections.namedtuple("Context", ["frames", "cameras"])
    Query = collections.namedtuple("Query", ["context", "query_camera"])

SMALL = {"IMG_HEIGHT": 16, "IMG_WIDTH": 16, "ENC_HEIGHT": 4, "ENC_WIDTH": 4,
         "ENC_CHANNELS": 8, "LSTM_OUTPUT_CHANNELS": 6, "LSTM_CANVAS_CHANNELS": 5,
         "Z_CHANNELS": 3, "SEQ_LENGTH": 3, "CONTEXT_SIZE": 2, "LSTM_KERNEL_SIZE": 3,
         "ETA_INTERNAL_KERNEL_SIZE": 3}


def small_cfg(**overrides):
    return create_gqn_config({**SMALL, **overrides})


def make_query(cfg, batch=2, seed=0):
    rng = np.random.default_rng(seed)
    k, h, w = cfg.CONTEXT_SIZE, cfg.IMG_HEIGHT, cfg.IMG_WIDTH
    frames = rng.uniform(size=(batch, k, h, w, 3)).astype(np.float32)
    cameras = rng.normal(size=(batch, k, 7)).astype(np.float32)
    query = Query(Context(tf.constant(frames), tf.constant(cameras)),
                  tf.constant(rng.normal(size=(batch, 7)).astype(np.float32)))
    target = tf.constant(rng.uniform(size=(batch, h, w, 3)).astype(np.float32))
    noise = tf.constant(rng.normal(
        size=(cfg.SEQ_LENGTH, batch, cfg.ENC_HEIGHT, cfg.ENC_WIDTH, cfg.Z_CHANNELS)
    ).astype(np.float32))
    return query, target, noise


def np_conv_same(x, kernel, bias):
    """SAME, stride 1 convolution (cross-correlation as TensorFlow) in numpy."""
    k = kernel.shape[0]
    top = (k - 1) // 2
    padded = np.pad(x, ((0, 0), (top, k - 1 - top), (top, k - 1 - top), (0, 0)))
    h, w = x.shape[1:3]
    out = np.zeros(x.shape[:3] + (kernel.shape[-1],))
    for dy in range(k):
        for dx in range(k):
            out += padded[:, dy:dy + h, dx:dx + w, :] @ kernel[dy, dx]
    return out + bias


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


# ------------------------------------------------------------------ config
def test_config_defaults_and_unknown_key():
    cfg = create_gqn_config({})
    assert cfg == GQN_DEFAULT_CONFIG
    assert cfg.ADAM_LR_ALPHA == 5 * 10e-5 and cfg.ADAM_LR_BETA == 5 * 10e-6
    assert (cfg.LSTM_OUTPUT_CHANNELS, cfg.Z_CHANNELS, cfg.SEQ_LENGTH, cfg.ENC_TYPE) == (
        256, 64, 8, "pool")
    assert json.loads(json.dumps(cfg._asdict()))["ANNEAL_SIGMA_TAU"] == 200000
    assert create_gqn_config({"LSTM_OUTPUT_CHANNELS": 64}).LSTM_OUTPUT_CHANNELS == 64
    with pytest.raises(ValueError, match="LSTM_CHANNELS"):
        create_gqn_config({"LSTM_CHANNELS": 64})
    with pytest.raises(ValueError, match="ENC_TYPE"):
        create_gqn_config({"ENC_TYPE": "mean"})


# ------------------------------------------------------------------ layers
def test_conv_lstm_step_matches_numpy():
    rng = np.random.default_rng(1)
    core = ConvLSTMCore({"x": 3, "h": 4}, 4, 3, 5, 6)
    for bias in core.biases.values():  # non-zero biases so that every term counts
        bias.assign(rng.normal(size=bias.shape).astype(np.float32))
    x = rng.normal(size=(2, 5, 6, 3)).astype(np.float32)
    h = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    c = rng.normal(size=(2, 5, 6, 4)).astype(np.float32)
    new_c, new_h = core({"x": tf.constant(x), "h": tf.constant(h)}, tf.constant(c))
    gates = sum(np_conv_same(v, core.kernels[k].numpy(), core.biases[k].numpy())
                for k, v in (("x", x), ("h", h)))
    i, j, f, o = np.split(gates, 4, axis=-1)
    want_c = sigmoid(f + 1.0) * c + sigmoid(i) * np.tanh(j)
    want_h = np.tanh(want_c) * sigmoid(o)
    np.testing.assert_allclose(new_c.numpy(), want_c, atol=1e-5)
    np.testing.assert_allclose(new_h.numpy(), want_h, atol=1e-5)
    # fused path over the same variables
    fused_c, fused_h = core.fused_step([tf.constant(x), tf.constant(h)],
                                       core.fused_kernel(["x", "h"]), core.bias(), tf.constant(c))
    np.testing.assert_allclose(fused_h.numpy(), want_h, atol=1e-5)


@pytest.mark.parametrize("kernel_size", [3, 4, 5])
def test_broadcast_conv_equals_conv_of_tiled_vector(kernel_size):
    rng = np.random.default_rng(kernel_size)
    v = rng.normal(size=(2, 7)).astype(np.float32)
    kernel = rng.normal(size=(kernel_size, kernel_size, 7, 5)).astype(np.float32)
    tiled = np.broadcast_to(v[:, None, None, :], (2, 6, 4, 7))
    want = tf.nn.conv2d(tiled, kernel, 1, "SAME").numpy()
    got = broadcast_conv(tf.constant(v), tf.constant(kernel), 6, 4).numpy()
    np.testing.assert_allclose(got, want, atol=1e-4)
    # a list of vectors: the convolution of their concatenation
    split = broadcast_conv([tf.constant(v[:, :3]), tf.constant(v[:, 3:])],
                           [tf.constant(kernel[:, :, :3]), tf.constant(kernel[:, :, 3:])], 6, 4)
    np.testing.assert_allclose(split.numpy(), want, atol=1e-4)


def test_eta_sigma_formula_and_sampling_statistics():
    rng = np.random.default_rng(2)
    eta = GaussianHead(2, 3, 4, 3, 3)
    hidden = rng.normal(size=(1, 3, 3, 4)).astype(np.float32)
    mu, sigma = eta(tf.constant(hidden))
    raw = np_conv_same(hidden, eta.conv.kernel.numpy(), eta.conv.bias.numpy())
    np.testing.assert_allclose(mu.numpy(), raw[..., :2], atol=1e-5)
    np.testing.assert_allclose(sigma.numpy(), np.log1p(np.exp(raw[..., 2:] + 0.5)) + 1e-8,
                               atol=1e-5)
    eps = tf.random.stateless_normal((20000, 1, 3, 3, 2), seed=(1, 2))
    z = (mu[None] + sigma[None] * eps).numpy()
    np.testing.assert_allclose(z.mean(axis=0), mu.numpy(), atol=0.05 * sigma.numpy().max())
    np.testing.assert_allclose(z.std(axis=0), sigma.numpy(), rtol=0.03)


def test_tower_and_pool_shapes():
    cfg = small_cfg()
    frames = tf.random.uniform((2, 2, 16, 16, 3))
    cameras = tf.random.normal((2, 2, 7))
    tower = make_encoder(cfg._replace(ENC_TYPE="tower"))
    pool = make_encoder(cfg._replace(ENC_TYPE="pool"))
    pool.set_weights(tower.get_weights())
    assert tower(frames[:, 0], cameras[:, 0]).shape == (2, 4, 4, 8)
    assert pool(frames[:, 0], cameras[:, 0]).shape == (2, 1, 1, 8)
    r = scene_representation(tower, frames, cameras)
    assert r.shape == (2, 4, 4, 8)
    want = tower(frames[:, 0], cameras[:, 0]) + tower(frames[:, 1], cameras[:, 1])
    np.testing.assert_allclose(r.numpy(), want.numpy(), atol=1e-5)
    pooled = scene_representation(pool, frames, cameras).numpy()
    np.testing.assert_allclose(pooled[:, 0, 0], want.numpy().mean(axis=(1, 2)), atol=1e-5)


# ------------------------------------------------------------------- model
def test_default_parameter_count():
    """39,682,563: one convolution per LSTM input, each with its own bias, as
    tf-gqn's variables; the optimised path reuses these variables (it
    concatenates their kernels), so both paths have this count."""
    for optimized in (True, False):
        model = GQNModel(GQN_DEFAULT_CONFIG, optimized=optimized)
        count = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
        assert count == 39_682_563


@pytest.mark.parametrize("enc_type, share, eta_g_kernel", [
    ("pool", True, 1), ("tower", True, 1), ("pool", False, 1), ("tower", False, 3)])
def test_optimized_forward_equals_naive(enc_type, share, eta_g_kernel):
    """The fused path (step-invariant gates, fused kernels, zero first states,
    the canvas composed into the generator states; with a 3x3 eta_g the
    canvas is formed) equals the naive one: outputs and gradients."""
    cfg = small_cfg(ENC_TYPE=enc_type, ETA_EXTERNAL_KERNEL_SIZE=eta_g_kernel)
    naive = GQNModel(cfg, optimized=False, share_cores=share)
    fast = GQNModel(cfg, optimized=True, share_cores=share)
    fast.set_weights(naive.get_weights())
    query, target, noise = make_query(cfg)
    a, b = naive((query, target), noise=noise), fast((query, target), noise=noise)
    for key in ("mu_target", "canvases", "posterior_mu", "posterior_sigma", "prior_mu",
                "prior_sigma"):
        np.testing.assert_allclose(b[key].numpy(), a[key].numpy(), atol=1e-5, err_msg=key)
    ga, gb = naive.generate(query, noise=noise), fast.generate(query, noise=noise)
    np.testing.assert_allclose(gb["mu_target"].numpy(), ga["mu_target"].numpy(), atol=1e-5)
    grads = []
    for model in (naive, fast):
        with tf.GradientTape() as tape:
            out = model((query, target), noise=noise)
            loss, _, _ = objective.gqn_loss(target, out["mu_target"], 1.0, out["posterior_mu"],
                                            out["posterior_sigma"], out["prior_mu"],
                                            out["prior_sigma"])
        grads.append(tape.gradient(loss, model.trainable_variables))
    # unshared cores: core 0 runs only at the first step, where h_g is zero
    zero_state_kernels = set() if share else {
        id(fast.draw.generator_cores[0].lstm.kernels["h_g"]),
        id(fast.draw.inference_cores[0].lstm.kernels["h_g"])}
    for ref, got, var, fast_var in zip(*grads, naive.trainable_variables,
                                       fast.trainable_variables):
        if id(fast_var) in zero_state_kernels:  # no gradient; the naive one is exactly 0
            assert got is None, var.path
            np.testing.assert_array_equal(ref.numpy(), 0, err_msg=var.path)
            continue
        np.testing.assert_allclose(got.numpy(), ref.numpy(), rtol=1e-4, atol=1e-4,
                                   err_msg=var.path)


def test_output_shapes_and_generation_without_target():
    cfg = small_cfg()
    model = GQNModel(cfg)
    query, target, _ = make_query(cfg, batch=3)
    out = model((query, target), training=True)
    assert out["mu_target"].shape == (3, 16, 16, 3)
    assert out["canvases"].shape == (3, 3, 16, 16, 3)
    for key in ("posterior_mu", "posterior_sigma", "prior_mu", "prior_sigma"):
        assert out[key].shape == (3, 3, 4, 4, 3) and out[key].dtype == tf.float32
    assert np.all(out["posterior_sigma"].numpy() > 0)
    np.testing.assert_allclose(out["canvases"][-1].numpy(), out["mu_target"].numpy())
    plain = ((query.context.frames, query.context.cameras), query.query_camera)
    gen = model.generate(plain)
    assert gen["mu_target"].shape == (3, 16, 16, 3) and gen["canvases"].shape[0] == 3


def test_original_prior_timing_is_the_next_steps_prior():
    cfg = small_cfg()
    fixed = GQNModel(cfg)
    original = GQNModel(cfg._replace(ORIGINAL_PRIOR_TIMING=True))
    original.set_weights(fixed.get_weights())
    query, target, noise = make_query(cfg)
    a, b = fixed((query, target), noise=noise), original((query, target), noise=noise)
    np.testing.assert_allclose(b["mu_target"].numpy(), a["mu_target"].numpy(), atol=1e-6)
    np.testing.assert_allclose(b["prior_mu"][:-1].numpy(), a["prior_mu"][1:].numpy(),
                               atol=1e-5)
    assert not np.allclose(b["prior_mu"].numpy(), a["prior_mu"].numpy())


def test_bfloat16_policy_close_to_float32():
    cfg = small_cfg()
    full = GQNModel(cfg)
    half = GQNModel(cfg, dtype="mixed_bfloat16")
    half.set_weights(full.get_weights())
    assert half.draw.eta_g.compute_dtype == "bfloat16" and half.draw.eta_g.kernel.dtype == "float32"
    query, target, noise = make_query(cfg)
    a, b = full((query, target), noise=noise), half((query, target), noise=noise)
    assert b["mu_target"].dtype == tf.float32
    np.testing.assert_allclose(b["mu_target"].numpy(), a["mu_target"].numpy(), atol=0.05)


@pytest.mark.slow
def test_a_few_adam_steps_lower_the_loss():
    cfg = small_cfg()
    model = GQNModel(cfg)
    optimizer = keras.optimizers.Adam(1e-2)
    query, target, noise = make_query(cfg, batch=4)

    @tf.function(jit_compile=False)
    def step():
        with tf.GradientTape() as tape:
            out = model((query, target), training=True, noise=noise)
            loss, _, _ = objective.gqn_loss(target, out["mu_target"], 0.7, out["posterior_mu"],
                                            out["posterior_sigma"], out["prior_mu"],
                                            out["prior_sigma"])
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return loss

    losses = [float(step()) for _ in range(15)]
    assert np.isfinite(losses).all()
    assert losses[-1] < losses[0] - 0.1 * abs(losses[0]), losses


def test_fused_adam_equals_keras_adam_and_checkpoints_slots(tmp_path):
    from training.fused_adam import FusedAdam
    rng = np.random.default_rng(3)
    shapes = [(3, 3, 4, 5), (5,), (7, 2)]
    init = [rng.normal(size=s).astype(np.float32) for s in shapes]
    grads = [[rng.normal(size=s).astype(np.float32) for s in shapes] for _ in range(4)]
    schedule = keras.optimizers.schedules.PolynomialDecay(1e-2, 10, 1e-3)
    results = []
    for cls in (keras.optimizers.Adam, FusedAdam):
        variables = [keras.Variable(x) for x in init]
        opt = cls(learning_rate=schedule, beta_1=0.8, beta_2=0.95, epsilon=1e-3)
        # the step is traced and run within this iteration, with this iteration's values
        step = tf.function(lambda g: opt.apply_gradients(zip(g, variables)))  # noqa: B023
        for g in grads:
            step([tf.constant(x) for x in g])
        results.append(([v.numpy() for v in variables], opt))
    (ref, ref_opt), (got, opt) = results
    for a, b, start in zip(ref, got, init):
        np.testing.assert_allclose(b, a, rtol=1e-6, atol=1e-6)
        assert np.abs(a - start).min() > 1e-4  # every element moved
    for slots in ("_momentums", "_velocities"):
        for a, b in zip(getattr(ref_opt, slots), getattr(opt, slots)):
            np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-6, atol=1e-7)
    path = tf.train.Checkpoint(optimizer=opt).write(str(tmp_path / "ckpt"))
    variables = [keras.Variable(x) for x in init]
    fresh = FusedAdam(learning_rate=schedule, beta_1=0.8, beta_2=0.95, epsilon=1e-3)
    fresh.build(variables)
    tf.train.Checkpoint(optimizer=fresh).read(path).assert_consumed()
    assert int(fresh.iterations) == 4
    for a, b in zip(opt._velocities, fresh._velocities):
        np.testing.assert_array_equal(b.numpy(), a.numpy())
    with pytest.raises(ValueError, match="amsgrad"):
        FusedAdam(amsgrad=True)
