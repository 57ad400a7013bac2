"""AIR 3D primitives: scenes, renderer front end, inference network, losses, metrics.

The reference's exported names: ``render_3d_scene``, ``generate_dataset``,
``build_air_model_3d``. The network's names load TensorFlow on first use, so
that configs and scenes can be handled without it.
"""
from models.air.config import DEFAULT_CONFIG, ConfigError, make_config, model_config
from models.air.scenes import TYPES, generate_dataset, render_3d_scene

__all__ = ["render_3d_scene", "generate_dataset", "build_air_model_3d", "AIRInference3D",
           "DEFAULT_CONFIG", "ConfigError", "make_config", "model_config", "TYPES"]


def __getattr__(name):
    if name in ("build_air_model_3d", "AIRInference3D"):
        from models.air import model
        return getattr(model, name)
    raise AttributeError(f"module 'models.air' has no attribute {name!r}")
