"""GQN as a ``training.loop.TrainSystem``: one ADAM step on the negative ELBO.

Facts kept from tf-gqn (``gqn/gqn_model.py``, ``gqn_draw_model_fn``):

* the image sigma and the ADAM learning rate are annealed per global step,
  ``max(beta + (alpha - beta) (1 - step / tau), beta)`` with
  ``GENERATOR_SIGMA_ALPHA/BETA``, ``ANNEAL_SIGMA_TAU`` and
  ``ADAM_LR_ALPHA/BETA``, ``ANNEAL_LR_TAU``; ``step`` is the number of updates
  done before the current one;
* the minimised loss is called ``elbo`` (it is the negative ELBO)
  ``= target_llh + kl_regularizer`` where ``target_llh`` is the target NLL;
* ``l2_reconstruction`` is the mean squared error between target and
  predicted mean;
* ADAM with TensorFlow 1's defaults (beta1 0.9, beta2 0.999, epsilon 1e-8),
  here ``FusedAdam`` (Keras Adam's maths and slots, one fused kernel per variable);
* debug image summaries: each context frame, the target, the predicted mean
  and the canvas-mean strip (eta_g of every DRAW step's canvas side by side,
  separated by white bars 2 pixels wide).

Per-example terms are averaged over the GLOBAL batch with
``tf.nn.compute_average_loss``, so with one replica every scalar equals the
original's batch mean.
"""
import keras
import numpy as np
import tensorflow as tf

from models.gqn import GQNModel, objective
from training import loop
from training.fused_adam import FusedAdam

BAR_WIDTH = 2


def annealed_value(step, alpha, beta, tau):
    """Python float of ``max(beta + (alpha - beta) (1 - step / tau), beta)``."""
    return float(max(beta + (alpha - beta) * (1.0 - step / tau), beta))


class AnnealedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """ADAM_LR_ALPHA -> ADAM_LR_BETA linearly over ANNEAL_LR_TAU optimizer steps."""

    def __init__(self, alpha, beta, tau):
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)

    def __call__(self, step):
        return objective.annealed(step, self.alpha, self.beta, self.tau)

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta, "tau": self.tau}


def canvas_strip(canvases):
    """[L, B, H, W, 3] canvas means -> [B, H, L * W + (L - 1) * BAR_WIDTH, 3] with white bars."""
    canvases = tf.convert_to_tensor(canvases)
    bar = tf.ones_like(canvases[0][:, :, :BAR_WIDTH])
    parts = []
    for i in range(canvases.shape[0]):
        if i:
            parts.append(bar)
        parts.append(canvases[i])
    return tf.concat(parts, axis=2)


class GQNSystem(loop.TrainSystem):
    """GQN ConvDRAW training: posterior pass, NLL + KL, one ADAM step per batch.

    ``mixed_precision="bf16"`` builds the model with the ``mixed_bfloat16``
    policy (losses stay float32); ``xla=True`` compiles the forward and
    gradient computation with XLA (``jit_compile``).
    ``original_prior_timing=True`` reproduces tf-gqn's KL, which compares the
    posterior of step l with the prior computed after the generator update of
    step l (the prior of step l + 1); the default uses the prior of step l.
    It is stored in ``config.json`` as ``ORIGINAL_PRIOR_TIMING``.
    """

    def __init__(self, cfg, global_batch_size, optimized=True, mixed_precision="none",
                 xla=False, log=print, original_prior_timing=False):
        if mixed_precision not in ("none", "bf16"):
            raise ValueError(f"mixed_precision must be 'none' or 'bf16', got {mixed_precision!r}")
        self.cfg = cfg
        self.global_batch_size = global_batch_size
        self.optimized = optimized
        self.mixed_precision = mixed_precision
        self.xla = xla
        self.original_prior_timing = bool(original_prior_timing)
        self.log = log
        self.model = self.optimizer = None

    # --------------------------------------------------------------- building
    def dummy_batch(self, batch=1):
        cfg = self.cfg
        from data_provider.gqn_tfr_provider import Context, Query
        frames = tf.zeros([batch, cfg.CONTEXT_SIZE, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS])
        cameras = tf.zeros([batch, cfg.CONTEXT_SIZE, cfg.POSE_CHANNELS])
        query = Query(context=Context(frames=frames, cameras=cameras),
                      query_camera=tf.zeros([batch, cfg.POSE_CHANNELS]))
        return query, tf.zeros([batch, cfg.IMG_HEIGHT, cfg.IMG_WIDTH, cfg.IMG_CHANNELS])

    def build(self):
        dtype = "mixed_bfloat16" if self.mixed_precision == "bf16" else None
        self.model = GQNModel(self.cfg._replace(ORIGINAL_PRIOR_TIMING=self.original_prior_timing),
                              optimized=self.optimized, dtype=dtype)
        self.model(self.dummy_batch(), training=True)
        cfg = self.cfg
        self.optimizer = FusedAdam(
            learning_rate=AnnealedLearningRate(cfg.ADAM_LR_ALPHA, cfg.ADAM_LR_BETA,
                                               cfg.ANNEAL_LR_TAU),
            beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        self.optimizer.build(self.model.trainable_variables)
        self._forward = tf.function(self._loss_and_grads, jit_compile=True) if self.xla \
            else self._loss_and_grads
        self.log(f"trainable parameters: {self.num_trainable_parameters()}")

    def num_trainable_parameters(self):
        return int(sum(np.prod(v.shape) for v in self.model.trainable_variables))

    def checkpoint_items(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def config_dict(self):
        return self.cfg._replace(ORIGINAL_PRIOR_TIMING=self.original_prior_timing)._asdict()

    # ------------------------------------------------------------------ steps
    def _terms(self, out, target, sigma):
        """Per-example NLL, KL and L2 ([B] each)."""
        nll = objective.nll_per_example(target, out["mu_target"], sigma)
        kl = objective.kl_per_example(out["posterior_mu"], out["posterior_sigma"],
                                      out["prior_mu"], out["prior_sigma"])
        l2 = tf.reduce_mean(tf.square(out["mu_target"] - target), axis=[1, 2, 3])
        return nll, kl, l2

    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _loss_and_grads(self, query, target, sigma):
        with tf.GradientTape() as tape:
            out = self.model((query, target), training=True)
            nll, kl, l2 = self._terms(out, target, sigma)
            loss = self._average(nll + kl)
        grads = tape.gradient(loss, self.model.trainable_variables)
        return grads, {"elbo": loss, "target_llh": self._average(nll),
                       "kl_regularizer": self._average(kl), "l2_reconstruction": self._average(l2)}

    def train_step(self, phase, batch, step):
        query, target = batch
        sigma = objective.sigma_at(step, self.cfg)
        grads, scalars = self._forward(query, target, sigma)
        self.optimizer.apply_gradients(loop.present_gradients(grads, self.model.trainable_variables))
        return scalars

    def eval_step(self, batch):
        """Negative ELBO and L2 of the posterior pass at the current sigma."""
        query, target = batch
        sigma = objective.sigma_at(self.optimizer.iterations, self.cfg)
        out = self.model((query, target), training=False)
        nll, kl, l2 = self._terms(out, target, sigma)
        return {"elbo": self._average(nll + kl), "target_llh": self._average(nll),
                "kl_regularizer": self._average(kl), "l2_reconstruction": self._average(l2)}

    def host_scalars(self, step):
        cfg = self.cfg
        return {
            "learning_rate": annealed_value(step, cfg.ADAM_LR_ALPHA, cfg.ADAM_LR_BETA,
                                            cfg.ANNEAL_LR_TAU),
            "sigma": annealed_value(step, cfg.GENERATOR_SIGMA_ALPHA, cfg.GENERATOR_SIGMA_BETA,
                                    cfg.ANNEAL_SIGMA_TAU),
        }

    def image_summaries(self, batch, step):
        query, target = batch
        out = self.model((query, target), training=False)
        for i in range(self.cfg.CONTEXT_SIZE):
            loop.write_images(f"context_frame_{i + 1}", query.context.frames[:, i], step)
        loop.write_images("target_images", target, step)
        loop.write_images("target_means", out["mu_target"], step)
        loop.write_images("generator_sequence_mean", canvas_strip(out["canvases"]), step)
