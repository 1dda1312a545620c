"""The face every training run shows: ``train_log.csv`` and TensorBoard scalars under ``tb/``
(:class:`TrainLog`), a progress bar on a terminal or a plain line every
:data:`PLAIN_INTERVAL_S` seconds elsewhere (:class:`TrainProgress`), and an end-of-run summary
(:func:`summary_line`). MuZero (:mod:`lobzero.muzero.trainer`) and PPO / SAC
(:mod:`lobzero.baselines.sb3`) share them, so their logs have the same columns and tags.

Progress goes to stderr (results stay on stdout): the bar when stderr is a terminal, plain lines
when it is a pipe or a file.
"""

from __future__ import annotations

import csv
import os
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

#: seconds between two plain progress lines when stderr is not a terminal (at most; the
#: environment variable LOBZERO_PROGRESS_INTERVAL_S changes it)
PLAIN_INTERVAL_S = float(os.environ.get("LOBZERO_PROGRESS_INTERVAL_S", "20"))

#: the losses an end-of-run summary shows, when the run logged them
SUMMARY_LOSSES = (
    "loss",
    "value_loss",
    "reward_loss",
    "policy_loss",
    "entropy_loss",
    "actor_loss",
    "critic_loss",
)


def progress_console() -> Console:
    """The console progress is drawn on (stderr)."""
    return Console(stderr=True)


class TrainLog:
    """CSV rows (``out/train_log.csv``, columns ``fields``) and TensorBoard scalars
    (``out/tb``, one tag per column, x = ``env_steps``). ``append`` continues an existing log
    (a resumed run); otherwise the file starts afresh."""

    def __init__(self, out: Path, fields: Sequence[str], append: bool) -> None:
        path = out / "train_log.csv"
        self.fields = tuple(fields)
        fresh = not (append and path.exists())
        self.file = open(path, "w" if fresh else "a", newline="")  # noqa: SIM115
        self.csv = csv.DictWriter(self.file, fieldnames=self.fields, extrasaction="ignore")
        if fresh:
            self.csv.writeheader()
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb: Any = SummaryWriter(str(out / "tb"))
        except ImportError:  # tensorboard is in the rl extra; the CSV log is always written
            self.tb = None
        self.last: dict[str, float] = {}

    def write(self, row: dict[str, float]) -> None:
        """One row; keys outside ``fields`` are left out of the CSV but kept in TensorBoard."""
        self.csv.writerow({k: row.get(k, "") for k in self.fields})
        self.file.flush()
        self.last.update({k: v for k, v in row.items() if v == v})
        if self.tb is not None:
            step = int(row["env_steps"])
            for key, value in row.items():
                if key != "env_steps" and value == value:
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def duration(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60):02d} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60):02d} min"


class PlainTicker:
    """Calls ``say()`` (which prints one line) every ``interval_s`` seconds from a daemon thread
    until :meth:`stop`: a run whose output is not a terminal still shows it is alive."""

    def __init__(self, say: Callable[[], None], interval_s: float = PLAIN_INTERVAL_S) -> None:
        self.say, self.interval_s = say, interval_s
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.done.wait(self.interval_s):
            self.say()

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=1.0)


class TrainProgress:
    """Progress of one training run over ``total`` env steps (``done`` already, on resume),
    labelled ``label``: a rich bar when stderr is a terminal, else a plain line every
    ``interval_s`` seconds."""

    def __init__(
        self,
        label: str,
        total: int,
        done: int = 0,
        interval_s: float = PLAIN_INTERVAL_S,
        unit: str = "env steps",
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.done, self.start_done, self.info = done, done, ""
        self.started = time.perf_counter()
        self.console = progress_console()
        self.bar: Any = None
        self.ticker: PlainTicker | None = None
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self.bar = Progress(
                TextColumn(label),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                console=self.console,
            )
            self.task = self.bar.add_task("train", total=total, completed=done, info="")
            self.bar.start()
        else:
            self.ticker = PlainTicker(self.say, interval_s)

    def update(self, env_steps: int, info: str = "") -> None:
        self.done, self.info = env_steps, info
        if self.bar is not None:
            self.bar.update(self.task, completed=env_steps, info=info)

    def say(self) -> None:
        """The plain progress line."""
        elapsed = time.perf_counter() - self.started
        rate = (self.done - self.start_done) / max(elapsed, 1e-9)
        eta = (self.total - self.done) / rate if rate > 0 else float("nan")
        self.console.print(
            f"{self.label}: {self.done:,}/{self.total:,} {self.unit} "
            f"({self.done / max(self.total, 1):.0%}), {duration(elapsed)} elapsed"
            + (f", about {duration(eta)} left" if eta == eta else "")
            + (f", {self.info}" if self.info else ""),
            highlight=False,
            soft_wrap=True,
        )

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        if self.ticker is not None:
            self.ticker.stop()


def summary_line(
    label: str,
    env_steps: int,
    seconds: float,
    last: dict[str, float],
    validation: float | None = None,
) -> str:
    """One line at the end of a run: steps, time and speed, the last logged losses and mean
    return, and the last validation score when a checkpoint callback gave one."""
    parts = [f"{label}: {env_steps:,} env steps in {duration(seconds)}"]
    if seconds > 0:
        parts[0] += f" ({env_steps / seconds:,.0f} steps/s)"
    losses = [f"{k} {last[k]:.4g}" for k in SUMMARY_LOSSES if k in last]
    if losses:
        parts.append("last " + ", ".join(losses))
    if "mean_return" in last:
        parts.append(f"mean return {last['mean_return']:.4g}")
    if validation is not None:
        parts.append(f"validation score {validation:.4g}")
    return "; ".join(parts)


def write_summary(line: str, path: Path | None = None) -> None:
    """Prints the summary line on stdout (a result, not progress)."""
    Console().print(line, highlight=False, soft_wrap=True)
    if path is not None:
        path.write_text(line + "\n")
