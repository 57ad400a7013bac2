"""AIR 3D primitives: scenes, renderer front end, inference network, losses, metrics.

The reference's exported names: ``render_3d_scene``, ``generate_dataset``,
``build_air_model_3d``.
"""
from models.air.config import DEFAULT_CONFIG, ConfigError, make_config, model_config
from models.air.model import AIRInference3D, build_air_model_3d
from models.air.scenes import TYPES, generate_dataset, render_3d_scene

__all__ = ["render_3d_scene", "generate_dataset", "build_air_model_3d", "AIRInference3D",
           "DEFAULT_CONFIG", "ConfigError", "make_config", "model_config", "TYPES"]
