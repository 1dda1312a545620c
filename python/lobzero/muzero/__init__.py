"""MuZero on lobzero: configuration, self-play, prioritized replay with n-step targets,
reanalyse, the learner and the training loop (Play → Store → Train), and the trained agent."""

from lobzero.muzero.agent import MuZeroAgent, build_network
from lobzero.muzero.config import MuZeroConfig
from lobzero.muzero.learner import Learner, muzero_loss, scale_gradient
from lobzero.muzero.planner import Plan, Planner
from lobzero.muzero.replay_buffer import Batch, ReplayBuffer
from lobzero.muzero.targets import TargetPlan, plan_targets
from lobzero.muzero.trainer import evaluate_gym, train_muzero

__all__ = [
    "Batch",
    "Learner",
    "MuZeroAgent",
    "MuZeroConfig",
    "Plan",
    "Planner",
    "ReplayBuffer",
    "TargetPlan",
    "build_network",
    "evaluate_gym",
    "muzero_loss",
    "plan_targets",
    "scale_gradient",
    "train_muzero",
]
