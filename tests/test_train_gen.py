"""training/train_gen.py: flags, --max_steps 0, a run on the real mazes shards (checkpoints,
events, per-size summaries, the test loss falling), resuming with the optimizer's state."""
import glob
import json
import os

import pytest
import tensorflow as tf

from models import checkpoints
from models.gen import build_model
from models.gen.config import gen_config
from training import train_gen
from training.gen_system import GENSystem

SMALL = ["--layers", "2", "--set", "hidden_channels", "16", "canvas_channels", "16",
         "upsample_channels", "16", "embedding_channels", "30", "embedder_channels", "32",
         "mlp_units", "64", "message_channels", "32"]


def cli(argv):
    with pytest.raises(SystemExit) as exit_info:
        train_gen.main(argv)
    return exit_info.value.code


def event_tags(folder):
    tags = set()
    for path in glob.glob(os.path.join(folder, "events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(path):
            tags.update(v.tag for v in event.summary.value)
    return tags


@pytest.mark.slow
def test_max_steps_zero_logs_the_parameter_count(gqn_real_root, tmp_path, capsys):
    code = cli(["--data_dir", str(gqn_real_root), "--root_log_dir", str(tmp_path),
                "--log_dir", "run", "--max_steps", "0"])
    assert code == 0
    assert "trainable parameters: 57595803" in capsys.readouterr().out
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("flags, message", [
    (["--max_train_structure_dim", "6"], "--max_train_structure_dim 6"),
    (["--min_test_structure_dim", "3", "--max_test_structure_dim", "2"], "1 <= min <= max"),
    (["--batch_size", "0"], "--batch_size must be >= 1"),
    (["--set", "hiden_channels", "8"], "--set hiden_channels: unknown GEN config key"),
    (["--set", "num_steps", "two"], "--set num_steps two: expected an integer (default 8)"),
    (["--set", "num_steps", "0"], "num_steps must be a positive integer"),
    (["--saved_model", "/nonexistent/run"], "--saved_model /nonexistent/run"),
])
def test_bad_flags_exit_2_with_one_line(gqn_real_root, tmp_path, capsys, flags, message):
    code = cli(["--data_dir", str(gqn_real_root), "--root_log_dir", str(tmp_path), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1
    assert not os.listdir(tmp_path)


@pytest.mark.slow
def test_fewer_mazes_than_one_batch_names_the_split_and_sizes(gqn_real_root, tmp_path, capsys):
    code = cli(["--data_dir", str(gqn_real_root), "--root_log_dir", str(tmp_path),
                "--log_dir", "run", "--batch_size", "6", "--max_steps", "2",
                "--max_test_structure_dim", "1", *SMALL])     # one test set read, not five
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert (f"the train split of mazes in {gqn_real_root} holds 20 scenes, fewer than one "
            "batch needs (6 hotels of up to 2x2 mazes = 24); use --batch_size 5 or less") in err
    assert not (tmp_path / "run").exists()


def test_missing_data_dir(tmp_path, capsys):
    assert cli(["--data_dir", str(tmp_path / "nothing"), "--root_log_dir", str(tmp_path)]) == 2
    assert "--data_dir" in capsys.readouterr().err


@pytest.mark.slow
def test_real_mazes_run_loss_falls_and_resumes(gqn_real_root, tmp_path, capsys):
    common = ["--data_dir", str(gqn_real_root), "--root_log_dir", str(tmp_path),
              "--log_dir", "run", "--batch_size", "1", "--min_train_structure_dim", "2",
              "--min_test_structure_dim", "2", "--max_test_structure_dim", "2",
              "--eval_interval", "15", "--log_steps", "10", "--image_steps", "10", *SMALL]
    # 20 train mazes, 4 per step: an epoch is 5 steps, evaluated after each one
    assert cli(common + ["--max_steps", "15"]) == 0
    run = tmp_path / "run"
    assert (run / "ckpt-15.index").exists() and (run / "config.json").exists()
    train_tags, eval_tags = event_tags(run / "train"), event_tags(run / "eval")
    assert {"loss", "kl", "learning_rate", "sigma", "loss_2x2", "images"} <= train_tags
    assert {"2x2/loss", "2x2/kl", "2x2/images"} <= eval_tags
    history = json.loads((run / "eval.json").read_text())
    assert [e["step"] for e in history] == [5, 10, 15]
    first, last = history[0], history[-1]
    # the stated margin: from step 5 to step 15 the test loss per query falls by at least
    # 150 (of about 20,200) and the L2 of the reconstruction halves
    assert last["loss"] < first["loss"] - 150, history
    assert last["l2"] < 0.5 * first["l2"], history

    capsys.readouterr()
    assert cli(common + ["--max_steps", "17"]) == 0
    out = capsys.readouterr().out
    assert "resumed from" in out and "ckpt-15" in out
    assert "completed at step 17" in out
    cfg = gen_config(json.loads((run / "config.json").read_text())["model"])
    system = GENSystem(cfg, 1, log=lambda message: None)
    system.build()
    step, path = checkpoints.restore(str(run), {"model": system.model,
                                                  "optimizer": system.optimizer})
    assert path.endswith("ckpt-17") and step == 17
    assert int(system.optimizer.iterations.numpy()) == 17


def test_saved_model_starts_a_new_run_from_its_weights(tmp_path):
    cfg = gen_config({"num_steps": 1, "hidden_channels": 4, "canvas_channels": 4,
                      "upsample_channels": 4, "embedding_channels": 6, "embedder_channels": 8,
                      "mlp_units": 8, "message_channels": 4})
    source = build_model(cfg)
    for v in source.trainable_variables:
        v.assign(tf.fill(v.shape, 0.25))
    checkpoint = tf.train.Checkpoint(
        step=tf.Variable(7, dtype=tf.int64),
        **checkpoints.checkpoint_objects({"model": source}))
    tf.train.CheckpointManager(checkpoint, str(tmp_path), 1, checkpoint_name="ckpt").save(7)
    logs = []
    system = GENSystem(cfg, 1, saved_model=str(tmp_path), log=logs.append)
    system.build()
    assert all(float(tf.reduce_max(tf.abs(v - 0.25))) == 0
               for v in system.model.trainable_variables)
    assert int(system.optimizer.iterations.numpy()) == 0
    assert any("ckpt-7" in line for line in logs)


def test_direct_convolutions_flag_reaches_the_model():
    small = gen_config({"hidden_channels": 8, "canvas_channels": 8, "upsample_channels": 8,
                        "embedding_channels": 14, "embedder_channels": 12, "mlp_units": 16,
                        "message_channels": 8, "num_steps": 2})
    for winograd in (True, False):
        model = build_model(small, winograd=winograd)
        assert model.composer.embedder.winograd is winograd
        assert model.draw.generator_cores[0].lstm.winograd is winograd
        assert model.draw.inference_cores[0].lstm.winograd is winograd
    args = train_gen.build_parser().parse_args(["--direct_convolutions"])
    assert args.direct_convolutions
    system = GENSystem(small, 4, winograd=not args.direct_convolutions)
    assert system.run_config()["winograd"] is False
