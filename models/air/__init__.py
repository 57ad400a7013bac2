"""AIR 3D primitives: scenes, renderer front end, inference network, set loss, search, metrics.

* ``config``: the config as plain data (data, network, loss, training) and
  ``search.config``: the inference-time search's own keys;
* ``model`` (``AIRInference3D``, ``build_air_model_3d``) with its ``heads``;
* ``set_loss`` (and the pure ``losses``, ``matching``): how it is taught;
* ``search``: how its candidates become the answer (``predict_slots``);
* ``scenes``, ``rotations``, ``metrics``.

The reference's exported names: ``render_3d_scene``, ``generate_dataset``,
``build_air_model_3d``. ``build_networks`` and ``config_from_saved`` are what
``models.restore`` rebuilds a run with. The network's names load TensorFlow on
first use, so that configs and scenes can be handled without it.
"""
from models.air.config import (
    DEFAULT_CONFIG,
    ConfigError,
    config_from_saved,
    make_config,
    model_config,
)
from models.air.scenes import TYPES, generate_dataset, render_3d_scene

__all__ = ["render_3d_scene", "generate_dataset", "build_air_model_3d", "AIRInference3D",
           "DEFAULT_CONFIG", "ConfigError", "make_config", "model_config", "config_from_saved",
           "build_networks", "TYPES"]


def build_networks(config, **options):
    """``{"model": AIRInference3D}``: the network an AIR checkpoint holds (its best weights)."""
    from models.air.model import build_air_model_3d
    return {"model": build_air_model_3d(config)}


def __getattr__(name):
    if name in ("build_air_model_3d", "AIRInference3D"):
        from models.air import model
        return getattr(model, name)
    raise AttributeError(f"module 'models.air' has no attribute {name!r}")
