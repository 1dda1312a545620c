"""Evaluation: metrics, robustness under adversarial injection (walk-forward comparison next)."""

from lobzero.evaluation.metrics import Metrics, compute_metrics
from lobzero.evaluation.robustness import robustness, run_episode

__all__ = ["Metrics", "compute_metrics", "robustness", "run_episode"]
