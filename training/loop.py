"""One custom training loop for every system of the project.

Built like TensorFlow's "custom training with tf.distribute.Strategy"
tutorial:

* models and optimizers are created by ``system.build()`` under
  ``strategy.scope()``;
* the dataset is distributed with ``strategy.distribute_datasets_from_function``;
* one ``tf.function`` per training phase runs ``system.train_step`` with
  ``strategy.run``; the step returns scalars already divided by the GLOBAL batch
  size (``tf.nn.compute_average_loss``) and the loop SUM-reduces them;
* ``tf.train.CheckpointManager`` (prefix ``ckpt`` in ``model_dir``) saves the
  step counter, the epoch counter and ``system.checkpoint_items()`` every
  ``chkpt_steps`` and at the end; training resumes from the latest one.

An epoch is one pass over the finite dataset returned by
``train_dataset_fn`` (for GQN: one pass over the train shards present on
disk). A resumed run restarts the interrupted epoch from its beginning.

Multi-worker: with ``TF_CONFIG`` set, ``make_strategy`` returns a
``MultiWorkerMirroredStrategy``. Every worker runs the same steps and calls the
save (the save is collective); only the chief writes to ``model_dir``
(checkpoints, TensorBoard, ``config.json``, ``eval.json``), the other workers
write to a temporary directory that they delete right after.

Failure behaviour:

* a NaN or Inf in any returned scalar raises ``TrainingDivergedError`` before
  anything is saved, so the last good checkpoint stays the latest one;
* a ``model_dir`` holding a checkpoint made with another
  ``system.config_dict()`` raises ``ConfigMismatchError`` naming the keys;
* SIGINT / SIGTERM set a flag; the loop finishes the current step, saves a
  checkpoint and returns with ``status == "interrupted"``. The flag travels
  with the step's reduced scalars, so a signal to any one worker stops every
  worker at the same step (the save is collective).
"""
import abc
import json
import math
import os
import shutil
import signal
import tempfile
import threading
import time

import numpy as np
import tensorflow as tf

CONFIG_FILE = "config.json"
EVAL_FILE = "eval.json"
CHECKPOINT_PREFIX = "ckpt"


class TrainingDivergedError(RuntimeError):
    """A training or evaluation scalar became NaN or Inf."""


class ConfigMismatchError(ValueError):
    """``model_dir`` holds a checkpoint of an incompatible configuration."""


def present_gradients(grads, variables):
    """(gradient, variable) pairs without the variables the loss does not reach
    (gradient None), for ``optimizer.apply_gradients``; a variable without a
    gradient is left unchanged, as Adam leaves one with zero gradients."""
    return [(g, v) for g, v in zip(grads, variables) if g is not None]


def make_strategy(devices=None):
    """The distribution strategy for this process.

    ``TF_CONFIG`` set -> ``MultiWorkerMirroredStrategy``; ``devices`` given or
    more than one GPU visible -> ``MirroredStrategy(devices)``; otherwise the
    default strategy. Call it before any other TensorFlow work in the process
    (multi-worker set-up must happen first).
    """
    if os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    if devices is not None:
        return tf.distribute.MirroredStrategy(devices=list(devices))
    if len(tf.config.list_logical_devices("GPU")) > 1:
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def is_chief(strategy):
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None:
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type is None or task_type == "chief":
        return True
    if task_type == "worker":
        spec = resolver.cluster_spec().as_dict()
        return "chief" not in spec and (task_id or 0) == 0
    return False


def checkpoint_objects(items):
    """What to give ``tf.train.Checkpoint`` for ``items`` (name -> trackable).

    Keras 3 layers kept in Python lists (the DRAW cores, the FCR-alphaGAN
    convolution stacks) are not part of ``tf.train.Checkpoint``'s object graph,
    so a checkpoint of the model object itself holds only some of its weights.
    Every Keras layer or model is therefore saved as a dict of all its weights,
    keyed by their position in ``layer.weights`` and their short name
    (``0003_kernel``): the order is fixed by the model's code, while Keras'
    layer names get numbered suffixes when a process builds a model twice.
    Optimizers and plain variables are saved as they are. Writers and readers
    of checkpoints both go through this function, so a model can be restored
    without its optimizer.
    """
    import keras

    objects = {}
    for name, item in items.items():
        if isinstance(item, keras.layers.Layer):
            objects[name] = {f"{i:04d}_{v.name}": v for i, v in enumerate(item.weights)}
        else:
            objects[name] = item
    return objects

class TrainSystem(abc.ABC):
    """Base class of a trainable system; one subclass per system.

    ``build`` must create every variable (call the models once on dummy input
    and ``optimizer.build(model.trainable_variables)``) so that a checkpoint
    restores models and optimizer state completely.
    """

    @abc.abstractmethod
    def build(self):
        """Create models, optimizers and variables (called inside ``strategy.scope()``)."""

    @abc.abstractmethod
    def checkpoint_items(self):
        """Trackables saved in the checkpoint, e.g. ``{"model": m, "optimizer": o}``."""

    def config_dict(self):
        """JSON-able configuration written to ``config.json`` and compared on resume."""
        return {}

    def phase(self, step):
        """Name of the step function to run at ``step`` (one ``tf.function`` per phase)."""
        return "train"

    @abc.abstractmethod
    def train_step(self, phase, batch, step):
        """Per-replica step; returns scalars divided by the global batch size."""

    def eval_step(self, batch):
        """Per-replica evaluation step; same convention as ``train_step``."""
        raise TypeError(f"{type(self).__name__} defines no eval_step; train it without an "
                        "eval_dataset_fn")

    def host_scalars(self, step):
        """Python floats logged beside the step scalars (learning rate, sigma)."""
        return {}

    def checkpoint_number(self, step):
        """The number ``N`` of the checkpoint file ``ckpt-N`` saved at ``step``."""
        return step

    def after_checkpoint(self, step, number):
        """Hook run on the chief after each save."""

    def image_summaries(self, batch, step):
        """Optional image summaries of one local batch (called with ``debug``)."""


class _StopFlag:
    """SIGINT / SIGTERM handler that only records the request."""

    def __init__(self):
        self.requested = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.requested = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _metadata(plugin):
    meta = tf.compat.v1.SummaryMetadata()
    meta.plugin_data.plugin_name = plugin
    return meta


def write_scalar(name, value, step):
    """Write a TensorBoard scalar to the default writer.

    Uses the core ``tf.summary.write`` op with the ``scalars`` plugin tag, so
    event files are written without the ``tensorboard`` package installed.
    """
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step,
                     metadata=_metadata("scalars"))


def write_images(name, images, step, max_outputs=1):
    """Write up to ``max_outputs`` images ``[B, H, W, 3]`` (floats in [0, 1] or uint8)."""
    images = tf.convert_to_tensor(images)[:max_outputs]
    if images.dtype != tf.uint8:
        images = tf.image.convert_image_dtype(
            tf.clip_by_value(tf.cast(images, tf.float32), 0.0, 1.0), tf.uint8, saturate=True)
    height, width = images.shape[1], images.shape[2]
    encoded = tf.map_fn(tf.image.encode_png, images, fn_output_signature=tf.string)
    tensor = tf.concat([tf.constant([str(width), str(height)]), encoded], axis=0)
    tf.summary.write(name, tensor, step=step, metadata=_metadata("images"))


def _check_finite(values, where):
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise TrainingDivergedError(
            f"non-finite value in {where}: "
            + ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            + "; stopped without saving, the last good checkpoint is kept")


def _batch_size(batch):
    return tf.shape(tf.nest.flatten(batch)[0], out_type=tf.int64)[0]


def _read_json(path):
    with open(path) as f:
        return json.load(f)


def check_config(model_dir, config):
    """Raise ``ConfigMismatchError`` if ``model_dir`` holds a checkpoint of another config."""
    path = os.path.join(model_dir, CONFIG_FILE)
    if tf.train.latest_checkpoint(model_dir) is None or not os.path.exists(path):
        return
    saved = _read_json(path)
    config = json.loads(json.dumps(config))
    keys = sorted(set(saved) | set(config))
    diffs = [f"{k}: checkpoint has {saved.get(k, '<absent>')!r}, requested {config.get(k, '<absent>')!r}"
             for k in keys if saved.get(k, "<absent>") != config.get(k, "<absent>")]
    if diffs:
        raise ConfigMismatchError(
            f"{model_dir} holds a checkpoint of an incompatible configuration ("
            + "; ".join(diffs) + "); use another --model_dir or the same configuration")


class _Runner:
    """The compiled, distributed step functions of one system."""

    def __init__(self, system, strategy):
        self.system, self.strategy = system, strategy
        self._train_fns = {}
        self._eval_fn = None

    def _reduce(self, values):
        return {k: self.strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None)
                for k, v in values.items()}

    def train(self, phase, batch, step, stop):
        """One distributed step; ``stop`` (this worker's stop request, 0 or 1) is
        summed over all replicas so that every worker sees any worker's request."""
        if phase not in self._train_fns:
            def replica_fn(b, s, stop_request):
                out = dict(self.system.train_step(phase, b, s))
                out["_examples"] = _batch_size(b)
                out["_stop"] = tf.identity(stop_request)
                return out

            @tf.function
            def step_fn(b, s, stop_request):
                return self._reduce(self.strategy.run(replica_fn, args=(b, s, stop_request)))

            self._train_fns[phase] = step_fn
        return self._train_fns[phase](batch, step, stop)

    def evaluate(self, batch):
        if self._eval_fn is None:
            def replica_fn(b):
                out = dict(self.system.eval_step(b))
                out["_examples"] = _batch_size(b)
                return out

            @tf.function
            def eval_fn(b):
                return self._reduce(self.strategy.run(replica_fn, args=(b,)))

            self._eval_fn = eval_fn
        return self._eval_fn(batch)


def evaluate(system, eval_dataset_fn, global_batch_size, strategy=None, runner=None):
    """Example-weighted means of ``system.eval_step`` over one pass of the eval set.

    Each step value is ``sum_examples(x) / global_batch_size``, so the mean is
    ``sum_batches(value) * global_batch_size / number_of_examples``.
    """
    strategy = strategy or tf.distribute.get_strategy()
    runner = runner or _Runner(system, strategy)
    dataset = strategy.distribute_datasets_from_function(eval_dataset_fn)
    totals, examples = {}, 0
    for batch in dataset:
        out = {k: float(v) for k, v in runner.evaluate(batch).items()}
        examples += int(out.pop("_examples"))
        for k, v in out.items():
            totals[k] = totals.get(k, 0.0) + v
    if examples == 0:
        raise ValueError("the evaluation dataset is empty")
    result = {k: v * global_batch_size / examples for k, v in totals.items()}
    _check_finite(result, "evaluation")
    result["examples"] = examples
    return result


def _eta(seconds):
    if seconds is None or not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def train(system, train_dataset_fn, *, model_dir, global_batch_size,
          max_steps=None, epochs=None, chkpt_steps=1000, log_steps=100,
          max_to_keep=5, eval_dataset_fn=None, initial_eval=False,
          strategy=None, debug=False, log=print):
    """Train ``system`` until ``max_steps`` or ``epochs`` (whichever comes first).

    With neither given, one epoch. ``train_dataset_fn(input_context)`` returns a
    finite dataset of per-replica batches for one epoch. Returns a dict with
    ``step``, ``epoch``, ``scalars`` (last logged), ``eval`` (last evaluation or
    None), ``status`` (``"completed"`` or ``"interrupted"``) and ``checkpoint``.
    """
    strategy = strategy or make_strategy()
    chief = is_chief(strategy)
    if epochs is None and max_steps is None:
        epochs = 1
    os.makedirs(model_dir, exist_ok=True)
    config = system.config_dict()
    check_config(model_dir, config)

    with strategy.scope():
        system.build()
        step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        checkpoint = tf.train.Checkpoint(step=step_var, epoch=epoch_var,
                                         **checkpoint_objects(system.checkpoint_items()))
    write_dir = model_dir if chief else tempfile.mkdtemp(prefix="worker_ckpt_")
    manager = tf.train.CheckpointManager(
        checkpoint, write_dir, max_to_keep=max_to_keep, checkpoint_name=CHECKPOINT_PREFIX)
    latest = tf.train.latest_checkpoint(model_dir)
    if latest:
        checkpoint.restore(latest).expect_partial()
        log(f"resumed from {latest} at step {int(step_var.numpy())}")
    if chief:
        with open(os.path.join(model_dir, CONFIG_FILE), "w") as f:
            json.dump(config, f, indent=2, sort_keys=True)

    if chief:
        train_writer = tf.summary.create_file_writer(os.path.join(model_dir, "train"))
        eval_writer = tf.summary.create_file_writer(os.path.join(model_dir, "eval"))
    else:
        train_writer = eval_writer = tf.summary.create_noop_writer()
    runner = _Runner(system, strategy)
    step = int(step_var.numpy())
    last_saved = step if latest else None
    eval_result, scalars, status = None, {}, "completed"
    saved_path = latest

    def save():
        nonlocal last_saved, saved_path
        if last_saved == step:
            return
        number = system.checkpoint_number(step)
        os.makedirs(write_dir, exist_ok=True)
        path = manager.save(checkpoint_number=number)
        last_saved = step
        if chief:
            saved_path = path
            system.after_checkpoint(step, number)
        else:
            shutil.rmtree(write_dir, ignore_errors=True)

    def run_eval():
        nonlocal eval_result
        eval_result = evaluate(system, eval_dataset_fn, global_batch_size, strategy, runner)
        with eval_writer.as_default(step=step):
            for k, v in eval_result.items():
                write_scalar(k, v, step)
        eval_writer.flush()
        log("eval step %d: %s" % (step, ", ".join(
            f"{k} {v:.6g}" for k, v in eval_result.items())))
        if chief:
            path = os.path.join(model_dir, EVAL_FILE)
            history = _read_json(path) if os.path.exists(path) else []
            history.append(dict(eval_result, step=step, epoch=int(epoch_var.numpy())))
            with open(path, "w") as f:
                json.dump(history, f, indent=2)

    def done():
        return ((max_steps is not None and step >= max_steps)
                or (epochs is not None and int(epoch_var.numpy()) >= epochs))

    if initial_eval and eval_dataset_fn is not None and not done():
        run_eval()

    steps_per_epoch = None
    window_start, window_examples = time.time(), 0
    with _StopFlag() as stop:
        while not done() and stop.requested is None:
            dataset = strategy.distribute_datasets_from_function(train_dataset_fn)
            epoch_steps = 0
            for batch in dataset:
                phase = system.phase(step)
                out = runner.train(phase, batch, tf.constant(step, tf.int64),
                                   tf.constant(0 if stop.requested is None else 1, tf.int64))
                values = {k: float(v) for k, v in out.items()}
                window_examples += int(values.pop("_examples"))
                if values.pop("_stop") > 0 and stop.requested is None:
                    stop.requested = "a stop request of another worker"

                _check_finite(values, f"training step {step + 1}")
                step += 1
                epoch_steps += 1
                step_var.assign(step)
                if step % log_steps == 0 or step == max_steps:
                    elapsed = max(time.time() - window_start, 1e-9)
                    rate = window_examples / elapsed
                    steps_rate = log_steps / elapsed if step % log_steps == 0 else None
                    scalars = dict(values, **system.host_scalars(step))
                    scalars["examples_per_sec"] = rate
                    left = []
                    if max_steps is not None:
                        left.append(max_steps - step)
                    if epochs is not None and steps_per_epoch:
                        left.append((epochs - int(epoch_var.numpy())) * steps_per_epoch
                                    - epoch_steps)
                    remaining = min(left) if left else None
                    eta = remaining / steps_rate if remaining is not None and steps_rate else None
                    with train_writer.as_default(step=step):
                        for k, v in scalars.items():
                            write_scalar(k, v, step)
                        if debug:
                            system.image_summaries(
                                strategy.experimental_local_results(batch)[0], step)
                    train_writer.flush()
                    log(f"step {step}: " + ", ".join(f"{k} {v:.6g}" for k, v in scalars.items())
                        + f", ETA {_eta(eta)}")
                    window_start, window_examples = time.time(), 0
                if step % chkpt_steps == 0:
                    save()
                if stop.requested is not None or (max_steps is not None and step >= max_steps):
                    break
            else:
                if epoch_steps == 0:
                    raise ValueError("the training dataset is empty")
                epoch_var.assign_add(1)
                steps_per_epoch = epoch_steps
                log(f"epoch {int(epoch_var.numpy())} done at step {step}")
                if eval_dataset_fn is not None:
                    run_eval()
        if stop.requested is not None:
            status = "interrupted"
            log(f"received {stop.requested}: saving a checkpoint at step {step} and stopping")
        save()
    train_writer.flush()
    eval_writer.flush()
    if not chief:
        shutil.rmtree(write_dir, ignore_errors=True)
    return {"step": step, "epoch": int(epoch_var.numpy()), "scalars": scalars,
            "eval": eval_result, "status": status, "checkpoint": saved_path}
