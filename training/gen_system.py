"""GEN as a ``TrainSystem``: one Adam step on the negative ELBO of a batch of hotels.

Facts kept from the original (``train_scene_rendering.py``):

- Adam (beta 0.9, 0.999, epsilon 1e-8), learning rate 8e-4 -> 5e-6 linearly
  over 1.6e6 updates, then 5e-6; sigma 2.0 -> 0.7 over 2e5 updates (update t
  uses the value of t - 1); both are logged;
- the loss is the mean over all queries of the batch of ``NLL + KL``
  (the negative ELBO);
- TensorBoard: the train loss per hotel size and over all sizes; every
  evaluation, the test loss and KL of each hotel size 1x1 .. 5x5 and image
  grids (ground truth, reconstruction, generation).

Beyond the original: resuming restores the optimizer with its step, so the
learning rate and sigma continue where they were (the original restarts the
learning rate at 8e-4); ``saved_model`` initialises the model of a new run
from another run's checkpoint. ``train/loss_dxd`` is the mean over the steps
with d x d hotels since the previous log line.

Averaging: ``loss`` is the sum over this replica's queries divided by the
number of queries of the step on all replicas (replicas x local queries, the
count when every replica has the same hotel size, as with one replica). An
evaluation value is the mean over hotels of the mean over a hotel's queries
(every hotel of an evaluation set has d^2 queries).
"""
import keras
import numpy as np
import tensorflow as tf

from data_provider import images
from models import checkpoints
from models.gen import GENModel, build_model, config, objective
from training import summaries
from training.fused_adam import FusedAdam
from training.system import TrainSystem, present_gradients

GRID_QUERIES = 8


class AnnealedLearningRate(keras.optimizers.schedules.LearningRateSchedule):
    """``max(beta + (alpha - beta) (1 - step / tau), beta)`` of the optimizer's step."""

    def __init__(self, alpha, beta, tau):
        self.alpha, self.beta, self.tau = float(alpha), float(beta), float(tau)

    def __call__(self, step):
        return objective.learning_rate_at(step, (self.alpha, self.beta, self.tau))

    def get_config(self):
        return {"alpha": self.alpha, "beta": self.beta, "tau": self.tau}


def first_hotels(batch, queries):
    """The first hotels of ``batch`` holding at least ``queries`` queries (all if fewer)."""
    per_hotel = batch["query_cameras"].shape[1]
    hotels = -(-queries // per_hotel)
    return {k: (v[:hotels] if v.shape.rank and k not in ("shift",) else v)
            for k, v in batch.items()}


class GENSystem(TrainSystem):
    """GEN training on hotels of mazes (``data_provider/gen_hotels.py`` batches).

    ``cfg``: a ``models.gen.config.gen_config`` dict. ``global_batch_size``:
    B (the train dataset's raw batches hold ``B max_d^2`` mazes).
    ``train_dims``: the train hotel sizes. ``image_steps``: image grids of the
    train batch at log steps that are multiples of it. ``eval_images``:
    optional ``{eval set name: batch}`` whose grids are written after each
    evaluation of that set.
    """

    name = "gen"

    def __init__(self, cfg, global_batch_size, train_dims=(1, 2), optimized=True,
                 mixed_precision="none", saved_model=None, image_steps=500, eval_images=None,
                 run_settings=None, winograd=True, log=print):
        self.cfg, self.global_batch_size = cfg, global_batch_size
        self.train_dims = tuple(train_dims)
        self.optimized, self.mixed_precision = optimized, mixed_precision
        self.winograd = winograd
        self.saved_model, self.image_steps = saved_model, image_steps
        self.eval_images = {} if eval_images is None else eval_images
        self.run_settings = dict(run_settings or {})
        self.log = log
        self.model = self.optimizer = None

    # ------------------------------------------------------------- building
    def build(self):
        self.model = build_model(self.cfg, self.optimized, self.mixed_precision, self.winograd)
        self.optimizer = FusedAdam(
            learning_rate=AnnealedLearningRate(*config.learning_rate_schedule(self.cfg)),
            beta_1=0.9, beta_2=0.999, epsilon=1e-8)
        self.optimizer.build(self.model.trainable_variables)
        sums = dict(trainable=False, synchronization=tf.VariableSynchronization.ON_READ,
                    aggregation=tf.VariableAggregation.SUM)
        self.size_loss = tf.Variable(tf.zeros([len(self.train_dims)]), name="size_loss", **sums)
        self.size_count = tf.Variable(tf.zeros([len(self.train_dims)]), name="size_count", **sums)
        if self.saved_model:
            step, path = checkpoints.restore(self.saved_model, {"model": self.model},
                                               "--saved_model")
            self.log(f"model initialised from {path} (step {step} of that run)")
        self.log(f"trainable parameters: {self.num_trainable_parameters()}")

    def num_trainable_parameters(self):
        return int(sum(np.prod(v.shape) for v in self.model.trainable_variables))

    def checkpoint_items(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def model_config(self):
        return config.model_config(self.cfg)

    def run_config(self):
        settings = {k: self.cfg[k] for k in config.RUN_KEYS}
        settings.update(batch_size=self.global_batch_size, train_dims=list(self.train_dims),
                        optimized=self.optimized, mixed_precision=self.mixed_precision,
                        winograd=self.winograd)
        settings.update(self.run_settings)
        return settings

    # ---------------------------------------------------------------- steps
    def _terms(self, batch, sigma):
        out = self.model(batch, training=True)
        return objective.per_query_terms(out, GENModel.flat_target(batch), sigma)

    def _average(self, per_query):
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        count = tf.cast(tf.size(per_query) * replicas, tf.float32)
        return tf.reduce_sum(per_query) / count

    def train_step(self, batch, step, phase):
        sigma = objective.sigma_at(step, config.sigma_schedule(self.cfg))
        with tf.GradientTape() as tape:
            nll, kl, l2 = self._terms(batch, sigma)
            loss = self._average(nll + kl)
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(present_gradients(grads, self.model.trainable_variables))
        size = tf.cast(tf.equal(tf.constant(self.train_dims, tf.int32),
                                batch["num_scenes_per_dim"]), tf.float32)
        self.size_loss.assign_add(size * tf.reduce_sum(nll + kl))
        self.size_count.assign_add(size * tf.cast(tf.size(nll), tf.float32))
        lr = objective.learning_rate_at(step, config.learning_rate_schedule(self.cfg))
        return ({"loss": loss, "nll": self._average(nll), "kl": self._average(kl),
                 "l2": self._average(l2)},
                {"learning_rate": lr, "sigma": sigma})

    def eval_step(self, batch):
        """Loss, NLL, KL and L2 per hotel (means over its queries), averaged over hotels."""
        sigma = objective.sigma_at(self.optimizer.iterations, config.sigma_schedule(self.cfg))
        hotels = tf.shape(batch["query_cameras"])[0]
        terms = [tf.reduce_mean(tf.reshape(t, [hotels, -1]), axis=1)
                 for t in self._terms(batch, sigma)]
        nll, kl, l2 = terms

        def average(x):
            return tf.nn.compute_average_loss(x, global_batch_size=self.global_batch_size)

        return {"loss": average(nll + kl), "nll": average(nll), "kl": average(kl),
                "l2": average(l2)}

    # ---------------------------------------------------------------- hooks
    def on_log(self, batch, step):
        sums, counts = self.size_loss.numpy(), self.size_count.numpy()
        for d, total, count in zip(self.train_dims, sums, counts):
            if count > 0:
                summaries.scalars({f"loss_{d}x{d}": total / count}, step)
        self.size_loss.assign(tf.zeros_like(self.size_loss))
        self.size_count.assign(tf.zeros_like(self.size_count))
        if self.image_steps and step % self.image_steps == 0:
            self.write_images("images", batch, step)

    def on_evaluation(self, step, name, result):
        if name in self.eval_images:
            self.write_images(f"{name}/images", self.eval_images[name], step)

    def write_images(self, name, batch, step):
        """Grid of ground truth, reconstruction and generation of the first queries."""
        batch = first_hotels(batch, GRID_QUERIES)
        truth = GENModel.flat_target(batch)[:GRID_QUERIES]
        reconstruction = self.model.reconstruct(batch)[:GRID_QUERIES]
        generation = self.model.generate(batch)["mu_target"][:GRID_QUERIES]
        rows = [np.clip(np.asarray(r, np.float32), 0.0, 1.0)
                for r in (truth, reconstruction, generation)]
        summaries.images(name, images.grid(rows, gap=2)[None], step, max_outputs=1)
