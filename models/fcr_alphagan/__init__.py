"""FCR-alphaGAN (fully convolutional refined auto-encoding GAN) networks for voxel scenes.

Built from a config by ``build_networks(cfg)`` (``networks.py``); a saved run's config
is read back by ``config_from_saved(model, run)``. The config is plain data; the
networks' names load TensorFlow on first use, so that a command can check its flags,
config and files before TensorFlow's start-up."""
from models.fcr_alphagan.config import from_saved as config_from_saved

__all__ = ["Encoder", "Generator", "Discriminator", "CodeDiscriminator", "Refiner",
           "build_networks", "config_from_saved", "count_trainable", "NETWORK_NAMES"]

_LAZY = {"CodeDiscriminator": "code_discriminator", "Discriminator": "discriminator",
         "Encoder": "encoder", "Generator": "generator", "Refiner": "refiner",
         "NETWORK_NAMES": "networks", "build_networks": "networks",
         "count_trainable": "networks"}


def __getattr__(name):
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f"models.fcr_alphagan.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'models.fcr_alphagan' has no attribute {name!r}")
