"""train_gqn_draw.py end to end on tiny written GQN data, and a learning check."""
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from data_provider.gqn_tfr_writer import write_shards
from training import train_gqn_draw
from training.gqn_system import GQNSystem

DATASET = "rooms_ring_camera"
TINY = ["--dataset", DATASET, "--img_size", "16", "--seq_length", "2", "--context_size", "3",
        "--batch_size", "2", "--seed", "1",
        "--set", "LSTM_OUTPUT_CHANNELS", "8", "--set", "LSTM_CANVAS_CHANNELS", "8",
        "--set", "Z_CHANNELS", "4", "--set", "ENC_CHANNELS", "16"]


def random_scenes(rng, n, views=10, size=64):
    for _ in range(n):
        yield (rng.integers(0, 256, (views, size, size, 3), dtype=np.uint8),
               rng.uniform(-1, 1, (views, 5)).astype(np.float32))


def colour_scenes(rng, n, views=10, size=64):
    """Learnable: every view of a scene is one random colour with a fixed vertical ramp."""
    ramp = np.linspace(0.0, 0.3, size)[None, :, None, None]
    for _ in range(n):
        colour = rng.uniform(0.1, 0.7, 3)
        frames = np.broadcast_to(colour + ramp, (views, size, size, 3))
        yield ((frames * 255).astype(np.uint8),
               rng.uniform(-1, 1, (views, 5)).astype(np.float32))


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("gqn_data")
    rng = np.random.default_rng(0)
    write_shards(str(root), DATASET, "train", random_scenes(rng, 8), 4)
    write_shards(str(root), DATASET, "test", random_scenes(rng, 3), 3)
    return str(root)


def _main(argv, capsys):
    code = 0
    try:
        train_gqn_draw.main(argv)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def _event_tags(folder):
    tags = set()
    for name in os.listdir(folder):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(folder, name)):
            tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.mark.slow
def test_cli_trains_evaluates_checkpoints_and_resumes(data_root, tmp_path, capsys):
    model_dir = str(tmp_path / "model")
    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", model_dir,
                                   "--train_epochs", "2", "--max_steps", "6",
                                   "--chkpt_steps", "3", "--log_steps", "2",
                                   "--initial_eval", "--debug"], capsys)
    assert code == 0, err
    n = int(re.search(r"trainable parameters: (\d+)", out).group(1))
    cfg = train_gqn_draw.config_from_args(train_gqn_draw.build_parser().parse_args(TINY))
    system = GQNSystem(cfg, 2, log=lambda m: None)
    system.build()
    assert n == system.num_trainable_parameters()
    assert re.search(r"^\[train\] 6/6 steps  [\d.]+ steps/s  ETA \d:\d\d:\d\d  elbo [\d.]+, "
                     r"target_llh .*learning_rate [\d.e-]+, sigma [\d.]+, examples_per_sec [\d.]+$",
                     out, re.M), out
    files = os.listdir(model_dir)
    assert {"ckpt-3.index", "ckpt-6.index", "config.json", "eval.json"} <= set(files)
    config = json.load(open(os.path.join(model_dir, "config.json")))
    assert config["system"] == "gqn" and config["model"]["LSTM_OUTPUT_CHANNELS"] == 8
    assert "ADAM_LR_ALPHA" in config["run"] and "ADAM_LR_ALPHA" not in config["model"]
    history = json.load(open(os.path.join(model_dir, "eval.json")))
    assert [h["step"] for h in history] == [0, 4]       # initial + after epoch 1 (8 scenes / 2)
    assert all(np.isfinite(h["elbo"]) and h["examples"] == 3 for h in history)
    tags = _event_tags(os.path.join(model_dir, "train"))
    assert {"elbo", "target_llh", "kl_regularizer", "l2_reconstruction", "learning_rate",
            "sigma", "examples_per_sec", "target_means", "target_images",
            "generator_sequence_mean", "context_frame_3"} <= tags
    assert {"elbo", "l2_reconstruction"} <= _event_tags(os.path.join(model_dir, "eval"))

    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", model_dir,
                                   "--max_steps", "7"], capsys)
    assert code == 0, err
    assert "at step 6" in out and os.path.exists(os.path.join(model_dir, "ckpt-7.index"))

    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", model_dir,
                                   "--max_steps", "9", "--set", "LSTM_OUTPUT_CHANNELS", "16"],
                           capsys)
    assert code == 2 and "LSTM_OUTPUT_CHANNELS: checkpoint has 8, requested 16" in err
    assert json.load(open(os.path.join(model_dir, "config.json")))["model"][
        "ORIGINAL_PRIOR_TIMING"] is False

    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", model_dir,
                                   "--max_steps", "9", "--original_prior_timing"], capsys)
    assert code == 2 and "ORIGINAL_PRIOR_TIMING" in err


def test_max_steps_zero_only_builds(data_root, tmp_path, capsys):
    model_dir = tmp_path / "model"
    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", str(model_dir),
                                   "--max_steps", "0"], capsys)
    assert code == 0 and re.search(r"^trainable parameters: \d+$", out, re.M)
    assert not model_dir.exists() or not any(model_dir.iterdir())


@pytest.mark.parametrize("extra, message", [
    (["--dataset", "no_such_set"], "--dataset: unknown GQN dataset 'no_such_set'"),
    (["--set", "NOT_A_KEY", "3"], "--set NOT_A_KEY: unknown GQNConfig key"),
    (["--img_size", "18"], "--img_size must be a multiple of 4"),
    (["--adam_lr_alpha=-1e-4"], "ADAM_LR_ALPHA must be > 0, got -0.0001"),
    (["--set", "ADAM_LR_BETA", "0.0"], "ADAM_LR_BETA must be > 0, got 0.0"),
])
def test_bad_flags_fail_before_building(data_root, tmp_path, capsys, extra, message):
    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", str(tmp_path)] + extra,
                           capsys)
    assert code == 2 and message in err and "trainable parameters" not in out


def test_empty_data_folder_fails_before_building(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, out, err = _main(TINY + ["--data_dir", str(tmp_path / "empty"),
                                   "--model_dir", str(tmp_path / "m")], capsys)
    assert code == 2 and "--data_dir" in err and "trainable parameters" not in out


@pytest.mark.slow
def test_nan_loss_stops_with_message_and_no_checkpoint(data_root, tmp_path, capsys):
    model_dir = tmp_path / "model"
    code, out, err = _main(TINY + ["--data_dir", data_root, "--model_dir", str(model_dir),
                                   "--max_steps", "3",
                                   "--set", "GENERATOR_SIGMA_ALPHA", "0.0",
                                   "--set", "GENERATOR_SIGMA_BETA", "0.0"], capsys)
    assert code == 1 and "training diverged" in err and "elbo" in err
    assert not model_dir.exists()  # failed before its first checkpoint: nothing left behind


@pytest.mark.slow
def test_poisoned_checkpoints_are_set_aside_and_the_rerun_resumes(data_root, tmp_path, capsys):
    """An absurd learning rate: the checkpoint written just before the non-finite loss
    holds weights that give it; it is set aside and the newest good one is named."""
    model_dir = tmp_path / "model"
    absurd = ["--data_dir", data_root, "--model_dir", str(model_dir), "--max_steps", "60",
              "--chkpt_steps", "1", "--adam_lr_alpha", "1e3", "--adam_lr_beta", "1e3"]
    code, out, err = _main(TINY + absurd, capsys)
    assert code == 1 and len(err.strip().splitlines()) == 1
    failed = int(re.search(r"training step (\d+)", err).group(1))
    kept = int(re.search(r"kept ckpt-(\d+) \(step \d+\): a rerun resumes from it", err).group(1))
    assert kept < failed - 1
    assert tf.train.latest_checkpoint(str(model_dir)).endswith(f"ckpt-{kept}")
    aside = model_dir / f"diverged-step{failed}"
    assert {p.name.split(".")[0] for p in aside.iterdir()} == {
        f"ckpt-{n}" for n in range(kept + 1, failed)}
    code, out, err = _main(TINY + absurd[:4] + absurd[6:] + ["--max_steps", str(kept + 1)], capsys)
    assert code == 0 and f"resumed from {model_dir / f'ckpt-{kept}'} at step {kept}" in out


@pytest.mark.slow
def test_dataset_smaller_than_a_batch_names_the_split_and_sizes(data_root, tmp_path, capsys):
    batch = TINY.index("--batch_size") + 1
    argv = TINY[:batch] + ["10"] + TINY[batch + 1:]
    code, out, err = _main(argv + ["--data_dir", data_root, "--model_dir", str(tmp_path / "m"),
                                   "--max_steps", "2"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"the train split of {DATASET} in {data_root} holds 8 scenes, fewer than one " \
           "batch needs (10); use --batch_size 8 or less" in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_ctrl_c_saves_and_exits_130_and_a_second_writer_is_refused(data_root, tmp_path, capsys):
    """Run as a user does (no TensorFlow start-up chatter: nothing on stderr), stopped by
    Ctrl-C while a second writer of its folder is refused."""
    import signal
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    flags = [*TINY, "--data_dir", data_root, "--model_dir", str(tmp_path / "m"),
             "--max_steps", "100000", "--train_epochs", "100000", "--log_steps", "1"]
    proc = subprocess.Popen([sys.executable, "training/train_gqn_draw.py", *flags],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=root,
                            env=env)
    printed = []
    try:
        for line in proc.stdout:
            printed.append(line)
            if line.startswith("[train] 2/"):
                break
        # the same command as a second writer (in this process: the lock is the folder's)
        code, _, err = _main(flags, capsys)
        assert code == 2 and len(err.strip().splitlines()) == 1
        assert f"is being written by train_gqn_draw.py (process {proc.pid}" in err
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert err == "", err
    assert any(line.startswith("trainable parameters:") for line in printed)
    assert "SIGINT: saving a checkpoint" in out
    assert tf.train.latest_checkpoint(str(tmp_path / "m")) is not None


@pytest.mark.slow
def test_step_returns_its_own_learning_rate_and_sigma():
    """The values logged for a step are that step's: the annealing formula at the
    number of updates before it (the optimizer's iterations)."""
    cfg = train_gqn_draw.config_from_args(train_gqn_draw.build_parser().parse_args(TINY))
    system = GQNSystem(cfg, 2, log=lambda m: None)
    system.build()
    batch = next(iter(tf.data.Dataset.from_tensors(
        __import__("models.gqn", fromlist=["dummy_batch"]).dummy_batch(cfg, 2))))
    for step in (0, 100000, 200000, 400000):
        system.optimizer.iterations.assign(step)
        losses, values = system.train_step(batch, tf.constant(step, tf.int64), "train")
        expect_sigma = max(0.7 + 1.3 * (1 - step / 200000), 0.7)
        expect_lr = max(5e-5 + (5e-4 - 5e-5) * (1 - step / 1600000), 5e-5)
        assert float(values["sigma"]) == pytest.approx(expect_sigma, rel=1e-6)
        assert float(values["learning_rate"]) == pytest.approx(expect_lr, rel=1e-6)
        assert float(system.optimizer.learning_rate) == pytest.approx(
            max(5e-5 + (5e-4 - 5e-5) * (1 - (step + 1) / 1600000), 5e-5), rel=1e-6)
        assert set(losses) == {"elbo", "target_llh", "kl_regularizer", "l2_reconstruction"}


@pytest.mark.slow
def test_elbo_and_l2_fall_on_learnable_data(tmp_path, capsys):
    root = str(tmp_path / "data")
    rng = np.random.default_rng(3)
    write_shards(root, DATASET, "train", colour_scenes(rng, 16), 8)
    write_shards(root, DATASET, "test", colour_scenes(rng, 8), 8)
    model_dir = str(tmp_path / "model")
    flags = [a for a in TINY] + ["--data_dir", root, "--model_dir", model_dir,
                                  "--batch_size", "4", "--train_epochs", "2",
                                  "--initial_eval", "--log_steps", "20", "--chkpt_steps", "1000",
                                  "--samples_per_scene", "2", "--adam_lr_alpha", "5e-3",
                                  "--adam_lr_beta", "5e-3"]
    code, out, err = _main(flags, capsys)
    assert code == 0, err
    history = json.load(open(os.path.join(model_dir, "eval.json")))
    first, last = history[0], history[-1]
    # 16 scenes x 2 samples / 4 = 8 steps an epoch; from step 0 to 16, the elbo falls by about
    # 26 and the L2 to an eighth (0.299 -> 0.039)
    assert last["step"] == 16
    assert last["elbo"] < first["elbo"] - 10.0, (first, last)
    assert last["l2_reconstruction"] < 0.5 * first["l2_reconstruction"], (first, last)


@pytest.mark.slow
def test_cli_on_real_mazes_shards(gqn_real_root, tmp_path, capsys):
    assert TINY[:2] == ["--dataset", DATASET]
    code, out, err = _main(["--dataset", "mazes"] + TINY[2:] + [
        "--data_dir", str(gqn_real_root), "--model_dir", str(tmp_path / "m"),
        "--max_steps", "2", "--log_steps", "1"], capsys)
    assert code == 0, err
    assert "mazes: 2 train and 1 test files" in out and "[train] 2/2 steps" in out
    assert os.path.exists(tmp_path / "m" / "ckpt-2.index")


@pytest.mark.slow
def test_damaged_shard_is_one_line_error(data_root, tmp_path, capsys):
    import shutil
    root = tmp_path / "data"
    shutil.copytree(data_root, root)
    shard = root / DATASET / "train" / "0001-of-2160.tfrecord"
    shard.write_bytes(shard.read_bytes()[:-2000])       # truncated download
    code, out, err = _main(TINY + ["--data_dir", str(root), "--model_dir", str(tmp_path / "m"),
                                   "--max_steps", "4"], capsys)
    assert code == 2 and "data error" in err and "0001-of-2160.tfrecord" in err
    assert len(err.strip().splitlines()) == 1


def test_command_line_error_is_one_line_before_tensorflow_loads(tmp_path):
    """A bad --data_dir, run as a user does: one line, exit 2, TensorFlow never imported (the
    quiet start-up of a training run is checked by the Ctrl-C test)."""
    import subprocess
    import sys
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    code = ("import runpy, sys; sys.argv = ['training/train_gqn_draw.py'] + sys.argv[1:]\n"
            "try:\n    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "finally:\n    print('tensorflow' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code, "--data_dir", str(tmp_path / "none")],
                          capture_output=True, text=True, cwd=root, env=env, timeout=300)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "--data_dir" in done.stderr and "render_dataset.py" in done.stderr
    assert done.stdout.strip() == "False"
