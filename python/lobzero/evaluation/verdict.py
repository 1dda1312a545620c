"""The roadmap's verdict between two agents, and the user's targets for a deployable strategy.

Verdict: a candidate is preferred to a reference when it is better on at least 3 of Sharpe
(higher), max drawdown (lower), profit factor (higher) and win rate (higher), comparing the
point estimates of the test metrics; a tie is not better. A metric undefined (nan) for either
agent (profit factor and win rate without a closed round trip) is neither a win, a loss nor a
tie: it is listed as ``undefined``, and the candidate then needs its 3 wins among the others.
``clear`` counts the metrics where the candidate's confidence interval lies entirely on the
better side of the reference's.

Targets (issue 7): test Sharpe > 1.5, max drawdown < 15 %, profit factor > 2, win rate > 55 %.
They are judged only on a test range of at least ``min_seconds`` of market time
(:data:`MIN_JUDGED_SECONDS`, one day, by default; ``CompareConfig.min_judged_seconds``): on
minutes of data an annualised Sharpe reads in the thousands and the Sharpe target tests only
its sign. Shorter, each target is ``None`` and the line says "not judged: test range N
minutes"; a target on an undefined metric is ``None`` too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

#: the verdict's metrics, with +1 when higher is better and -1 when lower is better
VERDICT_METRICS: tuple[tuple[str, int], ...] = (
    ("sharpe", +1),
    ("max_drawdown", -1),
    ("profit_factor", +1),
    ("win_rate", +1),
)
PREFERRED_AT = 3
#: metric -> (comparison, threshold)
TARGETS: dict[str, tuple[str, float]] = {
    "sharpe": (">", 1.5),
    "max_drawdown": ("<", 0.15),
    "profit_factor": (">", 2.0),
    "win_rate": (">", 0.55),
}
#: the shortest test range (market seconds) on which the targets are judged: one day
MIN_JUDGED_SECONDS = 24.0 * 3600.0


@dataclass(frozen=True)
class Verdict:
    """``candidate`` vs ``reference``: the metrics where the candidate is better / worse / tied
    / undefined for either, and whether it is preferred (better on at least 3 of the 4)."""

    candidate: str
    reference: str
    better: list[str]
    worse: list[str]
    ties: list[str]
    clear: list[str] = field(default_factory=list)
    undefined: list[str] = field(default_factory=list)

    @property
    def preferred(self) -> bool:
        return len(self.better) >= PREFERRED_AT

    def line(self) -> str:
        """One sentence for the terminal and the report."""
        word = "PREFERRED to" if self.preferred else "not preferred to"
        out = (
            f"{self.candidate} is {word} {self.reference}: better on {len(self.better)} of "
            f"{len(VERDICT_METRICS)} ({', '.join(self.better) or 'none'})"
        )
        if self.undefined:
            out += f"; undefined: {', '.join(self.undefined)}"
        if self.clear:
            out += f"; CIs apart on {', '.join(self.clear)}"
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "candidate": self.candidate,
            "reference": self.reference,
            "better": self.better,
            "worse": self.worse,
            "ties": self.ties,
            "clear": self.clear,
            "undefined": self.undefined,
            "preferred": self.preferred,
        }


def _better(a: float, b: float, sign: int) -> bool:
    return a > b if sign > 0 else a < b


def verdict(
    candidate: str,
    cand: dict[str, float],
    reference: str,
    ref: dict[str, float],
    cand_ci: dict[str, tuple[float, float]] | None = None,
    ref_ci: dict[str, tuple[float, float]] | None = None,
) -> Verdict:
    """Compares two agents' test metrics (dicts holding at least the :data:`VERDICT_METRICS`
    keys; drawdown a fraction); ``*_ci`` optional (low, high) intervals per metric."""
    better, worse, ties, clear, undefined = [], [], [], [], []
    for name, sign in VERDICT_METRICS:
        a, b = float(cand[name]), float(ref[name])
        if math.isnan(a) or math.isnan(b):
            undefined.append(name)
        elif _better(a, b, sign):
            better.append(name)
            if cand_ci and ref_ci and name in cand_ci and name in ref_ci:
                (clo, chi), (rlo, rhi) = cand_ci[name], ref_ci[name]
                if (sign > 0 and clo > rhi) or (sign < 0 and chi < rlo):
                    clear.append(name)
        elif _better(b, a, sign):
            worse.append(name)
        else:
            ties.append(name)
    return Verdict(candidate, reference, better, worse, ties, clear, undefined)


def judge_targets(
    metrics: dict[str, float], *, test_seconds: float, min_seconds: float = MIN_JUDGED_SECONDS
) -> dict[str, bool | None]:
    """Whether each of :data:`TARGETS` is met by ``metrics`` (point estimates): ``None`` for
    all when the test range (``test_seconds`` of market time) is shorter than ``min_seconds``,
    and for a target whose metric is undefined (nan)."""
    out: dict[str, bool | None] = {}
    for name, (op, threshold) in TARGETS.items():
        value = float(metrics[name])
        if test_seconds < min_seconds or math.isnan(value):
            out[name] = None
        else:
            out[name] = value > threshold if op == ">" else value < threshold
    return out


def not_judged_reason(test_seconds: float, min_seconds: float = MIN_JUDGED_SECONDS) -> str | None:
    """``"not judged: test range 3.0 minutes (< 1440 minutes)"`` when the range is too short
    to judge the targets, else None."""
    if test_seconds >= min_seconds:
        return None
    minutes, minimum = test_seconds / 60.0, min_seconds / 60.0
    return f"not judged: test range {minutes:.1f} minutes (< {minimum:g} minutes)"


def target_word(met: bool | None) -> str:
    """yes / no / n/a (undefined or not judged)."""
    return "n/a" if met is None else "yes" if met else "no"


def targets_line(
    agent: str,
    metrics: dict[str, float],
    *,
    test_seconds: float,
    min_seconds: float = MIN_JUDGED_SECONDS,
) -> str:
    """``agent: targets met 2/4 (Sharpe > 1.5 no, ...)``, or ``agent: targets not judged: test
    range 3.0 minutes (< 1440 minutes)``."""
    reason = not_judged_reason(test_seconds, min_seconds)
    if reason is not None:
        return f"{agent}: targets {reason}"
    met = judge_targets(metrics, test_seconds=test_seconds, min_seconds=min_seconds)
    labels = {
        "sharpe": "Sharpe",
        "max_drawdown": "max DD",
        "profit_factor": "PF",
        "win_rate": "win",
    }
    parts = []
    for name, (op, threshold) in TARGETS.items():
        shown = f"{threshold:.0%}" if name in ("max_drawdown", "win_rate") else f"{threshold:g}"
        parts.append(f"{labels[name]} {op} {shown} {target_word(met[name])}")
    hits = sum(1 for v in met.values() if v)
    return f"{agent}: targets met {hits}/{len(met)} ({', '.join(parts)})"
