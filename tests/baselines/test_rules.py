"""Rule baselines: actions, the imbalance rule's logic, save/load, errors."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.baselines import RULES, load_rule_agent, make_rule_agent

NAMES = ["spread", "imbalance_1", "trade_flow", "position"]


def test_simple_rules() -> None:
    obs = np.zeros((3, 4), np.float32)
    assert list(make_rule_agent("flat", NAMES).act(obs)) == [2, 2, 2]
    assert list(make_rule_agent("buy_and_hold", NAMES).act(obs)) == [4, 4, 4]
    a = make_rule_agent("random", NAMES, seed=3).act(np.zeros((100, 4), np.float32))
    b = make_rule_agent("random", NAMES, seed=3).act(np.zeros((100, 4), np.float32))
    assert (a == b).all() and set(a) <= set(range(5)) and len(set(a)) == 5
    assert set(RULES) == {"flat", "buy_and_hold", "random", "imbalance"}


def test_imbalance_rule() -> None:
    agent = make_rule_agent("imbalance", NAMES, threshold=0.3)
    obs = np.array(
        [
            [1.0, 0.8, 0.6, 0.0],  # buyers lean: long
            [1.0, -0.9, -0.1, 0.0],  # sellers: short
            [1.0, 0.5, -0.5, 0.0],  # balanced: flat
        ],
        np.float32,
    )
    assert list(agent.act(obs)) == [4, 0, 2]
    # stacked frames: the newest frame (last) decides
    stacked = np.concatenate([obs[::-1], obs], axis=1)
    assert list(agent.act(stacked)) == [4, 0, 2]


def test_save_load_and_errors(tmp_path: Path) -> None:
    agent = make_rule_agent("imbalance", NAMES, threshold=0.1)
    back = load_rule_agent(agent.save(tmp_path / "agent"), NAMES)
    assert back.threshold == 0.1 and type(back) is type(agent)
    with pytest.raises(lobzero.ConfigError, match="unknown rule agent"):
        make_rule_agent("oracle", NAMES)
    with pytest.raises(lobzero.ConfigError, match="needs the features"):
        make_rule_agent("imbalance", ["spread"])
    with pytest.raises(lobzero.ConfigError, match="not an agent directory"):
        load_rule_agent(tmp_path / "nothing", NAMES)
