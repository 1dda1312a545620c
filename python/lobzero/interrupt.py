"""Ctrl-C (SIGINT) and SIGTERM during training: stop at the next safe point, write a checkpoint,
say where.

A training loop runs inside :func:`training_section` and polls :func:`requested` between
updates; when a signal has come, it writes its checkpoint and raises :class:`Interrupted`
naming it. A signal outside any training section (loading a market, evaluating) raises
:class:`Interrupted` at once, without a checkpoint; so does a second signal during training
(the user insists). The `lobzero` command turns :class:`Interrupted` into one line on stderr and
the shell's exit code for the signal: 130 (SIGINT) or 143 (SIGTERM).

Handlers are installed only from the main thread (Python delivers signals there); elsewhere the
sections are no-ops and :func:`requested` stays None. The previous handlers come back when the
outermost section (or :func:`signal_handlers`) exits, so a notebook's Ctrl-C keeps working.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(KeyboardInterrupt):
    """A run stopped by SIGINT or SIGTERM. ``signum`` the signal; ``checkpoint`` the file (or
    folder) written before stopping, None when nothing was training; ``exit_code`` 128 + signum,
    what a shell reports for a process the signal killed (130, 143)."""

    def __init__(self, signum: int, checkpoint: Path | str | None = None, resume: str = "") -> None:
        super().__init__(signum, checkpoint)
        self.signum = int(signum)
        self.checkpoint = checkpoint
        self.resume = resume

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def line(self) -> str:
        """The one line the command prints (stderr)."""
        name = signal.Signals(self.signum).name
        if self.checkpoint is None:
            return f"interrupted by {name}: nothing was training, no checkpoint written"
        return f"interrupted by {name}: checkpoint written to {self.checkpoint}" + (
            f" ({self.resume})" if self.resume else ""
        )


class _State:
    def __init__(self) -> None:
        self.installs = 0  # nesting of signal_handlers
        self.previous: dict[int, Any] = {}
        self.sections = 0  # nesting of training_section
        self.signum: int | None = None


_state = _State()


def _handler(signum: int, frame: FrameType | None) -> None:
    if _state.sections > 0 and _state.signum is None:
        _state.signum = signum  # the training loop stops at its next safe point
        return
    raise Interrupted(signum)


@contextmanager
def signal_handlers() -> Iterator[None]:
    """Installs the SIGINT/SIGTERM handlers of this module for the block (main thread only;
    nested blocks share the outermost one's)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _state.installs == 0:
        _state.previous = {s: signal.getsignal(s) for s in SIGNALS}
        for s in SIGNALS:
            signal.signal(s, _handler)
    _state.installs += 1
    try:
        yield
    finally:
        _state.installs -= 1
        if _state.installs == 0:
            for signum, previous in _state.previous.items():
                signal.signal(signum, previous)
            _state.signum = None


@contextmanager
def training_section() -> Iterator[None]:
    """A block that polls :func:`requested` and checkpoints before stopping: a signal inside it
    only sets the request."""
    with signal_handlers():
        _state.sections += 1
        try:
            yield
        finally:
            _state.sections -= 1
            if _state.sections == 0:
                _state.signum = None


def requested() -> int | None:
    """The signal received in the current training section, or None."""
    return _state.signum
