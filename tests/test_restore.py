"""``models.restore.restore``: one function rebuilds any system's model from a run directory."""
import numpy as np
import pytest
import tensorflow as tf

from models import checkpoints, restore
from training.checkpointing import write_config


def small_gqn():
    from models.gqn import create_gqn_config, model_config
    cfg = create_gqn_config({"IMG_HEIGHT": 16, "IMG_WIDTH": 16, "ENC_HEIGHT": 4, "ENC_WIDTH": 4,
                             "CONTEXT_SIZE": 2, "SEQ_LENGTH": 2, "ENC_CHANNELS": 8,
                             "LSTM_OUTPUT_CHANNELS": 4, "LSTM_CANVAS_CHANNELS": 4,
                             "Z_CHANNELS": 2})
    run = {k: v for k, v in cfg._asdict().items() if k not in model_config(cfg)}
    return "gqn", cfg, model_config(cfg), run


def small_gen():
    from models.gen.config import RUN_KEYS, gen_config, model_config
    cfg = gen_config({"num_steps": 1, "hidden_channels": 4, "canvas_channels": 4,
                      "upsample_channels": 4, "embedding_channels": 6, "embedder_channels": 8,
                      "mlp_units": 8, "message_channels": 4, "lr_alpha": 1e-3})
    return "gen", cfg, model_config(cfg), dict({k: cfg[k] for k in RUN_KEYS}, batch_size=2)


def small_fcr():
    from models.fcr_alphagan.config import cfg_from_list, default_config, model_config, run_config
    cfg = cfg_from_list(default_config(), ["CONST.N_VOX", "[16,16,16]", "NET.START_VOX",
                                           "[1,1,1]", "NET.DIM", "[16,8,8,8,12]",
                                           "NET.REFINE_CH", "4"])
    return "fcr_alphagan", cfg, model_config(cfg), run_config(cfg)


def save_run(folder, system, cfg, model, run, step=7, seed=0):
    """A run directory as the training loop writes it, with randomised weights."""
    networks = restore.package(system).build_networks(cfg)
    rng = np.random.default_rng(seed)
    for net in networks.values():
        for v in net.weights:
            v.assign(rng.normal(size=v.shape).astype(v.dtype.name if hasattr(v.dtype, "name")
                                                     else "float32"))
    tf.train.CheckpointManager(
        tf.train.Checkpoint(step=tf.Variable(step, dtype=tf.int64),
                            **checkpoints.checkpoint_objects(networks)),
        str(folder), max_to_keep=3, checkpoint_name=checkpoints.CHECKPOINT_PREFIX).save(step)
    write_config(str(folder), system, model, run)
    return networks


@pytest.mark.parametrize("make", [small_gqn, small_gen, small_fcr], ids=["gqn", "gen", "fcr"])
def test_any_system_comes_back_with_its_config_and_weights(make, tmp_path):
    system, cfg, model, run = make()
    saved = save_run(tmp_path / "run", system, cfg, model, run)
    back = restore.restore(str(tmp_path / "run"))
    assert back.system == system and back.step == 7
    assert back.checkpoint.endswith("ckpt-7")
    assert back.config == cfg
    assert sorted(back.networks) == sorted(saved)
    for name, net in saved.items():
        for a, b in zip(net.weights, back.networks[name].weights, strict=True):
            np.testing.assert_array_equal(a.numpy(), b.numpy())
    if "model" in saved:
        assert back.model is back.networks["model"]


@pytest.mark.slow
def test_a_chosen_checkpoint_and_some_networks(tmp_path):
    system, cfg, model, run = small_fcr()
    first = save_run(tmp_path, system, cfg, model, run, step=3, seed=1)
    save_run(tmp_path, system, cfg, model, run, step=5, seed=2)
    back = restore.restore(str(tmp_path), "fcr_alphagan", checkpoint=str(tmp_path / "ckpt-3"),
                           names=("encoder", "refiner"))
    assert back.step == 3 and sorted(back.networks) == ["encoder", "refiner"]
    np.testing.assert_array_equal(back.networks["refiner"].weights[0].numpy(),
                                  first["refiner"].weights[0].numpy())


def test_errors_name_the_folder(tmp_path):
    system, cfg, model, run = small_gqn()
    save_run(tmp_path / "gqn", system, cfg, model, run)
    with pytest.raises(checkpoints.CheckpointError, match=r"holds a 'gqn' model, not 'gen'"):
        restore.restore(str(tmp_path / "gqn"), "gen")
    with pytest.raises(checkpoints.CheckpointError, match=r"--model_dir .*missing does not exist"):
        restore.restore(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(checkpoints.CheckpointError, match="holds no config.json"):
        restore.restore(str(tmp_path / "empty"))
    write_config(str(tmp_path / "odd"), "nerf", {}, {})
    with pytest.raises(checkpoints.CheckpointError, match="unknown system 'nerf'"):
        restore.restore(str(tmp_path / "odd"))
    write_config(str(tmp_path / "bad"), "gqn", dict(model, ENC_TYPE="cube"), run)
    with pytest.raises(checkpoints.CheckpointError, match=r"bad/config.json: ENC_TYPE='cube'"):
        restore.restore(str(tmp_path / "bad"))
    wider = dict(model, LSTM_OUTPUT_CHANNELS=8)
    write_config(str(tmp_path / "gqn"), "gqn", wider, run)
    with pytest.raises(checkpoints.CheckpointError, match="does not hold a model of this"):
        restore.restore(str(tmp_path / "gqn"))
