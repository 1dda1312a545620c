"""gymnasium's contracts: the vector reset's ``seed`` and ``options`` as gymnasium's vector API
reads them, and ``gym.make``'s time limit from the config."""

from __future__ import annotations

import gymnasium as gym
import lobzero
import numpy as np
import pytest
from lobzero.envs import EnvConfig, TradingEnv, VecTradingEnv
from lobzero.envs.adversarial import AdversarialVecEnv, AdversaryVecEnv

from tests.envs.test_trading_env import CONFIG, wavy_market


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return wavy_market()


def single_reset(
    market: lobzero.Market, i: int, seed: int | None, options: dict | None = None
) -> np.ndarray:
    """What environment i of a batch built from CONFIG shows after ``reset(seed, options)``."""
    env = TradingEnv(market, CONFIG, seed=CONFIG.seed + i)
    obs, _ = env.reset(seed=seed, options=options)
    return obs


def test_a_list_of_seeds_gives_one_seed_per_environment(market: lobzero.Market) -> None:
    """Before, ``seed=[3, 9]`` kept 3 alone: row 1 was the environment seeded 4."""
    vec = VecTradingEnv(market, 2, CONFIG)
    obs, _ = vec.reset(seed=[3, 9])
    np.testing.assert_array_equal(obs[0], single_reset(market, 0, 3))
    np.testing.assert_array_equal(obs[1], single_reset(market, 1, 9))
    assert not np.array_equal(obs[1], single_reset(market, 1, 4))


def test_an_int_seed_gives_environment_i_seed_plus_i(market: lobzero.Market) -> None:
    vec = VecTradingEnv(market, 3, CONFIG)
    obs, _ = vec.reset(seed=5)
    for i in range(3):
        np.testing.assert_array_equal(obs[i], single_reset(market, i, 5 + i))


def test_a_none_entry_leaves_that_environment_unseeded(market: lobzero.Market) -> None:
    """Environment 0 goes on with its own random stream (its second episode draws another
    start), environment 1 is reseeded."""
    vec = VecTradingEnv(market, 2, CONFIG)
    vec.reset(seed=7)
    obs, _ = vec.reset(seed=[None, 21])
    again = TradingEnv(market, CONFIG)
    again.reset(seed=7)
    second, _ = again.reset()
    np.testing.assert_array_equal(obs[0], second)
    np.testing.assert_array_equal(obs[1], single_reset(market, 1, 21))


@pytest.mark.parametrize("seed", [[1], [1, 2, 3], []])
def test_a_list_of_the_wrong_length_is_a_config_error(
    market: lobzero.Market, seed: list[int]
) -> None:
    vec = VecTradingEnv(market, 2, CONFIG)
    with pytest.raises(lobzero.ConfigError, match=r"one seed per environment \(2\)"):
        vec.reset(seed=seed)


def test_options_reach_every_environment(market: lobzero.Market) -> None:
    """Before, ``options`` were dropped: the batch drew its starts at random."""
    start = (market.start_ns or 0) + 30 * 10**9
    vec = VecTradingEnv(market, 2, CONFIG)
    obs, infos = vec.reset(seed=1, options={"start_ns": start})
    for i in range(2):
        np.testing.assert_array_equal(obs[i], single_reset(market, i, 1 + i, {"start_ns": start}))
    assert infos["ts_ns"][0] == infos["ts_ns"][1]
    later = start + 20 * 10**9
    obs, infos = vec.reset(seed=1, options={"start_ns": [start, later]})
    np.testing.assert_array_equal(obs[1], single_reset(market, 1, 2, {"start_ns": later}))
    assert infos["ts_ns"][1] - infos["ts_ns"][0] == pytest.approx(later - start, abs=10**9)


def test_unknown_options_are_refused(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG)
    with pytest.raises(lobzero.ConfigError, match=r"unknown reset option 'start'.*start_ns"):
        env.reset(options={"start": 5})
    vec = VecTradingEnv(market, 2, CONFIG)
    with pytest.raises(lobzero.ConfigError, match="unknown reset option 'start'"):
        vec.reset(options={"start": 5})
    with pytest.raises(lobzero.ConfigError, match=r"one start per environment \(2\)"):
        vec.reset(options={"start_ns": [market.start_ns]})


class Hold:
    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.full(len(obs_batch), 2, np.int64)


class Nothing:
    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.zeros(len(obs_batch), np.int64)


@pytest.mark.parametrize("view", ["adversary", "trader"])
def test_adversarial_views_pass_seeds_and_options_on(market: lobzero.Market, view: str) -> None:
    """Before, both views kept the first seed of a list and dropped ``options``."""
    vec = VecTradingEnv(market, 2, CONFIG)
    wrapper = (
        AdversaryVecEnv(vec, Hold()) if view == "adversary" else AdversarialVecEnv(vec, Nothing())
    )
    start = (market.start_ns or 0) + 30 * 10**9
    obs, _ = wrapper.reset(seed=[3, 9], options={"start_ns": start})
    width = vec.single_observation_space.shape[0]
    np.testing.assert_array_equal(obs[1, :width], single_reset(market, 1, 9, {"start_ns": start}))
    with pytest.raises(lobzero.ConfigError, match="one seed per environment"):
        wrapper.reset(seed=[3])
    with pytest.raises(lobzero.ConfigError, match="unknown reset option"):
        wrapper.reset(options={"reset_mask": np.ones(2, bool)})


@pytest.mark.parametrize("steps", [7, 1500])
def test_gym_make_limits_episodes_to_the_configs_episode_steps(
    market: lobzero.Market, steps: int
) -> None:
    """Before, the registration had no time limit: ``spec.max_episode_steps`` was None."""
    env = gym.make("lobzero/Trading-v0", market=market, config=CONFIG.replace(episode_steps=steps))
    assert env.spec is not None and env.spec.max_episode_steps == steps
    if steps < 100:
        env.reset(seed=0)
        n, terminated, truncated = 0, False, False
        while not (terminated or truncated) and n <= steps:
            _, _, terminated, truncated, _ = env.step(2)
            n += 1
        assert (n, truncated) == (steps, True)


def test_gym_make_follows_keyword_overrides_too(market: lobzero.Market) -> None:
    env = gym.make("lobzero/Trading-v0", market=market, config=CONFIG, episode_steps=12)
    assert env.spec is not None and env.spec.max_episode_steps == 12
    assert EnvConfig().episode_steps != 12
