"""Paper results equal the environment's on the same events: the loop (feed, decisions,
broker, database) run over a recording gives the fills and equity that
:func:`~lobzero.evaluation.robustness.run_episodes` gets from a ``TradingEnv`` on it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.envs import TradingEnv
from lobzero.evaluation.robustness import run_episodes
from lobzero.live import PaperBroker, ReplayDatabase

from .helpers import config, markets, run_loop


def _environment_run(market, env_config, episode_steps: int, start_ns: int):
    env = TradingEnv(market, env_config.replace(episode_steps=episode_steps))
    agent = make_rule_agent("imbalance", env.feature_names, threshold=0.1)
    return run_episodes(agent, [env], [env_config.seed], [start_ns], record=True)[0]


def _paper_matches_env(db_path: Path, mkts, reference_env) -> bool:
    db = ReplayDatabase(db_path)
    start = int(db.meta()["start_ns"])
    steps = PaperBroker(mkts, reference_env).envs
    same = True
    for symbol, market in mkts.items():
        rows = db.decisions(symbol)
        episode = _environment_run(market, reference_env, steps[symbol].config.episode_steps, start)
        n = len(rows)
        assert episode.trace is not None and episode.path is not None
        # the loop stops once the feed ends: at most the env's last (truncated) step is missing
        assert len(episode.equity) - 1 - n <= 1
        same &= np.array_equal([r["equity"] for r in rows], episode.equity[1 : n + 1])
        same &= np.array_equal([int(r["action"]) for r in rows], episode.trace[1][:n])
        fills = db.fills(symbol)
        env_fills = [
            (int(ts), int(f[0]), float(f[1]), float(f[2]), float(f[3]))
            for ts, f in zip(episode.path.fill_ts_ns, episode.path.fills, strict=True)
        ][: len(fills)]
        same &= [tuple(f[3:]) for f in fills] == env_fills
        same &= len(fills) > 10
    db.close()
    return bool(same)


def test_paper_fills_and_equity_equal_the_environment(tmp_path: Path) -> None:
    mkts, cfg = markets(), config()
    run_loop(tmp_path / "p.sqlite", mkts, cfg)
    assert _paper_matches_env(tmp_path / "p.sqlite", mkts, cfg.env)


def test_the_comparison_catches_a_broker_with_another_latency(tmp_path: Path) -> None:
    """Planted defect: the paper broker ignores the latency; the comparison must fail."""
    mkts, cfg = markets(), config()
    wrong = cfg.replace(env=cfg.env.replace(latency_ms=0.0))
    run_loop(tmp_path / "p.sqlite", mkts, wrong)
    assert not _paper_matches_env(tmp_path / "p.sqlite", mkts, cfg.env)


class FeatureSign:
    """A deterministic agent of any action mode: the sign of the touch imbalance (a function
    of the observation alone, so the loop and run_episodes see the same actions)."""

    def __init__(self, mode: str, column: int) -> None:
        self.action_mode, self.column = mode, column

    def act(self, obs: np.ndarray) -> np.ndarray:
        x = obs[:, self.column]
        if self.action_mode == "continuous":
            return np.clip(x * 3.0, -1.0, 1.0).astype(np.float32)
        return np.where(x > 0.1, 2, np.where(x < -0.1, 0, 1)).astype(np.int64)


@pytest.mark.parametrize(
    ("mode", "latency_ms"), [("side", 150.0), ("continuous", 25.0), ("continuous", 0.0)]
)
def test_paper_equals_the_environment_in_every_action_mode(
    tmp_path: Path, mode: str, latency_ms: float
) -> None:
    mkts = markets(20.0, ("AAA",))
    cfg = config()
    cfg = cfg.replace(env=cfg.env.replace(action_mode=mode, latency_ms=latency_ms))
    broker = PaperBroker(mkts, cfg.env)
    agent = FeatureSign(mode, broker.feature_names().index("imbalance_1"))
    run_loop(tmp_path / "p.sqlite", mkts, cfg, agent=agent)
    db = ReplayDatabase(tmp_path / "p.sqlite")
    rows, fills = db.decisions("AAA"), db.fills("AAA")
    start = int(db.meta()["start_ns"])
    db.close()
    env = TradingEnv(
        mkts["AAA"], cfg.env.replace(episode_steps=broker.envs["AAA"].config.episode_steps)
    )
    episode = run_episodes(agent, [env], [cfg.env.seed], [start])[0]
    assert episode.path is not None and len(fills) > 10
    n = len(rows)
    np.testing.assert_array_equal([r["equity"] for r in rows], episode.equity[1 : n + 1])
    env_fills = [
        (int(ts), int(f[0]), float(f[1]), float(f[2]), float(f[3]))
        for ts, f in zip(episode.path.fill_ts_ns, episode.path.fills, strict=True)
    ]
    assert [tuple(f[3:]) for f in fills] == env_fills[: len(fills)]
