"""GQN: Generative Query Network, a scene encoder plus ConvDRAW (port of tf-gqn)."""
from models.gqn import objective
from models.gqn.build import build_model, build_networks, config_from_saved, dummy_batch
from models.gqn.config import (
                               GQN_DEFAULT_CONFIG,
                               GQN_DEFAULT_PARAM_DICT,
                               GQNConfig,
                               create_gqn_config,
                               model_config,
)
from models.gqn.model import GQNModel

__all__ = ["GQNConfig", "GQN_DEFAULT_CONFIG", "GQN_DEFAULT_PARAM_DICT", "create_gqn_config",
           "model_config", "GQNModel", "objective", "build_model", "build_networks",
           "config_from_saved", "dummy_batch"]
