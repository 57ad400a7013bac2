"""gqn_baselines: L2 of generated views beside the mean-image and nearest-context baselines."""
import json

import numpy as np
import pytest
import tensorflow as tf

from data_provider.gqn_tfr_provider import gqn_input_fn
from data_provider.gqn_tfr_writer import write_shards
from evaluation import gqn_baselines
from models import checkpoints
from models.draw.objective import elbo_terms
from models.gqn import create_gqn_config, objective
from training import checkpointing
from training.gqn_system import GQNSystem

DATASET = "rooms_ring_camera"       # 10 views of 64x64 per scene
CFG = dict(IMG_HEIGHT=16, IMG_WIDTH=16, ENC_HEIGHT=4, ENC_WIDTH=4, CONTEXT_SIZE=3, SEQ_LENGTH=2,
           LSTM_OUTPUT_CHANNELS=8, LSTM_CANVAS_CHANNELS=8, Z_CHANNELS=4, ENC_CHANNELS=16)
PREDICTED = np.array([0.2, 0.4, 0.6], np.float32)


def _colour(scene, view):
    """A flat colour per view: views of one scene differ, so the nearest one matters."""
    return np.array([(scene * 37 + view * 23) % 256, (view * 25) % 256, (scene * 50) % 256],
                    np.uint8)


def _scenes(first, n):
    """Flat-coloured views on a camera ring (x, y, z, yaw, pitch); the colour follows the view."""
    for s in range(first, first + n):
        angles = 2 * np.pi * (np.arange(10) + 0.1 * s) / 10
        cameras = np.stack([3 * np.cos(angles), 3 * np.sin(angles), np.full(10, 1.0),
                            angles + np.pi, np.full(10, -0.2)], axis=1).astype(np.float32)
        frames = np.stack([np.broadcast_to(_colour(s, v), (64, 64, 3)) for v in range(10)])
        yield frames, cameras


@pytest.fixture
def data(tmp_path):
    root = str(tmp_path / "data")
    write_shards(root, DATASET, "train", _scenes(0, 6), 3)
    write_shards(root, DATASET, "test", _scenes(100, 5), 5)
    return root


@pytest.fixture
def model_dir(tmp_path):
    """A model_dir as training leaves it; eta_g predicts the flat colour PREDICTED."""
    system = GQNSystem(create_gqn_config(CFG), 2, log=lambda m: None)
    system.build()
    kernel, _ = system.model.draw.eta_g.get_weights()
    system.model.draw.eta_g.set_weights([np.zeros_like(kernel), PREDICTED])
    out = tmp_path / "model"
    for step in (300, 700):      # two checkpoints: the latest is the default
        ckpt = tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64),
                                   **checkpoints.checkpoint_objects(system.checkpoint_items()))
        tf.train.CheckpointManager(ckpt, str(out), 2,
                                   checkpoint_name=checkpoints.CHECKPOINT_PREFIX).save(step)
    checkpointing.write_config(str(out), "gqn", system.model_config(), system.run_config())
    return str(out)


def test_l2_per_example_is_the_mean_squared_difference():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(size=(2, 3, 4, 3)), rng.uniform(size=(2, 3, 4, 3))
    expected = [np.sum((a[i] - b[i]) ** 2) / a[i].size for i in range(2)]
    np.testing.assert_allclose(gqn_baselines.l2_per_example(a, b), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="differ in shape"):
        gqn_baselines.l2_per_example(a, b[:, :2])


def test_nearest_context_view_picks_the_closest_camera():
    frames = np.arange(2 * 3).reshape(2, 3, 1, 1, 1).astype(np.float32)
    cameras = np.zeros((2, 3, 7), np.float32)
    cameras[0, :, 0] = [0.0, 5.0, -1.0]            # query at x = 4: view 1 (distance 1)
    cameras[1, :, 3] = [1.0, -1.0, 0.2]            # query sin(yaw) = -0.5: view 1 (0.5)
    query = np.zeros((2, 7), np.float32)
    query[0, 0], query[1, 3] = 4.0, -0.5
    views, index = gqn_baselines.nearest_context_view(frames, cameras, query)
    assert index.tolist() == [1, 1]
    np.testing.assert_array_equal(views[:, 0, 0, 0], [1.0, 4.0])


@pytest.mark.slow
def test_mean_training_image_averages_the_training_views(tmp_path):
    # one flat colour per scene: the mean of every view of every scene
    root = str(tmp_path / "flat")
    colours = np.array([[250, 10, 10], [10, 250, 10], [10, 10, 250], [200, 200, 0],
                        [0, 100, 100]], np.uint8)
    scenes = [(np.broadcast_to(c, (10, 64, 64, 3)).copy(), np.zeros((10, 5), np.float32))
              for c in colours]
    write_shards(root, DATASET, "train", scenes, 2)
    mean = gqn_baselines.mean_training_image(root, DATASET, 16, seed=0)
    assert mean.shape == (16, 16, 3)
    np.testing.assert_allclose(mean, np.broadcast_to(colours.mean(0) / 255, (16, 16, 3)),
                               atol=2 / 255)
    first_two = gqn_baselines.mean_training_image(root, DATASET, 16, max_scenes=2, seed=0)
    assert not np.allclose(first_two, mean, atol=0.05)   # stopped early: two scenes only


@pytest.mark.slow
def test_cli_reports_the_three_l2_values(data, model_dir, tmp_path, capsys):
    out = tmp_path / "l2.json"
    code = gqn_baselines.main(["--model_dir", model_dir, "--data_dir", data, "--dataset", DATASET,
                               "--num_scenes", "4", "--batch_size", "3", "--out", str(out)])
    assert code == 0
    result = json.loads(out.read_text())
    assert result["num_scenes"] == 4 and result["step"] == 700
    # independent reference: the same test examples, loops over views
    ds = gqn_input_fn(DATASET, 3, data, "test", batch_size=8, custom_frame_size=16, seed=0)
    query, target = next(iter(ds))
    frames, cameras = query.context.frames.numpy()[:4], query.context.cameras.numpy()[:4]
    qcam, target_all = query.query_camera.numpy()[:4], target.numpy()
    target = target_all[:4]
    mean_image = gqn_baselines.mean_training_image(data, DATASET, 16, seed=0)
    gen, near, mean = [], [], []
    for i in range(4):
        best = min(range(3), key=lambda k: float(np.sum((cameras[i, k] - qcam[i]) ** 2)))
        near.append(np.mean((frames[i, best] - target[i]) ** 2))
        gen.append(np.mean((PREDICTED - target[i]) ** 2))
        mean.append(np.mean((mean_image - target[i]) ** 2))
    assert result["l2_generated"] == pytest.approx(np.mean(gen), rel=1e-5)
    assert result["l2_nearest_context"] == pytest.approx(np.mean(near), rel=1e-5)
    assert result["l2_mean_image"] == pytest.approx(np.mean(mean), rel=1e-5)
    # the ELBO of the posterior pass at the sigma of step 700, same examples; the pass
    # samples z, so the reference is the mean of four draws and the two agree to the
    # sampling noise (single draws seen up to 2e-4 of the value apart); the sigma of
    # step 0 moves it by more than 1e-3
    model, cfg, step = gqn_baselines.load_model(model_dir)
    draws = []
    for seed in range(4):
        tf.random.set_seed(seed)
        nll, kl, _ = elbo_terms(model((query, tf.constant(target_all)), training=False),
                                target_all, objective.sigma_at(700, cfg))
        draws.append(float(np.mean((nll + kl).numpy()[:4])))
    assert step == 700
    assert result["elbo"] == pytest.approx(np.mean(draws), rel=4e-4)
    nll, kl, _ = elbo_terms(model((query, tf.constant(target_all)), training=False),
                            target_all, objective.sigma_at(0, cfg))
    assert abs(float(np.mean((nll + kl).numpy()[:4])) - result["elbo"]) > 1e-3 * result["elbo"]
    assert "generated" in capsys.readouterr().out
    # an older checkpoint by its prefix
    code = gqn_baselines.main(["--model_dir", model_dir, "--data_dir", data, "--dataset", DATASET,
                               "--num_scenes", "2", "--checkpoint", model_dir + "/ckpt-300",
                               "--out", str(out)])
    assert code == 0 and json.loads(out.read_text())["step"] == 300


def test_cli_without_checkpoint_is_a_usage_error(data, tmp_path, capsys):
    code = gqn_baselines.main(["--model_dir", str(tmp_path), "--data_dir", data,
                               "--dataset", DATASET])
    assert code == 2
    assert "config.json" in capsys.readouterr().err
