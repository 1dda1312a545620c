"""VecTradingEnv over a universe: environment i on its own market equals the single TradingEnv on
that market, bit for bit (observations, rewards, flags, infos), for the same seeds and actions."""

from __future__ import annotations

from typing import Any

import lobzero
import numpy as np
import pytest
from lobzero.data.universe import Universe
from lobzero.envs import EnvConfig, TradingEnv, VecTradingEnv

CONFIG = EnvConfig(episode_steps=12, step_ms=200.0, max_position=0.5)
INFO_KEYS = (
    *("equity", "cash", "position", "mark", "fees", "realized_pnl", "unrealized_pnl"),
    *("unfilled", "ts_ns"),
)


@pytest.fixture(scope="module")
def universe() -> Universe:
    """Two synthetic instruments of different grids and prices (lots 0.001 and 0.01)."""
    btc = lobzero.synth_market(seconds=240, seed=1, symbol="BTCSYN")
    eth = lobzero.synth_market(
        seconds=240, seed=2, symbol="ETHSYN", start_price=3000.0, tick_size="0.01",
        lot_size="0.01",
    )  # fmt: skip
    return Universe([btc, eth])


def first_mismatch(
    vec: VecTradingEnv, singles: list[TradingEnv], steps: int, seed: int
) -> str | None:
    """Steps the batch and the singles with the same random actions; the first difference
    (observation, reward, flag, info or final observation), or None when they are equal."""
    obs, _ = vec.reset(seed=seed)
    for i, env in enumerate(singles):
        o, _ = env.reset(seed=seed + i)
        if not np.array_equal(obs[i], o):
            return f"reset obs of env {i}"
    rng = np.random.default_rng(seed)
    for t in range(steps):
        actions = rng.integers(0, 5, len(singles))
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, info = env.step(int(actions[i]))
            if (float(rewards[i]).hex(), terminated[i], truncated[i]) != (float(r).hex(), te, tr):
                return f"step {t}: reward or flags of env {i}"
            if te or tr:
                if not np.array_equal(infos["final_obs"][i], o):
                    return f"step {t}: final obs of env {i}"
                # the batch's final info leaves out the step's fills list (as on one market)
                if infos["final_info"][i] != {k: v for k, v in info.items() if k != "fills"}:
                    return f"step {t}: final info of env {i}"
                o, _ = env.reset()
            if not np.array_equal(obs[i], o):
                return f"step {t}: obs of env {i}"
            now: dict[str, Any] = env._core.info()
            if [infos[k][i] for k in INFO_KEYS] != [now[k] for k in INFO_KEYS]:
                return f"step {t}: infos of env {i}"
    return None


@pytest.mark.parametrize(("n", "threads"), [(4, None), (40, 2)])
def test_a_universe_batch_equals_single_environments_on_its_markets(
    universe: Universe, n: int, threads: int | None
) -> None:
    """Round-robin symbols; 40 environments on 2 threads go through the worker pool. Planted
    defect: every environment on the first market (``markets=[btc] * n``) fails the same
    comparison, so the check can tell the markets apart."""
    config = CONFIG.replace(seed=3)
    vec = VecTradingEnv(universe, num_envs=n, config=config, num_threads=threads)
    assert vec.symbols == [("BTCSYN", "ETHSYN")[i % 2] for i in range(n)]
    markets = universe.markets_for(n)
    singles = [TradingEnv(m, config.replace(seed=3 + i)) for i, m in enumerate(markets)]
    assert first_mismatch(vec, singles, 30, seed=5) is None

    planted = VecTradingEnv(markets=[markets[0]] * n, config=config, num_threads=threads)
    fresh = [TradingEnv(m, config.replace(seed=3 + i)) for i, m in enumerate(markets)]
    assert first_mismatch(planted, fresh, 30, seed=5) is not None


def test_markets_per_environment_and_units(universe: Universe) -> None:
    """``markets=`` puts environment i on markets[i]; sizes are in each instrument's units: a
    full long of max_position 0.5 is 0.5 base units on both grids (500 and 50 lots)."""
    btc, eth = universe["BTCSYN"], universe["ETHSYN"]
    vec = VecTradingEnv(markets=[eth, btc, eth], config=CONFIG)
    assert vec.symbols == ["ETHSYN", "BTCSYN", "ETHSYN"]
    vec.reset(seed=0)
    for _ in range(3):
        _, _, _, _, infos = vec.step(np.full(3, 4))
    np.testing.assert_allclose(infos["position"], [0.5, 0.5, 0.5])
    assert infos["mark"][0] < 10_000 < infos["mark"][1]


def test_a_universe_folder_and_the_default_count(universe: Universe, tmp_path: Any) -> None:
    """A saved universe opens by path; without num_envs there is one environment per symbol."""
    universe.save(tmp_path / "u")
    vec = VecTradingEnv(tmp_path / "u", config=CONFIG)
    assert vec.num_envs == 2 and vec.symbols == ["BTCSYN", "ETHSYN"]


def test_bad_market_lists_are_refused(universe: Universe) -> None:
    btc = universe["BTCSYN"]
    with pytest.raises(lobzero.ConfigError, match="one per environment"):
        VecTradingEnv(markets=[btc, btc], num_envs=3, config=CONFIG)
    with pytest.raises(lobzero.ConfigError, match="not both"):
        VecTradingEnv(btc, markets=[btc], config=CONFIG)
    with pytest.raises(lobzero.ConfigError, match="non-empty"):
        VecTradingEnv(markets=[], config=CONFIG)


def test_a_single_environment_refuses_a_universe_folder(universe: Universe, tmp_path: Any) -> None:
    universe.save(tmp_path / "u")
    with pytest.raises(lobzero.ConfigError, match="2 symbols"):
        TradingEnv(tmp_path / "u", config=CONFIG)
