"""`RiskVecEnv`, the risk stack over a batch of environments: environment i equals
``RiskWrapper(TradingEnv(seed + i))`` across episode ends (a batch that forgets to reset an
environment's guards at its autoreset, planted, does not), and ``train-agent --risk`` trains
PPO with the guards in the loop: a tiny run never holds beyond the limit (without --risk it
does)."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.cli import main
from lobzero.envs.trading_env import TradingEnv
from lobzero.envs.vector import VecTradingEnv
from lobzero.risk import CircuitBreakerConfig, LimitsConfig, RiskConfig, RiskWrapper
from lobzero.risk.vector import RiskVecEnv

CONFIG = lobzero.EnvConfig(max_position=0.1, episode_steps=25, initial_cash=10_000.0)
#: the breaker trips within an episode, so its state matters at the next one
RISK = RiskConfig(
    circuit_breaker=CircuitBreakerConfig(max_drawdown=0.00005),
    limits=LimitsConfig(max_position=0.05),
)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=3, signal_strength=1.0)


def _vector_matches_singles(market, vec: RiskVecEnv, steps: int = 80) -> bool:
    n = vec.num_envs
    singles = [RiskWrapper(TradingEnv(market, CONFIG.replace(seed=CONFIG.seed + i)), RISK)
               for i in range(n)]  # fmt: skip
    obs, _ = vec.reset(seed=11)
    single_obs = [env.reset(seed=11 + i)[0] for i, env in enumerate(singles)]
    same = np.array_equal(obs, np.stack(single_obs))
    rng = np.random.default_rng(0)
    ends = 0
    for _ in range(steps):
        actions = rng.integers(0, 5, n)
        obs, rewards, _, _, infos = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, info = env.step(int(actions[i]))
            same &= r == rewards[i] and info["position"] == infos["position"][i]
            if te or tr:
                ends += 1
                o, info = env.reset()
            same &= np.array_equal(o, obs[i]) and info["equity"] == infos["equity"][i]
    assert ends >= n  # every environment went through an autoreset
    return bool(same)


def test_each_environment_of_the_batch_equals_a_wrapped_single_one(market) -> None:
    vec = RiskVecEnv(VecTradingEnv(market, 3, CONFIG), RISK)
    assert _vector_matches_singles(market, vec)
    assert vec.interventions.sum() > 0


def test_a_batch_that_keeps_the_guards_across_episodes_differs(market) -> None:
    """Planted defect: the stacks are never reset, so a breaker halted in one episode stays
    halted in the next (each episode is a new account)."""
    vec = RiskVecEnv(VecTradingEnv(market, 3, CONFIG), RISK)
    vec.reset(seed=11)
    for stack in vec.stacks:
        stack.reset = lambda: None  # type: ignore[method-assign]
    assert not _vector_matches_singles(market, vec)


def _max_position_in_training(tmp_path: Path, monkeypatch, extra: list[str]) -> float:
    """The largest |position| any environment held during a tiny PPO run of train-agent."""
    held = [0.0]
    step = VecTradingEnv.step

    def recording_step(self, actions):  # type: ignore[no-untyped-def]
        out = step(self, actions)
        held[0] = max(held[0], float(np.abs(out[4]["position"]).max()))
        return out

    monkeypatch.setattr(VecTradingEnv, "step", recording_step)
    code = main(["train-agent", "--algo", "ppo", "--steps", "256", "--synth-seconds", "120",
                 "--max-position", "0.01", "--out", str(tmp_path / "agent"), *extra])  # fmt: skip
    assert code == 0
    return held[0]


def test_train_agent_with_risk_never_holds_beyond_the_limit(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "risk.toml").write_text("[limits]\nmax_position = 0.005\n")
    with_risk = _max_position_in_training(
        tmp_path, monkeypatch, ["--risk", str(tmp_path / "risk.toml")]
    )
    assert 0 < with_risk <= 0.005
    monkeypatch.undo()
    without = _max_position_in_training(tmp_path / "plain", monkeypatch, [])
    assert without > 0.005  # the limit is what held it
