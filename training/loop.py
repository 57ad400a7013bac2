"""One training loop for every system of the project.

Built like TensorFlow's "custom training with tf.distribute.Strategy"
tutorial: the system builds its models and optimizers under
``strategy.scope()``, the dataset is distributed with
``strategy.distribute_datasets_from_function``, each step runs the system's
``train_step`` on every replica (``training/distribution.py``), and
``tf.train.CheckpointManager`` saves the step, the epoch and the system's
``checkpoint_items()`` every ``chkpt_steps`` steps and at the end
(``training/checkpointing.py``). The contract with the system is
``training/system.py``.

An epoch is one pass over the finite dataset of ``train_dataset_fn``; a
resumed run restarts the interrupted epoch from its beginning. Training stops
at the first of ``max_steps``, ``epochs`` and ``max_seconds`` (a time budget
for the training steps; the loop stops before a step that would overrun it)
with status ``completed``, or on SIGINT / SIGTERM with status
``interrupted``, after saving a checkpoint. ``stopped_by`` names the reason.

Multi-worker (``TF_CONFIG`` set): every worker runs the same steps and saves
(the save is collective); only the chief writes to ``model_dir``, the other
workers write to a temporary directory that they delete. Stop requests and
the time budget travel with each step's reduced values, so all workers stop
at the same step.

The chief holds ``model_dir`` (``data_provider/folder_lock.py``) while it
trains: a second run into the same folder is refused naming the first. A run
that fails before its first checkpoint leaves the folder as it found it
(``training/run_folder.py``); a resumed run drops the ``eval.json`` entries
of steps after the checkpoint it resumed from.

A NaN or Inf in any scalar raises ``TrainingDivergedError`` before anything
is saved. The value comes from the weights before the step's update, so the
newest checkpoints may already hold weights that blow up: the loop probes
them newest first with one step on the last batch, keeps the newest whose
loss is finite, sets the later ones aside in ``diverged-step<N>/`` and names
the kept step, so a rerun resumes from a good checkpoint.
"""
import json
import math
import os
import shutil
import signal
import tempfile
import threading
import time

import tensorflow as tf

from data_provider import cli, folder_lock
from data_provider.progress import progress_line
from models import checkpoints
from training import checkpointing, run_folder, summaries
from training.distribution import STOP_BUDGET, STOP_SIGNAL, StepRunner, is_chief, make_strategy

EVAL_FILE = "eval.json"


class TrainingDivergedError(cli.CommandFailed):
    """A training or evaluation scalar became NaN or Inf."""


class EmptyDatasetError(cli.UsageError):
    """An epoch of the training dataset has no full batch."""


class _StopRequest:
    """SIGINT / SIGTERM handler that only records the request."""

    def __init__(self):
        self.signal = None
        self._previous = {}

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum, frame):
        self.signal = signal.Signals(signum).name

    def __exit__(self, *exc):
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        return False


def _check_finite(values, where):
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise TrainingDivergedError(
            f"training diverged: non-finite value in {where}: "
            + ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
            + "; stopped without saving")


def _floats(tensors):
    return {k: float(v) for k, v in tensors.items()}


def _format(values):
    return ", ".join(f"{k} {v:.5g}" for k, v in values.items())


def evaluate(system, eval_data, global_batch_size, runner):
    """Example-weighted means of ``system.eval_step`` over one pass of ``eval_data`` (a
    distributed eval set, kept by the run from one evaluation to the next).

    Each step value is ``sum_examples(x) / global_batch_size``, so the mean is
    ``sum_batches(value) * global_batch_size / number_of_examples``.
    """
    totals, examples = {}, 0
    for batch in eval_data:
        losses, count = runner.evaluate(batch)
        examples += int(count)
        for k, v in _floats(losses).items():
            totals[k] = totals.get(k, 0.0) + v
    if examples == 0:
        raise cli.UsageError("the evaluation dataset is empty")
    result = {k: v * global_batch_size / examples for k, v in totals.items()}
    _check_finite(result, "evaluation")
    result["examples"] = examples
    return result


class _Limits:
    """When training stops: ``max_steps``, ``epochs``, a time budget ``max_seconds``."""

    def __init__(self, max_steps, epochs, max_seconds):
        if epochs is None and max_steps is None and max_seconds is None:
            epochs = 1
        self.max_steps, self.epochs, self.max_seconds = max_steps, epochs, max_seconds
        self.steps_per_epoch = self.last_epoch_end = None
        self.epochs_run = 0
        self.start = self.step_start = time.monotonic()
        self.steps_run, self.last_step_seconds = 0, 0.0

    def reached(self, step, epoch):
        if self.max_steps is not None and step >= self.max_steps:
            return "max_steps"
        if self.epochs is not None and epoch >= self.epochs:
            return "epochs"
        return None

    def over_budget(self):
        """True if one more step (as long as the last one) would overrun the budget."""
        self.step_start = time.monotonic()
        return (self.max_seconds is not None
                and self.step_start - self.start + self.last_step_seconds > self.max_seconds)

    def step_done(self):
        # the first step of a run traces the step function: not a step time
        if self.steps_run:
            self.last_step_seconds = time.monotonic() - self.step_start
        self.steps_run += 1

    def epoch_done(self, step, epoch_steps):
        """The first epoch of a resumed run may have been a part one: not a measure."""
        self.epochs_run += 1
        if self.epochs_run > 1 or step == epoch_steps:
            self.steps_per_epoch = epoch_steps
        self.last_epoch_end = step

    def total_steps(self, epoch):
        if self.max_steps is not None:
            return self.max_steps
        if self.epochs is not None and self.steps_per_epoch:
            return self.last_epoch_end + (self.epochs - epoch) * self.steps_per_epoch
        return None

    def seconds_left(self, step, epoch, rate):
        """The nearer of the step limit's and the budget's end, or None."""
        total, left = self.total_steps(epoch), []
        if total is not None:
            left.append((total - step) / rate)
        if self.max_seconds is not None:
            left.append(self.max_seconds - (time.monotonic() - self.start))
        return min(left) if left else None


class _Window:
    """Steps and examples since the last progress line."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.start, self.steps, self.examples = time.monotonic(), 0, 0

    def add(self, examples):
        self.steps += 1
        self.examples += examples

    def rates(self):
        seconds = max(time.monotonic() - self.start, 1e-9)
        return self.steps / seconds, self.examples / seconds


class _Run:
    """The state of one call of ``train``: model dir, checkpoints, summaries."""

    def __init__(self, system, model_dir, strategy, chkpt_steps, max_to_keep, numbering, log):
        self.system, self.strategy, self.log = system, strategy, log
        self.model_dir, self.chief = model_dir, is_chief(strategy)
        self.chkpt_steps, self.numbering = chkpt_steps, numbering
        with strategy.scope():
            system.build()
            self.step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.epoch_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
            self.checkpoint = tf.train.Checkpoint(
                step=self.step_var, epoch=self.epoch_var,
                **checkpoints.checkpoint_objects(system.checkpoint_items()))
        self.write_dir = model_dir if self.chief else tempfile.mkdtemp(prefix="worker_ckpt_")
        self.manager = tf.train.CheckpointManager(
            self.checkpoint, self.write_dir, max_to_keep=max_to_keep,
            checkpoint_name=checkpoints.CHECKPOINT_PREFIX)
        self.saved_path = checkpoints.latest(model_dir)
        if self.saved_path:
            self.checkpoint.restore(self.saved_path).expect_partial()
            log(f"resumed from {self.saved_path} at step {self.step}")
        self.last_saved = (self.step, self.epoch) if self.saved_path else None
        self.saves = 0  # checkpoints written by this run
        if self.saved_path and self.chief:
            dropped = run_folder.trim_history(model_dir, self.step)
            if dropped:
                log(f"dropped {dropped} evaluation entries after step {self.step} from "
                    f"{run_folder.EVAL_FILE} (left by a run that stopped after that checkpoint)")
        self.summaries = summaries.Summaries(model_dir, self.chief)
        self.runner = StepRunner(system, strategy)
        self.eval_data = {}  # name -> the distributed eval set

    @property
    def step(self):
        return int(self.step_var.numpy())

    @property
    def epoch(self):
        return int(self.epoch_var.numpy())

    def train_step(self, phase, batch, signal, over_budget):
        """One distributed step; (losses, values, examples, reduced stop flags)."""
        step = self.step
        flags = tf.constant([int(signal), int(over_budget)], tf.int64)
        out = self.runner.train(phase, batch, tf.constant(step, tf.int64), flags)
        losses, values = _floats(out[0]), _floats(out[1])
        _check_finite(dict(losses, **values), f"training step {step + 1}")
        self.step_var.assign(step + 1)
        return losses, values, int(out[2]), out[3].numpy()

    def log_progress(self, batch, losses, values, window, limits):
        """Summaries, the ``on_log`` hook and a progress line; resets the window."""
        step, epoch = self.step, self.epoch
        rate, examples_rate = window.rates()
        scalars = dict(losses, **values, examples_per_sec=examples_rate)
        with self.summaries.train.as_default(step=step):
            summaries.scalars(scalars, step)
            self.system.on_log(self.strategy.experimental_local_results(batch)[0], step)
        self.summaries.train.flush()
        self.log(progress_line("train", step, limits.total_steps(epoch), "steps", rate,
                               limits.seconds_left(step, epoch, rate), _format(scalars)))
        window.reset()

    def finish(self):
        self.summaries.flush()
        if not self.chief:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def save(self):
        """Save unless the latest checkpoint holds this step and epoch already."""
        step = self.step
        if self.last_saved == (step, self.epoch):
            return
        number = step if self.numbering == "step" else step // self.chkpt_steps
        os.makedirs(self.write_dir, exist_ok=True)
        path = self.manager.save(checkpoint_number=number)
        self.last_saved = (step, self.epoch)
        self.saves += 1
        if self.chief:
            self.saved_path = path
            self.system.on_checkpoint(step, path)
        else:
            shutil.rmtree(self.write_dir, ignore_errors=True)

    def finite_loss(self, path, batch):
        """True if the weights of checkpoint ``path`` give finite losses on ``batch``."""
        self.checkpoint.restore(path).expect_partial()
        step = self.step
        flags = tf.constant([0, 0], tf.int64)
        out = self.runner.train(self.system.phase(step), batch, tf.constant(step, tf.int64), flags)
        return all(math.isfinite(v) for v in dict(_floats(out[0]), **_floats(out[1])).values())

    def keep_last_good(self, batch, error):
        """After ``error`` (a divergence): probe the checkpoints newest first, set aside
        those whose weights give a non-finite loss; returns the error to raise, naming
        the checkpoint kept."""
        if batch is None:
            return error
        step = self.step + 1  # the step whose loss was not finite (probing moves self.step)
        paths = run_folder.checkpoint_paths(self.model_dir)
        bad, kept = [], None
        for path in reversed(paths):
            if self.finite_loss(path, batch):
                kept = path
                break
            bad.append(path)
        note = ""
        if bad and self.chief:
            aside = run_folder.set_aside(self.model_dir, bad, step)
            names = ", ".join(os.path.basename(p) for p in reversed(bad))
            note = f"; set aside {names} (non-finite loss) in {aside}"
        if kept:
            reader = tf.train.load_checkpoint(kept)
            kept_step = int(reader.get_tensor("step/.ATTRIBUTES/VARIABLE_VALUE"))
            note += f"; kept {os.path.basename(kept)} (step {kept_step}): a rerun resumes from it"
        elif paths:
            note += "; no checkpoint gives a finite loss: a rerun starts from step 0"
        return TrainingDivergedError(f"{error}{note}")

    def evaluate(self, eval_sets, global_batch_size):
        """Evaluate every set, write summaries and ``eval.json``; returns {name: result}."""
        results = {}
        step = self.step
        for name, dataset_fn in eval_sets.items():
            if name not in self.eval_data:  # built once, read again at every evaluation
                self.eval_data[name] = self.strategy.distribute_datasets_from_function(
                    dataset_fn)
            result = evaluate(self.system, self.eval_data[name], global_batch_size,
                              self.runner)
            results[name] = result
            prefix = f"{name}/" if name else ""
            with self.summaries.eval.as_default(step=step):
                summaries.scalars(result, step, prefix)
                self.system.on_evaluation(step, name, result)
            self.log(f"[eval] step {step}{' ' + name if name else ''}: {_format(result)}")
            if self.chief:
                path = os.path.join(self.model_dir, EVAL_FILE)
                history = []
                if os.path.exists(path):
                    with open(path) as f:
                        history = json.load(f)
                entry = dict(result, step=step, epoch=self.epoch)
                if name:
                    entry["set"] = name
                history.append(entry)
                with cli.atomic_write(path) as f:
                    json.dump(history, f, indent=2)
        self.summaries.eval.flush()
        return results


def train(system, train_dataset_fn, *, model_dir, global_batch_size, max_steps=None,
          epochs=None, max_seconds=None, chkpt_steps=1000, log_steps=100, max_to_keep=5,
          eval_dataset_fn=None, eval_steps=None, initial_eval=False, strategy=None,
          number_checkpoints_by="step", model_dir_flag="--model_dir", tool=None, log=print):
    """Train ``system`` until ``max_steps``, ``epochs`` or ``max_seconds``, whichever comes first.

    With none of them given, one epoch. ``train_dataset_fn(input_context)``
    returns a finite dataset of per-replica batches for one epoch;
    ``eval_dataset_fn`` is one such function or a dict ``name -> function``,
    evaluated after every epoch, every ``eval_steps`` steps and, with
    ``initial_eval``, before training; an eval set is made once per call and read
    again at each evaluation, so it must give the same batches at every reading
    (the readers of this project do: their draws are seeded and stateless). A
    stop (``max_steps``, the time budget, a signal) ends the epoch it falls in
    without counting it or evaluating, even on that epoch's last batch: there is
    no evaluation of its own at the end of a run.
    ``number_checkpoints_by``: ``"step"`` (``ckpt-<step>``) or ``"interval"``
    (``ckpt-<step // chkpt_steps>``).
    ``tool`` names the holder of ``model_dir``'s lock (default: the system).
    The first step and every ``log_steps``-th step print a progress line.

    Returns a dict: ``step``, ``epoch``, ``losses`` and ``values`` (of the
    last step), ``eval`` (last results, per set name; ``""`` for a single
    set), ``status`` (``completed`` / ``interrupted``), ``stopped_by``
    (``max_steps``, ``epochs``, ``max_seconds``, ``SIGINT``, ``SIGTERM`` or
    ``another worker's stop request``) and ``checkpoint``.
    """
    if not system.name:
        raise TypeError(f"{type(system).__name__} must set the class attribute `name`")
    strategy = strategy or make_strategy()
    chief = is_chief(strategy)
    snapshot = run_folder.Snapshot(model_dir) if chief else None
    lock = None
    if chief:
        lock = folder_lock.acquire(model_dir, model_dir_flag, tool or system.name, log)
    state = {"run": None}
    try:
        return _train(system, train_dataset_fn, state, model_dir=model_dir,
                      global_batch_size=global_batch_size, max_steps=max_steps, epochs=epochs,
                      max_seconds=max_seconds, chkpt_steps=chkpt_steps, log_steps=log_steps,
                      max_to_keep=max_to_keep, eval_dataset_fn=eval_dataset_fn,
                      eval_steps=eval_steps, initial_eval=initial_eval, strategy=strategy,
                      number_checkpoints_by=number_checkpoints_by,
                      model_dir_flag=model_dir_flag, log=log)
    except BaseException as error:
        run = state["run"]
        if snapshot is not None and (run is None or run.saves == 0):
            snapshot.restore()  # failed before its first checkpoint: the folder as it was
        if isinstance(error, TrainingDivergedError) and run is not None:
            raise run.keep_last_good(state.get("batch"), error) from None
        raise
    finally:
        if lock is not None:
            lock.release()


def _train(system, train_dataset_fn, state, *, model_dir, global_batch_size, max_steps, epochs,
           max_seconds, chkpt_steps, log_steps, max_to_keep, eval_dataset_fn, eval_steps,
           initial_eval, strategy, number_checkpoints_by, model_dir_flag, log):
    limits = _Limits(max_steps, epochs, max_seconds)
    eval_sets = {} if eval_dataset_fn is None else (
        dict(eval_dataset_fn) if isinstance(eval_dataset_fn, dict) else {"": eval_dataset_fn})
    model_config = system.model_config()
    checkpointing.check_model_dir(model_dir, system.name, model_config, model_dir_flag)
    os.makedirs(model_dir, exist_ok=True)
    run = _Run(system, model_dir, strategy, chkpt_steps, max_to_keep, number_checkpoints_by, log)
    state["run"] = run
    if run.chief:
        checkpointing.write_config(model_dir, system.name, model_config, system.run_config())

    eval_results, losses, values, interrupted = {}, {}, {}, False
    stopped_by = limits.reached(run.step, run.epoch)
    if initial_eval and eval_sets and stopped_by is None:
        eval_results = run.evaluate(eval_sets, global_batch_size)
    window, logged_step = _Window(), None
    cli.work_started()  # an OS error from here on is a failed run (exit 1), not bad input
    with _StopRequest() as stop:
        while stopped_by is None:
            epoch_steps = 0
            for batch in strategy.distribute_datasets_from_function(train_dataset_fn):
                state["batch"] = batch
                phase = system.phase(run.step)
                sent_signal = stop.signal  # decisions follow the reduced flags only
                losses, values, examples, flags = run.train_step(
                    phase, batch, sent_signal is not None, limits.over_budget())
                limits.step_done()
                epoch_steps += 1
                window.add(examples)
                step = run.step
                if flags[STOP_SIGNAL]:
                    interrupted = True
                    stopped_by = sent_signal or "another worker's stop request"
                elif flags[STOP_BUDGET]:
                    stopped_by = "max_seconds"
                else:
                    stopped_by = limits.reached(step, run.epoch)
                if step % log_steps == 0 or stopped_by or limits.steps_run == 1:
                    run.log_progress(batch, losses, values, window, limits)
                    logged_step = step
                if step % chkpt_steps == 0:
                    run.save()
                if eval_steps and step % eval_steps == 0 and eval_sets:
                    eval_results = run.evaluate(eval_sets, global_batch_size)
                if stopped_by:
                    break
            else:
                if epoch_steps == 0:
                    raise EmptyDatasetError(
                        f"the training dataset gives no full batch of {global_batch_size} "
                        "examples (it holds fewer examples than one batch, or none)")
                run.epoch_var.assign_add(1)
                limits.epoch_done(run.step, epoch_steps)
                log(f"[train] epoch {run.epoch} done at step {run.step}")
                if eval_sets:
                    eval_results = run.evaluate(eval_sets, global_batch_size)
                stopped_by = limits.reached(run.step, run.epoch)
                if stopped_by and logged_step != run.step:  # the run's last step has its line
                    run.log_progress(batch, losses, values, window, limits)
        if interrupted:
            log(f"[train] {stopped_by}: saving a checkpoint at step {run.step} and stopping")
        run.save()
    system.on_train_end(run.step)
    run.finish()
    return {"step": run.step, "epoch": run.epoch, "losses": losses, "values": values,
            "eval": eval_results, "status": "interrupted" if interrupted else "completed",
            "stopped_by": stopped_by, "checkpoint": run.saved_path}
