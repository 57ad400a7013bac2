"""End to end: evaluation/run.py modes on a small FCR-alphaGAN checkpoint."""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from evaluation import alphagan_eval as ev
from evaluation import run as run_cli
from models.checkpoints import checkpoint_objects
from training.checkpointing import write_config
from training.system import present_gradients

# kernels of 2 and a point-wise refiner: the evaluations generate a few hundred scenes, each a
# fraction of the work it is with the original kernels
SMALL = ["CONST.N_VOX", "[16,16,16]", "NET.START_VOX", "[1,1,1]", "NET.DIM", "[8,8,8,8,12]",
         "NET.REFINE_CH", "4", "CONST.BATCH_SIZE", "4", "CHECK_FREQ", "2",
         "TRAIN.DATASET_PORTION", "[0, 0.6]",
         "NET.KERNEL", "[[2,2,2,2,2],[2,2,2,2,2],[2,2,2,2,2]]", "NET.REFINE_KERNEL", "1"]
CONF_EPOCH = 2


def _small_cfg(moving=False):
    from models.fcr_alphagan.config import cfg_from_list, default_config
    cfg = cfg_from_list(default_config(), SMALL)
    cfg.NET.BN_MOVING_AVERAGES = moving
    return cfg


def _train_and_save(cfg, ckpt_dir, scenes, steps=4):
    """A few reconstruction steps of encoder, generator and refiner, saved as ckpt-N."""
    import tensorflow as tf

    from models.fcr_alphagan import build_networks
    from models.fcr_alphagan.losses import reconstruction_loss
    nets = build_networks(cfg)
    opt = tf.keras.optimizers.Adam(1e-3)
    onehot = tf.one_hot(scenes[:4], 12)
    variables = [v for k in ("encoder", "generator", "refiner")
                 for v in nets[k].trainable_variables]
    for _ in range(steps):
        with tf.GradientTape() as tape:
            z, _ = nets["encoder"](onehot, training=True)
            probs = nets["generator"](z, training=True)
            loss = tf.reduce_mean(reconstruction_loss(onehot, probs)
                                  + reconstruction_loss(onehot, nets["refiner"](probs,
                                                                                training=True)))
        # the encoder's sigma head feeds no reconstruction loss: no gradient
        opt.apply_gradients(present_gradients(tape.gradient(loss, variables), variables))
    ckpt = tf.train.Checkpoint(step=tf.Variable(steps, dtype=tf.int64),
                               **checkpoint_objects(nets))
    manager = tf.train.CheckpointManager(ckpt, ckpt_dir, max_to_keep=5, checkpoint_name="ckpt")
    manager.save(checkpoint_number=CONF_EPOCH)
    from models.fcr_alphagan.config import model_config, run_config
    write_config(ckpt_dir, "fcr_alphagan", model_config(cfg), run_config(cfg))
    return nets


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    from data_provider.render_voxel_scenes import render_rooms
    root = tmp_path_factory.mktemp("eval")
    voxel_root = root / "vox"
    render_rooms(str(voxel_root), 10, seed=3, size=(16, 16, 16))
    from data_provider import voxel_provider
    pairs = voxel_provider.scene_model_id_pairs(str(voxel_root), (0.0, 1.0))
    scenes = voxel_provider.load_scenes(str(voxel_root), pairs[:4], (16, 16, 16))
    ckpt_dir = root / "ckpt"
    nets = _train_and_save(_small_cfg(), str(ckpt_dir), scenes)
    return {"root": root, "voxel_root": voxel_root, "ckpt": ckpt_dir, "nets": nets,
            "num_test": len(voxel_provider.train_test_pairs(str(voxel_root), (0.0, 0.6))[1])}


def _run(setup, eval_dir, *args, code=0):
    argv = ["--conf_epoch", str(CONF_EPOCH), "--checkpoint_dir", str(setup["ckpt"]),
            "--voxel_root", str(setup["voxel_root"]), "--eval_dir", str(eval_dir),
            "--batch_size", "3", "--seed", "0", *args]
    assert exit_code(argv) == code


def exit_code(argv):
    """Exit code of ``run.py`` (returned by main, or raised by the argument parser)."""
    try:
        return run_cli.main(argv)
    except SystemExit as stop:
        return stop.code


def snapshot(folder):
    """Every file under ``folder`` (hidden ones too) with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


@pytest.fixture(scope="module")
def evaluated(setup):
    """One folder written by the three modes in turn, and what evaluate_recons printed
    (read once here; tests that change a folder work on a copy)."""
    eval_dir = setup["root"] / "out"
    argv = ["--conf_epoch", str(CONF_EPOCH), "--checkpoint_dir", str(setup["ckpt"]),
            "--voxel_root", str(setup["voxel_root"]), "--eval_dir", str(eval_dir),
            "--batch_size", "3", "--seed", "0"]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert exit_code(argv + ["--mode", "evaluate_recons"]) == 0
    assert exit_code(argv + ["--mode", "evaluate_interpolate", "--pairs", "2"]) == 0
    assert exit_code(argv + ["--mode", "evaluate_noise", "--bases", "2"]) == 0
    return {"dir": eval_dir, "recons_out": out.getvalue(), "recons_err": err.getvalue()}


def copy_of(evaluated, folder):
    shutil.copytree(evaluated["dir"], folder)
    return folder


@pytest.mark.slow
def test_all_modes_write_every_file(setup, evaluated):
    import re
    eval_dir = evaluated["dir"]
    n = setup["num_test"]
    assert n >= 2
    table = evaluated["recons_out"]
    assert "IoU_refine" in table and "all" in table and "\nobjs " in table
    progress = [line for line in evaluated["recons_err"].splitlines()
                if line.startswith("[evaluate_recons]")]
    assert re.fullmatch(rf"\[evaluate_recons\] {n}/{n} scenes  [\d.]+ scenes/s  ETA 0:00:00",
                        progress[-1])
    shapes = {"sample_z.npy": (3, 1, 1, 1, 16), "generate.npy": (3, 16, 16, 16),
              "generate_refine.npy": (3, 16, 16, 16), "real.npy": (n, 16, 16, 16),
              "recons.npy": (n, 16, 16, 16), "recons_refine.npy": (n, 16, 16, 16),
              "decode_z.npy": (n, 1, 1, 1, 16)}
    for name, shape in shapes.items():
        assert np.load(eval_dir / name).shape == shape, name
    real = np.load(eval_dir / "real.npy")
    assert real.max() <= 11 and real.any()
    for name in ("IoU.csv", "AP.csv", "IoU_refine.csv", "AP_refine.csv"):
        rows = np.loadtxt(eval_dir / name, delimiter=",")
        assert rows.shape == (13,)
        finite = rows[np.isfinite(rows)]
        assert np.all((finite >= 0) & (finite <= 1))
        assert np.allclose(finite, np.round(finite, 3))
    from evaluation.metrics import iou_rows
    iou = iou_rows(np.load(eval_dir / "recons.npy"), real)
    summary = json.loads((eval_dir / "metrics.json").read_text())
    assert summary["num_scenes"] == n and len(summary["IoU"]) == 13
    from data_provider.voxel_classes import CLASS_NAMES
    assert summary["rows"] == list(CLASS_NAMES) + ["all"]
    np.testing.assert_allclose(np.array(summary["IoU"], float), iou, rtol=1e-12)

    for left, right in [(0, 1), (0, 2)]:
        z = np.load(eval_dir / f"interpolation_z{left}-{right}.npy")
        assert z.shape == (30, 1, 1, 1, 16)
        codes = np.load(eval_dir / "decode_z.npy")
        np.testing.assert_array_equal(z[0], codes[left])
        np.testing.assert_allclose(z[-1], codes[right], atol=1e-5)
        assert np.load(eval_dir / f"interpolation{left}-{right}.npy").shape == (30, 16, 16, 16)
    assert not (eval_dir / "interpolation1-0.npy").exists()

    for b in range(2):
        z = np.load(eval_dir / f"noise_z{b}_000.npy")
        assert z.shape == (10, 1, 1, 1, 16)
        np.testing.assert_array_equal(z[0], np.load(eval_dir / "decode_z.npy")[b])
        assert not np.allclose(z[1], z[0])
        assert np.load(eval_dir / f"noise{b}_000.npy").shape == (10, 16, 16, 16)
        cmap = np.load(eval_dir / f"change_map{b}.npy")
        assert cmap.shape == (1, 1, 1, 16, 16) and 0 <= cmap.min() <= cmap.max() <= 1
        assert (eval_dir / f"change_map{b}.png").stat().st_size > 0
    assert not (eval_dir / "noise2_000.npy").exists()


@pytest.mark.slow
def test_restored_networks_hold_every_trained_weight(setup):
    restored = ev.restore_networks(_small_cfg(), str(setup["ckpt"]), CONF_EPOCH)
    for name in ("encoder", "generator", "refiner"):
        trained = setup["nets"][name].weights
        assert len(restored[name].weights) == len(trained) > 4
        for a, b in zip(trained, restored[name].weights):
            np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=f"{name}: {a.path}")


def test_batched_equals_per_sample_with_moving_averages():
    """With moving-average batch norm, batching codes does not change any scene."""
    cfg = _small_cfg(moving=True)
    from models.fcr_alphagan import build_networks
    nets = build_networks(cfg)
    rng = np.random.default_rng(1)
    codes = rng.normal(size=(4, 1, 1, 1, 16)).astype(np.float32)
    z = ev.interpolation_codes(codes[0], codes[1], steps=7)
    fast = ev.generate_labels(nets, z, 3)[1]
    slow = ev.refined_labels_per_sample(nets, z, codes[1:])
    np.testing.assert_array_equal(fast, slow)


def test_code_construction():
    base = np.arange(2 * 1 * 3 * 4, dtype=np.float32).reshape(2, 1, 3, 4)
    eps = np.ones((9, 4), np.float32) * np.arange(1, 10, dtype=np.float32)[:, None]
    codes, positions = ev.noise_codes(base, eps)
    assert codes.shape == (6 * 10, 2, 1, 3, 4) and positions[1] == (0, 0, 1)
    block = codes[10:20]
    np.testing.assert_array_equal(block[0], base)
    diff = block[3] - base
    assert np.all(diff[0, 0, 1] == 3) and np.count_nonzero(diff) == 4
    z = ev.interpolation_codes(np.zeros(2, np.float32), np.full(2, 29, np.float32))
    np.testing.assert_allclose(z[:, 0], np.arange(30), atol=1e-5)
    assert ev.ordered_pairs(3) == [(0, 1), (0, 2), (1, 0), (1, 2), (2, 0), (2, 1)]
    assert [b - a for a, b in ev.chunks(30, 20)] == [15, 15]


def test_change_map_counts_changed_voxels():
    labels = np.zeros((2, 10, 4, 3, 5), np.uint8)
    labels[1, 1:4, 2, :, 1] = 7
    cmap = ev.change_map(labels)
    assert cmap.shape == (2, 4, 5) and cmap[0].max() == 0
    assert cmap[1, 2, 1] == pytest.approx(3 / 9) and cmap[1].sum() == pytest.approx(3 / 9)


@pytest.mark.slow
def test_missing_checkpoint_lists_existing(setup, capsys):
    assert exit_code(["--mode", "evaluate_recons", "--conf_epoch", "7", "--checkpoint_dir",
                      str(setup["ckpt"]), "--eval_dir", str(setup["root"] / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("run.py: error: no checkpoint ckpt-7") and err.count("\n") == 1
    assert f"checkpoints there: {CONF_EPOCH}" in err
    assert not (setup["root"] / "x").exists()


@pytest.mark.slow
def test_missing_decode_z_says_how_to_make_it(setup, capsys):
    for mode in ("evaluate_interpolate", "evaluate_noise"):
        assert exit_code(["--mode", mode, "--checkpoint_dir", str(setup["ckpt"]),
                          "--conf_epoch", str(CONF_EPOCH),
                          "--eval_dir", str(setup["root"] / "empty")]) == 2
        err = capsys.readouterr().err
        assert "decode_z.npy not found" in err and "--mode evaluate_recons" in err
        assert err.count("\n") == 1


@pytest.mark.parametrize("content, message", [
    ("text", "codes file {} is not a valid .npy array file"),
    ("shape", "{}: codes of shape (1, 1, 2, 16) do not fit this config (NET.START_VOX + NET.DIM_Z "
              "= (1, 1, 1, 16))"),
    ("labels", "{}: expected float codes [N, X, Y, Z, dim_z], got uint8 of shape (3, 16, 16, 16)"),
])
@pytest.mark.slow
def test_bad_decode_z_is_refused_before_anything_runs(setup, tmp_path, capsys, content, message):
    path = tmp_path / "decode_z.npy"
    if content == "text":
        path.write_text("0.1 0.2 0.3\n")
    elif content == "shape":
        np.save(path, np.zeros((3, 1, 1, 2, 16), np.float32))
    else:
        np.save(path, np.zeros((3, 16, 16, 16), np.uint8))
    before = snapshot(tmp_path)
    _run(setup, tmp_path, "--mode", "evaluate_noise", code=2)
    err = capsys.readouterr().err
    assert err == f"run.py: error: {message.format(path)}\n"
    assert "[run] restored" not in err and snapshot(tmp_path) == before


def test_bad_flags_exit_2_with_one_line(capsys):
    for argv, message in (
            (["--mode", "evaluate"], "argument --mode: invalid choice"),
            (["--mode", "evaluate_noise", "--batch_size", "0"], "--batch_size must be a positive"),
            (["--mode", "evaluate_recons", "--set", "NET.NOPE", "1"], "NET.NOPE"),
            (["--mode", "evaluate_recons", "--set", "CHECK_FREQ", "2", "--set", "NET.DIM"],
             "--set expects KEY VALUE pairs; 'NET.DIM' has no value")):
        assert exit_code(argv + ["--checkpoint_dir", "/nonexistent"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("run.py: error: ") and err.count("\n") == 1 and message in err, err


@pytest.mark.slow
def test_set_pairs_repeat_and_group(setup, capsys):
    """--set K V K V and a second --set: every pair applies (here: the test split, the batch)."""
    eval_dir = setup["root"] / "set"
    assert exit_code(["--mode", "evaluate_recons", "--conf_epoch", str(CONF_EPOCH),
                      "--checkpoint_dir", str(setup["ckpt"]),
                      "--voxel_root", str(setup["voxel_root"]),
                      "--eval_dir", str(eval_dir), "--seed", "0",
                      "--set", "TRAIN.DATASET_PORTION", "[0, 0.3]", "CHECK_FREQ", "2",
                      "--set", "CONST.BATCH_SIZE", "2"]) == 0
    assert np.load(eval_dir / "real.npy").shape[0] == 7  # 10 scenes, the first 3 are train
    assert np.load(eval_dir / "sample_z.npy").shape[0] == 2  # CONST.BATCH_SIZE codes


@pytest.mark.slow
def test_failed_run_leaves_earlier_outputs_byte_identical(setup, evaluated, tmp_path, capsys):
    eval_dir = copy_of(evaluated, tmp_path / "keep")
    before = snapshot(eval_dir)
    assert "sample_z.npy" in before and "interpolation0-1.npy" in before
    capsys.readouterr()
    _run(setup, eval_dir, "--mode", "evaluate_recons", "--voxel_root", "/nonexistent",
         "--seed", "5", code=2)
    err = capsys.readouterr().err
    assert err == "run.py: error: --voxel_root /nonexistent: not a directory of " \
                  "<sceneId>/<modelId>.npy\n"
    assert snapshot(eval_dir) == before


@pytest.mark.slow
def test_text_file_renamed_npy_among_test_scenes(setup, tmp_path, capsys):
    from data_provider import voxel_provider
    from data_provider.render_voxel_scenes import render_rooms
    render_rooms(tmp_path / "vox", 10, seed=3, size=(16, 16, 16), log=lambda line: None)
    scene_id, model_id = voxel_provider.list_pairs(tmp_path / "vox")[-1]  # a test scene
    bad = voxel_provider.voxel_path(tmp_path / "vox", scene_id, model_id)
    with open(bad, "w") as f:
        f.write("0 0 1 2\n")
    _run(setup, tmp_path / "eval", "--mode", "evaluate_recons",
         "--voxel_root", str(tmp_path / "vox"),
         code=2)
    assert capsys.readouterr().err == f"run.py: error: {bad}: not a valid .npy array file\n"
    assert not (tmp_path / "eval").exists()


@pytest.mark.slow
def test_crash_part_way_leaves_the_previous_set(setup, evaluated, tmp_path, monkeypatch):
    """A failure after some outputs were computed: no file changes, no temporary file stays."""
    eval_dir = copy_of(evaluated, tmp_path / "crash")
    before = snapshot(eval_dir)
    calls = []

    def failing(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("out of memory on the second pair")
        return real(*args, **kwargs)

    real = ev._refined
    monkeypatch.setattr(ev, "_refined", failing)
    with pytest.raises(RuntimeError, match="second pair"):
        _run(setup, eval_dir, "--mode", "evaluate_interpolate", "--pairs", "2", "--seed", "1")
    assert len(calls) == 2 and snapshot(eval_dir) == before


@pytest.mark.slow
def test_script_is_quiet_and_one_line():
    """As a user runs it: no TensorFlow start-up chatter, one line, exit code 2."""
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = {k: v for k, v in os.environ.items() if k != "TF_CPP_MIN_LOG_LEVEL"}
    runs = [subprocess.Popen([sys.executable, "evaluation/run.py", *flags], cwd=repo, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for flags in (["--mode", "evaluate_noise", "--checkpoint_dir", "/nonexistent/ck",
                           "--conf_epoch", "3"], ["--help"])]  # both interpreters at once
    (out, err), (help_out, _) = [proc.communicate(timeout=300) for proc in runs]
    assert (runs[0].returncode, out) == (2, "")
    assert err == ("run.py: error: no checkpoint ckpt-3 in /nonexistent/ck (--conf_epoch 3); "
                   "checkpoints there: none (no such directory)\n")
    assert runs[1].returncode == 0 and "evaluate_interpolate" in help_out
    assert "(default: 10000)" in help_out and "--verbose" in help_out


@pytest.mark.slow
def test_checkpoint_of_another_config_is_a_clear_error(setup, capsys):
    assert exit_code(["--mode", "evaluate_recons", "--conf_epoch", str(CONF_EPOCH),
                      "--checkpoint_dir", str(setup["ckpt"]),
                      "--voxel_root", str(setup["voxel_root"]),
                      "--eval_dir", str(setup["root"] / "y"),
                      "--set", "NET.DIM", "[16,8,8,8,12]"]) == 2
    err = capsys.readouterr().err
    assert f"ckpt-{CONF_EPOCH} does not hold a model of this configuration" in err
    assert "[16, 8, 8, 8, 12]" in err
    assert not (setup["root"] / "y").exists()
