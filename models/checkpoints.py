"""The run directory's checkpoint format, and reading it back.

A run directory (``--model_dir`` and friends) holds ``ckpt-N``
(``tf.train.CheckpointManager``, prefix ``ckpt``) and ``config.json``::

    {"written_by": "gen3d-scenes", "system": "gqn", "model": {...}, "run": {...}}

``model`` is what defines the model and its loss (``TrainSystem.model_config``),
``run`` the run settings of the last run (paths, epochs, intervals). A
``config.json`` without the ``written_by`` mark is someone else's file: it is
never overwritten, and neither is a directory holding checkpoints without a
config of ours. Writing is the training loop's (``training/checkpointing.py``);
reading is here, below both training and evaluation, so that
``models/restore.py`` can rebuild any system's model for the evaluation and
picture tools.

Keras 3 layers kept in Python lists are not part of ``tf.train.Checkpoint``'s
object graph, so a checkpoint of a model object would miss some weights:
``checkpoint_objects`` saves every Keras layer as a dict of all its weights
keyed by position and short name (``0003_kernel``; the order is fixed by the
model's code, while Keras' layer names get numbered suffixes). Writers and
readers both go through it, so ``restore`` can read a model without its
optimizer.
"""
import json
import os

from data_provider import cli

CONFIG_FILE = "config.json"
CHECKPOINT_PREFIX = "ckpt"
MARK = "gen3d-scenes"


class ForeignFileError(cli.UsageError):
    """A file or directory the tool did not create would be overwritten."""


class CheckpointError(cli.UsageError):
    """No checkpoint where one was expected, or one of another model."""


def checkpoint_objects(items):
    """What to give ``tf.train.Checkpoint`` for ``items`` (name -> trackable)."""
    import keras

    objects = {}
    for name, item in items.items():
        if isinstance(item, keras.layers.Layer):
            objects[name] = {f"{i:04d}_{v.name}": v for i, v in enumerate(item.weights)}
        else:
            objects[name] = item
    return objects


def latest(model_dir):
    """Path of the latest checkpoint in ``model_dir`` or None."""
    import tensorflow as tf

    return tf.train.latest_checkpoint(model_dir) if os.path.isdir(model_dir) else None


def read_config(model_dir):
    """The parsed ``config.json`` of ``model_dir`` if it is ours, else None (absent)."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            data = json.load(f)
    except (OSError, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("written_by") != MARK:
        raise ForeignFileError(f"{path} was not written by this project's training tools; "
                               "it is left untouched: choose another directory")
    return data


def load_saved_config(model_dir, system_name, flag="--model_dir"):
    """(model, run) parts of the config of a trained ``system_name`` model in ``model_dir``."""
    if not os.path.isdir(model_dir):
        raise CheckpointError(f"{flag} {model_dir} does not exist")
    saved = read_config(model_dir)
    if saved is None:
        raise CheckpointError(f"{flag} {model_dir} holds no {CONFIG_FILE}; expected the "
                              "output folder of a training run")
    if saved.get("system") != system_name:
        raise CheckpointError(f"{flag} {model_dir} holds a {saved.get('system')!r} model, "
                              f"not {system_name!r}")
    return saved.get("model", {}), saved.get("run", {})


def resolve(path, flag="--model_dir"):
    """A checkpoint path from a model directory (its latest) or a ``ckpt-N`` prefix."""
    if os.path.isdir(path):
        found = latest(path)
        if found is None:
            raise CheckpointError(f"{flag} {path}: no checkpoint (ckpt-N.index) in it")
        return found
    if os.path.exists(path + ".index"):
        return path
    raise CheckpointError(f"{flag} {path}: no such checkpoint directory or ckpt-N prefix")


def restore(path, items, flag="--model_dir"):
    """Restore ``items`` (e.g. ``{"model": model}``, no optimizer needed) from a
    checkpoint directory (its latest checkpoint) or a ``ckpt-N`` prefix.

    Returns (step, checkpoint path). Raises ``CheckpointError`` when there is
    no checkpoint or it does not hold these items with these shapes.
    """
    import tensorflow as tf

    ckpt = resolve(path, flag)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    checkpoint = tf.train.Checkpoint(step=step, **checkpoint_objects(items))
    try:
        status = checkpoint.read(ckpt)
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as e:
        tf.get_logger().setLevel("ERROR")  # no warnings about the abandoned restore at exit
        raise CheckpointError(f"{ckpt} does not hold a model of this configuration "
                              f"({cli.one_line(e)[:200]})") from None
    status.expect_partial()
    return int(step.numpy()), ckpt
