"""GEN model: parameter counts, fused == naive through the whole model, clamped
outputs, the objective and its schedules against the original's formulas."""
import math

import numpy as np
import pytest
import tensorflow as tf

from models.gen import GENModel, objective

SMALL = dict(hidden_channels=8, canvas_channels=6, upsample_channels=10, embedding_channels=14,
             embedder_channels=12, mlp_units=20, message_channels=9)


def count(layer):
    return sum(int(np.prod(v.shape)) for v in layer.trainable_variables)


def hotel_batch(d=1, hotels=2, views_per_maze=2, seed=0, shift=(2.0, 3.0)):
    rng = np.random.default_rng(seed)
    lo = np.array(shift) - 1.0

    def poses(n):
        xy = rng.uniform(lo, lo + 2 * d, size=(hotels, n, 2))
        yaw, pitch = rng.uniform(-np.pi, np.pi, size=(2, hotels, n, 1))
        z = np.zeros((hotels, n, 1))
        return np.concatenate([xy, z, np.sin(yaw), np.cos(yaw), np.sin(pitch), np.cos(pitch)],
                              -1).astype(np.float32)

    views, queries = views_per_maze * d * d, d * d
    return {
        "context_frames": tf.constant(rng.uniform(size=(hotels, views, 64, 64, 3)), tf.float32),
        "context_cameras": tf.constant(poses(views)),
        "query_cameras": tf.constant(poses(queries)),
        "target": tf.constant(rng.uniform(size=(hotels, queries, 64, 64, 3)), tf.float32),
        "num_scenes_per_dim": tf.constant(d),
        "shift": tf.constant(shift, tf.float32),
    }


@pytest.mark.slow
def test_parameter_counts():
    model = GENModel()
    assert count(model) == 57_595_803
    assert count(model.composer) == 2_748_796
    assert count(model.draw.inference_cores[0]) == 29_042_576
    assert count(model.draw.generator_cores[0]) == 25_765_632
    assert count(GENModel(baseline=True)) == 78_828_957


@pytest.mark.parametrize("baseline", [False, True], ids=["gen", "baseline"])
@pytest.mark.slow
def test_fused_equals_naive_through_the_model(baseline):
    steps = 2
    fused = GENModel(num_steps=steps, baseline=baseline, optimized=True, **SMALL)
    naive = GENModel(num_steps=steps, baseline=baseline, optimized=False, **SMALL)
    rng = np.random.default_rng(1)
    for v in naive.trainable_variables:  # biases start at zero in ConvDRAW: make every term count
        if "bias" in v.path and "draw" in v.path:
            v.assign(rng.normal(scale=0.3, size=v.shape).astype(np.float32))
    fused.set_weights(naive.get_weights())
    assert fused.composer.embedder.winograd and fused.draw.generator_cores[0].lstm.winograd
    assert not (naive.composer.embedder.winograd or naive.draw.generator_cores[0].lstm.winograd)
    batch = hotel_batch(d=2, hotels=2, views_per_maze=2)
    noise = tf.constant(rng.normal(size=(steps, 8, 16, 16, 3)), tf.float32)
    results = []
    for model in (naive, fused):
        with tf.GradientTape() as tape:
            out = model(batch, noise=noise)
            loss, _, _ = objective.gen_loss(out, GENModel.flat_target(batch), 1.3)
        results.append((out, loss, tape.gradient(loss, model.trainable_variables)))
    (out_n, loss_n, grads_n), (out_f, loss_f, grads_f) = results
    for key in out_n:
        np.testing.assert_allclose(out_f[key].numpy(), out_n[key].numpy(), rtol=1e-4, atol=2e-4,
                                   err_msg=key)
    np.testing.assert_allclose(loss_f.numpy(), loss_n.numpy(), rtol=1e-5)
    for gn, gf, var in zip(grads_n, grads_f, fused.trainable_variables):
        assert gn is not None and gf is not None, var.path
        scale = max(1.0, float(np.abs(gn.numpy()).max()))
        np.testing.assert_allclose(gf.numpy(), gn.numpy(), rtol=2e-3, atol=2e-4 * scale,
                                   err_msg=var.path)
    generated = [m.generate(batch, noise=noise)["mu_target"].numpy() for m in (naive, fused)]
    np.testing.assert_allclose(generated[1], generated[0], atol=2e-4)


def test_generate_and_reconstruct_are_clamped():
    model = GENModel(num_steps=2, **SMALL)
    eta_g = model.draw.eta_g
    eta_g.bias.assign([2.0, -2.0, 0.5])  # push the mean outside [0, 1]
    batch = hotel_batch()
    raw = model(batch)["mu_target"].numpy()
    assert raw.max() > 1.0 and raw.min() < 0.0
    for images in (model.reconstruct(batch).numpy(), model.generate(batch)["mu_target"].numpy()):
        assert images.shape == (2, 64, 64, 3)
        assert images.min() >= 0.0 and images.max() <= 1.0
    np.testing.assert_allclose(model.reconstruct(batch, noise=tf.zeros([2, 2, 16, 16, 3])),
                               np.clip(model(batch, noise=tf.zeros([2, 2, 16, 16, 3]))
                                       ["mu_target"].numpy(), 0, 1))


def test_gen_loss_is_minus_the_mean_elbo():
    rng = np.random.default_rng(0)
    steps, batch = 3, 2
    target = rng.uniform(size=(batch, 4, 4, 3))
    out = {"mu_target": rng.normal(size=(batch, 4, 4, 3))}
    for key in ("posterior", "prior"):
        out[f"{key}_mu"] = rng.normal(size=(steps, batch, 2, 2, 3))
        out[f"{key}_sigma"] = np.exp(0.5 * rng.normal(size=(steps, batch, 2, 2, 3)))
    sigma = 1.7
    log_lik = (-0.5 * ((target - out["mu_target"]) / sigma) ** 2 - math.log(sigma)
               - 0.5 * math.log(2 * math.pi)).sum(axis=(1, 2, 3))
    sq, sp = out["posterior_sigma"], out["prior_sigma"]
    kl = (np.log(sp / sq) + (sq ** 2 + (out["posterior_mu"] - out["prior_mu"]) ** 2)
          / (2 * sp ** 2) - 0.5).sum(axis=(0, 2, 3, 4))
    elbo = log_lik - kl
    loss, nll, kl_mean = objective.gen_loss(
        {k: tf.constant(v, tf.float32) for k, v in out.items()}, tf.constant(target), sigma)
    np.testing.assert_allclose(loss.numpy(), -elbo.mean(), rtol=1e-5)
    np.testing.assert_allclose(nll.numpy(), -log_lik.mean(), rtol=1e-5)
    np.testing.assert_allclose(kl_mean.numpy(), kl.mean(), rtol=1e-5)


def test_schedules_follow_the_original():
    def lr(t):  # Utils/scheduler.py AnnealingStepLR(mu_i=8e-4, mu_f=5e-6, n=1.6e6)
        return max(5e-6 + (8e-4 - 5e-6) * (1.0 - t / 1.6e6), 5e-6)

    sigma, sigmas = 2.0, []  # train_scene_rendering.py: updated after each step
    for t in range(4):
        sigmas.append(sigma)
        sigma = max(0.7 + (2.0 - 0.7) * (1 - t / 2e5), 0.7)
    for t in range(4):
        np.testing.assert_allclose(float(objective.sigma_at(t)), sigmas[t], rtol=1e-6)
    for t in (0, 1, 799_999, 1_600_000, 3_000_000):
        np.testing.assert_allclose(float(objective.learning_rate_at(t)), lr(t), rtol=1e-5)
    for t in (150_000, 200_001, 10 ** 6):
        expected = max(0.7 + 1.3 * (1 - (t - 1) / 2e5), 0.7)
        np.testing.assert_allclose(float(objective.sigma_at(t)), expected, rtol=1e-5)


def test_conv_draw_starts_as_pytorch_starts_it():
    """Every ConvDRAW variable uniform in +-1/sqrt(fan_in) with the fan_in of the
    original's PyTorch layer (hand-written table below), biases included."""
    import keras

    keras.utils.set_random_seed(0)
    h, cc, up, z = 16, 12, 20, 3
    model = GENModel(num_steps=2, **dict(SMALL, hidden_channels=h, canvas_channels=cc,
                                         upsample_channels=up))
    gen, inf, draw = model.draw.generator_cores[0], model.draw.inference_cores[0], model.draw
    pytorch_fan_in = [  # (layer, its fan_in) -- Conv2d: in x k x k; ConvTranspose2d: out x k x k
        (gen.upsample_r, up * 16 * 16), (gen.upsample_v, 7 * 16 * 16),
        (gen.lstm, (7 + up + z + h) * 5 * 5), (gen.upsample, cc * 4 * 4),
        (inf.upsample_r, up * 16 * 16), (inf.upsample_v, 7 * 16 * 16),
        (inf.downsample_target, 3 * 4 * 4), (inf.downsample_canvas, cc * 4 * 4),
        (inf.lstm, (3 + 7 + up + h + cc + h) * 5 * 5),
        (draw.eta_pi, h * 5 * 5), (draw.eta_q, h * 5 * 5), (draw.eta_g, cc),
    ]
    checked = set()
    for layer, fan_in in pytorch_fan_in:
        limit = 1.0 / math.sqrt(fan_in)
        for v in layer.trainable_variables:
            checked.add(id(v))
            x = v.numpy().ravel()
            assert np.abs(x).max() <= limit * (1 + 1e-6), v.path
            if x.size >= 20:  # P(max |x| < limit / 2) = 2^-20
                assert np.abs(x).max() > 0.5 * limit, v.path
            if x.size >= 2000:  # uniform spread: std = limit / sqrt(3), mean 0
                assert x.std() == pytest.approx(limit / math.sqrt(3), rel=0.05), v.path
                assert abs(x.mean()) < 0.08 * limit, v.path
    assert checked == {id(v) for v in draw.trainable_variables}
    biases = [v for v in model.draw.trainable_variables if "bias" in v.path]
    assert biases and all(np.abs(b.numpy()).max() > 0 for b in biases)
