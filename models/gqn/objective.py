"""GQN objective (negative ELBO) and the linear annealing schedules.

Facts kept from tf-gqn (``gqn/gqn_objective.py``, ``gqn/gqn_model.py``):

- target NLL = - sum over pixels of the batch mean of
  ``Normal(mu_target, sigma_t).log_prob(target)``;
- KL = sum over positions of the batch mean of the sum over DRAW steps of
  ``KL(Normal(mu_q_l, sigma_q_l) || Normal(mu_pi_l, sigma_pi_l))``;
- loss (the "elbo" the original minimises) = NLL + KL;
- sigma_t and the ADAM learning rate are annealed linearly:
  ``max(beta + (alpha - beta) * (1 - step / tau), beta)``.

All functions compute in float32 whatever the inputs' dtype (the model may
run in bfloat16).
"""
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions


def _f32(x):
    return tf.cast(x, tf.float32)


def nll_per_example(target, mu_target, sigma):
    """NLL_b = - sum_{y,x,c} log N(target[b,y,x,c] | mu_target[b,y,x,c], sigma). [B]"""
    log_prob = tfd.Normal(loc=_f32(mu_target), scale=_f32(sigma)).log_prob(_f32(target))
    return -tf.reduce_sum(log_prob, axis=[1, 2, 3])


def kl_per_example(post_mu, post_sigma, prior_mu, prior_sigma):
    """KL_b = sum_l sum_{y,x,z} KL(N(post_mu, post_sigma) || N(prior_mu, prior_sigma)).

    Inputs [L, B, h, w, Z] (steps first, as ``GQNModel`` returns them); -> [B].
    Closed form per element: log(s_pi / s_q) + (s_q^2 + (m_q - m_pi)^2) / (2 s_pi^2) - 1/2.
    """
    kl = tfd.kl_divergence(tfd.Normal(_f32(post_mu), _f32(post_sigma)),
                           tfd.Normal(_f32(prior_mu), _f32(prior_sigma)))
    return tf.reduce_sum(kl, axis=[0, 2, 3, 4])


def gqn_loss(target, mu_target, sigma, post_mu, post_sigma, prior_mu, prior_sigma):
    """(loss, nll, kl) with nll = mean_b NLL_b, kl = mean_b KL_b, loss = nll + kl.

    Equal to tf-gqn's ``target_llh`` / ``kl_regularizer`` / ``elbo`` (a sum
    over pixels of a batch mean is the batch mean of per-example sums).
    """
    nll = tf.reduce_mean(nll_per_example(target, mu_target, sigma))
    kl = tf.reduce_mean(kl_per_example(post_mu, post_sigma, prior_mu, prior_sigma))
    return nll + kl, nll, kl


def annealed(step, alpha, beta, tau):
    """Linear annealing: max(beta + (alpha - beta) * (1 - step / tau), beta) (float32)."""
    step = _f32(step)
    alpha, beta, tau = _f32(alpha), _f32(beta), _f32(tau)
    return tf.maximum(beta + (alpha - beta) * (1.0 - step / tau), beta)


def sigma_at(step, cfg):
    """Image sigma at ``step``: GENERATOR_SIGMA_ALPHA -> _BETA over ANNEAL_SIGMA_TAU."""
    return annealed(step, cfg.GENERATOR_SIGMA_ALPHA, cfg.GENERATOR_SIGMA_BETA,
                    cfg.ANNEAL_SIGMA_TAU)


def learning_rate_at(step, cfg):
    """ADAM learning rate at ``step``: ADAM_LR_ALPHA -> ADAM_LR_BETA over ANNEAL_LR_TAU."""
    return annealed(step, cfg.ADAM_LR_ALPHA, cfg.ADAM_LR_BETA, cfg.ANNEAL_LR_TAU)
