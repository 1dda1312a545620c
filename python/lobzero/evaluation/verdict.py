"""The roadmap's verdict between two agents, and the user's targets for a deployable strategy.

Verdict: a candidate is preferred to a reference when it is better on at least 3 of Sharpe
(higher), max drawdown (lower), profit factor (higher) and win rate (higher), comparing the
point estimates of the test metrics; a tie is not better. ``clear`` counts the metrics where
the candidate's confidence interval lies entirely on the better side of the reference's.

Targets (issue 7): test Sharpe > 1.5, max drawdown < 15 %, profit factor > 2, win rate > 55 %.
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


@dataclass(frozen=True)
class Verdict:
    """``candidate`` vs ``reference``: the metrics where the candidate is better / worse / tied,
    and whether it is preferred (better on at least 3 of the 4)."""

    candidate: str
    reference: str
    better: list[str]
    worse: list[str]
    ties: list[str]
    clear: list[str] = field(default_factory=list)

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
            "preferred": self.preferred,
        }


def _better(a: float, b: float, sign: int) -> bool:
    if math.isnan(a) or math.isnan(b):
        return False
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
    better, worse, ties, clear = [], [], [], []
    for name, sign in VERDICT_METRICS:
        a, b = float(cand[name]), float(ref[name])
        if _better(a, b, sign):
            better.append(name)
            if cand_ci and ref_ci and name in cand_ci and name in ref_ci:
                (clo, chi), (rlo, rhi) = cand_ci[name], ref_ci[name]
                if (sign > 0 and clo > rhi) or (sign < 0 and chi < rlo):
                    clear.append(name)
        elif _better(b, a, sign):
            worse.append(name)
        else:
            ties.append(name)
    return Verdict(candidate, reference, better, worse, ties, clear)


def judge_targets(metrics: dict[str, float]) -> dict[str, bool]:
    """Whether each of :data:`TARGETS` is met by ``metrics`` (point estimates)."""
    out = {}
    for name, (op, threshold) in TARGETS.items():
        value = float(metrics[name])
        out[name] = value > threshold if op == ">" else value < threshold
    return out


def targets_line(agent: str, metrics: dict[str, float]) -> str:
    """``agent: targets met 2/4 (Sharpe > 1.5 no, ...)``."""
    met = judge_targets(metrics)
    labels = {
        "sharpe": "Sharpe",
        "max_drawdown": "max DD",
        "profit_factor": "PF",
        "win_rate": "win",
    }
    parts = []
    for name, (op, threshold) in TARGETS.items():
        shown = f"{threshold:.0%}" if name in ("max_drawdown", "win_rate") else f"{threshold:g}"
        parts.append(f"{labels[name]} {op} {shown} {'yes' if met[name] else 'no'}")
    return f"{agent}: targets met {sum(met.values())}/{len(met)} ({', '.join(parts)})"
