"""Build the five FCR-alphaGAN networks from a config (``default_config()`` keys)."""
import keras
import numpy as np

from models.fcr_alphagan.code_discriminator import CodeDiscriminator
from models.fcr_alphagan.config import check_config, kernel_size
from models.fcr_alphagan.discriminator import Discriminator
from models.fcr_alphagan.encoder import Encoder
from models.fcr_alphagan.generator import Generator
from models.fcr_alphagan.refiner import Refiner

NETWORK_NAMES = ("generator", "encoder", "discriminator", "code_discriminator", "refiner")


def build_networks(cfg, dtype=None, build=True):
    """Dict of the five networks for ``cfg``; built on dummy inputs unless ``build=False``.

    ``dtype`` is a Keras dtype policy name (``"mixed_bfloat16"``, ``"mixed_float16"``) or
    None for float32. Raises ``ConfigError`` for inconsistent network keys.
    """
    check_config(cfg)
    dim = [int(d) for d in cfg.NET.DIM]
    kernels = [kernel_size(cfg, i) for i in range(1, 6)]
    moving = bool(cfg.NET.get("BN_MOVING_AVERAGES", False))
    nets = {
        "generator": Generator(dim, cfg.NET.START_VOX, cfg.NET.DIM_Z, kernels, moving, dtype=dtype),
        "encoder": Encoder(dim, cfg.NET.DIM_Z, kernels, moving, dtype=dtype),
        "discriminator": Discriminator(dim, kernels, dtype=dtype),
        "code_discriminator": CodeDiscriminator(750, moving, dtype=dtype),
        "refiner": Refiner(dim[4], cfg.NET.REFINE_CH, cfg.NET.REFINE_KERNEL, dtype=dtype),
    }
    if build:
        build_on_dummy(nets, cfg)
    return nets


def build_on_dummy(nets, cfg, batch=2):
    """Create every variable by calling each network once on symbolic inputs (no compute)."""
    z = keras.Input(shape=(*cfg.NET.START_VOX, cfg.NET.DIM_Z), batch_size=batch)
    vox = keras.Input(shape=(*cfg.CONST.N_VOX, cfg.NET.DIM[4]), batch_size=batch)
    nets["generator"](z)
    nets["encoder"](vox)
    nets["discriminator"](vox)
    nets["code_discriminator"](z)
    nets["refiner"](vox)


def count_trainable(model):
    """Number of trainable scalars of a built Keras model."""
    return int(sum(np.prod(v.shape) for v in model.trainable_variables))
