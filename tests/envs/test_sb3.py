"""stable-baselines3 on lobzero's environments: SB3's checker, and PPO trained for a few
thousand steps through the batched adapter in every action mode (a smoke test, not a learning
test: learning is measured by the benchmarks)."""

from __future__ import annotations

import numpy as np
import pytest

sb3 = pytest.importorskip("stable_baselines3", reason="stable-baselines3 is not installed")

from lobzero.envs import EnvConfig, TradingEnv, VecTradingEnv  # noqa: E402
from lobzero.envs.sb3 import Sb3VecEnv  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.env_checker import check_env as sb3_check_env  # noqa: E402

from tests.envs.test_trading_env import wavy_market  # noqa: E402

CONFIG = EnvConfig(max_position=0.1, episode_steps=64, initial_cash=10_000.0)


@pytest.fixture(scope="module")
def market():
    return wavy_market(seconds=300)


@pytest.mark.parametrize("mode", ["target", "side", "continuous"])
def test_sb3_checker(market, mode: str) -> None:
    sb3_check_env(TradingEnv(market, CONFIG, action_mode=mode), warn=False)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["target", "side", "continuous"])
def test_ppo_trains_on_the_batched_path(market, mode: str) -> None:
    venv = Sb3VecEnv(VecTradingEnv(market, 8, CONFIG, action_mode=mode))
    model = PPO("MlpPolicy", venv, n_steps=128, batch_size=256, n_epochs=2, seed=0, device="cpu")
    model.learn(total_timesteps=2048)
    assert model.num_timesteps >= 2048
    obs = venv.reset()
    actions, _ = model.predict(obs, deterministic=True)
    assert venv.action_space.contains(actions[0])
    _, rewards, dones, infos = venv.step(actions)
    assert rewards.shape == (8,) and dones.shape == (8,)
    assert all(np.isfinite(i["equity"]) for i in infos)


def test_adapter_reports_terminal_observations(market) -> None:
    venv = Sb3VecEnv(VecTradingEnv(market, 2, CONFIG.replace(episode_steps=3)))
    venv.seed(5)
    venv.reset()
    for _ in range(3):
        venv.step_async(np.array([4, 0]))
        obs, _, dones, infos = venv.step_wait()
    assert dones.all()
    for info in infos:
        assert info["terminal_observation"].shape == obs.shape[1:]
        assert info["TimeLimit.truncated"] is True
