"""The `lobzero` command as a real subprocess (``python -m lobzero``), its stdout and stderr
in files (not terminals), for the tests that send it signals."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: a generous bound: importing torch takes tens of seconds on a loaded machine
DEADLINE_S = 300.0


class LobzeroProcess:
    """``python -m lobzero ARGS`` started in ``folder``; ``stdout()``/``stderr()`` read what it
    wrote so far."""

    def __init__(self, args: list[str], folder: Path, env: dict[str, str] | None = None) -> None:
        self.out_path, self.err_path = folder / "stdout.txt", folder / "stderr.txt"
        environ = {**os.environ, **(env or {})}
        environ["PYTHONPATH"] = os.pathsep.join(
            [str(REPO / "python"), *filter(None, [os.environ.get("PYTHONPATH")])]
        )
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "lobzero", *args],
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                env=environ,
                cwd=folder,
            )

    def stdout(self) -> str:
        return self.out_path.read_text()

    def stderr(self) -> str:
        return self.err_path.read_text()

    def wait_until(self, condition: Callable[[], bool], what: str) -> None:
        """Polls ``condition`` until it holds; fails if the process ends first or the
        deadline passes (and kills it)."""
        deadline = time.monotonic() + DEADLINE_S
        while not condition():
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"lobzero exited ({self.proc.returncode}) before {what}:\n{self.stderr()}"
                )
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"no {what} after {DEADLINE_S:.0f} s:\n{self.stderr()}")
            time.sleep(0.05)

    def signal(self, signum: signal.Signals) -> int:
        """Sends ``signum`` and returns the exit code."""
        self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=DEADLINE_S)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise


def log_rows(path: Path) -> int:
    """Data rows of a ``train_log.csv`` (0 while it does not exist)."""
    return max(0, len(path.read_text().splitlines()) - 1) if path.is_file() else 0
