"""FCR-alphaGAN (fully convolutional refined auto-encoding GAN) networks for voxel scenes.

Built from a config by ``build_networks(cfg)`` (``networks.py``); a saved run's config
is read back by ``config_from_saved(model, run)``."""
from models.fcr_alphagan.code_discriminator import CodeDiscriminator
from models.fcr_alphagan.config import from_saved as config_from_saved
from models.fcr_alphagan.discriminator import Discriminator
from models.fcr_alphagan.encoder import Encoder
from models.fcr_alphagan.generator import Generator
from models.fcr_alphagan.networks import NETWORK_NAMES, build_networks, count_trainable
from models.fcr_alphagan.refiner import Refiner

__all__ = ["Encoder", "Generator", "Discriminator", "CodeDiscriminator", "Refiner",
           "build_networks", "config_from_saved", "count_trainable", "NETWORK_NAMES"]
