"""The ELBO terms of ConvDRAW and the linear annealing of its schedules, as pure functions.

Facts kept from tf-gqn (``gqn/gqn_objective.py``) and torch-gqn / GEN
(``Models/scene_render.py``), which compute the same terms:

- NLL_b = - sum over pixels and channels of ``log N(x | mu_target, sigma)``
  (the Normal log-density with its constants) for the annealed image sigma;
- KL_b = sum over DRAW steps, positions and latent channels of
  ``KL(N(mu_q, s_q) || N(mu_pi, s_pi))`` in closed form;
- the loss is the batch mean of NLL_b + KL_b (the negative ELBO);
- annealing (sigma 2.0 -> 0.7 over 2e5 steps in both; the learning rate):
  ``max(beta + (alpha - beta) (1 - step / tau), beta)``.

Everything computes in float32, whatever the inputs' dtype. Both terms are written out
as TensorFlow Probability's ``Normal.log_prob`` and Normal-Normal ``kl_divergence``
compute them (the same operations in the same order, so the same float32 values) without
loading that library, which lengthens every start by more than a second.
"""
import math

import tensorflow as tf

HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def _f32(x):
    return tf.cast(x, tf.float32)


def nll_per_example(target, mu_target, sigma):
    """NLL_b = - sum_{y,x,c} log N(target[b,y,x,c] | mu_target[b,y,x,c], sigma). [B]"""
    mu, scale = _f32(mu_target), _f32(sigma)
    log_prob = (-0.5 * tf.math.squared_difference(_f32(target) / scale, mu / scale)
                - (HALF_LOG_TWO_PI + tf.math.log(scale)))
    return -tf.reduce_sum(log_prob, axis=[1, 2, 3])


def kl_per_example(post_mu, post_sigma, prior_mu, prior_sigma):
    """KL_b = sum_l sum_{y,x,z} KL(N(post_mu, post_sigma) || N(prior_mu, prior_sigma)).

    Inputs [L, B, h, w, Z] (steps first, as ``ConvDRAW`` returns them); -> [B].
    Closed form per element: log(s_pi / s_q) + (s_q^2 + (m_q - m_pi)^2) / (2 s_pi^2) - 1/2.
    """
    post_mu, post_sigma = _f32(post_mu), _f32(post_sigma)
    prior_mu, prior_sigma = _f32(prior_mu), _f32(prior_sigma)
    diff_log_scale = tf.math.log(post_sigma) - tf.math.log(prior_sigma)
    kl = (0.5 * tf.math.squared_difference(post_mu / prior_sigma, prior_mu / prior_sigma)
          + 0.5 * tf.math.expm1(2.0 * diff_log_scale) - diff_log_scale)
    return tf.reduce_sum(kl, axis=[0, 2, 3, 4])


def elbo_terms(out, target, sigma):
    """Per-example (NLL, KL, L2) of a ``ConvDRAW`` posterior pass ``out``; each [B].

    L2 is the mean squared error of the predicted mean over pixels and channels.
    """
    nll = nll_per_example(target, out["mu_target"], sigma)
    kl = kl_per_example(out["posterior_mu"], out["posterior_sigma"], out["prior_mu"],
                        out["prior_sigma"])
    l2 = tf.reduce_mean(tf.square(out["mu_target"] - _f32(target)), axis=[1, 2, 3])
    return nll, kl, l2


def annealed(step, alpha, beta, tau):
    """Linear annealing: max(beta + (alpha - beta) * (1 - step / tau), beta) (float32)."""
    step = _f32(step)
    alpha, beta, tau = _f32(alpha), _f32(beta), _f32(tau)
    return tf.maximum(beta + (alpha - beta) * (1.0 - step / tau), beta)
