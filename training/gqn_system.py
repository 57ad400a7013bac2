"""GQN as a ``TrainSystem``: one ADAM step on the negative ELBO.

Facts kept from tf-gqn (``gqn/gqn_model.py``, ``gqn_draw_model_fn``):

* the image sigma and the ADAM learning rate are annealed per global step,
  ``max(beta + (alpha - beta) (1 - step / tau), beta)``; ``step`` is the
  number of updates done before the current one;
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

from data_provider import images
from models.draw.objective import elbo_terms
from models.gqn import build_model, model_config, objective
from training import summaries
from training.fused_adam import FusedAdam
from training.system import TrainSystem, present_gradients

BAR_WIDTH = 2


class AnnealedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """ADAM_LR_ALPHA -> ADAM_LR_BETA linearly over ANNEAL_LR_TAU optimizer steps."""

    def __init__(self, alpha, beta, tau):
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)

    def __call__(self, step):
        return objective.annealed(step, self.alpha, self.beta, self.tau)

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta, "tau": self.tau}


class GQNSystem(TrainSystem):
    """GQN ConvDRAW training: posterior pass, NLL + KL, one ADAM step per batch.

    ``mixed_precision="bf16"``: the ``mixed_bfloat16`` policy (losses stay
    float32); ``xla=True`` compiles the forward and gradient computation with
    XLA; ``debug=True`` writes the image summaries at every log step.
    """

    name = "gqn"

    def __init__(self, cfg, global_batch_size, optimized=True, mixed_precision="none",
                 xla=False, debug=False, log=print):
        if mixed_precision not in ("none", "bf16"):
            raise ValueError(f"mixed_precision must be 'none' or 'bf16', got {mixed_precision!r}")
        self.cfg, self.global_batch_size = cfg, global_batch_size
        self.optimized, self.mixed_precision, self.xla = optimized, mixed_precision, xla
        self.debug, self.log = debug, log
        self.model = self.optimizer = None

    def build(self):
        cfg = self.cfg
        self.model = build_model(cfg, self.optimized, self.mixed_precision)
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

    def model_config(self):
        return model_config(self.cfg)

    def run_config(self):
        return {k: v for k, v in self.cfg._asdict().items() if k not in self.model_config()}

    # ------------------------------------------------------------------ steps
    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _losses(self, out, target, sigma):
        nll, kl, l2 = elbo_terms(out, target, sigma)
        return {"elbo": self._average(nll + kl), "target_llh": self._average(nll),
                "kl_regularizer": self._average(kl), "l2_reconstruction": self._average(l2)}

    def _loss_and_grads(self, query, target, sigma):
        with tf.GradientTape() as tape:
            losses = self._losses(self.model((query, target), training=True), target, sigma)
        return tape.gradient(losses["elbo"], self.model.trainable_variables), losses

    def train_step(self, batch, step, phase):
        query, target = batch
        sigma = objective.sigma_at(step, self.cfg)
        learning_rate = objective.learning_rate_at(step, self.cfg)
        grads, losses = self._forward(query, target, sigma)
        self.optimizer.apply_gradients(present_gradients(grads, self.model.trainable_variables))
        return losses, {"learning_rate": learning_rate, "sigma": sigma}

    def eval_step(self, batch):
        """Negative ELBO and L2 of the posterior pass at the current sigma."""
        query, target = batch
        sigma = objective.sigma_at(self.optimizer.iterations, self.cfg)
        return self._losses(self.model((query, target), training=False), target, sigma)

    def on_log(self, batch, step):
        if not self.debug:
            return
        query, target = batch
        out = self.model((query, target), training=False)
        for i in range(self.cfg.CONTEXT_SIZE):
            summaries.images(f"context_frame_{i + 1}", query.context.frames[:, i], step, 1)
        summaries.images("target_images", target, step, 1)
        summaries.images("target_means", out["mu_target"], step, 1)
        canvases = [np.asarray(c, np.float32) for c in out["canvases"]]  # [B, H, W, 3] per step
        summaries.images("generator_sequence_mean", images.tile(canvases, -2, BAR_WIDTH), step, 1)
