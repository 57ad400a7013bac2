"""GQN objective (negative ELBO) and its annealing schedules.

Facts kept from tf-gqn (``gqn/gqn_objective.py``, ``gqn/gqn_model.py``):

- target NLL = - sum over pixels of the batch mean of
  ``Normal(mu_target, sigma_t).log_prob(target)``;
- KL = sum over positions of the batch mean of the sum over DRAW steps of
  ``KL(Normal(mu_q_l, sigma_q_l) || Normal(mu_pi_l, sigma_pi_l))``;
- loss (the "elbo" the original minimises) = NLL + KL;
- sigma_t (GENERATOR_SIGMA_ALPHA 2.0 -> _BETA 0.7 over ANNEAL_SIGMA_TAU
  200,000 steps) and the ADAM learning rate (ADAM_LR_ALPHA -> _BETA over
  ANNEAL_LR_TAU 1,600,000) are annealed linearly
  (``models.draw.objective.annealed``).

The per-example terms are ConvDRAW's (``models/draw/objective.py``).
"""
import tensorflow as tf

from models.draw.objective import annealed, kl_per_example, nll_per_example

__all__ = ["gqn_loss", "sigma_at", "learning_rate_at", "annealed", "nll_per_example",
           "kl_per_example"]


def gqn_loss(target, mu_target, sigma, post_mu, post_sigma, prior_mu, prior_sigma):
    """(loss, nll, kl) with nll = mean_b NLL_b, kl = mean_b KL_b, loss = nll + kl.

    Equal to tf-gqn's ``target_llh`` / ``kl_regularizer`` / ``elbo`` (a sum
    over pixels of a batch mean is the batch mean of per-example sums).
    """
    nll = tf.reduce_mean(nll_per_example(target, mu_target, sigma))
    kl = tf.reduce_mean(kl_per_example(post_mu, post_sigma, prior_mu, prior_sigma))
    return nll + kl, nll, kl


def sigma_at(step, cfg):
    """Image sigma at ``step``: GENERATOR_SIGMA_ALPHA -> _BETA over ANNEAL_SIGMA_TAU."""
    return annealed(step, cfg.GENERATOR_SIGMA_ALPHA, cfg.GENERATOR_SIGMA_BETA,
                    cfg.ANNEAL_SIGMA_TAU)


def learning_rate_at(step, cfg):
    """ADAM learning rate at ``step``: ADAM_LR_ALPHA -> ADAM_LR_BETA over ANNEAL_LR_TAU."""
    return annealed(step, cfg.ADAM_LR_ALPHA, cfg.ADAM_LR_BETA, cfg.ANNEAL_LR_TAU)
