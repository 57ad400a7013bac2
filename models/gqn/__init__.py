"""GQN: Generative Query Network with a ConvDRAW generator (port of tf-gqn)."""
from models.gqn import objective
from models.gqn.config import GQN_DEFAULT_CONFIG, GQN_DEFAULT_PARAM_DICT, GQNConfig, create_gqn_config
from models.gqn.fused_adam import FusedAdam
from models.gqn.model import GQNModel

__all__ = ["GQNConfig", "GQN_DEFAULT_CONFIG", "GQN_DEFAULT_PARAM_DICT", "create_gqn_config",
           "GQNModel", "FusedAdam", "objective"]
