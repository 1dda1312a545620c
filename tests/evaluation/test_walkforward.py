"""Walk-forward splits: ranges disjoint and in time order, folds tiling the end of the market,
and episodes (drawn by the environment or fixed for evaluation) that never read past their
range: nothing from the test range reaches training or selection."""

from __future__ import annotations

import itertools

import lobzero
import pytest
from hypothesis import given, settings
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


def test_the_env_alone_lets_episodes_run_past_end_ns(market: lobzero.Market) -> None:
    """Why ranges shrink the start interval: EnvConfig.end_ns bounds starts, not episodes."""
    split = walk_forward_splits(market)[0]
    naive = ENV.replace(start_ns=split.train.start_ns, end_ns=split.train.end_ns)
    env = lobzero.TradingEnv(market, naive)
    agent = make_rule_agent("flat", env.feature_names)
    ends = [run_episode(agent, env, seed).end_ns for seed in range(40)]
    assert max(ends) >= split.train.end_ns


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
    assert len(starts) == 4  # (48 s - 10.01 s horizon) // 10 s + 1
    assert all(b - a >= length for a, b in itertools.pairwise(starts))
    assert starts[0] == test_range.start_ns
    assert starts[-1] + horizon_ns(ENV) <= test_range.end_ns
    assert len(episode_starts(test_range, ENV, count=8)) == 8  # more than fit: they overlap
    with pytest.raises(lobzero.ConfigError, match=">= 1"):
        episode_starts(test_range, ENV, count=0)


def test_ranges_too_short_or_event_clocks_are_refused(market: lobzero.Market) -> None:
    test_range = walk_forward_splits(market)[0].test
    with pytest.raises(lobzero.ConfigError, match=r"\(50.01 s\) do not fit in a range of 47.99"):
        test_range.env_config(ENV.replace(episode_steps=500))
    with pytest.raises(lobzero.ConfigError, match="time decision clock"):
        test_range.env_config(ENV.replace(step_events=50))
