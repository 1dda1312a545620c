"""Walk-forward time splits of one market: train, validation and test ranges of receive time.

A market's receive-time span [first, last] is cut, in time order, into a train range, a
validation range and a test range (fractions of the span). With ``folds`` > 1 the cut rolls
forward: every fold is a window of the same length whose test range follows the previous fold's,
so the test ranges of the folds tile the end of the market without overlapping.

How the environment uses a range. :meth:`TimeRange.env_config` sets ``EnvConfig.start_ns`` /
``end_ns`` to the range, and ``end_ns`` is a hard end the environment never crosses: no
observation, fill or reward of an episode uses an event received at or after it. An episode that
would need one (its next decision, or a fill after the order latency, lands at or past the end:
a long latency, an adversarial latency spike, an event clock) stops at ``end_ns - 1`` as
*truncated*, without that fill. Nothing here has to predict how long an episode lasts for the
split to be safe; :func:`horizon_ns` only places starts where a whole episode usually fits (the
environment draws its starts the same way). The feature warm-up before a start looks *back* (the
last ``warmup`` decisions before the range), which can only read earlier data: test data never
reaches training or validation.
"""

from __future__ import annotations

from dataclasses import dataclass

from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.envs.config import EnvConfig
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class TimeRange:
    """Receive times [``start_ns``, ``end_ns``) (int64 ns UTC)."""

    start_ns: int
    end_ns: int

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / 1e9

    def contains(self, ts_ns: int) -> bool:
        return self.start_ns <= ts_ns < self.end_ns

    def env_config(self, base: EnvConfig) -> EnvConfig:
        """``base`` with ``start_ns`` / ``end_ns`` set to the range: episodes start where they
        fit and never use an event at or after ``end_ns`` (the environment's hard end).

        Raises :class:`ConfigError` when, on the time clock, an episode of
        ``base.episode_steps`` decisions is longer than the range (on the event clock the
        environment refuses a range too short for its nominal episode at reset).
        """
        if base.step_events == 0:
            self.start_interval(base)
        return base.replace(start_ns=self.start_ns, end_ns=self.end_ns)

    def start_interval(self, base: EnvConfig) -> tuple[int, int]:
        """[lo, hi): the starts whose episodes fit before ``end_ns`` when every step lasts its
        nominal time (``s + horizon_ns(base)`` <= ``end_ns``). Longer episodes are safe too:
        the environment truncates them at the end."""
        hi = self.end_ns - horizon_ns(base)
        if hi <= self.start_ns:
            raise ConfigError(
                f"episodes of {base.episode_steps} decisions of {base.step_ms:g} ms "
                f"({horizon_ns(base) / 1e9:g} s) do not fit in a range of {self.seconds:g} s: "
                "lower episode_steps or give the range a larger fraction of the market"
            )
        return self.start_ns, hi

    def to_dict(self) -> dict[str, int]:
        return {"start_ns": self.start_ns, "end_ns": self.end_ns}


def horizon_ns(config: EnvConfig) -> int:
    """Nominal receive time an episode spans after its start, ns: ``episode_steps`` decisions
    of ``max(step_ms, latency_ms)`` each (a step that trades lasts the latency), plus 1 ns. An
    adversarial latency spike can make an episode longer; the environment then truncates it at
    the range's end, so this only places starts, it does not guard the split."""
    if config.step_events > 0:
        raise ConfigError(
            "evaluation starts need a time decision clock (step_events = 0): with an event "
            "clock the time an episode spans is not known in advance"
        )
    step = max(round(config.step_ms * 1e6), round(config.latency_ms * 1e6))
    return config.episode_steps * step + 1


@dataclass(frozen=True)
class Split:
    """One fold of the protocol: train, then validation, then test, in time order."""

    fold: int
    train: TimeRange
    validation: TimeRange
    test: TimeRange

    def to_dict(self) -> dict[str, object]:
        return {
            "fold": self.fold,
            "train": self.train.to_dict(),
            "validation": self.validation.to_dict(),
            "test": self.test.to_dict(),
        }


@dataclass(frozen=True)
class WalkForwardConfig(TomlConfig):
    """Fractions of a fold's window given to each range (they must sum to 1), and the number of
    rolling folds (1: one split of the whole market)."""

    train: float = 0.6
    validation: float = 0.2
    test: float = 0.2
    folds: int = 1

    def validate(self) -> None:
        fractions = {"train": self.train, "validation": self.validation, "test": self.test}
        bad = [f"{k}={v}" for k, v in fractions.items() if not (0.0 < v < 1.0)]
        if bad:
            raise ConfigError(f"split fractions must be in (0, 1), got {', '.join(bad)}")
        total = self.train + self.validation + self.test
        if abs(total - 1.0) > 1e-9:
            raise ConfigError(
                f"split fractions must sum to 1, got train + validation + test = {total:g}"
            )
        if self.folds < 1:
            raise ConfigError(f"folds must be >= 1, got {self.folds}")


def walk_forward_splits(
    market: Market | tuple[int, int], config: WalkForwardConfig | None = None
) -> list[Split]:
    """The folds of ``market`` (or of a (first_ns, last_ns) span), in time order.

    Each fold is a window of length W = span / (1 + (folds - 1) × test) cut into train,
    validation and test by the fractions; window k starts k × test × W after the first, so the
    test ranges of consecutive folds touch without overlapping and the last one ends at the end
    of the market. Boundaries are whole nanoseconds; within a fold the ranges are disjoint and
    ordered (train < validation < test).
    """
    config = config or WalkForwardConfig()
    config.validate()
    if isinstance(market, tuple):
        first, last = int(market[0]), int(market[1])
    else:
        start_ns, end_ns = market.stream.start_ns, market.stream.end_ns
        if start_ns is None or end_ns is None:
            raise ConfigError("the market has no events to split")
        first, last = int(start_ns), int(end_ns)
    span = last + 1 - first  # the last event belongs to the last range
    if span <= 0:
        raise ConfigError("the market has no time span to split")
    window = span / (1.0 + (config.folds - 1) * config.test)
    # offsets from the first event in float (exact to well under 1 ns), boundaries in int; a
    # fold's test range ends where the next fold's begins (the last one at the end of the market)
    step = config.test * window
    test_starts = [
        first + round(k * step + (config.train + config.validation) * window)
        for k in range(config.folds)
    ]
    test_ends = [*test_starts[1:], last + 1]
    splits = []
    for k in range(config.folds):
        a = first + round(k * step)
        b = first + round(k * step + config.train * window)
        c, d = test_starts[k], test_ends[k]
        if not (a < b < c < d):
            raise ConfigError(f"fold {k}: the market span is too short to split")
        splits.append(
            Split(
                fold=k,
                train=TimeRange(a, b),
                validation=TimeRange(b, c),
                test=TimeRange(c, d),
            )
        )
    return splits


def episode_starts(time_range: TimeRange, base: EnvConfig, count: int | None = None) -> list[int]:
    """Evaluation episode starts in ``time_range``, ns: ``count`` starts evenly spread over the
    interval where episodes fit (see :meth:`TimeRange.start_interval`), first at its beginning.

    ``count`` None gives as many as fit without overlapping (at least 1); a ``count`` up to that
    number gives non-overlapping episodes, a larger one overlapping ones.
    """
    lo, hi = time_range.start_interval(base)
    last = hi - 1
    length = horizon_ns(base) - 1
    fit = (last - lo) // length + 1
    n = fit if count is None else int(count)
    if n < 1:
        raise ConfigError(f"the number of evaluation episodes must be >= 1, got {n}")
    if n == 1:
        return [lo]
    # integer spacing: with n <= fit it is >= the episode length, so episodes do not overlap
    spacing = (last - lo) // (n - 1)
    return [lo + i * spacing for i in range(n)]
