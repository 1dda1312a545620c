"""MuZero on lobzero: configuration, self-play, prioritized replay with n-step targets,
reanalyse, the learner and the training loop (Play → Store → Train), and the trained agent.

:class:`MuZeroConfig` is imported with the package; the rest (torch) on first use, so the
command line can build its flags from the configuration without loading torch."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from lobzero.muzero.config import MuZeroConfig

if TYPE_CHECKING:
    from lobzero.muzero.agent import MuZeroAgent, build_network
    from lobzero.muzero.learner import Learner, muzero_loss, scale_gradient
    from lobzero.muzero.planner import Plan, Planner
    from lobzero.muzero.replay_buffer import Batch, ReplayBuffer
    from lobzero.muzero.targets import TargetPlan, plan_targets
    from lobzero.muzero.trainer import evaluate_gym, train_muzero

#: where each lazily imported name lives
_LAZY = {
    "MuZeroAgent": "agent",
    "build_network": "agent",
    "Learner": "learner",
    "muzero_loss": "learner",
    "scale_gradient": "learner",
    "Plan": "planner",
    "Planner": "planner",
    "Batch": "replay_buffer",
    "ReplayBuffer": "replay_buffer",
    "TargetPlan": "targets",
    "plan_targets": "targets",
    "evaluate_gym": "trainer",
    "train_muzero": "trainer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f"lobzero.muzero.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lobzero.muzero' has no attribute {name!r}")


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
