"""TensorBoard summaries of a training run: ``<model_dir>/train`` and ``<model_dir>/eval``.

Only the chief writes; other workers get no-op writers. Images are floats in
[0, 1] (clipped) or uint8, ``[B, H, W, C]``.
"""
import os

import tensorflow as tf


class Summaries:
    """The train and eval writers of one run."""

    def __init__(self, model_dir, chief=True):
        if chief:
            self.train = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
            self.eval = tf.summary.create_file_writer(os.path.join(model_dir, "eval"))
        else:
            self.train = self.eval = tf.summary.create_noop_writer()

    def flush(self):
        self.train.flush()
        self.eval.flush()


def scalars(values, step, prefix=""):
    """``tf.summary.scalar`` of every ``name: value`` to the default writer."""
    for name, value in values.items():
        tf.summary.scalar(prefix + name, float(value), step=step)


def images(name, batch, step, max_outputs=3):
    """``tf.summary.image`` of up to ``max_outputs`` images of ``batch``."""
    batch = tf.convert_to_tensor(batch)
    if batch.dtype != tf.uint8:
        batch = tf.clip_by_value(tf.cast(batch, tf.float32), 0.0, 1.0)
    tf.summary.image(name, batch, step=step, max_outputs=max_outputs)
