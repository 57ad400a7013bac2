"""FCR-alphaGAN losses against small numpy references (correct and legacy-swapped)."""
import math

import numpy as np
import pytest

from models.fcr_alphagan import losses


def np_ce(h, t):
    """Sigmoid cross entropy of logit h against target t."""
    return np.maximum(h, 0) - h * t + np.log1p(np.exp(-np.abs(h)))


def np_ce_legacy(h, t):
    """The original's call with labels and logits swapped: labels=h, logits=t."""
    return np.maximum(t, 0) - t * h + np.log1p(np.exp(-np.abs(t)))


@pytest.fixture
def logits():
    rng = np.random.default_rng(0)
    return [rng.normal(0, 2, size=(5, 1)).astype(np.float32) for _ in range(3)]


def test_reconstruction_loss_matches_numpy():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=(3, 4, 2, 3))
    labels[..., 0] = 0  # an unbalanced class histogram
    y = np.eye(4, dtype=np.float32)[labels]
    logits = rng.normal(size=y.shape)
    p = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype(np.float32)
    g = 0.97
    mean = y.mean(axis=(0, 1, 2, 3))
    inverse = 1 / (mean + 1)
    weight = inverse / inverse.sum()
    per = -(g * y * np.log(1e-6 + p) + (1 - g) * (1 - y) * np.log(1e-6 + 1 - p)).sum((1, 2, 3))
    want = (per * weight).sum(1).mean()
    # per-example values whose batch mean is the original's loss
    np.testing.assert_allclose(losses.reconstruction_loss(y, p, g).numpy(),
                               (per * weight).sum(1), rtol=1e-5)
    np.testing.assert_allclose(losses.class_weights(y).numpy(), weight, rtol=1e-6)
    np.testing.assert_allclose(losses.reconstruction_loss(y, p, g).numpy().mean(), want, rtol=1e-5)
    # a perfect prediction costs ~0, a uniform one more
    assert losses.reconstruction_loss(y, y, g).numpy().mean() < 1e-3
    assert losses.reconstruction_loss(y, np.full_like(y, 0.25), g).numpy().mean() > 1.0


@pytest.mark.parametrize("legacy", [False, True])
def test_sigmoid_cross_entropy(logits, legacy):
    h = logits[0]
    ref = np_ce_legacy if legacy else np_ce
    for t in (0.0, 1.0):
        np.testing.assert_allclose(losses.sigmoid_cross_entropy(h, t, legacy).numpy(),
                                   ref(h, t), rtol=1e-5, atol=1e-6)


def test_legacy_values_are_the_swapped_closed_forms(logits):
    h = logits[0]
    one = losses.sigmoid_cross_entropy(h, 1.0, True).numpy()
    zero = losses.sigmoid_cross_entropy(h, 0.0, True).numpy()
    np.testing.assert_allclose(one, 1 - h + math.log1p(math.exp(-1)), rtol=1e-5)
    np.testing.assert_allclose(zero, np.full_like(h, math.log(2)), rtol=1e-6)


@pytest.mark.parametrize("legacy", [False, True])
def test_gan_losses_and_costs(logits, legacy):
    ref = np_ce_legacy if legacy else np_ce
    h_real, h_gen, h_dec = logits
    d = losses.discriminator_loss(h_real, [h_gen, h_dec], legacy).numpy().mean()
    want_d = ref(h_real, 1).mean() + ref(h_gen, 0).mean() + ref(h_dec, 0).mean()
    np.testing.assert_allclose(d, want_d, rtol=1e-5)
    assert losses.discriminator_loss(h_real, [h_gen], legacy).shape == (5,)
    assert losses.code_discriminator_loss(h_real, h_dec, legacy).shape == (5,)
    g = losses.generator_loss([h_gen, h_dec], legacy).numpy().mean()
    np.testing.assert_allclose(g, ref(h_gen, 1).mean() + ref(h_dec, 1).mean(), rtol=1e-5)
    ce = losses.code_encode_loss(h_dec, legacy).numpy().mean()
    np.testing.assert_allclose(ce, ref(h_dec, 1).sum(1).mean(), rtol=1e-5)
    cd = losses.code_discriminator_loss(h_real, h_dec, legacy).numpy().mean()
    np.testing.assert_allclose(cd, ref(h_real, 1).sum(1).mean() + ref(h_dec, 0).sum(1).mean(),
                               rtol=1e-5)
    assert losses.cost_enc(ce, 3.0, 2.0) == pytest.approx(ce + 6.0)
    assert losses.cost_gen(3.0, g, 2.0) == pytest.approx(6.0 + g)
    assert losses.cost_gen_ref(3.0, g, 1.0) == pytest.approx(3.0 + g)
    assert losses.cost_discrim(d) == d and losses.cost_discrim_ref(d) == d
    assert losses.cost_code(cd) == cd


def test_correct_loss_rewards_a_good_discriminator_legacy_does_not_see_fakes():
    confident = np.array([[8.0]], np.float32)
    fake_low = np.array([[-8.0]], np.float32)
    fake_high = np.array([[8.0]], np.float32)
    good = losses.discriminator_loss(confident, [fake_low]).numpy().mean()
    bad = losses.discriminator_loss(confident, [fake_high]).numpy().mean()
    assert good < 0.01 < 7.0 < bad
    legacy_good = losses.discriminator_loss(confident, [fake_low], True).numpy().mean()
    legacy_bad = losses.discriminator_loss(confident, [fake_high], True).numpy().mean()
    assert legacy_good == pytest.approx(legacy_bad)
