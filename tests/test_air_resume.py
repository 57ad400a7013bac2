"""train_air.py on the shared checkpoints: Ctrl-C saves and exits 130, kill -9 loses
nothing but the steps after the last checkpoint, a rerun resumes to the same results and
weights as an uninterrupted run of the same seed (so a run is also the same run again with
the same seed: part of the stopped run runs in another process); one writer per --out; the
search's settings are not the model's."""
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from training import train_air

PROJECT = str(__import__("pathlib").Path(__file__).resolve().parents[1])
# 2 steps per epoch (16 scenes, batches of 8), 5 epochs, on a small network: what is tested
# is the bookkeeping of stopping and resuming, not what the network learns.
SMALL = ["--seed", "5", "--image-size", "16", "--max-primitives", "2", "--n-epochs", "5",
         "--n-train", "16", "--n-test", "8", "--set", "batch_size", "8", "n_val", "8",
         "supersample", "1", "glimpse_size", "8", "channels", "[4, 8, 8, 8]",
         "glimpse_channels", "[4, 4, 8, 8]", "glimpse_hidden", "16", "hidden", "16",
         "warmup_epochs", "1", "learning_rate", "0.003", "explain_pool", "6",
         "refine_rounds", "1", "canvas_draws", "1"]

# Runs train_air.py and sends itself a signal right after the evaluation at a given step.
STOPPER = """
import os, signal, sys
from training import air_system, train_air
stop_at, sig = int(sys.argv[1]), getattr(signal, sys.argv[2])
evaluate = air_system.AIRSystem.on_evaluation
def on_evaluation(self, step, name, result):
    evaluate(self, step, name, result)
    if step == stop_at:
        os.kill(os.getpid(), sig)
air_system.AIRSystem.on_evaluation = on_evaluation
sys.exit(train_air.main(sys.argv[3:]))
"""


def _results(out):
    results = json.loads((out / "results.json").read_text())
    metrics = {k: v for k, v in results["metrics"].items() if not k.endswith("seconds")}
    return metrics, results["history"]


def _steps(out):
    return [e["step"] for e in json.loads((out / "model" / "eval.json").read_text())]


def _run_stopped(argv, stop_at, sig):
    """(exit code, stdout, stderr) of train_air.py run in a process of its own that
    signals itself after the evaluation at step ``stop_at``."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    env["PYTHONPATH"] = PROJECT
    done = subprocess.run([sys.executable, "-c", STOPPER, str(stop_at), sig, *argv],
                          capture_output=True, text=True, cwd=PROJECT, env=env, timeout=900)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("air_resume") / "whole"
    assert train_air.main(SMALL + ["--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_ctrl_c_then_kill_9_then_the_same_command_end_with_the_uninterrupted_run(
        reference, tmp_path, capsys, monkeypatch):
    """One run interrupted twice: Ctrl-C after the evaluation at step 4 (here), then the
    same command again (with checkpoints every 3 steps) in a process of its own, killed with
    -9 after the evaluation at step 8, then the same command to the end (here)."""
    import signal

    from training import air_system
    out = tmp_path / "run"
    evaluate = air_system.AIRSystem.on_evaluation

    def on_evaluation(self, step, name, result):
        evaluate(self, step, name, result)
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    handler = signal.getsignal(signal.SIGINT)
    with monkeypatch.context() as patch:
        patch.setattr(air_system.AIRSystem, "on_evaluation", on_evaluation)
        assert train_air.main(SMALL + ["--out", str(out)]) == 130
    stdout = capsys.readouterr().out
    assert signal.getsignal(signal.SIGINT) is handler                # given back
    assert not (out / "results.json").exists() and not (out / "weights.npz").exists()
    assert "run the same command again to resume" in stdout
    assert _steps(out) == [2, 4]
    assert (out / "model" / "ckpt-5.index").exists()        # stopped in the third epoch

    # resumed at step 5; a checkpoint at step 6 (before that epoch's evaluation), killed
    # right after the evaluation at step 8 (before eval.json has it): eval.json holds 2, 4, 6
    code, stdout, stderr = _run_stopped(SMALL + ["--out", str(out), "--chkpt-steps", "3"], 8,
                                        "SIGKILL")
    assert code == -9, stderr
    assert "resuming the run" in stdout and "step 5 of 10" in stdout
    assert _steps(out) == [2, 4, 6]
    assert not (out / "results.json").exists()

    capsys.readouterr()
    assert train_air.main(SMALL + ["--out", str(out), "--chkpt-steps", "3"]) == 0
    printed = capsys.readouterr().out
    assert "step 6 of 10" in printed and "1 later evaluation(s)" in printed
    assert "taking over the lock" in printed                      # the dead run's lock file
    # the default compute follows the hardware, says so and is recorded
    from models import precision
    dtype = "bfloat16" if precision.use_bfloat16() else "float32"
    assert f"compute in {dtype} (" in printed
    saved = json.loads((out / "results.json").read_text())
    assert saved["compute_dtype"] == dtype and saved["config"]["mixed_precision"] is None
    assert saved["environment"]["cpu_bfloat16"] == precision.cpu_has_bfloat16()
    assert _results(out) == _results(reference)
    assert _steps(out) == [2, 4, 6, 8, 10]
    with np.load(out / "weights.npz") as a, np.load(reference / "weights.npz") as b:
        assert a.files == b.files
        for key in a.files:
            np.testing.assert_array_equal(a[key], b[key])


@pytest.mark.slow
def test_search_settings_do_not_make_another_model_but_training_settings_do(reference,
                                                                            tmp_path, capsys):
    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    searched = SMALL + ["--out", str(out), "--set", "explain_gain", "6.0", "repeat", "0",
                        "explain_mirror", "False"]
    assert train_air.main(searched) == 0
    assert "resuming the run" in capsys.readouterr().out
    results = json.loads((out / "results.json").read_text())
    assert results["history"] == _results(reference)[1]            # nothing trained again
    assert results["config"]["explain_gain"] == 6.0
    for change, named in ((["hidden", "32"], "hidden"), (["learning_rate", "0.01"],
                                                          "learning_rate")):
        assert train_air.main(SMALL + ["--out", str(out), "--set", *change]) == 2
        assert named in capsys.readouterr().err


@pytest.mark.slow
def test_evaluate_air_rebuilds_the_run_from_its_checkpoint(reference, tmp_path):
    from evaluation import run

    args = ["--mode", "evaluate_air", "--seed", "9", "--n-test", "16"]
    assert run.main(args + ["--weights", str(reference), "--out", str(tmp_path / "a.json")]) == 0
    assert run.main(args + ["--weights", str(reference / "weights.npz"),
                            "--out", str(tmp_path / "b.json")]) == 0
    a, b = (json.loads((tmp_path / n).read_text()) for n in ("a.json", "b.json"))
    assert a["metrics"] == b["metrics"]                              # the best epoch's weights
    assert run.main(args + ["--weights", str(reference), "--out", str(tmp_path / "c.json"),
                            "--set", "refine_rounds", "0", "explain_gain", "50.0"]) == 0
    c = json.loads((tmp_path / "c.json").read_text())
    assert c["search"]["explain_gain"] == 50.0 and c["search"]["refine_rounds"] == 0
    assert a["search"]["explain_gain"] is None                      # the camera's


def test_a_second_writer_of_out_is_refused_naming_the_holder(tmp_path, capsys):
    from data_provider import folder_lock

    out = tmp_path / "held"
    with folder_lock.hold(str(out), "--out", "another train_air.py"):
        assert train_air.main(SMALL + ["--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "another train_air.py" in err and f"process {os.getpid()}" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists() or os.listdir(out) == []              # nothing rendered or written


def test_weights_npz_arrays_are_the_checkpoint_s_best_weights(tmp_path):
    """The checkpoint's ``model`` holds the best weights under the keys a restore reads."""
    import tensorflow as tf

    from models.air import make_config
    from models.checkpoints import checkpoint_objects
    from training.air_system import AIRSystem

    config = make_config({"image_size": 16, "channels": [4, 4, 4, 4], "glimpse_size": 8,
                          "glimpse_channels": [4, 4, 4, 4], "n_epochs": 2})
    system = AIRSystem(config, steps_per_epoch=1)
    system.build()
    expected = checkpoint_objects({"model": system.model})["model"]
    assert list(system.checkpoint_items()["model"]) == list(expected)
    for key, variable in expected.items():
        np.testing.assert_array_equal(system.checkpoint_items()["model"][key].numpy(),
                                      variable.numpy())
    system.progress["best_epoch"].assign(1)
    for variable in system.best_weights.values():
        variable.assign(tf.ones_like(variable))
    system.on_train_end(2)
    assert all(np.all(w.numpy() == 1.0) for w in system.model.weights)


@pytest.mark.slow
def test_pictures_rebuild_the_run_s_model_from_its_checkpoint(reference, tmp_path):
    from visualization import air_pictures

    paths = air_pictures.make_pictures(str(reference), str(tmp_path / "pictures"), scenes=4,
                                       log=lambda line: None)
    names = sorted(os.path.basename(p) for p in paths)
    assert names == ["air_curves.png", "air_depth.png", "air_errors.png", "air_gallery.png",
                     "air_predictions.png", "air_scenes.png", "air_training.gif"]
    assert all(os.path.getsize(p) > 1000 for p in paths)
    from PIL import Image
    with Image.open(tmp_path / "pictures" / "air_training.gif") as gif:
        assert gif.n_frames == 5                                      # one per epoch
