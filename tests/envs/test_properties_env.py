"""Hypothesis properties of the environment (DESIGN.md invariants): no lookahead, ledger
identities, position limits, fees >= 0, fills never larger than the visible level, determinism."""

from __future__ import annotations

from collections import Counter

import lobzero
import numpy as np
import polars as pl
from hypothesis import event, given, settings
from hypothesis import strategies as st
from lobzero.envs import AdversaryConfig, EnvConfig, TradingEnv
from lobzero.envs.config import PERTURBATIONS

from tests.envs.test_trading_env import wavy_market

MARKETS = {seed: wavy_market(seconds=40, seed=seed) for seed in range(3)}
MS = 1_000_000


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


def run(
    market: lobzero.Market,
    config: EnvConfig,
    start_ns: int,
    actions: list[int],
    forced: list[list[str]] | None = None,
    peek: bool = False,
) -> list[tuple[int, bytes, float, bool, bool, dict]]:
    """Plays one episode from ``start_ns``: (ts_ns, observation bytes, reward, terminated,
    truncated, info) for the reset and every step. ``forced``: the trained adversary's move
    per step. ``peek``: the planted defect of the power test, a feature that adds the kind,
    price and size of the next event after the decision (one event ahead) to the first value of
    the observation."""
    recv = market.columns()["recv_ts_ns"]
    cols = market.columns()

    def seen(obs: np.ndarray, info: dict) -> bytes:
        if peek:
            nxt = int(np.searchsorted(recv, info["ts_ns"], side="right"))
            if nxt < len(recv):
                obs = obs.copy()
                obs[0] += cols["kind"][nxt] + cols["price_ticks"][nxt] + cols["qty_lots"][nxt]
        return obs.tobytes()

    env = TradingEnv(market, config)
    obs, info = env.reset(options={"start_ns": start_ns})
    trace = [(info["ts_ns"], seen(obs, info), 0.0, False, False, info)]
    for i, a in enumerate(actions):
        if forced is not None:
            env.force_perturbations(forced[i], gap_sign=(-1) ** i)
        obs, reward, terminated, truncated, info = env.step(a)
        trace.append((info["ts_ns"], seen(obs, info), reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return trace


def edit_after(df: pl.DataFrame, cut_ns: int, rng: np.random.Generator) -> pl.DataFrame:
    """``df`` with every event received after ``cut_ns`` rewritten at random: sizes scaled,
    prices shifted (through a clear and a shifted snapshot of the book at the cut, so the book
    stays valid), update/snapshot kinds swapped, trades deleted and inserted, receive times
    stretched. Events received at or before the cut are kept as they are."""
    cols = {c: df.get_column(c).to_numpy().copy() for c in df.columns}
    keep = int(np.searchsorted(cols["recv_ts_ns"], cut_ns, side="right"))
    head = {c: v[:keep] for c, v in cols.items()}
    tail = {c: v[keep:].copy() for c, v in cols.items()}
    first_edit = cut_ns + 1
    scale = int(rng.choice([1, 2, 7]))
    shift = int(rng.choice([0, 0, -40, 3, 25]))
    swap = bool(rng.random() < 0.5)
    delete = float(rng.choice([0.0, 0.3, 1.0]))
    inserts = int(rng.choice([0, 1, 20]))
    stretch = float(rng.choice([1.0, 0.5, 1.7]))
    if shift == 0 and scale == 1 and delete == 0.0 and inserts == 0 and not swap:
        shift = 1  # never an edit that changes nothing
    kind = tail["kind"]
    dropped = (kind == 2) & (rng.random(len(kind)) < delete)
    tail = {c: v[~dropped] for c, v in tail.items()}
    kind = tail["kind"]
    tail["price_ticks"] = np.where(kind == 3, tail["price_ticks"], tail["price_ticks"] + shift)
    tail["qty_lots"] = tail["qty_lots"] * scale
    if swap:
        tail["kind"] = np.where(kind <= 1, 1 - kind, kind)
    # (priority, recv, kind, side, price, qty): at one instant the clear comes first, then the
    # snapshot, then the original events, then inserted trades
    extra: list[tuple[int, int, int, int, int, int]] = []
    if shift:
        extra.append((0, first_edit, 3, 0, 0, 0))
        for (side, price), qty in sorted(book_at(df, cut_ns).items()):
            extra.append((1, first_edit, 0, side, price + shift, qty * scale))
    last = max(int(cols["recv_ts_ns"][-1]), first_edit)
    price = int(cols["price_ticks"][max(keep - 1, 0)]) or 1
    for _ in range(inserts):
        t = int(rng.integers(first_edit, last + 1))
        extra.append((3, t, 2, int(rng.choice([-1, 1])), price, int(rng.integers(1, 1000))))
    if extra:
        prio, recv, k, side, px, qty = (np.array(v, np.int64) for v in zip(*extra, strict=True))
        added = {"ts_ns": recv, "recv_ts_ns": recv, "kind": k, "side": side}
        added |= {"price_ticks": px, "qty_lots": qty}
        tail = {c: np.concatenate([added[c].astype(v.dtype), v]) for c, v in tail.items()}
        prio = np.concatenate([prio, np.full(len(tail["kind"]) - len(prio), 2)])
        order = np.lexsort((prio, tail["recv_ts_ns"]))  # stable: ties keep their order
        tail = {c: v[order] for c, v in tail.items()}
    tail["recv_ts_ns"] = first_edit + ((tail["recv_ts_ns"] - first_edit) * stretch).astype(np.int64)
    out = {c: np.concatenate([head[c], tail[c]]) for c in cols}
    return pl.DataFrame(out).cast(df.schema)


@st.composite
def episodes(draw: st.DrawFn) -> tuple[EnvConfig, list[int], list[list[str]] | None]:
    """A configuration on either decision clock, latency below or above the step, with no,
    a random or a forced (trained) adversary, and its actions."""
    step_ms = draw(st.sampled_from([20.0, 50.0, 100.0]))
    event_clock = draw(st.booleans())
    adversary = draw(st.sampled_from(["none", "random", "forced"]))
    n = 40
    actions = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    config = EnvConfig(
        step_ms=step_ms,
        step_events=draw(st.sampled_from([3, 12, 40])) if event_clock else 0,
        latency_ms=draw(st.sampled_from([0.0, step_ms / 4, 3 * step_ms])),
        max_position=draw(st.sampled_from([0.05, 0.2, 1.0])),
        taker_fee_bps=draw(st.sampled_from([0.0, 2.5, 10.0])),
        reward=draw(st.sampled_from(["pnl", "log_return", "risk_adjusted"])),
        risk_aversion=0.5,
        initial_cash=2_000.0,
        episode_steps=n,
        frame_stack=draw(st.sampled_from([1, 2])),
        seed=draw(st.integers(0, 2**16)),
        adversary=AdversaryConfig(intensity=0.3, latency_multiplier=4.0)
        if adversary == "random"
        else AdversaryConfig(latency_multiplier=4.0),
    )
    forced = None
    if adversary == "forced":
        names = st.lists(st.sampled_from(PERTURBATIONS), unique=True)
        forced = draw(st.lists(names, min_size=n, max_size=n))
    return config, actions, forced


def no_lookahead_property(examples: int, peek: bool) -> Counter[str]:
    """Runs the no-lookahead property over ``examples`` examples and counts: examples, cuts
    inside the played trace, edits that changed the episode after the cut, and leaks (examples
    where something at or before the cut differed). Without ``peek`` a leak fails at once (and
    hypothesis shrinks it); with the planted ``peek`` leaks are only counted."""
    counts: Counter[str] = Counter()

    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        seed=st.integers(0, 2),
        episode=episodes(),
        start_ms=st.integers(3_000, 5_000),
        data=st.data(),
    )
    def check(seed, episode, start_ms, data) -> None:
        config, actions, forced = episode
        market = MARKETS[seed]
        start = market.start_ns + start_ms * MS
        base = run(market, config, start, actions, forced, peek)
        # the cut: at a decision of the played trace, 1 ns after it, or anywhere before the next
        k = data.draw(st.integers(0, len(base) - 2), label="decision before the cut")
        t, nxt = base[k][0], base[k + 1][0]
        cut = t + data.draw(st.sampled_from([0, min(1, nxt - t - 1), (nxt - t) // 2, nxt - t - 1]))
        inside = cut < base[-1][0]
        event("cut inside the played trace" if inside else "cut at its end")
        rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="edit seed"))
        edited = lobzero.Market.from_polars(
            edit_after(market.to_polars(), cut, rng), market.instrument
        )
        other = run(edited, config, start, actions, forced, peek)
        before = [s for s in base if s[0] <= cut]
        counts["examples"] += 1
        counts["cut inside"] += inside
        counts["diverged after the cut"] += base != other
        if other[: len(before)] != before:
            counts["leaked"] += 1
            if not peek:
                # everything observed, every reward and fill (price, size, time) up to the cut
                for a, b in zip(before, other, strict=False):
                    assert a[:5] == b[:5], (cut, a[0], b[0])
                    assert a[5] == b[5], (cut, a[5], b[5])
                raise AssertionError(f"the edited episode ended before the cut {cut}")

    check()
    return counts


def test_changing_later_events_changes_nothing_before() -> None:
    """No lookahead (DESIGN.md): every observation, reward, fill (price, size, time), equity and
    perturbation at a decision up to a cut drawn inside the played trace is identical when every
    event after the cut is rewritten (prices, sizes, kinds, receive times; events inserted and
    deleted), on both decision clocks, latency below and above the step, with no, a random or a
    forced adversary. Its power: ``test_the_property_catches_a_one_event_peek`` (and, for the
    core, the planted feature of rust/core/tests/env.rs)."""
    counts = no_lookahead_property(examples=60, peek=False)
    assert counts["leaked"] == 0
    # the cut lies inside the played episode and the edit changes what follows it, mostly
    assert counts["cut inside"] >= 0.8 * counts["examples"], counts
    assert counts["diverged after the cut"] >= 0.6 * counts["examples"], counts


def test_the_property_catches_a_one_event_peek() -> None:
    """The planted defect: a feature that looks one event past the decision. The same property
    sees it in a good share of its examples."""
    counts = no_lookahead_property(examples=30, peek=True)
    assert counts["leaked"] >= 0.25 * counts["examples"], counts


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
    meta = market.instrument
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
