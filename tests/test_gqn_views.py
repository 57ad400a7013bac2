"""gqn_views.py: restores the checkpoint, writes npy, PNG and GIF, reports test ELBO and L2."""
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from data_provider import cli
from data_provider.gqn_tfr_writer import write_shards
from evaluation import gqn_views
from models import checkpoints
from models.gqn import create_gqn_config
from training import checkpointing
from training.gqn_system import GQNSystem

DATASET = "rooms_ring_camera"
CFG = dict(IMG_HEIGHT=16, IMG_WIDTH=16, ENC_HEIGHT=4, ENC_WIDTH=4, CONTEXT_SIZE=3, SEQ_LENGTH=2,
           LSTM_OUTPUT_CHANNELS=8, LSTM_CANVAS_CHANNELS=8, Z_CHANNELS=4, ENC_CHANNELS=16)
EXPECTED_MEAN = np.array([0.2, 0.4, 0.6], np.float32)


def _scenes(rng, n):
    for _ in range(n):
        yield (rng.integers(0, 256, (10, 64, 64, 3), dtype=np.uint8),
               rng.uniform(-1, 1, (10, 5)).astype(np.float32))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A model_dir as the training loop leaves it, with a recognisable eta_g (read only)."""
    tmp_path = tmp_path_factory.mktemp("trained")
    data = str(tmp_path / "data")
    rng = np.random.default_rng(0)
    write_shards(data, DATASET, "test", _scenes(rng, 5), 5)
    cfg = create_gqn_config(CFG)
    system = GQNSystem(cfg, 2, log=lambda m: None)
    system.build()
    # eta_g: zero kernel and a fixed bias, so every predicted mean is that colour
    kernel, _ = system.model.draw.eta_g.get_weights()
    system.model.draw.eta_g.set_weights([np.zeros_like(kernel), EXPECTED_MEAN])
    model_dir = tmp_path / "model"
    step = tf.Variable(1000, dtype=tf.int64)
    ckpt = tf.train.Checkpoint(step=step, epoch=tf.Variable(0, dtype=tf.int64),
                               **checkpoints.checkpoint_objects(system.checkpoint_items()))
    tf.train.CheckpointManager(ckpt, str(model_dir), 1,
                               checkpoint_name=checkpoints.CHECKPOINT_PREFIX).save(1000)
    checkpointing.write_config(str(model_dir), "gqn", system.model_config(), system.run_config())
    return data, str(model_dir)


@pytest.mark.slow
def test_views_written_and_checkpoint_restored(trained, tmp_path, capsys):
    data, model_dir = trained
    out = tmp_path / "views"
    with pytest.raises(SystemExit) as done:
        gqn_views.main(["--model_dir", model_dir, "--data_dir", data, "--dataset", DATASET,
                        "--num_scenes", "2", "--ring_steps", "4", "--out", str(out)])
    assert done.value.code == 0
    printed = capsys.readouterr().out
    assert "restored" in printed and "at step 1000" in printed
    shapes = {"context": (2, 3, 16, 16, 3), "context_cameras": (2, 3, 7), "target": (2, 16, 16, 3),
              "query_camera": (2, 7), "predicted_mean": (2, 16, 16, 3),
              "predicted_variance": (2, 16, 16, 3), "ring_cameras": (2, 4, 7),
              "ring": (2, 4, 16, 16, 3)}
    for name, shape in shapes.items():
        assert np.load(out / f"{name}.npy").shape == shape, name
    np.testing.assert_allclose(np.load(out / "predicted_mean.npy"),
                               np.broadcast_to(EXPECTED_MEAN, (2, 16, 16, 3)), atol=1e-6)
    np.testing.assert_allclose(np.load(out / "ring.npy")[:, 2], np.load(out / "predicted_mean.npy"),
                               atol=1e-6)
    sigma = max(0.7 + 1.3 * (1 - 1000 / 200000), 0.7)
    np.testing.assert_allclose(np.load(out / "predicted_variance.npy"), sigma ** 2, rtol=1e-6)
    grid = Image.open(out / "views.png")
    # context x3, target, prediction enlarged 8x to 128 pixels, under a header row and
    # beside a column of row labels (128 // 6 = 21 -> 24 pixels)
    assert grid.size == (24 + 5 * 128, 24 + 2 * 128)
    picture = np.asarray(grid.convert("RGB"))
    np.testing.assert_allclose(picture[24 + 64, 24 + 4 * 128 + 64] / 255.0, EXPECTED_MEAN,
                               atol=0.01)                      # the prediction column
    assert (picture[:24, 24:] < 128).any()                      # the column titles
    gif = Image.open(out / "ring_000.gif")
    total_ms = 0
    for i in range(gif.n_frames):     # identical frames may be merged; durations add up
        gif.seek(i)
        total_ms += gif.info["duration"]
    assert total_ms == 4 * 120 and os.path.exists(out / "ring_001.gif")
    np.testing.assert_allclose(np.asarray(gif.convert("RGB"))[0, 0] / 255.0, EXPECTED_MEAN,
                               atol=0.02)
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["examples"] == 5 and metrics["step"] == 1000
    # L2 of the constant prediction against the test targets, computed independently
    targets = np.load(out / "target.npy")
    assert metrics["l2_reconstruction"] > 0 and np.isfinite(metrics["elbo"])
    assert metrics["elbo"] == pytest.approx(metrics["target_llh"] + metrics["kl_regularizer"],
                                            rel=1e-5)
    two = np.mean((targets - EXPECTED_MEAN) ** 2)
    assert metrics["l2_reconstruction"] == pytest.approx(two, rel=0.5)


@pytest.mark.slow
def test_original_variance_flag_writes_sigma(trained, tmp_path):
    data, model_dir = trained
    model, cfg, step = gqn_views.load_model(model_dir)
    out = str(tmp_path / "views")
    assert step == 1000
    with cli.OutputSet(out) as files:
        gqn_views.render_views(model, cfg, step, data, DATASET, 1, files, ring_steps=1,
                               original_variance=True)
    sigma = max(0.7 + 1.3 * (1 - 1000 / 200000), 0.7)
    np.testing.assert_allclose(np.load(os.path.join(out, "predicted_variance.npy")), sigma,
                               rtol=1e-6)


def test_ring_cameras_turn_about_the_vertical_axis():
    yaw = np.pi  # at (2, 0, 0.5) looking at the origin
    cam = np.array([[2.0, 0.0, 0.5, np.sin(yaw), np.cos(yaw), np.sin(-0.1), np.cos(-0.1)]])
    ring = gqn_views.ring_cameras(cam, 4)
    assert ring.shape == (1, 4, 7)
    np.testing.assert_allclose(ring[0, 0], cam[0], atol=1e-6)
    np.testing.assert_allclose(ring[0, 1, :3], [0.0, 2.0, 0.5], atol=1e-6)
    # still facing the origin: yaw 3 pi / 2
    np.testing.assert_allclose(ring[0, 1, 3:5], [-1.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(ring[0, :, 5:], np.repeat(cam[:, 5:], 4, axis=0), atol=1e-6)


def test_missing_checkpoint_and_bad_dataset_exit_2(tmp_path, capsys):
    (tmp_path / "m").mkdir()
    with pytest.raises(SystemExit) as e:
        gqn_views.main(["--model_dir", str(tmp_path / "m"), "--data_dir", str(tmp_path),
                        "--dataset", "nope"])
    assert e.value.code == 2 and "unknown GQN dataset 'nope'" in capsys.readouterr().err
    rng = np.random.default_rng(1)
    write_shards(str(tmp_path / "d"), DATASET, "test", _scenes(rng, 1), 1)
    with pytest.raises(SystemExit) as e:
        gqn_views.main(["--model_dir", str(tmp_path / "m"), "--data_dir", str(tmp_path / "d"),
                        "--dataset", DATASET])
    assert e.value.code == 2 and "holds no config.json" in capsys.readouterr().err
