"""Hypothesis properties of the environment (DESIGN.md invariants): no lookahead, ledger
identities, position limits, fees >= 0, fills never larger than the visible level, determinism."""

from __future__ import annotations

import lobzero
import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.envs import EnvConfig, TradingEnv

from tests.envs.test_trading_env import wavy_market

MARKETS = {seed: wavy_market(seconds=40, seed=seed) for seed in range(3)}
MS = 1_000_000


def run(market: lobzero.Market, config: EnvConfig, start_ns: int, actions: list[int]):
    env = TradingEnv(market, config)
    obs, info = env.reset(options={"start_ns": start_ns})
    trace = [(info["ts_ns"], obs.tobytes(), 0.0, info)]
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        trace.append((info["ts_ns"], obs.tobytes(), reward, info))
        if terminated or truncated:
            break
    return trace


configs = st.builds(
    EnvConfig,
    max_position=st.sampled_from([0.05, 0.2, 1.0]),
    latency_ms=st.sampled_from([0.0, 5.0, 30.0, 150.0]),
    step_ms=st.sampled_from([50.0, 100.0, 250.0]),
    taker_fee_bps=st.sampled_from([0.0, 2.5, 10.0]),
    reward=st.sampled_from(["pnl", "log_return", "risk_adjusted"]),
    risk_aversion=st.just(0.5),
    initial_cash=st.just(2_000.0),
    episode_steps=st.just(60),
)


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2),
    config=configs,
    actions=st.lists(st.integers(0, 4), min_size=5, max_size=40),
    cut_s=st.floats(8.0, 30.0),
    scale=st.integers(2, 9),
)
def test_changing_later_events_changes_nothing_before(seed, config, actions, cut_s, scale) -> None:
    market = MARKETS[seed]
    start = market.start_ns + 5_000 * MS
    cut = market.start_ns + int(cut_s * 1e9)
    df = market.to_polars()
    later = pl.col("recv_ts_ns") > cut
    edited_df = df.with_columns(
        pl.when(later & (pl.col("qty_lots") > 0))
        .then(pl.col("qty_lots") * scale)
        .otherwise(pl.col("qty_lots"))
        .alias("qty_lots")
    )
    edited = lobzero.Market.from_polars(edited_df, market.metadata)
    a = run(market, config, start, actions)
    b = run(edited, config, start, actions)
    for (ts_a, obs_a, r_a, info_a), (ts_b, obs_b, r_b, info_b) in zip(a, b, strict=False):
        if ts_a > cut:
            break
        assert ts_a == ts_b
        assert obs_a == obs_b
        assert r_a == r_b
        assert info_a["fills"] == info_b["fills"]
        assert info_a["equity"] == info_b["equity"]


def book_at(df: pl.DataFrame, ts_ns: int) -> dict[tuple[int, int], int]:
    """The book after every event received at or before ts_ns (plain-Python reference)."""
    book: dict[tuple[int, int], int] = {}
    for kind, side, price, qty in (
        df.filter(pl.col("recv_ts_ns") <= ts_ns)
        .select("kind", "side", "price_ticks", "qty_lots")
        .iter_rows()
    ):
        if kind in (0, 1):
            if qty:
                book[(side, price)] = qty
            else:
                book.pop((side, price), None)
        elif kind == 3:
            book = {k: v for k, v in book.items() if side not in (0, k[0])}
    return book


def run_checking_invariants(
    market: lobzero.Market,
    config: EnvConfig,
    actions: list[int],
    forced: list[list[str]] | None = None,
) -> None:
    """Steps an environment, checking after every step: finite reward, observation inside its
    space, |position| <= limit, fees >= 0, equity = cash + position × mark, realized +
    unrealized = equity − start, and no fill larger than the level it took from. ``forced``:
    perturbations a trained adversary forces into each step (names, one list per step)."""
    meta = market.metadata
    df = market.to_polars()
    env = TradingEnv(market, config)
    _, info = env.reset(options={"start_ns": market.start_ns + 5_000 * MS})
    start_cash = info["cash"]
    gapped = False  # a price gap shifts the book for the rest of the episode
    for i, a in enumerate(actions):
        moved_prices = gapped
        if forced is not None and i < len(forced):
            env.force_perturbations(forced[i], gap_sign=(-1) ** i)
            gapped = gapped or "price_gap" in forced[i]
            moved_prices = gapped or "slippage" in forced[i]
        obs, reward, terminated, truncated, info = env.step(a)
        assert np.isfinite(reward)
        assert env.observation_space.contains(obs)
        assert abs(info["position"]) <= config.max_position + 1e-12
        assert info["fees"] >= 0
        assert abs(info["equity"] - (info["cash"] + info["position"] * info["mark"])) < 1e-6
        total = info["realized_pnl"] + info["unrealized_pnl"]
        assert abs(total - (info["equity"] - start_cash)) < 1e-6
        for ts, side, price, size, fee in info["fills"]:
            assert fee >= 0 and size > 0
            book = book_at(df, ts)
            shown = {p: q for (s, p), q in book.items() if s == -side}
            slippage, gap, *_ = config.adversary.probabilities()
            if not (slippage or gap or moved_prices):  # fill prices are book prices
                assert round(size / meta.lot) <= shown.get(round(price / meta.tick), 0)
            # whatever the adversary did, a fill never takes more than the largest level shows
            assert round(size / meta.lot) <= max(shown.values(), default=0)
        if terminated or truncated:
            break


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2),
    config=configs,
    actions=st.lists(st.integers(0, 4), min_size=5, max_size=60),
)
def test_ledger_limits_fees_and_visible_size(seed, config, actions) -> None:
    run_checking_invariants(MARKETS[seed], config, actions)


@settings(max_examples=12, deadline=None)
@given(
    seed=st.integers(0, 2),
    config=configs,
    num_envs=st.integers(32, 56),
    threads=st.integers(1, 4),
    episode_steps=st.integers(3, 12),
    action_seed=st.integers(0, 2**16),
)
def test_batch_equals_singles_on_any_thread_count(
    seed, config, num_envs, threads, episode_steps, action_seed
) -> None:
    """Batch = singles (DESIGN.md) through the worker pool: any batch size, thread count and
    episode length (autoresets landing in different chunks), bit for bit."""
    from lobzero.envs import VecTradingEnv

    market = MARKETS[seed]
    config = config.replace(seed=seed, episode_steps=episode_steps)
    vec = VecTradingEnv(market, num_envs, config, num_threads=threads)
    singles = [TradingEnv(market, config, seed=seed + i) for i in range(num_envs)]
    obs, _ = vec.reset()
    for i, env in enumerate(singles):
        assert obs[i].tobytes() == env.reset()[0].tobytes()
    rng = np.random.default_rng(action_seed)
    for _ in range(2 * episode_steps + 1):
        actions = rng.integers(0, 5, num_envs)
        obs, rewards, terminated, truncated, infos = vec.step(actions)
        for i, env in enumerate(singles):
            o, r, te, tr, info = env.step(int(actions[i]))
            assert (rewards[i], terminated[i], truncated[i]) == (r, te, tr)
            if te or tr:
                # the row now holds the next episode; the finished one is in final_*
                assert infos["final_obs"][i].tobytes() == o.tobytes()
                assert infos["final_info"][i]["equity"] == info["equity"]
                o, info = env.reset()
            assert obs[i].tobytes() == o.tobytes()
            assert infos["equity"][i] == info["equity"]
