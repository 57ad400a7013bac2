"""FCR-alphaGAN as a ``TrainSystem``: the original two-phase iteration of ``train.py``.

Kept from the original:

- iteration ``ite`` counts from 1 (``ite = step + 1``, ``step`` = iterations done);
- phase "autoencoder_gan" (``ite < SWITCHING_ITE``): twice (encoder Adam step on ``cost_enc`` with
  the ``LEARNING_RATE_V`` schedule, generator step on ``cost_gen``), then one
  discriminator step on ``cost_discrim``, then one code-discriminator step on
  ``cost_code`` (``LEARNING_RATE_V`` schedule); every step recomputes its forward pass
  with the current weights, as each ``sess.run`` did;
- phase "refiner" (``ite >= SWITCHING_ITE``): a refiner step on ``cost_gen_ref``
  (``LEARNING_RATE_V`` schedule) and a discriminator step on ``cost_discrim_ref`` with
  its own Adam state (the original builds a second discriminator optimizer);
- ``LEARNING_RATE_V = [a, n, b]``: rate ``a`` while ``ite < n``, else ``b``;
- Adam beta1 ``TRAIN.ADAM_BETA_D`` (encoder, discriminators) / ``TRAIN.ADAM_BETA_G``
  (generator, code discriminator, refiner), beta2 0.9, epsilon 1e-8 (TF1 default);
  generator rate ``LEARNING_RATE_G``, discriminator rate ``LEARNING_RATE_D``;
- ``z ~ N(0, 1)`` of shape [B, *START_VOX, DIM_Z] drawn every iteration;
- batch normalisation with batch statistics everywhere (training=True);
- every ``CHECK_FREQ`` iterations: checkpoint number ``ite // CHECK_FREQ`` and the argmax
  of the first ``RECORD_VOX_NUM`` scenes generated from the fixed ``sample_z.npy``
  (batch ``CONST.BATCH_SIZE``) to ``train_vox/<N>.npy``, plus ``<N>_refine.npy`` after
  the switch.

Unlike the original, ``sample_z.npy`` is written with the first checkpoint, not when
the run starts, so a run that fails before it leaves none behind; and a
``sample_z.npy`` of another shape is an error naming it only when the folder holds
checkpoints (whose recorded scenes it belongs to), otherwise a stale file of a run
that never saved and it is drawn anew (:func:`saved_sample_z`).

The losses are per-example (``models/fcr_alphagan/losses.py``), averaged over the
GLOBAL batch with ``tf.nn.compute_average_loss``: the loop's sum over replicas is the
original batch mean, and gradients are taken of the same averages.
"""
import os

import keras
import numpy as np
import tensorflow as tf

from data_provider import cli
from models import checkpoints
from models.fcr_alphagan import build_networks, losses
from models.fcr_alphagan.config import model_config, run_config
from training.distribution import is_chief
from training.system import TrainSystem, present_gradients

TRAIN_VOX_DIR = "train_vox"
SAMPLE_Z_FILE = "sample_z.npy"


def learning_rate_v(rate, ite):
    """``LEARNING_RATE_V`` schedule: ``rate[0]`` if ``ite < rate[1]`` else ``rate[2]``."""
    return tf.where(tf.cast(ite, tf.float32) < float(rate[1]), float(rate[0]), float(rate[2]))


def sample_z_shape(cfg, global_batch_size):
    """``[B, *START_VOX, DIM_Z]``: the fixed codes of the recorded training scenes."""
    return (int(global_batch_size), *(int(n) for n in cfg.NET.START_VOX), int(cfg.NET.DIM_Z))


def saved_sample_z(model_dir, shape):
    """The codes of ``<model_dir>/sample_z.npy`` (its first ``shape[0]``), or ``None``.

    ``None`` when there is no file, or when the file is damaged or of another
    shape while ``model_dir`` holds no checkpoint (a run that failed before its
    first one left it; the caller draws new codes). With checkpoints such a
    file is a ``cli.UsageError`` naming it: the scenes recorded so far were
    generated from it.
    """
    path = os.path.join(model_dir, SAMPLE_Z_FILE)
    if not os.path.exists(path):
        return None
    required = checkpoints.latest(model_dir) is not None
    try:
        z = cli.load_npy(path, "the fixed codes file")
    except cli.UsageError:
        if required:
            raise
        return None
    expected = f"[N, {', '.join(map(str, shape[1:]))}]"
    if z.dtype.kind != "f" or z.ndim != len(shape) or z.shape[1:] != tuple(shape[1:]) \
            or z.shape[0] < 1:
        if required:
            raise cli.UsageError(f"{path}: expected float codes of shape {expected} for the "
                                 f"checkpoints beside it, got {z.dtype} {list(z.shape)}; move "
                                 "it away to draw new ones")
        return None
    return z[:shape[0]].astype(np.float32)


def _adam(learning_rate, beta_1):
    return keras.optimizers.Adam(learning_rate=float(learning_rate), beta_1=float(beta_1),
                                 beta_2=0.9, epsilon=1e-8)


class FCRAlphaGANSystem(TrainSystem):
    """The five networks, six optimizers and the original iteration.

    ``cfg`` is a ``default_config()`` with overrides applied (batch size, learning rates).
    ``model_dir`` receives ``sample_z.npy`` and ``train_vox/``; ``on_build(nets)`` is called
    once the networks exist (the CLI logs parameter counts there). ``resume_from``: a
    ``ckpt-N`` path to resume from instead of the latest (the original's ``--ini_epoch``);
    ``build`` makes it the latest in the checkpoint index, later ones leave the index.
    """

    name = "fcr_alphagan"

    def __init__(self, cfg, model_dir, global_batch_size=None, seed=None, dtype=None,
                 on_build=None, resume_from=None):
        self.cfg = cfg
        self.model_dir = model_dir
        self.global_batch_size = int(global_batch_size or cfg.CONST.BATCH_SIZE)
        self.seed = seed
        self.dtype = dtype
        self.legacy = bool(cfg.TRAIN.LEGACY_SWAPPED_GAN_LOSS)
        self.n_class = int(cfg.NET.DIM[4])
        self.on_build = on_build
        self.resume_from = resume_from

    # ----------------------------------------------------------------- set-up
    def build(self):
        cfg = self.cfg
        self.nets = build_networks(cfg, dtype=self.dtype)
        rate_v = cfg.LEARNING_RATE_V
        beta_g, beta_d = cfg.TRAIN.ADAM_BETA_G, cfg.TRAIN.ADAM_BETA_D
        self.optimizers = {
            "opt_encoder": _adam(rate_v[0], beta_d),
            "opt_generator": _adam(cfg.LEARNING_RATE_G, beta_g),
            "opt_discriminator": _adam(cfg.LEARNING_RATE_D, beta_d),
            "opt_code_discriminator": _adam(rate_v[0], beta_g),
            "opt_refiner": _adam(rate_v[0], beta_g),
            "opt_discriminator_refine": _adam(cfg.LEARNING_RATE_D, beta_d),
        }
        self._var_owner = {
            "opt_encoder": "encoder", "opt_generator": "generator",
            "opt_discriminator": "discriminator", "opt_code_discriminator": "code_discriminator",
            "opt_refiner": "refiner", "opt_discriminator_refine": "discriminator"}
        for name, opt in self.optimizers.items():
            opt.build(self.nets[self._var_owner[name]].trainable_variables)
        self.rng = (tf.random.Generator.from_seed(self.seed) if self.seed is not None
                    else tf.random.Generator.from_non_deterministic_state())
        self.sample_z = self._load_or_make_sample_z()
        self._point_index_at_resume()
        if self.on_build is not None:
            self.on_build(self.nets)

    def _load_or_make_sample_z(self):
        """The saved codes, or new ones (written with the first checkpoint)."""
        shape = sample_z_shape(self.cfg, self.global_batch_size)
        z = saved_sample_z(self.model_dir, shape)
        self._sample_z_saved = z is not None
        if z is None:
            z = np.random.default_rng(self.seed).normal(size=shape).astype(np.float32)
        return z

    def _point_index_at_resume(self):
        """``resume_from`` becomes the latest checkpoint (the chief rewrites the index while
        it holds the run folder; the loop restores the latest after ``build``)."""
        latest = checkpoints.latest(self.model_dir)
        if (self.resume_from is None or latest is None
                or os.path.basename(self.resume_from) == os.path.basename(latest)
                or not is_chief(tf.distribute.get_strategy())):
            return
        number = int(self.resume_from.rsplit("-", 1)[1])
        state = tf.train.get_checkpoint_state(self.model_dir)
        kept = [p for p in state.all_model_checkpoint_paths if int(p.rsplit("-", 1)[1]) <= number]
        tf.compat.v1.train.update_checkpoint_state(self.model_dir, self.resume_from, kept)

    def _save_sample_z(self):
        if not self._sample_z_saved:
            with cli.atomic_write(os.path.join(self.model_dir, SAMPLE_Z_FILE), "wb") as f:
                np.save(f, self.sample_z)
            self._sample_z_saved = True

    def checkpoint_items(self):
        return dict(self.nets, **self.optimizers, rng=self.rng)

    def model_config(self):
        return model_config(self.cfg)

    def run_config(self):
        return run_config(self.cfg)

    def phase(self, step):
        return "autoencoder_gan" if step + 1 < self.cfg.SWITCHING_ITE else "refiner"

    # ------------------------------------------------------------- one step
    def _apply(self, opt_name, tape, cost):
        variables = self.nets[self._var_owner[opt_name]].trainable_variables
        grads = tape.gradient(cost, variables)
        # the sigma head of the encoder feeds no loss (as in the original): no gradient
        self.optimizers[opt_name].apply_gradients(present_gradients(grads, variables))

    def _average(self, per_example):
        return tf.nn.compute_average_loss(per_example, global_batch_size=self.global_batch_size)

    def _recons(self, x, probs):
        return self._average(losses.reconstruction_loss(x, probs, self.cfg.LAMDA_GAMMA))

    def train_step(self, batch, step, phase):
        cfg, nets, avg = self.cfg, self.nets, self._average
        x = tf.one_hot(tf.cast(batch, tf.int32), self.n_class, dtype=tf.float32)
        local = tf.shape(x)[0]
        z = self.rng.normal([local, *cfg.NET.START_VOX, cfg.NET.DIM_Z])
        lr_v = learning_rate_v(cfg.LEARNING_RATE_V, step + 1)
        lam = float(cfg.LAMDA_RECONS)
        E, G, D = nets["encoder"], nets["generator"], nets["discriminator"]
        C, R = nets["code_discriminator"], nets["refiner"]
        out = {}
        if phase == "autoencoder_gan":
            self.optimizers["opt_encoder"].learning_rate = lr_v
            self.optimizers["opt_code_discriminator"].learning_rate = lr_v
            for _ in range(2):
                with tf.GradientTape() as tape:
                    z_enc, _ = E(x, training=True)
                    recons = self._recons(x, G(z_enc, training=True))
                    code_enc = avg(losses.code_encode_loss(C(z_enc, training=True), self.legacy))
                    c_enc = losses.cost_enc(code_enc, recons, lam)
                self._apply("opt_encoder", tape, c_enc)
                with tf.GradientTape() as tape:
                    z_enc, _ = E(x, training=True)
                    decoded = G(z_enc, training=True)
                    generated = G(z, training=True)
                    recons_g = self._recons(x, decoded)
                    gen = avg(losses.generator_loss(
                        [D(generated, training=True), D(decoded, training=True)], self.legacy))
                    c_gen = losses.cost_gen(recons_g, gen, lam)
                self._apply("opt_generator", tape, c_gen)
            z_enc, _ = E(x, training=True)
            decoded = G(z_enc, training=True)
            generated = G(z, training=True)
            with tf.GradientTape() as tape:
                discrim = avg(losses.discriminator_loss(
                    D(x, training=True),
                    [D(generated, training=True), D(decoded, training=True)], self.legacy))
                c_dis = losses.cost_discrim(discrim)
            self._apply("opt_discriminator", tape, c_dis)
            z_enc, _ = E(x, training=True)
            with tf.GradientTape() as tape:
                code_dis = avg(losses.code_discriminator_loss(
                    C(z, training=True), C(z_enc, training=True), self.legacy))
                c_code = losses.cost_code(code_dis)
            self._apply("opt_code_discriminator", tape, c_code)
            out = {"recons_loss": recons, "code_encode_loss": code_enc, "gen_loss": gen,
                   "discrim_loss": discrim, "code_discrim_loss": code_dis,
                   "cost_enc": c_enc, "cost_gen": c_gen, "cost_discrim": c_dis,
                   "cost_code": c_code}
        else:
            self.optimizers["opt_refiner"].learning_rate = lr_v
            z_enc, _ = E(x, training=True)
            decoded = G(z_enc, training=True)
            generated = G(z, training=True)
            recons = self._recons(x, decoded)
            with tf.GradientTape() as tape:
                refined_dec = R(decoded, training=True)
                refined_gen = R(generated, training=True)
                recons_ref = self._recons(x, refined_dec)
                gen_ref = avg(losses.generator_loss(
                    [D(refined_gen, training=True), D(refined_dec, training=True)], self.legacy))
                c_ref = losses.cost_gen_ref(recons_ref, gen_ref, lam)
            self._apply("opt_refiner", tape, c_ref)
            refined_dec = R(decoded, training=True)
            refined_gen = R(generated, training=True)
            with tf.GradientTape() as tape:
                discrim_ref = avg(losses.discriminator_loss(
                    D(x, training=True),
                    [D(refined_gen, training=True), D(refined_dec, training=True)], self.legacy))
                c_dis_ref = losses.cost_discrim_ref(discrim_ref)
            self._apply("opt_discriminator_refine", tape, c_dis_ref)
            out = {"recons_loss": recons, "recons_loss_refine": recons_ref,
                   "gen_loss_refine": gen_ref, "discrim_loss_refine": discrim_ref,
                   "cost_gen_ref": c_ref, "cost_discrim_ref": c_dis_ref}
        return ({k: tf.cast(v, tf.float32) for k, v in out.items()},
                {"learning_rate_v": lr_v})

    # ------------------------------------------------------------ recording
    def record_train_vox(self, step, number):
        """Save argmax of the first RECORD_VOX_NUM scenes from ``sample_z`` (and refined)."""
        cfg = self.cfg
        folder = os.path.join(self.model_dir, TRAIN_VOX_DIR)
        os.makedirs(folder, exist_ok=True)
        keep = int(cfg.RECORD_VOX_NUM)
        probs = self.nets["generator"](tf.constant(self.sample_z), training=True)
        paths = [os.path.join(folder, f"{number}.npy")]
        np.save(paths[0], np.argmax(probs.numpy(), axis=-1)[:keep].astype(np.int64))
        if step >= cfg.SWITCHING_ITE:
            refined = self.nets["refiner"](probs, training=True)
            paths.append(os.path.join(folder, f"{number}_refine.npy"))
            np.save(paths[1], np.argmax(refined.numpy(), axis=-1)[:keep].astype(np.int64))
        return paths

    def on_checkpoint(self, step, path):
        """Record the training scenes under the checkpoint's number (``ckpt-N``); the
        first checkpoint of a run also writes ``sample_z.npy`` when it was drawn anew."""
        self._save_sample_z()
        self.record_train_vox(step, int(path.rsplit("-", 1)[1]))
