"""Evaluation: metrics, robustness under adversarial injection, walk-forward splits and the
comparison of agents (:mod:`lobzero.evaluation.compare`)."""

from lobzero.evaluation.metrics import Metrics, compute_metrics
from lobzero.evaluation.robustness import robustness, run_episode, run_episodes

__all__ = ["Metrics", "compute_metrics", "robustness", "run_episode", "run_episodes"]
