"""GQN: Generative Query Network, a scene encoder plus ConvDRAW (port of tf-gqn).

The config (``config``) is plain data; the network's names (``GQNModel``,
``build_model``, ``objective``, ...) load TensorFlow on first use, so that a
command can check its flags and configs before TensorFlow's start-up.
"""
from models.gqn.config import (
    GQN_DEFAULT_CONFIG,
    GQN_DEFAULT_PARAM_DICT,
    GQNConfig,
    create_gqn_config,
    model_config,
)

__all__ = ["GQNConfig", "GQN_DEFAULT_CONFIG", "GQN_DEFAULT_PARAM_DICT", "create_gqn_config",
           "model_config", "GQNModel", "objective", "build_model", "build_networks",
           "config_from_saved", "dummy_batch"]

_LAZY = {"GQNModel": "model", "build_model": "build", "build_networks": "build",
         "config_from_saved": "build", "dummy_batch": "build"}


def __getattr__(name):
    import importlib

    if name == "objective":
        return importlib.import_module("models.gqn.objective")
    if name in _LAZY:
        return getattr(importlib.import_module(f"models.gqn.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'models.gqn' has no attribute {name!r}")
