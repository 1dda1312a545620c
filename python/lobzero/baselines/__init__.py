"""Baselines: rule agents now; stable-baselines3 PPO and SAC next."""

from lobzero.baselines.rules import RULES, RuleAgent, load_rule_agent, make_rule_agent

__all__ = ["RULES", "RuleAgent", "load_rule_agent", "make_rule_agent"]
