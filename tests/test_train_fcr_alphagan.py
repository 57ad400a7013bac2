"""FCR-alphaGAN training: CLI, learning, the phase switch, checkpoints, train_vox and resume."""
import json
import re

import numpy as np
import pytest
import tensorflow as tf

from data_provider import cli, render_voxel_scenes
from models.fcr_alphagan import build_networks, count_trainable
from models.fcr_alphagan.config import cfg_from_list, default_config
from training import train_fcr_alphagan
from training.fcr_alphagan_system import FCRAlphaGANSystem, learning_rate_v, saved_sample_z

# The smallest grid the networks accept (16 x START_VOX), kernels of 2 (stride-2 layers that
# still cover every voxel) and a point-wise refiner: a training step takes a fraction of a
# second, so the time of these tests goes to what they check, not to convolutions.
TINY = ["CONST.N_VOX", "[16,16,16]", "NET.START_VOX", "[1,1,1]", "NET.DIM", "[32,16,8,8,12]",
        "CONST.BATCH_SIZE", "4", "NET.REFINE_CH", "8",
        "NET.KERNEL", "[[2,2,2,2,2],[2,2,2,2,2],[2,2,2,2,2]]", "NET.REFINE_KERNEL", "1"]


def tiny_config(*extra):
    return cfg_from_list(default_config(), TINY + list(extra))


@pytest.fixture(scope="module")
def rooms(tmp_path_factory):
    root = tmp_path_factory.mktemp("rooms")
    render_voxel_scenes.render_rooms(root, 12, seed=0, size=(16, 16, 16))
    return root


def fixed_batch(rooms):
    paths = sorted(str(p) for p in rooms.rglob("*.npy"))[:4]
    return tf.constant(np.stack([np.load(p) for p in paths]).astype(np.int32))


def weights(model):
    return [v.numpy().copy() for v in model.trainable_variables]


def same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_learning_rate_v_schedule():
    rate = [0.1, 3, 0.01]
    assert [float(learning_rate_v(rate, i)) for i in (1, 2, 3, 4)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01])


def test_max_iterations_zero_logs_parameter_counts(tmp_path, capsys):
    rc = train_fcr_alphagan.main(["--max_iterations", "0", "--voxel_root", str(tmp_path / "none"),
                                  "--checkpoint_dir", str(tmp_path / "ck"), "--set", *TINY])
    assert rc == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith("trainable")]
    nets = build_networks(tiny_config())
    assert lines == [f"trainable parameters {k}: {count_trainable(nets[k])}" for k in
                     ("generator", "encoder", "discriminator", "code_discriminator", "refiner")]
    assert not (tmp_path / "ck").exists()


@pytest.mark.parametrize("argv, needle", [
    (["--set", "NET.NOPE", "1"], "NET.NOPE"),
    (["--set", "CHECK_FREQ", "often"], "CHECK_FREQ"),
    (["--set", "CONST.N_VOX", "[16,16,16]"], "NET.START_VOX"),
    (["--max_iterations", "-1"], "--max_iterations"),
    (["--learning_rate_G", "-0.001"], "--learning_rate_G must be a positive number, got -0.001"),
    (["--learning_rate_D", "0"], "--learning_rate_D must be a positive number, got 0.0"),
    (["--learning_rate_G", "nan"], "--learning_rate_G must be a positive number, got nan"),
    (["--set", "LEARNING_RATE_D", "-1e-4"],
     "LEARNING_RATE_D must be a positive number, got -0.0001"),
    (["--set", "LEARNING_RATE_V", "[0.0001,1000,0]"],
     "LEARNING_RATE_V[2] must be a positive number, got 0"),
    (["--set", "LEARNING_RATE_V", "[-1,1000,0.0001]"], "LEARNING_RATE_V[0] must be a positive"),
])
def test_bad_arguments_exit_2_naming_the_problem(tmp_path, capsys, argv, needle):
    rc = train_fcr_alphagan.main(["--checkpoint_dir", str(tmp_path / "ck")] + argv)
    err = capsys.readouterr().err
    assert rc == 2 and needle in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "ck").exists()


@pytest.mark.slow
def test_reconstruction_loss_falls_on_synthetic_rooms(rooms, tmp_path):
    cfg = tiny_config("LEARNING_RATE_V", "[0.1,1000,0.1]", "LEARNING_RATE_G", "0.1")
    system = FCRAlphaGANSystem(cfg, str(tmp_path), 4, seed=0)
    system.build()
    batch = fixed_batch(rooms)
    # eager: three steps take less time than tracing the step; the ratio is 0.44 to 0.46 from
    # every initialisation tried
    recons = [float(system.train_step(batch, tf.constant(i, tf.int64), "autoencoder_gan")[0]
                    ["recons_loss"]) for i in range(3)]
    assert np.isfinite(recons).all()
    assert recons[-1] < 0.75 * recons[0], recons


@pytest.mark.slow
def test_schedule_switch_updates_only_the_phase_networks(rooms, tmp_path):
    cfg = tiny_config("SWITCHING_ITE", "2")
    system = FCRAlphaGANSystem(cfg, str(tmp_path), 4, seed=0)
    system.build()
    nets, batch = system.nets, fixed_batch(rooms)
    assert [system.phase(s) for s in (0, 1, 2)] == ["autoencoder_gan", "refiner", "refiner"]
    names = ["encoder", "generator", "discriminator", "code_discriminator", "refiner"]
    w0 = {k: weights(nets[k]) for k in names}
    out, values = system.train_step(batch, tf.constant(0, tf.int64), system.phase(0))
    assert set(values) == {"learning_rate_v"}
    assert {"recons_loss", "cost_enc", "cost_gen", "cost_discrim", "cost_code"} <= set(out)
    w1 = {k: weights(nets[k]) for k in names}
    assert same(w0["refiner"], w1["refiner"])
    for k in ("encoder", "generator", "discriminator", "code_discriminator"):
        assert not same(w0[k], w1[k]), k
    out, _ = system.train_step(batch, tf.constant(1, tf.int64), system.phase(1))
    assert {"recons_loss_refine", "cost_gen_ref", "cost_discrim_ref"} <= set(out)
    w2 = {k: weights(nets[k]) for k in names}
    for k in ("encoder", "generator", "code_discriminator"):
        assert same(w1[k], w2[k]), k
    for k in ("refiner", "discriminator"):
        assert not same(w1[k], w2[k]), k
    assert int(system.optimizers["opt_encoder"].iterations) == 2
    assert int(system.optimizers["opt_discriminator_refine"].iterations) == 1


def _run(rooms, ck, *extra, switching_ite=3):
    """``switching_ite=1``: every iteration in the refiner phase, for the tests that do not
    look at the phases (the auto-encoding phase's step takes three times as long to trace)."""
    return train_fcr_alphagan.main(
        ["--voxel_root", str(rooms), "--checkpoint_dir", str(ck), "--seed", "3",
         "--log_steps", "1", *extra, "--set", *TINY, "CHECK_FREQ", "2",
         "SWITCHING_ITE", str(switching_ite), "RECORD_VOX_NUM", "3"])


def _step_of(path):
    return int(tf.train.load_variable(path, "step/.ATTRIBUTES/VARIABLE_VALUE"))


@pytest.fixture(scope="module")
def four_iterations(rooms, tmp_path_factory):
    """A fresh run of 4 iterations (``_run``'s settings given in three --set groups, plus
    SAVER_MAX), its exit code and what it printed; tests that change the folder copy it."""
    import contextlib
    import io
    ck = tmp_path_factory.mktemp("four_iterations") / "ck"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = train_fcr_alphagan.main(
            ["--voxel_root", str(rooms), "--checkpoint_dir", str(ck), "--seed", "3",
             "--log_steps", "1", "--max_iterations", "4", "--set", *TINY[:6], "--set", *TINY[6:],
             "--set", "CHECK_FREQ", "2", "SWITCHING_ITE", "3", "RECORD_VOX_NUM", "3",
             "SAVER_MAX", "5"])
    return code, out.getvalue(), ck


@pytest.mark.slow
def test_checkpoints_train_vox_sample_z_and_resume(four_iterations, rooms, tmp_path, capsys):
    import shutil
    code, out, fresh = four_iterations
    ck = tmp_path / "ck"
    shutil.copytree(fresh, ck)
    assert code == 0
    assert "trainable parameters generator:" in out and "cost_discrim_ref" in out
    assert sorted(p.name for p in ck.glob("ckpt-*.index")) == ["ckpt-1.index", "ckpt-2.index"]
    assert _step_of(str(ck / "ckpt-1")) == 2 and _step_of(str(ck / "ckpt-2")) == 4
    vox = sorted(p.name for p in (ck / "train_vox").iterdir())
    assert vox == ["1.npy", "2.npy", "2_refine.npy"]  # iteration 4 >= SWITCHING_ITE 3
    for name in vox:
        a = np.load(ck / "train_vox" / name)
        assert a.shape == (3, 16, 16, 16) and a.min() >= 0 and a.max() <= 11
    sample_z = np.load(ck / "sample_z.npy")
    assert sample_z.shape == (4, 1, 1, 1, 16)
    config = json.loads((ck / "config.json").read_text())
    assert config["system"] == "fcr_alphagan"
    assert config["model"]["CONST"]["N_VOX"] == [16, 16, 16] and "DIR" not in config["model"]
    assert config["run"]["CHECK_FREQ"] == 2 and "TRAIN" not in config["model"] or \
        set(config["model"]["TRAIN"]) == {"LEGACY_SWAPPED_GAN_LOSS"}
    assert (ck / "train").is_dir()

    # refuses to overwrite without --middle_start
    assert _run(rooms, ck, "--max_iterations", "6") == 2
    assert "--middle_start" in capsys.readouterr().err

    assert _run(rooms, ck, "--max_iterations", "6", "--middle_start") == 0
    assert "at step 4" in capsys.readouterr().out
    assert _step_of(str(ck / "ckpt-3")) == 6
    assert np.array_equal(np.load(ck / "sample_z.npy"), sample_z)
    assert (ck / "train_vox" / "3_refine.npy").exists()

    # --ini_epoch N rewinds to ckpt-N (ckpt-2, not the latest ckpt-3; its iteration is in
    # the refiner phase, whose step traces in a third of the auto-encoding phase's time)
    assert _run(rooms, ck, "--max_iterations", "5", "--middle_start", "--ini_epoch", "2") == 0
    assert "ckpt-2 at step 4" in capsys.readouterr().out
    assert _step_of(tf.train.latest_checkpoint(str(ck))) == 5
    assert _run(rooms, ck, "--middle_start", "--ini_epoch", "9") == 2
    assert "ckpt-9" in capsys.readouterr().err


@pytest.mark.slow
def test_resume_after_moving_the_data_and_with_more_epochs(four_iterations, rooms, tmp_path,
                                                           capsys):
    """Paths and epoch counts are run settings: they never block a resume."""
    import shutil
    ck = tmp_path / "ck"
    shutil.copytree(four_iterations[2], ck)       # trained on ``rooms``, 2 batches an epoch
    moved = tmp_path / "moved_rooms"
    shutil.copytree(rooms, moved)
    assert _run(moved, ck, "--epoch", "3", "--middle_start") == 0
    out = capsys.readouterr().out
    # the run stopped by --max_iterations 4 left its epoch (the second) uncounted: the
    # resumed run trains it again, then the third
    assert "resumed from" in out and "finished at iteration 8 (completed: 3 epochs" in out
    config = json.loads((ck / "config.json").read_text())
    assert config["run"]["DIR"]["SCENE_ID_PATH"] == str(moved)
    # a model key does block it, named per leaf key with the tool's own flag
    code = train_fcr_alphagan.main(
        ["--voxel_root", str(moved), "--checkpoint_dir", str(ck), "--middle_start",
         "--set", *TINY, "NET.REFINE_CH", "16"])
    err = capsys.readouterr().err
    assert code == 2 and "NET.REFINE_CH: checkpoint has 8, requested 16" in err
    assert "--checkpoint_dir" in err and "--model_dir" not in err


@pytest.mark.slow
def test_explicit_max_iterations_wins_over_the_default_epochs(four_iterations):
    code, out, ck = four_iterations
    # 2 iterations per epoch: the default 15 epochs would end at 30
    assert code == 0
    assert "finished at iteration 4 (completed: --max_iterations 4)" in out
    config = json.loads((ck / "config.json").read_text())
    assert config["run"]["CHECK_FREQ"] == 2 and config["run"]["SAVER_MAX"] == 5  # every --set kept
    assert config["model"]["NET"]["DIM"] == [32, 16, 8, 8, 12] and \
        config["model"]["NET"]["REFINE_CH"] == 8


def test_odd_set_and_foreign_config_are_refused(rooms, tmp_path, capsys):
    assert train_fcr_alphagan.main(["--checkpoint_dir", str(tmp_path / "a"),
                                    "--set", "CHECK_FREQ", "2", "--set", "SAVER_MAX"]) == 2
    assert "--set expects KEY VALUE pairs; 'SAVER_MAX' has no value" in capsys.readouterr().err
    ck = tmp_path / "mine"
    ck.mkdir()
    (ck / "config.json").write_text('{"my": "own settings"}')
    assert _run(rooms, ck, "--max_iterations", "1") == 2
    err = capsys.readouterr().err
    assert f"{ck / 'config.json'} was not written by this project" in err
    assert (ck / "config.json").read_text() == '{"my": "own settings"}'
    assert not list(ck.glob("ckpt-*"))


@pytest.mark.slow
def test_time_budget_ends_the_run_completed_past_the_default_epochs(rooms, tmp_path, capsys):
    ck = tmp_path / "ck"
    # 2 iterations per epoch: the default 15 epochs would end at 30; the budget lifts them
    assert train_fcr_alphagan.main(
        ["--voxel_root", str(rooms), "--checkpoint_dir", str(ck), "--max_seconds", "2",
         "--log_steps", "1000", "--set", *TINY, "CHECK_FREQ", "1000", "SWITCHING_ITE", "1"]) == 0
    out = capsys.readouterr().out
    done = [line for line in out.splitlines() if line.startswith("finished at iteration")]
    assert done and done[-1].endswith("(completed: --max_seconds 2.0)")
    assert int(done[-1].split()[3]) >= 1
    assert train_fcr_alphagan.main(["--voxel_root", str(rooms), "--checkpoint_dir", str(ck),
                                    "--max_seconds", "0", "--set", *TINY]) == 2
    assert "--max_seconds must be > 0" in capsys.readouterr().err


def _listing(folder):
    """Every file under ``folder`` with its bytes: what a refused run must leave unchanged."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}


def _copy_rooms(rooms, tmp_path):
    import shutil
    data = tmp_path / "rooms"
    shutil.copytree(rooms, data)
    return data, sorted(data.rglob("*.npy"))  # 11 train files, then the 1 test file


@pytest.mark.parametrize("which, content, message", [
    (3, np.full((16, 16, 16), 13, np.uint8), r"labels outside 0..11 \(found min 13, max 13\)"),
    (5, np.zeros((16, 16, 8), np.uint8), r"shape \(16, 16, 8\), expected \(16, 16, 16\)"),
    (0, np.zeros((16, 16, 16), np.float32), "dtype float32, expected an integer dtype"),
    (-1, np.full((16, 16, 16), 12, np.int64), r"labels outside 0..11"),  # the test split too
])
def test_bad_voxel_file_is_named_before_anything_is_written(rooms, tmp_path, capsys, which,
                                                             content, message):
    data, files = _copy_rooms(rooms, tmp_path)
    np.save(files[which], content)
    if which != -1:  # a later bad file: the first one is named
        np.save(files[-1], np.full((16, 16, 16), 99, np.uint8))
    ck = tmp_path / "ck"
    assert _run(data, ck, "--max_iterations", "20") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert re.match(rf"train_fcr_alphagan.py: error: {re.escape(str(files[which]))}: {message}",
                    err), err
    assert not ck.exists()  # not even the folder


def test_fewer_scenes_than_one_batch_is_refused_naming_the_split(rooms, tmp_path, capsys):
    data, files = _copy_rooms(rooms, tmp_path)
    for path in files[3:]:
        path.unlink()  # 3 scenes: 2 train (0.95 * 3), 1 test; the batch is 4
    assert _run(data, tmp_path / "ck", "--max_iterations", "2") == 2
    err = capsys.readouterr().err
    assert "the training split under --voxel_root" in err and "holds 2 scenes" in err
    assert "fewer than one batch of 4" in err and err.count("\n") == 1
    assert not (tmp_path / "ck").exists()


def _checkpointed_run(ck, *extra):
    """A folder as a run with ``_run``'s settings leaves it after 4 iterations: config.json,
    ckpt-1 and ckpt-2 (step counters only: the refusals tested never read the weights),
    sample_z.npy."""
    from models.fcr_alphagan.config import model_config, run_config
    from training import checkpointing
    cfg = tiny_config("CHECK_FREQ", "2", "SWITCHING_ITE", "3", "RECORD_VOX_NUM", "3", *extra)
    ck.mkdir()
    checkpointing.write_config(str(ck), "fcr_alphagan", model_config(cfg), run_config(cfg))
    step = tf.Variable(0, dtype=tf.int64)
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(step=step), str(ck), 5,
                                         checkpoint_name="ckpt")
    for number in (1, 2):
        step.assign(2 * number)
        manager.save(checkpoint_number=number)
    z = np.random.default_rng(0).normal(size=(4, 1, 1, 1, 16)).astype(np.float32)
    np.save(ck / "sample_z.npy", z)
    return ck


def test_refused_resume_leaves_the_checkpoint_index_alone(rooms, tmp_path, capsys):
    data, files = _copy_rooms(rooms, tmp_path)
    np.save(files[2], np.full((16, 16, 16), 13, np.uint8))
    ck = _checkpointed_run(tmp_path / "ck")
    before = _listing(ck)
    assert _run(data, ck, "--max_iterations", "6", "--middle_start", "--ini_epoch", "1") == 2
    assert str(files[2]) in capsys.readouterr().err
    assert _listing(ck) == before  # ckpt-2 is still the latest
    assert tf.train.latest_checkpoint(str(ck)).endswith("ckpt-2")


def test_sample_z_of_another_shape_beside_checkpoints_is_named(rooms, tmp_path, capsys):
    ck = _checkpointed_run(tmp_path / "ck")
    np.save(ck / "sample_z.npy", np.zeros((4, 2, 2, 2, 16), np.float32))
    before = _listing(ck)
    assert _run(rooms, ck, "--max_iterations", "6", "--middle_start") == 2
    err = capsys.readouterr().err
    assert f"{ck / 'sample_z.npy'}: expected float codes of shape [N, 1, 1, 1, 16]" in err
    assert "got float32 [4, 2, 2, 2, 16]" in err and err.count("\n") == 1
    assert _listing(ck) == before


def test_saved_sample_z_is_kept_named_or_drawn_anew(tmp_path):
    shape = (4, 1, 1, 1, 16)
    ck = _checkpointed_run(tmp_path / "ck")
    z = np.load(ck / "sample_z.npy")
    np.testing.assert_array_equal(saved_sample_z(str(ck), (2,) + shape[1:]), z[:2])
    (ck / "sample_z.npy").write_bytes(b"damaged")
    with pytest.raises(cli.UsageError, match="sample_z.npy is not a valid .npy array file"):
        saved_sample_z(str(ck), shape)
    np.save(ck / "sample_z.npy", np.zeros(shape, np.int64))
    with pytest.raises(cli.UsageError, match="expected float codes"):
        saved_sample_z(str(ck), shape)
    fresh = tmp_path / "failed_before_its_first_checkpoint"
    fresh.mkdir()
    assert saved_sample_z(str(fresh), shape) is None  # no file
    for stale in (b"damaged", np.zeros((20, 5, 3, 5, 16), np.float32)):
        if isinstance(stale, bytes):
            (fresh / "sample_z.npy").write_bytes(stale)
        else:
            np.save(fresh / "sample_z.npy", stale)
        assert saved_sample_z(str(fresh), shape) is None  # drawn anew


@pytest.mark.slow
def test_retry_after_a_failed_run_draws_new_codes_over_its_stale_sample_z(rooms, tmp_path,
                                                                         capsys):
    """A run that failed before its first checkpoint left config.json and sample_z.npy of
    another grid; a retry with other settings in the same folder trains, and the codes it
    draws replace the stale ones with its first checkpoint."""
    ck = tmp_path / "ck"
    ck.mkdir()
    np.save(ck / "sample_z.npy", np.ones((20, 5, 3, 5, 16), np.float32))  # the 80x48x80 shape
    from training import checkpointing
    checkpointing.write_config(str(ck), "fcr_alphagan", {"CONST": {"N_VOX": [80, 48, 80]}})
    assert _run(rooms, ck, "--max_iterations", "2", switching_ite=1) == 0, \
        capsys.readouterr().err
    z = np.load(ck / "sample_z.npy")
    assert z.shape == (4, 1, 1, 1, 16) and 0.5 < z.std() < 1.5
    assert (ck / "ckpt-1.index").exists()
