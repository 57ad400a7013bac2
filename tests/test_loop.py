"""The shared training loop with a toy system (linear regression)."""
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

from models import checkpoints
from training import checkpointing, loop
from training.system import TrainSystem

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(TESTS_DIR)
N_EXAMPLES, N_FEATURES = 64, 3
W_TRUE = np.array([[1.5], [-2.0], [0.5]], np.float32)


def toy_data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(N_EXAMPLES, N_FEATURES)).astype(np.float32)
    y = x @ W_TRUE + 0.5
    return x, y


def toy_dataset_fn(global_batch_size, seed=0):
    x, y = toy_data(seed)

    def dataset_fn(input_context):
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
        return ds.batch(input_context.get_per_replica_batch_size(global_batch_size),
                        drop_remainder=True)
    return dataset_fn


class ToySystem(TrainSystem):
    """y = x w + b with mean squared error; ``poison_step`` makes the loss NaN from then on."""

    name = "toy"

    def __init__(self, global_batch_size, lr=0.05, optimizer="adam", poison_step=None,
                 on_phase=None, units=1, step_sleep=0.0):
        self.global_batch_size = global_batch_size
        self.lr, self.optimizer_name, self.units = lr, optimizer, units
        self.poison_step, self.on_phase, self.step_sleep = poison_step, on_phase, step_sleep

    def build(self):
        self.model = keras.Sequential([keras.layers.Dense(self.units, kernel_initializer="zeros")])
        self.model.build((None, N_FEATURES))
        if self.optimizer_name == "adam":
            self.optimizer = keras.optimizers.Adam(self.lr)
        else:
            self.optimizer = keras.optimizers.SGD(self.lr)
        self.optimizer.build(self.model.trainable_variables)

    def checkpoint_items(self):
        return {"model": self.model, "optimizer": self.optimizer}

    def model_config(self):
        return {"units": self.units, "optimizer": self.optimizer_name}

    def run_config(self):
        return {"lr": self.lr}

    def phase(self, step):
        if self.on_phase is not None:
            self.on_phase(step)
        if self.step_sleep:
            time.sleep(self.step_sleep)
        return "train"

    def _per_example(self, x, y):
        return tf.reduce_mean(tf.square(self.model(x) - y), axis=-1)

    def train_step(self, batch, step, phase):
        x, y = batch
        with tf.GradientTape() as tape:
            loss = tf.nn.compute_average_loss(self._per_example(x, y),
                                              global_batch_size=self.global_batch_size)
            if self.poison_step is not None:
                loss += tf.where(step >= self.poison_step, np.float32(np.nan), np.float32(0.0))
        grads = tape.gradient(loss, self.model.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.model.trainable_variables))
        return {"loss": loss}, {"learning_rate": tf.constant(self.lr, tf.float32)}

    def eval_step(self, batch):
        x, y = batch
        return {"mse": tf.nn.compute_average_loss(self._per_example(x, y),
                                                  global_batch_size=self.global_batch_size)}

    def on_evaluation(self, step, name, result):
        self.evaluations = getattr(self, "evaluations", []) + [(step, name, result["mse"])]


def _train(tmp_path, system=None, quiet=True, **kwargs):
    system = system or ToySystem(8)
    kwargs.setdefault("chkpt_steps", 5)
    kwargs.setdefault("log_steps", 5)
    logs = []
    result = loop.train(system, toy_dataset_fn(8), model_dir=str(tmp_path / "model"),
                        global_batch_size=8, log=logs.append, **kwargs)
    return system, result, logs


def _ckpt_numbers(model_dir):
    return sorted(int(f[len("ckpt-"):-len(".index")]) for f in os.listdir(model_dir)
                  if f.startswith("ckpt-") and f.endswith(".index"))


@pytest.mark.slow
def test_loss_falls_checkpoint_resume_and_eval(tmp_path):
    system, result, logs = _train(
        tmp_path, epochs=6, eval_dataset_fn=toy_dataset_fn(8), initial_eval=True)
    model_dir = tmp_path / "model"
    assert result["status"] == "completed" and result["step"] == 48 and result["epoch"] == 6
    history = json.loads((model_dir / "eval.json").read_text())
    assert len(history) == 7 and history[0]["step"] == 0 and history[-1]["step"] == 48
    assert history[-1]["mse"] < 0.5 * history[0]["mse"]
    assert history[0]["examples"] == N_EXAMPLES
    # initial mse with zero weights equals the mean of y^2
    x, y = toy_data()
    np.testing.assert_allclose(history[0]["mse"], np.mean(y ** 2), rtol=1e-5)
    assert 48 in _ckpt_numbers(model_dir)
    config = json.loads((model_dir / "config.json").read_text())
    assert config == {"written_by": "gen3d-scenes", "system": "toy",
                      "model": system.model_config(), "run": {"lr": 0.05}}
    assert os.listdir(model_dir / "train") and os.listdir(model_dir / "eval")
    assert any(line.startswith("[train] 40/48 steps  ") and "ETA 0:00:0" in line
               and "learning_rate 0.05" in line and "examples_per_sec" in line for line in logs)
    assert result["stopped_by"] == "epochs"
    assert result["values"]["learning_rate"] == pytest.approx(0.05)
    weights = system.model.get_weights()

    # resume: a fresh system restores step, weights and optimizer state
    resumed = ToySystem(8)
    _, result2, logs2 = _train(tmp_path, system=resumed, max_steps=48)
    assert result2["step"] == 48 and any("resumed from" in line for line in logs2)
    for a, b in zip(weights, resumed.model.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert int(resumed.optimizer.iterations.numpy()) == 48
    assert np.any(resumed.optimizer.variables[2].numpy() != 0)   # Adam moment restored


def test_nan_guard_keeps_last_good_checkpoint(tmp_path):
    with pytest.raises(loop.TrainingDivergedError, match="diverged: non-finite value.*loss"):
        _train(tmp_path, system=ToySystem(8, poison_step=7), max_steps=20)
    assert _ckpt_numbers(tmp_path / "model") == [5]


def test_config_mismatch_names_the_key(tmp_path):
    _train(tmp_path, max_steps=5)
    with pytest.raises(checkpointing.ConfigMismatchError,
                       match=r"--model_dir .*\(optimizer: checkpoint has 'adam', "
                             r"requested 'sgd'\)"):
        _train(tmp_path, system=ToySystem(8, optimizer="sgd"), max_steps=10)
    # run settings (here the learning rate) never block a resume
    _, result, _ = _train(tmp_path, system=ToySystem(8, lr=0.01), max_steps=10)
    assert result["step"] == 10


def test_sigterm_saves_and_returns(tmp_path):
    def send(step):
        if step == 3:
            os.kill(os.getpid(), signal.SIGTERM)
    system, result, logs = _train(
        tmp_path, system=ToySystem(8, on_phase=send), max_steps=100, chkpt_steps=1000)
    assert result["status"] == "interrupted" and result["step"] == 4
    assert result["stopped_by"] == "SIGTERM"
    assert _ckpt_numbers(tmp_path / "model") == [4]
    assert any("SIGTERM" in line for line in logs)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


SUBPROCESS_HEADER = f"""
import os, sys, json
sys.path.insert(0, {TESTS_DIR!r})
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "2"
"""


def _run_script(tmp_path, name, body, env=None, wait=True):
    script = tmp_path / name
    script.write_text(SUBPROCESS_HEADER + textwrap.dedent(body))
    full_env = dict(os.environ, **(env or {}))
    proc = subprocess.Popen([sys.executable, str(script)], cwd=PROJECT_ROOT, env=full_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if not wait:
        return proc
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    return out


@pytest.mark.slow
def test_mirrored_two_cpus_equals_default_strategy(tmp_path):
    out = _run_script(tmp_path, "mirrored.py", f"""
        import numpy as np, tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
        from training import loop
        from training.distribution import make_strategy
        from test_loop import ToySystem, toy_dataset_fn
        weights = {{}}
        for name, strategy in [
                ("default", tf.distribute.get_strategy()),
                ("mirrored", make_strategy(["/cpu:0", "/cpu:1"]))]:
            system = ToySystem(8, optimizer="sgd", lr=0.1, units=2)
            result = loop.train(system, toy_dataset_fn(8), model_dir={str(tmp_path)!r} + "/" + name,
                                global_batch_size=8, max_steps=1, strategy=strategy,
                                log=lambda s: None)
            weights[name] = [w.tolist() for w in system.model.get_weights()]
            weights[name + "_replicas"] = strategy.num_replicas_in_sync
            weights[name + "_values"] = result["values"]
        print("RESULT" + json.dumps(weights))
    """)
    res = json.loads(out.split("RESULT")[-1])
    assert res["mirrored_replicas"] == 2 and res["default_replicas"] == 1
    # independent numpy reference of one SGD step on the first global batch
    x, y = toy_data()
    xb, yb = x[:8], y[:8]
    # loss = mean over the 2 outputs of (x w + b - y)^2, averaged over the global batch of 8
    grad_w = 2 * xb.T @ (-yb) / 8 / 2
    grad_b = 2 * np.sum(-yb) / 8 / 2
    expect_w = np.repeat(-0.1 * grad_w, 2, axis=1)
    for name in ("default", "mirrored"):
        assert res[name + "_values"] == {"learning_rate": pytest.approx(0.1)}  # not summed
        np.testing.assert_allclose(res[name][0], expect_w, rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(res[name][1], [-0.1 * grad_b] * 2, rtol=1e-4, atol=1e-6)


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@pytest.mark.slow
def test_two_workers_train_to_equal_weights(tmp_path):
    """Worker 1 alone gets SIGTERM before step 3: both workers stop after step 3 together."""
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    body = f"""
        import signal
        from training import loop
        from training.distribution import make_strategy
        strategy = make_strategy()
        import numpy as np
        from test_loop import ToySystem, toy_dataset_fn
        task = json.loads(os.environ["TF_CONFIG"])["task"]["index"]
        def on_phase(step):
            if task == 1 and step == 2:
                os.kill(os.getpid(), signal.SIGTERM)
        system = ToySystem(8, on_phase=on_phase)
        result = loop.train(system, toy_dataset_fn(8), model_dir={str(tmp_path / "model")!r},
                            global_batch_size=8, max_steps=1000, chkpt_steps=2,
                            strategy=strategy, log=lambda s: None)
        np.save({str(tmp_path)!r} + f"/w{{task}}.npy", system.model.get_weights()[0])
        print("RESULT", result["step"], strategy.num_replicas_in_sync, result["status"],
              result["stopped_by"].replace(" ", "_"))
    """
    procs = [_run_script(tmp_path, f"worker{i}.py", body, wait=False, env={
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})})
        for i in range(2)]
    outs = []
    for proc in procs:
        out, _ = proc.communicate(timeout=150)
        assert proc.returncode == 0, out
        outs.append(out)
    assert "RESULT 3 2 interrupted another_worker's_stop_request" in outs[0], outs
    assert "RESULT 3 2 interrupted SIGTERM" in outs[1], outs
    w0, w1 = np.load(tmp_path / "w0.npy"), np.load(tmp_path / "w1.npy")
    np.testing.assert_array_equal(w0, w1)
    assert np.any(w0 != 0)
    # only the chief wrote checkpoints into model_dir
    assert _ckpt_numbers(tmp_path / "model") == [2, 3]


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path):
    model_dir = tmp_path / "model"
    proc = _run_script(tmp_path, "killed.py", f"""
        from training import loop
        from test_loop import ToySystem, toy_dataset_fn
        loop.train(ToySystem(8, step_sleep=0.05), toy_dataset_fn(8),
                   model_dir={str(model_dir)!r}, global_batch_size=8, max_steps=100000,
                   chkpt_steps=5, log=lambda s: None)
    """, wait=False)
    def latest_number():  # what a resume reads: the checkpoint state, not the files alone
        latest = tf.train.latest_checkpoint(str(model_dir)) if model_dir.is_dir() else None
        return int(latest.rsplit("-", 1)[1]) if latest else 0

    deadline = time.time() + 90
    while time.time() < deadline and latest_number() < 10:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    saved = latest_number()
    assert saved >= 10
    reader = tf.train.load_checkpoint(str(model_dir / f"ckpt-{saved}"))
    keys = [k for k in reader.get_variable_to_shape_map()
            if k.endswith("_trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE") or "_kernel/" in k]
    saved_kernel = reader.get_tensor(keys[0])
    system = ToySystem(8)
    _, result, logs = _train(tmp_path, system=system, max_steps=saved)
    assert any(f"at step {saved}" in line for line in logs)
    assert result["step"] == saved
    assert int(system.optimizer.iterations.numpy()) == saved
    np.testing.assert_array_equal(system.model.get_weights()[0], saved_kernel)
    assert np.any(saved_kernel != 0)
    _, result, _ = _train(tmp_path, system=ToySystem(8), max_steps=saved + 3)
    assert result["step"] == saved + 3


class _Stack(keras.Model):
    """Layers kept in a Python list, as the DRAW cores and the FCR-alphaGAN stacks are."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.layers_list = [keras.layers.Dense(4, name=f"dense_{i}") for i in range(3)]
        self.head = keras.layers.Dense(1, name="head")

    def call(self, x):
        for layer in self.layers_list:
            x = layer(x)
        return self.head(x)


def test_checkpoint_holds_every_weight_of_layers_in_lists(tmp_path):
    model = _Stack()
    model(tf.zeros([1, N_FEATURES]))
    for v in model.weights:
        v.assign(tf.random.normal(v.shape))
    path = tf.train.Checkpoint(model=model).save(str(tmp_path / "plain"))
    plain = {n for n, _ in tf.train.list_variables(path)}
    assert not any("dense_0" in n for n in plain)  # what a plain model checkpoint misses

    path = tf.train.Checkpoint(**checkpoints.checkpoint_objects({"model": model})).save(
        str(tmp_path / "full"))
    fresh = _Stack()
    fresh(tf.zeros([1, N_FEATURES]))
    tf.train.Checkpoint(**checkpoints.checkpoint_objects({"model": fresh})).restore(path) \
        .assert_existing_objects_matched()
    assert len(fresh.weights) == 8
    for a, b in zip(model.weights, fresh.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_time_budget_ends_the_run_as_completed(tmp_path):
    system, result, logs = _train(tmp_path, system=ToySystem(8, step_sleep=0.05),
                                  epochs=100000, max_seconds=2.0, log_steps=1)
    assert result["status"] == "completed" and result["stopped_by"] == "max_seconds"
    assert 3 <= result["step"] < 80
    assert _ckpt_numbers(tmp_path / "model")[-1] == result["step"]
    assert not any("SIG" in line for line in logs)
    # the ETA of a budgeted run is the time left of the budget
    etas = [int(line.split("ETA 0:00:")[1][:2]) for line in logs if " steps/s " in line]
    assert etas and all(eta <= 2 for eta in etas)


def test_eval_sets_every_n_steps_and_the_evaluation_hook(tmp_path):
    system, result, logs = _train(
        tmp_path, max_steps=12, eval_steps=5,
        eval_dataset_fn={"first": toy_dataset_fn(8), "second": toy_dataset_fn(8, seed=1)})
    assert [(s, n) for s, n, _ in system.evaluations] == [
        (5, "first"), (5, "second"), (8, "first"), (8, "second"), (10, "first"), (10, "second")]
    history = json.loads((tmp_path / "model" / "eval.json").read_text())
    assert [(h["step"], h["set"]) for h in history] == [(s, n) for s, n, _ in system.evaluations]
    assert set(result["eval"]) == {"first", "second"}
    assert any(line.startswith("[eval] step 10 second: mse") for line in logs)


class _CheckedEvaluations(ToySystem):
    """Records each evaluation's mse beside the mse of the whole set computed in numpy
    with the weights of that moment."""

    sets = {"first": toy_data(0), "second": toy_data(1)}

    def on_evaluation(self, step, name, result):
        x, y = self.sets[name]
        w, b = self.model.get_weights()
        expected = float(np.mean(np.square(x @ w + b - y)))
        self.checked = getattr(self, "checked", []) + [(step, name, result["mse"], expected)]


def test_eval_sets_are_made_once_per_run_and_read_whole_at_every_evaluation(tmp_path):
    calls = {"first": 0, "second": 0}

    def counted(name, seed):
        make = toy_dataset_fn(8, seed)

        def dataset_fn(input_context):
            calls[name] += 1
            return make(input_context)
        return dataset_fn

    system = _CheckedEvaluations(8)
    _train(tmp_path, system=system, max_steps=17, eval_steps=5,
           eval_dataset_fn={"first": counted("first", 0), "second": counted("second", 1)})
    assert calls == {"first": 1, "second": 1}
    assert [(step, name) for step, name, _, _ in system.checked] == [
        (step, name) for step in (5, 8, 10, 15, 16) for name in ("first", "second")]
    for step, name, mse, expected in system.checked:
        assert mse == pytest.approx(expected, rel=1e-5), (step, name)


def test_foreign_files_are_never_overwritten(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("my own notes")
    with pytest.raises(checkpoints.ForeignFileError, match="config.json was not written"):
        _train(tmp_path, max_steps=2)
    assert (model_dir / "config.json").read_text() == "my own notes"
    assert _ckpt_numbers(model_dir) == []
    # checkpoints without a config of ours are someone else's too
    other = tmp_path / "other"
    tf.train.Checkpoint(v=tf.Variable(1.0)).save(str(other / "ckpt"))
    with pytest.raises(checkpoints.ForeignFileError, match="holds checkpoints"):
        loop.train(ToySystem(8), toy_dataset_fn(8), model_dir=str(other), global_batch_size=8,
                   max_steps=2, log=lambda s: None)
    # our own config without a checkpoint (a run stopped before its first save) is reused
    (model_dir / "config.json").unlink()
    checkpointing.write_config(str(model_dir), "toy", {"units": 5}, {})
    _, result, _ = _train(tmp_path, max_steps=2)
    assert result["step"] == 2
    with pytest.raises(checkpointing.ConfigMismatchError, match="belongs to a 'toy' model"):
        checkpointing.check_model_dir(str(model_dir), "gqn", {})


def test_restore_reads_a_model_without_its_optimizer(tmp_path):
    system, result, _ = _train(tmp_path, max_steps=6)
    model = keras.Sequential([keras.layers.Dense(1)])
    model.build((None, N_FEATURES))
    step, path = checkpoints.restore(str(tmp_path / "model"), {"model": model})
    assert step == 6 and path.endswith("ckpt-6")
    for a, b in zip(system.model.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    wider = keras.Sequential([keras.layers.Dense(2)])
    wider.build((None, N_FEATURES))
    with pytest.raises(checkpoints.CheckpointError, match="does not hold a model of this"):
        checkpoints.restore(str(tmp_path / "model"), {"model": wider})
    with pytest.raises(checkpoints.CheckpointError, match="no such checkpoint"):
        checkpoints.restore(str(tmp_path / "missing"), {"model": model})


def test_divergence_sets_aside_poisoned_checkpoints_and_keeps_the_last_good(tmp_path):
    """SGD with an absurd rate: the weights saved just before the non-finite loss already
    give a non-finite loss; they are set aside and the newest good step is named."""
    model_dir = tmp_path / "model"
    with pytest.raises(loop.TrainingDivergedError) as e:
        _train(tmp_path, system=ToySystem(8, lr=30.0, optimizer="sgd"), max_steps=200,
               chkpt_steps=1, max_to_keep=100)
    message = str(e.value)
    failed = int(re.search(r"training step (\d+)", message).group(1))
    kept = int(re.search(r"kept ckpt-(\d+) \(step (\d+)\)", message).group(1))
    assert kept < failed - 1 and "set aside" in message and "a rerun resumes from it" in message
    aside = model_dir / f"diverged-step{failed}"
    assert sorted(_ckpt_numbers(aside)) == list(range(kept + 1, failed))
    assert _ckpt_numbers(model_dir)[-1] == kept
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{kept}")
    x, y = toy_data()
    for number in _ckpt_numbers(aside):  # every set-aside checkpoint gives a non-finite loss
        reader = tf.train.load_checkpoint(str(aside / f"ckpt-{number}"))
        kernel = [reader.get_tensor(k) for k in reader.get_variable_to_shape_map()
                  if k.startswith("model/") and "kernel" in k and "optimizer" not in k]
        with np.errstate(over="ignore", invalid="ignore"):
            assert not np.isfinite(np.mean(np.square(x[-8:] @ kernel[0].astype(np.float64)
                                                     .astype(np.float32) - y[-8:])))
    # a rerun resumes from the kept step, whose next loss (the one it gave before) is finite
    _, result, logs = _train(tmp_path, system=ToySystem(8, lr=1e-12, optimizer="sgd"),
                             max_steps=kept + 1, chkpt_steps=1)
    assert any(f"at step {kept}" in line for line in logs) and result["step"] == kept + 1
    assert math.isfinite(result["losses"]["loss"])


def test_failure_before_the_first_checkpoint_leaves_the_folder_as_it_was(tmp_path):
    def fail(step):
        if step == 7:
            raise RuntimeError("data went away")

    with pytest.raises(RuntimeError, match="data went away"):
        _train(tmp_path, system=ToySystem(8, on_phase=fail), max_steps=10, chkpt_steps=100)
    assert not (tmp_path / "model").exists()

    _train(tmp_path, max_steps=5, chkpt_steps=5)  # a good run, then a failing resume
    before = {p: p.read_bytes() for p in (tmp_path / "model").rglob("*") if p.is_file()}
    with pytest.raises(RuntimeError, match="data went away"):
        _train(tmp_path, system=ToySystem(8, on_phase=fail), max_steps=10, chkpt_steps=100)
    after = {p: p.read_bytes() for p in (tmp_path / "model").rglob("*") if p.is_file()}
    assert after == before


def test_resume_drops_evaluations_after_the_checkpoint(tmp_path):
    _train(tmp_path, max_steps=10, eval_dataset_fn=toy_dataset_fn(8), eval_steps=5)
    path = tmp_path / "model" / "eval.json"
    history = json.loads(path.read_text())
    path.write_text(json.dumps(history + [dict(history[-1], step=15)]))  # a dead run's entry
    _, result, logs = _train(tmp_path, max_steps=10)
    assert [e["step"] for e in json.loads(path.read_text())] == [5, 8, 10]  # 8: end of epoch
    assert any("dropped 1 evaluation entries after step 10" in line for line in logs)


def test_second_writer_of_a_model_dir_is_refused(tmp_path):
    from data_provider import folder_lock

    holder = folder_lock.acquire(str(tmp_path / "model"), "--model_dir", "train_x.py")
    try:
        with pytest.raises(folder_lock.FolderBusyError, match=f"process {os.getpid()}"):
            _train(tmp_path, max_steps=5)
        assert os.listdir(tmp_path / "model") == [folder_lock.LOCK_FILE]
    finally:
        holder.release()
    _, result, _ = _train(tmp_path, max_steps=5)
    assert result["step"] == 5 and not (tmp_path / "model" / folder_lock.LOCK_FILE).exists()


def test_dataset_smaller_than_a_batch_is_named(tmp_path):
    logs = []
    with pytest.raises(loop.EmptyDatasetError, match="no full batch of 128 examples"):
        loop.train(ToySystem(128), toy_dataset_fn(128), model_dir=str(tmp_path / "model"),
                   global_batch_size=128, max_steps=5, log=logs.append)
    assert not (tmp_path / "model").exists()


def test_first_step_prints_a_progress_line(tmp_path):
    _, _, logs = _train(tmp_path, max_steps=12, log_steps=100)
    assert [line.split()[1] for line in logs if line.startswith("[train] ")
            and "steps" in line] == ["1/12", "12/12"]


def test_a_run_ended_by_its_epochs_prints_its_last_step(tmp_path):
    _, result, logs = _train(tmp_path, epochs=2, log_steps=5)   # 8 steps per epoch (the first
    # epoch gives the total)
    counts = [line.split()[1] for line in logs if line.startswith("[train] ") and "steps" in line]
    assert result["step"] == 16 and counts == ["1", "5", "10/16", "15/16", "16/16"]
    assert logs.index(next(line for line in logs if "16/16" in line)) > \
        logs.index("[train] epoch 2 done at step 16")


def test_a_refused_permission_during_the_run_exits_1_and_keeps_the_checkpoint(tmp_path):
    from data_provider import cli

    def refuse(step):
        if step == 7:  # as if the folder's permissions changed under the run
            raise PermissionError(13, os.strerror(13), str(tmp_path / "model" / "ckpt-10.index"))

    def run(_):
        return _train(tmp_path, system=ToySystem(8, on_phase=refuse), max_steps=10)[1]

    assert cli.run_main("train_toy.py", run, None) == 1
    assert _ckpt_numbers(tmp_path / "model") == [5]
    _, result, logs = _train(tmp_path, max_steps=10)
    assert result["step"] == 10 and any("resumed from" in line for line in logs)


def test_a_run_resumed_mid_epoch_counts_the_whole_run_in_its_progress(tmp_path):
    _train(tmp_path, max_steps=5)  # 8 steps per epoch: stopped 5 steps into the first
    _, result, logs = _train(tmp_path, epochs=3, log_steps=4)
    counts = [line.split()[1] for line in logs if line.startswith("[train] ") and "steps" in line]
    # the toy's data start each run's epochs afresh: three whole epochs after step 5, and
    # the first of them, which a resumed run cannot tell from a part one, is no measure
    assert result["step"] == 29
    assert counts == ["6", "8", "12", "16", "20", "24/29", "28/29", "29/29"]
