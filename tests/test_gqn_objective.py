"""GQN objective against closed-form Gaussian formulas in numpy."""
import numpy as np
import pytest
import tensorflow as tf

from models.gqn import GQN_DEFAULT_CONFIG, objective


def np_normal_log_prob(x, mu, sigma):
    return -0.5 * np.log(2 * np.pi) - np.log(sigma) - 0.5 * ((x - mu) / sigma) ** 2


def np_normal_kl(mq, sq, mp, sp):
    return np.log(sp / sq) + (sq ** 2 + (mq - mp) ** 2) / (2 * sp ** 2) - 0.5


@pytest.fixture
def rng():
    return np.random.default_rng(3)


def test_nll_per_example_matches_closed_form(rng):
    target = rng.uniform(size=(3, 4, 5, 3)).astype(np.float32)
    mu = rng.normal(size=(3, 4, 5, 3)).astype(np.float32)
    sigma = 0.9
    got = objective.nll_per_example(target, mu, sigma).numpy()
    want = -np_normal_log_prob(target, mu, sigma).sum(axis=(1, 2, 3))
    assert got.shape == (3,)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_kl_per_example_matches_closed_form(rng):
    shape = (4, 2, 3, 3, 5)  # L, B, h, w, Z
    mq, mp = rng.normal(size=shape), rng.normal(size=shape)
    sq, sp = rng.uniform(0.2, 2.0, size=shape), rng.uniform(0.2, 2.0, size=shape)
    args = [a.astype(np.float32) for a in (mq, sq, mp, sp)]
    got = objective.kl_per_example(*args).numpy()
    want = np_normal_kl(mq, sq, mp, sp).sum(axis=(0, 2, 3, 4))
    assert got.shape == (2,)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    same = objective.kl_per_example(args[0], args[1], args[0], args[1]).numpy()
    np.testing.assert_allclose(same, 0.0, atol=1e-4)


def test_gqn_loss_is_batch_mean_of_sums_as_the_original(rng):
    target = rng.uniform(size=(2, 4, 4, 3)).astype(np.float32)
    mu = rng.normal(size=(2, 4, 4, 3)).astype(np.float32)
    stats = [rng.normal(size=(3, 2, 2, 2, 4)).astype(np.float32) for _ in range(2)]
    sigmas = [rng.uniform(0.3, 1.5, size=(3, 2, 2, 2, 4)).astype(np.float32) for _ in range(2)]
    loss, nll, kl = objective.gqn_loss(target, mu, 2.0, stats[0], sigmas[0], stats[1], sigmas[1])
    # tf-gqn: -sum(mean over batch(log_prob)); sum(mean over batch(sum over steps KL))
    want_nll = -np_normal_log_prob(target, mu, 2.0).mean(axis=0).sum()
    want_kl = np_normal_kl(stats[0], sigmas[0], stats[1], sigmas[1]).sum(axis=0).mean(axis=0).sum()
    np.testing.assert_allclose(nll.numpy(), want_nll, rtol=1e-5)
    np.testing.assert_allclose(kl.numpy(), want_kl, rtol=1e-5)
    np.testing.assert_allclose(loss.numpy(), want_nll + want_kl, rtol=1e-5)


def test_objective_is_float32_for_bfloat16_inputs(rng):
    target = tf.constant(rng.uniform(size=(2, 4, 4, 3)), tf.bfloat16)
    mu = tf.constant(rng.normal(size=(2, 4, 4, 3)), tf.bfloat16)
    nll = objective.nll_per_example(target, mu, 0.7)
    assert nll.dtype == tf.float32
    want = -np_normal_log_prob(tf.cast(target, tf.float32).numpy(),
                               tf.cast(mu, tf.float32).numpy(), 0.7).sum(axis=(1, 2, 3))
    np.testing.assert_allclose(nll.numpy(), want, rtol=1e-5)


@pytest.mark.parametrize("step, fraction", [(0, 1.0), (50, 0.5), (100, 0.0), (200, 0.0)])
def test_annealing_at_0_half_tau_tau_and_twice_tau(step, fraction):
    alpha, beta, tau = 2.0, 0.7, 100
    want = max(beta + (alpha - beta) * (1 - step / tau), beta)
    assert want == pytest.approx(beta + (alpha - beta) * fraction)
    assert float(objective.annealed(step, alpha, beta, tau)) == pytest.approx(want, rel=1e-6)


def test_default_schedules_follow_the_config():
    cfg = GQN_DEFAULT_CONFIG
    assert float(objective.sigma_at(0, cfg)) == pytest.approx(2.0)
    assert float(objective.sigma_at(100000, cfg)) == pytest.approx(1.35)
    assert float(objective.sigma_at(10 ** 7, cfg)) == pytest.approx(0.7)
    assert float(objective.learning_rate_at(0, cfg)) == pytest.approx(5e-4)
    assert float(objective.learning_rate_at(800000, cfg)) == pytest.approx(2.75e-4)
    assert float(objective.learning_rate_at(1600000, cfg)) == pytest.approx(5e-5)
    steps = tf.constant([0, 100000, 400000], tf.int64)
    np.testing.assert_allclose(objective.sigma_at(steps, cfg).numpy(), [2.0, 1.35, 0.7],
                               rtol=1e-6)
