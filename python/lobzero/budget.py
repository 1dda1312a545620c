"""A training run's budget: environment steps and, optionally, wall-clock seconds.

A run ends at whichever limit comes first, and its checkpoints fall at even fractions of the
budget measured the same way: the fraction done is ``max(steps / total_steps, elapsed /
max_seconds)``. That is what lets :func:`lobzero.evaluation.compare.compare` give every learned
agent the same wall time as well as the same environment steps: with ``max_seconds`` set and a
step budget too large to reach, an agent trains until the time is up and is checkpointed at
the same fractions of that time.
"""

from __future__ import annotations

import math
import time

from lobzero.exceptions import ConfigError


class TrainingBudget:
    """``total_steps`` environment steps (>= 1) or ``max_seconds`` of wall time (None or 0:
    no time limit), whichever is reached first, with ``checkpoints`` (>= 1) evenly spaced
    marks, the last of which is the end of the run; a resumed run starting at ``start_steps``
    has passed the marks before them already. The clock starts at construction."""

    def __init__(
        self,
        total_steps: int,
        max_seconds: float | None = None,
        checkpoints: int = 4,
        start_steps: int = 0,
    ) -> None:
        if total_steps < 1:
            raise ConfigError(f"the step budget must be >= 1, got {total_steps}")
        if max_seconds is not None and not (max_seconds >= 0 and math.isfinite(max_seconds)):
            raise ConfigError(f"the time budget must be >= 0 seconds, got {max_seconds}")
        if checkpoints < 1:
            raise ConfigError(f"checkpoints must be >= 1, got {checkpoints}")
        self.total_steps = int(total_steps)
        self.max_seconds = float(max_seconds) if max_seconds else None
        self.checkpoints = int(checkpoints)
        self.started = time.perf_counter()
        self._marks_passed = min(
            int(start_steps / self.total_steps * self.checkpoints), self.checkpoints - 1
        )

    def elapsed(self) -> float:
        """Seconds since the budget was created."""
        return time.perf_counter() - self.started

    def fraction(self, steps: int) -> float:
        """The share of the budget used after ``steps`` environment steps (>= 1: done)."""
        done = steps / self.total_steps
        if self.max_seconds is not None:
            done = max(done, self.elapsed() / self.max_seconds)
        return done

    def done(self, steps: int) -> bool:
        """Whether the run should stop after ``steps`` environment steps."""
        return self.fraction(steps) >= 1.0

    def out_of_time(self) -> bool:
        """Whether the time limit (if any) is reached, whatever the steps."""
        return self.max_seconds is not None and self.elapsed() >= self.max_seconds

    def checkpoint_due(self, steps: int) -> bool:
        """True once for each mark before the last that ``steps`` (and the clock) crossed since
        the previous call that returned True; the last mark, the end of the run, is the
        caller's to checkpoint."""
        passed = min(int(self.fraction(steps) * self.checkpoints), self.checkpoints - 1)
        if passed > self._marks_passed:
            self._marks_passed = passed
            return True
        return False
