"""TradingEnv and VecTradingEnv through gymnasium: checker, spaces, info, determinism,
batch = singles, errors."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import gymnasium as gym
import lobzero
import numpy as np
import polars as pl
import pytest
from gymnasium.utils.env_checker import check_env
from lobzero.data.market import Instrument
from lobzero.envs import EnvConfig, TradingEnv, VecTradingEnv

MS = 1_000_000


def wavy_market(seconds: int = 120, seed: int = 0) -> lobzero.Market:
    """A small hand-built market: a 2-tick spread around a random-walk mid, updates every 10 ms,
    a trade every 50 ms."""
    rng = np.random.default_rng(seed)
    rows: list[tuple[int, int, int, int, int]] = []
    mid = 10_000
    rows += [(0, 3, 0, 0, 0)]
    for k in range(1, 6):
        rows += [(0, 0, 1, mid - k, 5 + k), (0, 0, -1, mid + k, 5 + k)]
    for i in range(1, seconds * 100):
        t = i * 10 * MS
        if rng.random() < 0.1:
            step = int(rng.choice([-1, 1]))
            # shift the whole book by one tick
            for k in range(1, 6):
                rows += [(t, 1, 1, mid - k, 0), (t, 1, -1, mid + k, 0)]
            mid += step
            for k in range(1, 6):
                rows += [(t, 1, 1, mid - k, 3 + k), (t, 1, -1, mid + k, 3 + k)]
        else:
            k = int(rng.integers(1, 6))
            side = int(rng.choice([-1, 1]))
            rows += [(t, 1, side, mid - side * k, int(rng.integers(1, 20)))]
        if i % 5 == 0:
            rows += [(t, 2, int(rng.choice([-1, 1])), mid + 1, int(rng.integers(1, 4)))]
    t, kind, side, price, qty = map(list, zip(*rows, strict=True))
    df = pl.DataFrame(
        {
            "ts_ns": t,
            "recv_ts_ns": t,
            "kind": kind,
            "side": side,
            "price_ticks": price,
            "qty_lots": qty,
        }
    )
    meta = Instrument(symbol="WAVE", venue="test", tick_size="0.5", lot_size="0.01")
    return lobzero.Market.from_polars(df, meta)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return wavy_market()


CONFIG = EnvConfig(max_position=0.1, episode_steps=50, initial_cash=10_000.0)


@pytest.mark.parametrize("mode", ["target", "side", "continuous"])
def test_gymnasium_checker_passes(market: lobzero.Market, mode: str) -> None:
    env = TradingEnv(market, CONFIG, action_mode=mode)
    check_env(env, skip_render_check=True)
    expected = {"target": gym.spaces.Discrete(5), "side": gym.spaces.Discrete(3)}
    if mode in expected:
        assert env.action_space == expected[mode]
    else:
        assert env.action_space.shape == (1,)


def test_info_carries_the_ledger(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG)
    obs, info = env.reset(seed=3)
    assert obs.dtype == np.float32 and obs.shape == env.observation_space.shape
    assert env.observation_space.contains(obs)
    assert info["equity"] == 10_000.0 and info["position"] == 0.0
    obs, reward, _, _, info = env.step(4)  # target +1 = 0.1 = 10 lots
    assert info["position"] == pytest.approx(0.1)
    assert info["fills"], "a market order on a live book fills"
    paid = sum(f[4] for f in info["fills"])
    assert info["fees"] == pytest.approx(paid)
    assert info["equity"] == pytest.approx(info["cash"] + info["position"] * info["mark"])
    assert reward == pytest.approx(info["equity"] - 10_000.0)
    assert set(info) >= {"equity", "cash", "position", "mark", "fees", "fills"}


def test_same_seed_same_episode(market: lobzero.Market) -> None:
    def run() -> list[float]:
        env = TradingEnv(market, CONFIG)
        obs, _ = env.reset(seed=7)
        out = [float(x) for x in obs]
        for a in [4, 0, 2, 3, 1] * 4:
            obs, r, *_ = env.step(a)
            out += [r, *map(float, obs)]
        return out

    assert run() == run()


def test_fixed_start_and_truncation(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG)
    start = market.start_ns + 30_000 * MS
    _, info = env.reset(options={"start_ns": start})
    assert info["ts_ns"] == start
    steps = 0
    while True:
        _, _, terminated, truncated, _ = env.step(2)
        steps += 1
        if terminated or truncated:
            break
    assert truncated and not terminated and steps == 50
    with pytest.raises(lobzero.ConfigError, match="call reset"):
        env.step(2)


def test_bad_actions_and_configs(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG)
    env.reset(seed=0)
    with pytest.raises(lobzero.InvalidValueError, match=r"0 <= action < 5"):
        env.step(7)
    with pytest.raises(lobzero.ConfigError, match="less than one lot"):
        TradingEnv(market, CONFIG, max_position=0.001)
    with pytest.raises(lobzero.ConfigError, match="unknown feature"):
        TradingEnv(market, CONFIG, features=("spread", "crystal_ball"))
    with pytest.raises(lobzero.ConfigError, match="unknown option"):
        CONFIG.replace(leverage=10)
    with pytest.raises(lobzero.ConfigError, match="too short"):
        TradingEnv(market, CONFIG, episode_steps=10**6).reset(seed=0)
    with pytest.raises(lobzero.ConfigError, match="outside the market"):
        env.reset(options={"start_ns": market.end_ns + 10**9})


def test_config_toml_round_trip(tmp_path: Path) -> None:
    config = EnvConfig(action_mode="side", features=("spread", "levels"), start_ns=5, seed=9)
    back = EnvConfig.load(config.save(tmp_path / "env.toml"))
    assert back == config


def test_registered_with_gymnasium(market: lobzero.Market) -> None:
    env = gym.make("lobzero/Trading-v0", market=market, config=CONFIG)
    obs, _ = env.reset(seed=0)
    assert obs.shape == env.observation_space.shape


@pytest.mark.parametrize(("n", "threads"), [(6, None), (40, 2)])
def test_batch_equals_single_environments(
    market: lobzero.Market, n: int, threads: int | None
) -> None:
    """40 environments on 2 threads go through the worker pool (chunks of 16, stealing);
    6 step on the calling thread."""
    config = CONFIG.replace(seed=11, episode_steps=20)
    vec = VecTradingEnv(market, n, config, num_threads=threads)
    singles = [TradingEnv(market, config, seed=11 + i) for i in range(n)]
    obs, _ = vec.reset()
    for i, env in enumerate(singles):
        single_obs, _ = env.reset()
        np.testing.assert_array_equal(obs[i], single_obs)
    rng = np.random.default_rng(0)
    keys = ("equity", "cash", "position", "mark", "fees", "realized_pnl", "unrealized_pnl")
    keys += ("unfilled", "ts_ns")
    earlier: list[tuple[dict, dict]] = []
    for _ in range(45):
        actions = rng.integers(0, 5, n)
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        earlier.append((infos, {k: infos[k].copy() for k in keys}))
        for i, env in enumerate(singles):
            o, r, te, tr, info = env.step(int(actions[i]))
            assert rewards[i] == r and terminated[i] == te and truncated[i] == tr
            if te or tr:
                np.testing.assert_array_equal(infos["final_obs"][i], o)
                assert infos["final_info"][i]["equity"] == info["equity"]
                o, _ = env.reset()
            np.testing.assert_array_equal(obs[i], o)
            now = env._core.info()
            assert [infos[k][i] for k in keys] == [now[k] for k in keys]
    # each step's info arrays are its own: later steps never overwrite them
    for infos, snapshot in earlier:
        for k in keys:
            np.testing.assert_array_equal(infos[k], snapshot[k])


def test_batch_reports_a_bad_action(market: lobzero.Market) -> None:
    vec = VecTradingEnv(market, 40, CONFIG, num_threads=2)
    vec.reset(seed=0)
    actions = np.full(40, 2)
    actions[33] = 7
    with pytest.raises(
        lobzero.InvalidValueError, match=r"7 is not a target action: need 0 <= action < 5"
    ):
        vec.step(actions)


def _step_and_report(vec: VecTradingEnv, actions: np.ndarray, out: Any) -> None:
    obs, rewards, *_ = vec.step(actions)
    out.put((obs.tobytes(), rewards.tobytes()))


def test_batch_steps_in_a_forked_child(market: lobzero.Market) -> None:
    """A fork keeps no worker threads: the child's batch steps on its calling thread alone,
    to the same result, instead of waiting for a worker that is not there."""
    vec = VecTradingEnv(market, 40, CONFIG, num_threads=2)
    vec.reset(seed=3)
    vec.step(np.full(40, 4))
    actions = np.random.default_rng(1).integers(0, 5, 40)
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_step_and_report, args=(vec, actions, out))
    child.start()
    child.join(timeout=60)
    assert child.exitcode == 0, "the forked child did not finish its step"
    obs, rewards, *_ = vec.step(actions)
    assert out.get(timeout=5) == (obs.tobytes(), rewards.tobytes())


def test_vector_env_spaces_and_continuous_actions(market: lobzero.Market) -> None:
    vec = VecTradingEnv(market, 3, CONFIG, action_mode="continuous", copy=True)
    obs, _ = vec.reset(seed=1)
    assert vec.observation_space.shape == (3, *vec.single_observation_space.shape)
    obs2, rewards, *_ = vec.step(np.array([[0.5], [-1.0], [0.0]], dtype=np.float32))
    assert obs2 is not obs and rewards.shape == (3,)
    with pytest.raises(lobzero.ConfigError):
        VecTradingEnv(market, 0, CONFIG)


def test_event_clock(market: lobzero.Market) -> None:
    env = TradingEnv(market, CONFIG, step_events=25)
    _, info = env.reset(options={"start_ns": market.start_ns + 20_000 * MS})
    recv = market.columns()["recv_ts_ns"]
    for _ in range(5):
        before = info["ts_ns"]
        _, _, _, _, info = env.step(2)
        # the next decision is the receive time of the 25th event after the last one
        assert np.sum((recv > before) & (recv < info["ts_ns"])) < 25
        assert np.sum((recv > before) & (recv <= info["ts_ns"])) >= 25


def test_ruin_terminates(market: lobzero.Market) -> None:
    # a fee larger than the account: equity is gone after the first fill
    env = TradingEnv(market, CONFIG, initial_cash=1.0, max_position=5.0, taker_fee_bps=50.0)
    env.reset(seed=0)
    _, _, terminated, truncated, info = env.step(4)
    assert terminated and not truncated
    assert info["equity"] <= 0
