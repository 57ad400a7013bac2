"""AIR 3D training and evaluation: a tiny run, results.json, evaluate_air, bad input."""
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from models.air import build_air_model_3d, losses, make_config
from training import train_air

# float32 compute forced: the default follows the hardware (models.precision), and this run
# is then the same kind on machines with and without bfloat16 units
TINY = ["--seed", "3", "--image-size", "32", "--max-primitives", "2", "--n-epochs", "8",
        "--n-train", "512", "--n-test", "64", "--set", "n_val", "64", "supersample", "1",
        "glimpse_size", "12", "channels", "[16, 32, 32, 32]", "warmup_epochs", "1",
        "learning_rate", "0.003", "mixed_precision", "False"]
PROJECT = str(__import__("pathlib").Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("air") / "run"
    assert train_air.main(TINY + ["--out", str(out)]) == 0
    return out


@pytest.mark.slow
def test_tiny_training_counts_better_than_chance(tiny_run):
    results = json.loads((tiny_run / "results.json").read_text())
    # 1 or 2 primitives, equally likely: always answering one count is right half the time.
    assert results["metrics"]["count_accuracy"] > 0.65
    assert results["metrics"]["type_accuracy"] > 0.4                # chance 1/3
    history = results["history"]
    assert history[-1]["val"]["loss"] < history[0]["val"]["loss"]


@pytest.mark.slow
def test_results_json_schema(tiny_run):
    results = json.loads((tiny_run / "results.json").read_text())
    assert set(results) >= {"config", "metrics", "history", "environment", "timing", "best_epoch"}
    config = results["config"]
    assert (config["seed"], config["image_size"], config["max_primitives"], config["n_epochs"],
            config["n_train"], config["n_test"], config["weight_decay"]) == (3, 32, 2, 8, 512, 64,
                                                                           1e-3)
    m = results["metrics"]
    for key in ("count_accuracy", "presence_accuracy", "type_accuracy", "best_epoch",
                "rotation_geodesic_mean", "rotation_geodesic_median", "synthesis_seconds",
                "training_seconds"):
        assert np.isfinite(m[key])
    for key in ("position_mae", "rotation_mae_euler", "depth_blind_position_mae"):
        assert len(m[key]) == 3 and all(np.isfinite(m[key]))
    assert np.array(m["type_confusion"]).sum() == m["primitives"]
    assert len(results["history"]) == 8 and 1 <= results["best_epoch"] <= 8
    assert {"epoch", "train", "val"} <= set(results["history"][0])
    assert {"python", "tensorflow", "numpy", "os", "processor"} <= set(results["environment"])
    with np.load(tiny_run / "weights.npz") as z:
        assert json.loads(str(z["config"]))["image_size"] == 32
    with np.load(tiny_run / "snapshots.npz") as z:
        assert z["position"].shape[:2] == (8, 6) and list(z["epochs"]) == list(range(1, 9))


@pytest.mark.slow
def test_evaluate_air_on_fresh_scenes(tiny_run, tmp_path, capsys):
    from evaluation import run

    out = tmp_path / "eval.json"
    args = ["--mode", "evaluate_air", "--weights", str(tiny_run / "weights.npz"), "--seed", "9",
            "--n-test", "64", "--out", str(out)]
    assert run.main(args) == 0
    stages = [line.split(": ", 1)[1].rsplit(" (", 1)[0] for line in
              capsys.readouterr().out.splitlines() if line.startswith("[search] 64 images: ")]
    assert stages[:2] == ["candidates read", "counted by re-rendering"]  # a line per stage
    result = json.loads(out.read_text())
    assert result["seed"] == 9 and result["metrics"]["scenes"] == 64
    assert result["metrics"]["count_accuracy"] > 0.5
    # Same weights, one primitive per scene: every scene is counted alike.
    assert run.main(args[:-2] + ["--max-primitives", "1", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["metrics"]["primitives"] == 64


def _one_line_exit_2(*argvs):
    """The one stderr line of each command, all started at once; each must exit 2.

    As a user runs it: TensorFlow's start-up lines are the tool's to hide."""
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    procs = [subprocess.Popen([sys.executable, *argv], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, cwd=PROJECT, env=env)
             for argv in argvs]
    found = []
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1, err
        found.append(lines[0])
    return found[0] if len(found) == 1 else found


@pytest.mark.parametrize("flags,match", [
    (["--n-epochs", "0"], "--n-epochs must be a positive integer"),
    (["--max-primitives", "0"], "--max-primitives must be a positive integer"),
    (["--set", "head", "capsules"], "--set head"),
    (["--set", "matching", "sorted"], "matching"),
    (["--set", "no_such_key", "1"], "--set no_such_key: unknown AIR config key"),
    (["--set", "explain_gian", "2"], "closest: explain_gain"),
    (["--set", "hidden", "64.5"], "--set hidden 64.5: expected an integer"),
    (["--set", "channels", "[16, 32.5]"], "expected a list of integers"),
    (["--set", "learning_rate", "-0.001"], "--set learning_rate must be a non-negative number"),
    (["--weight-decay", "-1"], "--weight-decay must be a non-negative number"),
    (["--set", "turns", "4"], "--set turns must be 1, 2 or 3"),
    (["--set", "explain_mirror", "yes"], "--set explain_mirror yes: expected True or False"),
    (["--set", "repeat", "-1"], "--set repeat must be a non-negative integer"),
    (["--set", "canvas_rate", "1.5"], "--set canvas_rate must be a number in [0, 1]"),
    (["--image-size", "abc"], "--image-size"),
])
def test_train_air_bad_flags_get_one_line_and_exit_2(flags, match, tmp_path):
    line = _one_line_exit_2(["training/train_air.py", "--out", str(tmp_path / "o"), *flags])
    assert match in line


def test_train_air_refuses_an_out_it_did_not_write(tmp_path):
    (tmp_path / "results.json").write_text("{}")
    line = _one_line_exit_2(["training/train_air.py", "--out", str(tmp_path)])
    assert "results.json" in line and (tmp_path / "results.json").read_text() == "{}"


@pytest.mark.slow
def test_evaluate_air_refuses_weights_of_another_config(tmp_path, capsys):
    # A slot model for 2 primitives cannot be asked for 3.
    slot_config = make_config({"head": "slots", "matching": "sorted", "max_primitives": 2,
                               "image_size": 32, "channels": [8, 8, 8, 8], "hidden": 16})
    slots = tmp_path / "slots.npz"
    train_air.save_weights(str(slots), build_air_model_3d(slot_config), slot_config)
    # Arrays that do not fit the config they came with.
    with np.load(_small_weights(tmp_path / "weights.npz")) as z:
        arrays = dict(z)
    config = json.loads(str(arrays["config"]))
    config["channels"] = [4, 4, 4, 8]
    arrays["config"] = json.dumps(config)
    edited = tmp_path / "edited.npz"
    np.savez(edited, **arrays)
    text = tmp_path / "text.npz"                       # not an archive at all
    text.write_text("weights\n")
    evaluate = ["evaluation/run.py", "--mode", "evaluate_air", "--weights"]
    # as a user runs it (TensorFlow's start-up lines hidden), building the model of the file
    misfit = _one_line_exit_2(evaluate + [str(edited), "--n-test", "4"])
    assert "do not fit" in misfit
    more = _one_line_exit_2_here(evaluate[1:] + [str(slots), "--max-primitives", "3",
                                                 "--n-test", "4"], capsys)
    assert "at most 2" in more
    absent, not_npz = (_one_line_exit_2_here(evaluate[1:] + [str(path)], capsys)
                       for path in (tmp_path / "absent.npz", text))
    assert "does not exist" in absent
    assert "is not a .npz archive" in not_npz and "pickle" not in not_npz


def _one_line_exit_2_here(argv, capsys):
    """The one stderr line of ``evaluation/run.py argv`` run in this process; it must exit 2."""
    from evaluation import run

    capsys.readouterr()
    assert run.main(argv) == 2
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return lines[0]


def _small_weights(path):
    config = make_config({"image_size": 16, "channels": [4, 4, 4, 4], "glimpse_size": 8,
                          "glimpse_channels": [4, 4, 4, 4], "glimpse_hidden": 8, "hidden": 8})
    train_air.save_weights(str(path), build_air_model_3d(config), config)
    return path


@pytest.mark.parametrize("kind", ["npy", "truncated", "empty", "foreign", "directory"])
def test_evaluate_air_refuses_weights_files_of_another_kind_in_one_line(kind, tmp_path, capsys):
    from evaluation import run

    weights = _small_weights(tmp_path / "weights.npz")
    wrong = tmp_path / f"wrong.{'npy' if kind == 'npy' else 'npz'}"
    if kind == "npy":
        np.save(wrong, np.zeros((3, 3)))
    elif kind == "truncated":
        wrong.write_bytes(weights.read_bytes()[:len(weights.read_bytes()) // 2])
    elif kind == "empty":
        wrong.write_bytes(b"")
    elif kind == "foreign":
        np.savez(wrong, images=np.zeros((2, 2)))
    else:
        wrong = tmp_path / "folder"
        wrong.mkdir()
    argv = ["--mode", "evaluate_air", "--weights", str(wrong), "--n-test", "2",
            "--out", str(tmp_path / "eval.json")]
    assert run.main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and str(wrong) in err[0], err
    expected = {"npy": "is a .npy array", "truncated": "damaged or truncated",
                "empty": "not a .npz archive", "foreign": "no written_by or config entry",
                "directory": "holds neither a run"}[kind]
    assert expected in err[0]
    assert not (tmp_path / "eval.json").exists()


def test_evaluate_air_searches_as_set_says(tmp_path):
    from evaluation import run

    weights = _small_weights(tmp_path / "weights.npz")
    assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "2",
                     "--out", str(tmp_path / "eval.json"), "--set", "refine_rounds", "0",
                     "explain_pool", "4"]) == 0
    search = json.loads((tmp_path / "eval.json").read_text())["search"]
    assert search["refine_rounds"] == 0 and search["explain_pool"] == 4
    assert search["explain_gain"] is None              # the run's, untouched: the camera's


@pytest.mark.parametrize("pair,match", [
    (["hidden", "8"], "--set hidden: unknown AIR search config key"),
    (["explain_gian", "2"], "closest: explain_gain"),
    (["refine_rounds", "two"], "--set refine_rounds two: expected an integer"),
])
def test_evaluate_air_set_takes_search_keys_typed_by_their_defaults(pair, match, tmp_path, capsys):
    from evaluation import run

    weights = _small_weights(tmp_path / "weights.npz")
    assert run.main(["--mode", "evaluate_air", "--weights", str(weights), "--n-test", "2",
                     "--set", *pair]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


@pytest.mark.slow
@pytest.mark.parametrize("head,matching", [("slots", "sorted"), ("grid", "hungarian")])
def test_every_head_trains_and_is_evaluated_from_its_run_folder(head, matching, tmp_path):
    """The reference's layout (``--set head slots matching sorted``) and the bare grid: one
    epoch, written, restored from the run folder and measured."""
    from evaluation import run

    out = tmp_path / head
    flags = ["--seed", "1", "--image-size", "16", "--max-primitives", "2", "--n-epochs", "1",
             "--n-train", "64", "--n-test", "8", "--out", str(out), "--set", "head", head,
             "matching", matching, "n_val", "16", "supersample", "1", "channels",
             "[4, 8, 8, 8]", "hidden", "16", "turns", "1", "explain_pool", "4",
             "refine_rounds", "0"]
    assert train_air.main(flags) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["head"] == head and len(results["history"]) == 1
    saved = json.loads((out / "model" / "config.json").read_text())["model"]
    assert saved["head"] == head and saved["input_channels"] == (2 if head == "grid" else 1)
    assert "explain_pool" not in saved and "repeat" not in saved
    assert run.main(["--mode", "evaluate_air", "--weights", str(out), "--n-test", "4",
                     "--out", str(tmp_path / "eval.json")]) == 0
    metrics = json.loads((tmp_path / "eval.json").read_text())["metrics"]
    assert metrics["scenes"] == 4


def test_pair_costs_against_numpy():
    rng = np.random.default_rng(0)
    b, s, k = 2, 4, 3
    pred = {"presence_logit": rng.normal(size=(b, s)), "type_logits": rng.normal(size=(b, s, 3)),
            "position": rng.normal(size=(b, s, 3)),
            "rotation": np.stack([np.linalg.qr(rng.normal(size=(3, 3)))[0] for _ in range(b * s)])
            .reshape(b, s, 3, 3)}
    pred["rotation"] *= np.linalg.det(pred["rotation"])[..., None, None]   # proper rotations
    target = {"types": np.array([[0, 1, -1], [2, 1, 0]]), "positions": rng.normal(size=(b, k, 3)),
              "rotations": pred["rotation"][:, :k][:, ::-1].copy()}
    costs = {n: c.numpy() for n, c in losses.pair_costs(
        {n: tf.constant(v, tf.float32) for n, v in pred.items()},
        {n: tf.constant(v) for n, v in target.items()}).items()}
    for i in range(b):
        for j in range(s):
            for t in range(k):
                c = target["types"][i, t]
                if c < 0:
                    assert all(costs[n][i, j, t] == 0 for n in costs)
                    continue
                z = pred["presence_logit"][i, j]
                logits = pred["type_logits"][i, j]
                expected = {
                    "presence": np.log1p(np.exp(-z)),
                    "type": np.log(np.exp(logits).sum()) - logits[c],
                    "position": np.abs(pred["position"][i, j] - target["positions"][i, t]).sum()}
                m = pred["rotation"][i, j].T @ target["rotations"][i, t]
                if c == 1:
                    from models.air.rotations import CUBE_GROUP
                    cos = max((np.trace(m @ g) - 1) / 2 for g in CUBE_GROUP)
                elif c == 2:
                    cos = abs(pred["rotation"][i, j][:, 2] @ target["rotations"][i, t][:, 2])
                else:
                    cos = 1.0
                expected["rotation"] = 1 - cos
                for name, value in expected.items():
                    assert costs[name][i, j, t] == pytest.approx(value, abs=1e-4), name


def test_same_seed_same_initial_weights():
    import keras

    config = make_config({"image_size": 32, "channels": [8, 8, 8, 8]})
    first = []
    for _ in range(2):
        keras.utils.set_random_seed(7)
        first.append([w.numpy() for w in build_air_model_3d(config).weights])
    for a, b in zip(*first):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("k", [1, 3])
def test_mirror_batch_swaps_x_and_y_in_graph_mode(k):
    """Mirroring through x = y: image flipped left-right, x and y swapped, P R P; with one
    primitive per scene too (a broadcast matmul inside a select crashed there)."""
    from models.air.scenes import generate_dataset
    from training.air_system import mirror_batch

    data = generate_dataset(4, 0, 32, k, "train", 1)
    flip = np.array([True, False, True, False])
    out = tf.function(mirror_batch)({key: tf.constant(v) for key, v in data.items()},
                                    tf.constant(flip))
    p = np.array([[0.0, 1, 0], [1, 0, 0], [0, 0, 1]])
    np.testing.assert_array_equal(out["images"].numpy()[flip], data["images"][flip][:, :, ::-1])
    np.testing.assert_array_equal(out["images"].numpy()[~flip], data["images"][~flip])
    np.testing.assert_array_equal(out["positions"].numpy()[flip],
                                  data["positions"][flip][..., [1, 0, 2]])
    np.testing.assert_allclose(out["rotations"].numpy()[flip],
                               p @ data["rotations"][flip] @ p, atol=1e-7)
    np.testing.assert_array_equal(out["rotations"].numpy()[~flip], data["rotations"][~flip])


def test_training_epochs_show_each_scene_in_one_of_its_versions():
    """``dataset_fn(versions=...)``: every epoch holds each scene once, in a version drawn
    with the epoch's seed; evaluation (no shuffle seed) reads the scenes as given."""
    from training.air_system import dataset_fn

    n = 12
    base = {"images": np.zeros((n, 4, 4, 1), np.float32), "types": np.zeros((n, 2), np.int32),
            "positions": np.zeros((n, 2, 3), np.float32),
            "rotations": np.zeros((n, 2, 3, 3), np.float32)}
    base["types"][:, 0] = np.arange(n)                       # scene id
    versions = [dict(base, images=np.full((n, 4, 4, 1), v, np.float32)) for v in (1.0, 2.0)]
    make = dataset_fn(base, 4, shuffle_seed=lambda epoch: 7 + epoch, versions=versions)
    context = tf.distribute.InputContext()
    seen = []
    for _ in range(4):
        batches = list(make(context))
        ids = np.concatenate([b["types"].numpy()[:, 0] for b in batches])
        version = np.concatenate([b["images"].numpy()[:, 0, 0, 0] for b in batches])
        assert sorted(ids) == list(range(n))
        seen.append(version[np.argsort(ids)])
    seen = np.stack(seen)
    assert set(np.unique(seen)) == {0.0, 1.0, 2.0}           # every version is shown
    assert len({tuple(row) for row in seen}) > 1              # drawn anew each epoch
    plain = list(dataset_fn(base, 4, versions=versions)(context))
    assert np.all(np.concatenate([b["images"].numpy() for b in plain]) == 0.0)
