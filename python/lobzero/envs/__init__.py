"""Trading environments: gymnasium `TradingEnv` and `VecTradingEnv` over the Rust core."""

import gymnasium as gym

from lobzero.envs.config import ALL_FEATURES, PERTURBATIONS, AdversaryConfig, EnvConfig
from lobzero.envs.trading_env import TradingEnv
from lobzero.envs.vector import VecTradingEnv

ENV_ID = "lobzero/Trading-v0"

if ENV_ID not in gym.registry:
    # a function, not the class: gymnasium's TimeLimit then follows config.episode_steps
    gym.register(id=ENV_ID, entry_point="lobzero.envs.trading_env:make_trading_env")

__all__ = [
    "ALL_FEATURES",
    "ENV_ID",
    "PERTURBATIONS",
    "AdversaryConfig",
    "EnvConfig",
    "TradingEnv",
    "VecTradingEnv",
]
