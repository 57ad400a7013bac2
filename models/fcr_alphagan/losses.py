"""FCR-alphaGAN losses as pure functions of tensors (formulas of the original ``build_model``).

Notation: ``y`` one-hot real scene [B, X, Y, Z, C], ``p`` predicted class probabilities
of the same shape, ``h`` discriminator logits [B, 1], ``CE(h, t)`` the sigmoid cross
entropy of logit ``h`` against target ``t``:
``CE(h, t) = max(h, 0) - h t + log(1 + exp(-|h|))``.

The original calls ``sigmoid_cross_entropy_with_logits(labels=h, logits=t)``: labels and
logits swapped, so it computes ``CE_legacy(h, t) = max(t, 0) - t h + log(1 + exp(-|t|))``,
i.e. ``1 - h + log(1 + e^-1)`` for target 1 and the constant ``log 2`` for target 0
(no gradient). ``legacy_swapped_gan_loss=False`` (default) is the correct loss;
``True`` reproduces the original exactly.

Every loss returns per-example values [B]: the original's loss is their batch
mean (its ``reduce_mean`` over the batch of per-scene sums), which the
training step takes over the global batch with ``tf.nn.compute_average_loss``.
The class weights are computed from the (per-replica) batch, as the original
computes them from its batch.
"""
import math

import tensorflow as tf


def class_weights(vox_real):
    """Class weights from the batch occupancy of the real scenes.

    ``m_c = mean_{b,x,y,z} y[b,x,y,z,c]``, ``inverse_c = 1 / (m_c + 1)``,
    ``weight_c = inverse_c / sum_c inverse_c``. Returns [C].
    """
    mean = tf.reduce_mean(vox_real, axis=[0, 1, 2, 3])
    inverse = 1.0 / (mean + 1.0)
    return inverse / tf.reduce_sum(inverse)


def reconstruction_loss(vox_real, vox_pred, gamma=0.97, weight=None):
    """Weighted voxel reconstruction loss (a class-weighted, gamma-balanced cross entropy).

    ``r[b, c] = -sum_{x,y,z} (g y log(1e-6 + p) + (1 - g)(1 - y) log(1e-6 + 1 - p))``,
    ``loss_b = sum_c weight_c r[b, c]`` with ``g = gamma`` (``LAMDA_GAMMA`` 0.97) and
    ``weight = class_weights(vox_real)`` unless given. Returns [B].
    """
    vox_real = tf.cast(vox_real, tf.float32)
    vox_pred = tf.cast(vox_pred, tf.float32)
    if weight is None:
        weight = class_weights(vox_real)
    per_class = -tf.reduce_sum(
        gamma * vox_real * tf.math.log(1e-6 + vox_pred)
        + (1.0 - gamma) * (1.0 - vox_real) * tf.math.log(1e-6 + 1.0 - vox_pred),
        axis=[1, 2, 3])
    return tf.reduce_sum(per_class * weight, axis=1)


def sigmoid_cross_entropy(logits, target, legacy_swapped_gan_loss=False):
    """Element-wise ``CE(h, t)`` for a constant target ``t`` in {0, 1}.

    Correct: ``max(h, 0) - h t + log(1 + exp(-|h|))``. Legacy (the original's swapped
    arguments): ``max(t, 0) - t h + log(1 + exp(-|t|))``.
    """
    logits = tf.cast(logits, tf.float32)
    t = tf.fill(tf.shape(logits), float(target))
    if legacy_swapped_gan_loss:
        return tf.maximum(t, 0.0) - t * logits + math.log1p(math.exp(-abs(float(target))))
    return tf.nn.sigmoid_cross_entropy_with_logits(labels=t, logits=logits)


def _ce(h, target, legacy):
    """Per-example CE of logits [B, ...]: the mean over all but the batch axis. [B]"""
    ce = sigmoid_cross_entropy(h, target, legacy)
    return tf.reduce_mean(tf.reshape(ce, [tf.shape(ce)[0], -1]), axis=1)


def discriminator_loss(h_real, h_fakes, legacy_swapped_gan_loss=False):
    """``CE(h_real, 1) + sum_f CE(h_f, 0)`` over the fake logits ``h_fakes``, per example.

    The original's ``discrim_loss`` uses fakes (h_gen, h_gen_dec) and
    ``discrim_loss_refine`` uses (h_gen_ref, h_gen_dec_ref).
    """
    loss = _ce(h_real, 1.0, legacy_swapped_gan_loss)
    for h in h_fakes:
        loss += _ce(h, 0.0, legacy_swapped_gan_loss)
    return loss


def generator_loss(h_fakes, legacy_swapped_gan_loss=False):
    """``sum_f CE(h_f, 1)`` per example (``gen_loss`` and ``gen_loss_refine`` of the original)."""
    return tf.add_n([_ce(h, 1.0, legacy_swapped_gan_loss) for h in h_fakes])


def code_encode_loss(h_code_encode, legacy_swapped_gan_loss=False):
    """``sum_k CE(h_code_encode, 1)`` per example: the encoder wants its codes judged "prior"."""
    ce = sigmoid_cross_entropy(h_code_encode, 1.0, legacy_swapped_gan_loss)
    return tf.reduce_sum(ce, axis=1)


def code_discriminator_loss(h_code_real, h_code_encode, legacy_swapped_gan_loss=False):
    """``sum_k CE(h_code_real, 1) + sum_k CE(h_code_encode, 0)`` per example."""
    real = sigmoid_cross_entropy(h_code_real, 1.0, legacy_swapped_gan_loss)
    enc = sigmoid_cross_entropy(h_code_encode, 0.0, legacy_swapped_gan_loss)
    return tf.reduce_sum(real, axis=1) + tf.reduce_sum(enc, axis=1)


def cost_enc(code_encode, recons, lamda_recons=1.0):
    """Encoder cost: ``code_encode_loss + LAMDA_RECONS * recons_loss``."""
    return code_encode + lamda_recons * recons


def cost_gen(recons, gen, lamda_recons=1.0):
    """Generator cost: ``LAMDA_RECONS * recons_loss + gen_loss``."""
    return lamda_recons * recons + gen


def cost_discrim(discrim):
    """Discriminator cost before the switch: ``discrim_loss``."""
    return discrim


def cost_code(code_discrim):
    """Code-discriminator cost: ``code_discrim_loss``."""
    return code_discrim


def cost_gen_ref(recons_refine, gen_refine, lamda_recons=1.0):
    """Refiner cost: ``LAMDA_RECONS * recons_loss_refine + gen_loss_refine``."""
    return lamda_recons * recons_refine + gen_refine


def cost_discrim_ref(discrim_refine):
    """Discriminator cost after the switch: ``discrim_loss_refine``."""
    return discrim_refine
