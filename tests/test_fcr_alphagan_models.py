"""FCR-alphaGAN config, normalisation layers and networks: shapes, counts, numpy references."""
import numpy as np
import pytest
import tensorflow as tf

from models.fcr_alphagan import (
    CodeDiscriminator,
    Discriminator,
    Encoder,
    Generator,
    Refiner,
    build_networks,
    count_trainable,
)
from models.fcr_alphagan.config import (
    ConfigError,
    cfg_from_file,
    cfg_from_list,
    check_config,
    default_config,
)
from models.fcr_alphagan.layers import BatchNorm, LayerNorm, lrelu

SMALL = ["CONST.N_VOX", "[32,16,16]", "NET.START_VOX", "[2,1,1]", "NET.DIM", "[32,16,8,8,12]"]


def small_config():
    return cfg_from_list(default_config(), SMALL)


# ------------------------------------------------------------------ config
def test_default_config_has_original_values_and_is_fresh():
    a, b = default_config(), default_config()
    assert a.CONST.N_VOX == [80, 48, 80] and a.CONST.BATCH_SIZE == 20
    assert (a.SAVER_MAX, a.CHECK_FREQ, a.RECORD_VOX_NUM, a.SWITCHING_ITE) == (100, 100, 10, 75001)
    assert a.NET.DIM == [512, 256, 128, 64, 12] and a.NET.START_VOX == [5, 3, 5]
    assert a.NET.KERNEL == [[5] * 5, [3] * 5, [5] * 5] and a.NET.STRIDE == [1, 2, 2, 2, 1]
    assert a.LEARNING_RATE_V == [0.0001, 1000, 0.0001] and a.TRAIN.ADAM_BETA_G == 0.5
    assert a.LAMDA_GAMMA == 0.97 and a.TRAIN.DATASET_PORTION == [0, 0.95]
    a.CONST.N_VOX[0] = 1
    a.NET.DIM_Z = 3
    assert b.CONST.N_VOX == [80, 48, 80] and b.NET.DIM_Z == 16


def test_cfg_from_list_sets_values_and_checks_types():
    cfg = cfg_from_list(default_config(), ["CONST.N_VOX", "[16,16,16]", "CHECK_FREQ", "2",
                                           "LEARNING_RATE_G", "1", "DIR.EVAL_PATH", "out"])
    assert cfg.CONST.N_VOX == [16, 16, 16] and cfg.CHECK_FREQ == 2
    assert cfg.LEARNING_RATE_G == 1.0 and isinstance(cfg.LEARNING_RATE_G, float)
    assert cfg.DIR.EVAL_PATH == "out"
    with pytest.raises(ConfigError, match="CHECK_FREQ"):
        cfg_from_list(cfg, ["CHECK_FREQ", "0.5"])
    with pytest.raises(ConfigError, match="NET.NOPE"):
        cfg_from_list(cfg, ["NET.NOPE", "1"])
    with pytest.raises(ConfigError, match="CONST.N_VOX"):
        cfg_from_list(cfg, ["CONST.N_VOX", "[1.5,2,2]"])
    with pytest.raises(ConfigError, match="odd"):
        cfg_from_list(cfg, ["CHECK_FREQ"])
    with pytest.raises(ConfigError, match="SWITCHING_ITE"):  # nothing applied on error
        cfg_from_list(cfg, ["SAVER_MAX", "3", "SWITCHING_ITE", "abc"])
    assert cfg.SAVER_MAX == 100


def test_cfg_from_file_merges_yaml(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("CHECK_FREQ: 7\nNET:\n  DIM_Z: 8\n")
    cfg = cfg_from_file(default_config(), path)
    assert cfg.CHECK_FREQ == 7 and cfg.NET.DIM_Z == 8 and cfg.NET.REFINE_CH == 32
    path.write_text("NET:\n  DIMZ: 8\n")
    with pytest.raises(ConfigError, match="NET.DIMZ"):
        cfg_from_file(default_config(), path)
    with pytest.raises(ConfigError, match="cannot read"):
        cfg_from_file(default_config(), tmp_path / "missing.yaml")


def test_check_config_names_inconsistent_keys():
    cfg = cfg_from_list(default_config(), ["CONST.N_VOX", "[16,16,16]"])
    with pytest.raises(ConfigError, match="NET.START_VOX"):
        check_config(cfg)


# ------------------------------------------------------------------ layers
def numpy_batchnorm(x, gamma, beta, eps=1e-5):
    axes = tuple(range(x.ndim - 1))
    mean = x.mean(axes)
    var = ((x - mean) ** 2).mean(axes)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


@pytest.mark.parametrize("shape", [(3, 4, 2, 5, 6), (7, 9)])
def test_batchnorm_matches_numpy_with_batch_statistics_at_inference(shape):
    x = np.random.default_rng(0).normal(2.0, 3.0, size=shape).astype(np.float32)
    bn = BatchNorm()
    bn(x)
    gamma, beta = bn.gamma.numpy(), bn.beta.numpy()
    assert gamma.shape == (shape[-1],) and abs(gamma.mean() - 1) < 0.05 and not beta.any()
    bn.beta.assign(np.linspace(-1, 1, shape[-1]).astype(np.float32))
    want = numpy_batchnorm(x, gamma, bn.beta.numpy())
    np.testing.assert_allclose(bn(x, training=True).numpy(), want, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(bn(x, training=False).numpy(), want, rtol=1e-4, atol=1e-4)
    assert len(bn.trainable_variables) == 2 and not bn.non_trainable_variables


def test_batchnorm_moving_averages_option():
    x = np.random.default_rng(1).normal(4.0, 2.0, size=(16, 5)).astype(np.float32)
    bn = BatchNorm(moving_averages=True, momentum=0.5)
    bn(x, training=True)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.5 * x.mean(0), rtol=1e-5)
    np.testing.assert_allclose(bn.moving_variance.numpy(), 0.5 + 0.5 * x.var(0), rtol=1e-4)
    want = ((x - bn.moving_mean.numpy()) / np.sqrt(bn.moving_variance.numpy() + 1e-5)
            * bn.gamma.numpy())
    np.testing.assert_allclose(bn(x, training=False).numpy(), want, rtol=1e-4, atol=1e-5)


def test_layernorm_matches_numpy_with_scalar_gain_and_bias():
    x = np.random.default_rng(2).normal(1.0, 2.0, size=(3, 4, 2, 3, 5)).astype(np.float32)
    ln = LayerNorm()
    ln(x)
    ln.gamma.assign([1.5])
    ln.beta.assign([-0.25])
    mean = x.mean(axis=(1, 2, 3, 4), keepdims=True)
    var = x.var(axis=(1, 2, 3, 4), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-5) * 1.5 - 0.25
    np.testing.assert_allclose(ln(x).numpy(), want, rtol=1e-4, atol=1e-4)
    assert [v.shape for v in ln.trainable_variables] == [(1,), (1,)]


def test_lrelu():
    x = np.array([-2.0, -0.5, 0.0, 3.0], np.float32)
    np.testing.assert_allclose(lrelu(tf.constant(x)).numpy(), np.maximum(x, 0.2 * x))


# ---------------------------------------------------------------- networks
def test_shapes_at_a_small_config():
    cfg = small_config()
    nets = build_networks(cfg)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(3, 2, 1, 1, 16)).astype(np.float32)
    probs = nets["generator"](z, training=True).numpy()
    assert probs.shape == (3, 32, 16, 16, 12)
    np.testing.assert_allclose(probs.sum(-1), 1.0, rtol=1e-5)
    onehot = tf.one_hot(rng.integers(0, 12, size=(3, 32, 16, 16)), 12).numpy()
    z_mean, z_sigma = nets["encoder"](onehot, training=True)
    assert z_mean.shape == z_sigma.shape == (3, 2, 1, 1, 16)
    assert not np.allclose(z_mean.numpy(), z_sigma.numpy())
    assert nets["discriminator"](probs).shape == (3, 1)
    assert nets["code_discriminator"](z_mean).shape == (3, 1)
    refined = nets["refiner"](probs).numpy()
    assert refined.shape == probs.shape
    np.testing.assert_allclose(refined.sum(-1), 1.0, rtol=1e-5)


def test_refiner_matches_numpy_residual_formula():
    ref = Refiner(n_class=3, refine_ch=4, refine_kernel=1, num_blocks=2)
    x = np.random.default_rng(3).random((2, 3, 2, 2, 3)).astype(np.float32)
    got = ref(x).numpy()
    w = [v.numpy()[0, 0, 0] for v in ref.trainable_variables]  # 1x1x1 kernels [in, out]
    relu = lambda a: np.maximum(a, 0)  # noqa: E731
    h = relu(x @ w[0])
    for k in range(2):
        h = relu(h + relu(h @ w[1 + 2 * k]) @ w[2 + 2 * k])
    logits = h @ w[5]
    want = np.exp(logits - logits.max(-1, keepdims=True))
    want /= want.sum(-1, keepdims=True)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_no_biases_and_original_initialisation():
    g = Generator(dim=(32, 16, 8, 8, 12), start_vox=(1, 1, 1))
    g(np.zeros((2, 1, 1, 1, 16), np.float32))
    names = [v.path for v in g.trainable_variables]
    assert not any("bias" in n for n in names)
    assert abs(float(np.std(g.fc.kernel.numpy())) - 0.02) < 0.002


@pytest.mark.slow
def test_parameter_counts_at_the_original_config():
    nets = build_networks(default_config())
    counts = {k: count_trainable(v) for k, v in nets.items()}
    assert counts == {"generator": 59_117_696, "encoder": 12_978_176,
                      "discriminator": 12_998_406, "code_discriminator": 1_466_250,
                      "refiner": 241_920}
    assert isinstance(nets["encoder"], Encoder) and isinstance(nets["discriminator"], Discriminator)
    assert isinstance(nets["code_discriminator"], CodeDiscriminator)
