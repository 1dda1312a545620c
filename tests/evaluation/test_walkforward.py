"""Walk-forward splits: ranges disjoint and in time order, folds tiling the end of the market,
and episodes (drawn by the environment or fixed for evaluation) that never read past their
range: nothing from the test range reaches training or selection."""

from __future__ import annotations

import itertools

import lobzero
import numpy as np
import pytest
from hypothesis import Phase, event, given, settings
from hypothesis import strategies as st
from lobzero.baselines import make_rule_agent
from lobzero.evaluation import run_episode
from lobzero.evaluation.walkforward import (
    TimeRange,
    WalkForwardConfig,
    episode_starts,
    horizon_ns,
    walk_forward_splits,
)

from tests.envs.test_properties_env import edit_after, run

T0 = 1_704_067_200_000_000_000
ENV = lobzero.EnvConfig(max_position=0.1, episode_steps=100)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=240, seed=4)


@st.composite
def split_configs(draw: st.DrawFn) -> WalkForwardConfig:
    train = draw(st.floats(0.05, 0.85))
    validation = draw(st.floats(0.05, 0.95 - train))
    return WalkForwardConfig(
        train=train,
        validation=validation,
        test=1.0 - train - validation,
        folds=draw(st.integers(1, 6)),
    )


@settings(max_examples=200, deadline=None)
@given(
    config=split_configs(),
    first=st.integers(0, 2 * T0),
    span=st.integers(10**9, 10**14),
)
def test_splits_are_disjoint_ordered_and_tile_the_tail(
    config: WalkForwardConfig, first: int, span: int
) -> None:
    last = first + span
    splits = walk_forward_splits((first, last), config)
    assert [s.fold for s in splits] == list(range(config.folds))
    for s in splits:
        ranges = (s.train, s.validation, s.test)
        # each range non-empty, each one ending where the next begins: disjoint and in order
        assert all(r.start_ns < r.end_ns for r in ranges)
        assert s.train.end_ns == s.validation.start_ns and s.validation.end_ns == s.test.start_ns
        assert first <= s.train.start_ns and s.test.end_ns <= last + 1
        # no instant of the test range lies in the train or validation range
        assert not s.train.contains(s.test.start_ns) and not s.validation.contains(s.test.start_ns)
        window = s.test.end_ns - s.train.start_ns
        assert s.train.seconds * 1e9 == pytest.approx(config.train * window, abs=2, rel=1e-9)
    # rolling: test ranges of consecutive folds touch, and windows move forward in time
    for a, b in itertools.pairwise(splits):
        assert a.test.end_ns == b.test.start_ns
        assert a.train.start_ns < b.train.start_ns
    assert splits[0].train.start_ns == first and splits[-1].test.end_ns == last + 1


def test_one_fold_cuts_the_market_by_the_fractions(market: lobzero.Market) -> None:
    (split,) = walk_forward_splits(market, WalkForwardConfig(train=0.5, validation=0.25, test=0.25))
    first, last = market.stream.start_ns, market.stream.end_ns
    span = last + 1 - first
    assert split.train == TimeRange(first, first + round(0.5 * span))
    assert split.validation == TimeRange(first + round(0.5 * span), first + round(0.75 * span))
    assert split.test == TimeRange(first + round(0.75 * span), last + 1)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"train": 0.7, "validation": 0.2, "test": 0.2}, "sum to 1"),
        ({"train": 1.0, "validation": 0.0, "test": 0.0}, r"in \(0, 1\)"),
        ({"train": 0.8, "validation": 0.3, "test": -0.1}, r"test=-0.1"),
        ({"folds": 0}, "folds must be >= 1"),
    ],
)
def test_bad_fractions_raise(fields: dict[str, float], message: str) -> None:
    with pytest.raises(lobzero.ConfigError, match=message):
        walk_forward_splits((T0, T0 + 10**12), WalkForwardConfig(**fields))


def test_drawn_episodes_fit_before_end_ns(market: lobzero.Market) -> None:
    """The environment draws starts where a whole episode fits before ``end_ns``."""
    split = walk_forward_splits(market)[0]
    config = ENV.replace(start_ns=split.train.start_ns, end_ns=split.train.end_ns)
    env = lobzero.TradingEnv(market, config)
    agent = make_rule_agent("flat", env.feature_names)
    results = [run_episode(agent, env, seed) for seed in range(40)]
    assert all(len(r.equity) == ENV.episode_steps + 1 for r in results)
    assert max(r.end_ns for r in results) < split.train.end_ns


SMALL_MARKET = lobzero.synth_market(seconds=90, seed=4)


def range_leaks(
    market: lobzero.Market,
    edited: lobzero.Market,
    config: lobzero.EnvConfig,
    start_ns: int | None,
    end_ns: int,
    actions: list[int],
    forced: list[list[str]] | None,
) -> list[str]:
    """What an episode of ``config`` (start drawn from its seed, or fixed at ``start_ns``) used
    of the receive times at or after ``end_ns``: decisions or fills there, or any difference
    from the same episode on ``edited`` (the market with those events rewritten)."""

    def play(m: lobzero.Market) -> list:
        if start_ns is not None:
            return run(m, config, start_ns, actions, forced)
        env = lobzero.TradingEnv(m, config)
        _, info = env.reset(seed=config.seed)
        return run(m, config, info["ts_ns"], actions, forced)

    a, b = play(market), play(edited)
    problems = [f"decision at {s[0]}" for s in a if s[0] >= end_ns]
    problems += [f"fill at {f[0]}" for s in a for f in s[5]["fills"] if f[0] >= end_ns]
    if a != b:
        problems.append("the episode changed with the events at or after the end")
    if len(a) <= len(actions) and not (a[-1][4] or a[-1][3]):
        problems.append("the episode stopped without ending")
    return problems


def edited_from(market: lobzero.Market, end_ns: int, seed: int) -> lobzero.Market:
    rng = np.random.default_rng(seed)
    return lobzero.Market.from_polars(
        edit_after(market.to_polars(), end_ns - 1, rng), market.instrument
    )


# no explain phase: re-running failing episodes line by line takes minutes, and says nothing here
@settings(
    max_examples=25,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
)
@given(
    step_ms=st.sampled_from([20.0, 50.0, 100.0]),
    latency_factor=st.sampled_from([0.0, 0.25, 3.0]),
    step_events=st.sampled_from([0, 0, 5, 30]),
    adversary=st.sampled_from(["none", "spikes", "forced spikes"]),
    which=st.sampled_from(["drawn", "last evaluation start", "late"]),
    data=st.data(),
)
def test_no_episode_uses_an_event_of_the_next_range(
    step_ms: float,
    latency_factor: float,
    step_events: int,
    adversary: str,
    which: str,
    data: st.DataObject,
) -> None:
    """Walk-forward (DESIGN.md): no observation, fill or reward of an episode of one range uses
    an event of the next range, whatever the step, latency (below or above the step),
    adversarial latency spikes (random or forced) and clock (time or event). The run equals the
    same run on a market whose events at or after ``end_ns`` were rewritten, and every decision
    and fill lies before ``end_ns``; an episode the end cuts short ends ``truncated``. Its power:
    ``test_without_the_hard_end_episodes_run_into_the_next_range`` (the old splits)."""
    split = walk_forward_splits(SMALL_MARKET)[0]
    time_range = data.draw(st.sampled_from([split.train, split.validation]), label="range")
    spikes = adversary != "none"
    base = lobzero.EnvConfig(
        max_position=0.1,
        episode_steps=30,
        step_ms=step_ms,
        step_events=step_events,
        latency_ms=step_ms * latency_factor,
        seed=data.draw(st.integers(0, 2**16), label="seed"),
        adversary=lobzero.AdversaryConfig(
            latency_spike=0.5 if adversary == "spikes" else 0.0, latency_multiplier=10.0
        ),
    )
    config = time_range.env_config(base)
    end = time_range.end_ns
    if which == "drawn":
        start = None
    elif which == "last evaluation start" and step_events == 0:
        start = episode_starts(time_range, base, count=4)[-1]
    else:  # late: the episode must be cut short by the end
        start = end - data.draw(st.integers(1, 3_000), label="ms before the end") * 1_000_000
    n = base.episode_steps
    actions = data.draw(st.lists(st.integers(0, 4), min_size=n, max_size=n), label="actions")
    forced = (
        [["latency_spike"] if a % 2 else [] for a in actions]
        if adversary == "forced spikes"
        else None
    )
    edited = edited_from(SMALL_MARKET, end, data.draw(st.integers(0, 2**32 - 1), label="edit"))
    assert range_leaks(SMALL_MARKET, edited, config, start, end, actions, forced) == []
    event(f"{which}, spikes" if spikes else which)


def test_without_the_hard_end_episodes_run_into_the_next_range() -> None:
    """The old splits (start interval shrunk by ``steps × step + latency``, no hard end): with
    step 50 ms and latency 150 ms the evaluation episodes near the end of a range run into the
    next one, and the check above sees it."""
    split = walk_forward_splits(SMALL_MARKET)[0]
    r = split.validation
    base = lobzero.EnvConfig(max_position=0.1, episode_steps=30, step_ms=50.0, latency_ms=150.0)
    old_hi = r.end_ns - (30 * 50_000_000 + 150_000_000 + 1)
    starts = np.linspace(r.start_ns, old_hi - 1, 8).astype(np.int64)
    no_end = base.replace(start_ns=r.start_ns, end_ns=None)
    edited = edited_from(SMALL_MARKET, r.end_ns, 0)
    actions = [4, 0] * 15  # trade every step: each one lasts the latency
    leaks = [
        range_leaks(SMALL_MARKET, edited, no_end, int(s), r.end_ns, actions, None) for s in starts
    ]
    assert sum(bool(x) for x in leaks) >= 2, leaks
    # with the hard end the same episodes stay inside (cut short, truncated)
    with_end = r.env_config(base)
    for s in starts:
        assert range_leaks(SMALL_MARKET, edited, with_end, int(s), r.end_ns, actions, None) == []


def test_episodes_stay_inside_their_range(market: lobzero.Market) -> None:
    split = walk_forward_splits(market)[0]
    for time_range in (split.train, split.validation, split.test):
        config = time_range.env_config(ENV)
        env = lobzero.TradingEnv(market, config)
        agent = make_rule_agent("random", env.feature_names, seed=1)
        drawn = [run_episode(agent, env, seed) for seed in range(25)]
        fixed = [
            run_episode(agent, env, 0, start) for start in episode_starts(time_range, ENV, count=6)
        ]
        for result in drawn + fixed:
            assert time_range.start_ns <= result.start_ns
            assert result.end_ns < time_range.end_ns
            assert len(result.equity) == ENV.episode_steps + 1  # none cut short
        # the bound is tight, not loose: the last evaluation episode ends within 2 decisions
        # of the range's end
        assert fixed[-1].end_ns >= time_range.end_ns - 2 * round(ENV.step_ms * 1e6)


def test_evaluation_starts_do_not_overlap(market: lobzero.Market) -> None:
    test_range = walk_forward_splits(market)[0].test  # 48 s; episodes of 10 s
    starts = episode_starts(test_range, ENV)
    length = ENV.episode_steps * round(ENV.step_ms * 1e6)
    assert len(starts) == 4  # (48 s - 10 s horizon) // 10 s + 1
    assert all(b - a >= length for a, b in itertools.pairwise(starts))
    assert starts[0] == test_range.start_ns
    assert starts[-1] + horizon_ns(ENV) <= test_range.end_ns
    assert len(episode_starts(test_range, ENV, count=8)) == 8  # more than fit: they overlap
    with pytest.raises(lobzero.ConfigError, match=">= 1"):
        episode_starts(test_range, ENV, count=0)


def test_ranges_too_short_or_event_clocks_are_refused(market: lobzero.Market) -> None:
    test_range = walk_forward_splits(market)[0].test
    with pytest.raises(lobzero.ConfigError, match=r"\(50 s\) do not fit in a range of 47.99"):
        test_range.env_config(ENV.replace(episode_steps=500))
    # an event clock is safe behind the hard end, but evaluation starts need a time clock
    assert test_range.env_config(ENV.replace(step_events=50)).end_ns == test_range.end_ns
    with pytest.raises(lobzero.ConfigError, match="time decision clock"):
        episode_starts(test_range, ENV.replace(step_events=50))
