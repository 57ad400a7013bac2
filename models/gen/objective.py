"""GEN objective (negative ELBO) and its schedules, as pure functions.

Facts kept from the original (``Models/scene_render.py``,
``train_scene_rendering.py``, ``Utils/scheduler.py``):

- per query b: ``ELBO_b = sum over pixels and channels of log N(x | eta_g(u_L), sigma)
  - sum over DRAW steps, positions and latent channels of KL(q_l || pi_l)``
  (Normal log-density with its constants, closed-form KL);
  ``loss = - mean_b ELBO_b`` over all queries of the batch;
- sigma is annealed 2.0 -> 0.7 over 2e5 steps and the Adam learning rate
  8e-4 -> 5e-6 over 1.6e6 steps, both
  ``max(beta + (alpha - beta) (1 - step / tau), beta)``;
- the original updates sigma after each update from the index t of that
  update, so update t uses the value of t - 1 (2.0 at t = 0); the learning
  rate of update t is the value of t.

The per-query terms are ConvDRAW's (``models/draw/objective.py``).
"""
import tensorflow as tf

from models.draw.objective import annealed, elbo_terms
from models.gen.config import GEN_DEFAULT_CONFIG, learning_rate_schedule, sigma_schedule

SIGMA_SCHEDULE = sigma_schedule(GEN_DEFAULT_CONFIG)  # (alpha, beta, tau)
LEARNING_RATE_SCHEDULE = learning_rate_schedule(GEN_DEFAULT_CONFIG)

__all__ = ["gen_loss", "per_query_terms", "sigma_at", "learning_rate_at", "annealed",
           "SIGMA_SCHEDULE", "LEARNING_RATE_SCHEDULE"]


def per_query_terms(out, target, sigma):
    """(NLL_b, KL_b, L2_b) of a posterior pass ``out``, each [B] (``target`` [B, H, W, 3])."""
    return elbo_terms(out, target, sigma)


def gen_loss(out, target, sigma):
    """(loss, nll, kl): ``loss = mean_b (NLL_b + KL_b) = -mean_b ELBO_b``, nll and kl its parts."""
    nll, kl, _ = per_query_terms(out, target, sigma)
    return tf.reduce_mean(nll + kl), tf.reduce_mean(nll), tf.reduce_mean(kl)


def sigma_at(step, schedule=SIGMA_SCHEDULE):
    """Image sigma of update ``step`` (0-based): the annealed value of ``max(step - 1, 0)``."""
    return annealed(tf.maximum(tf.cast(step, tf.float32) - 1.0, 0.0), *schedule)


def learning_rate_at(step, schedule=LEARNING_RATE_SCHEDULE):
    """Adam learning rate of update ``step``: 8e-4 -> 5e-6 over 1.6e6 steps, then 5e-6."""
    return annealed(step, *schedule)
