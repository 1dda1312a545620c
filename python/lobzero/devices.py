"""The torch device of a training run, checked before anything trains."""

from __future__ import annotations

import re

from lobzero.exceptions import ConfigError

DEVICES = "cpu, cuda, cuda:N (N a CUDA device index) or auto (cuda when available, else cpu)"


def resolve_device(device: str) -> str:
    """The torch device string for ``device``: "cpu", "cuda", "cuda:N" or "auto" (cuda when
    torch sees a CUDA device, else cpu). Raises :class:`ConfigError` for any other name
    ("tpu", "gpu") and for a CUDA device torch does not see."""
    name = device.strip().lower()
    match = re.fullmatch(r"cuda(?::(\d+))?", name)
    if name not in ("cpu", "auto") and match is None:
        raise ConfigError(f"device {device!r} is not supported: choose {DEVICES}")
    if name == "cpu":
        return "cpu"
    import torch

    available = torch.cuda.is_available()
    if name == "auto":
        return "cuda" if available else "cpu"
    if not available:
        raise ConfigError(
            f"device {device!r}: torch sees no CUDA device (torch {torch.__version__}, "
            f"CUDA build {torch.version.cuda or 'none'}); use cpu or auto"
        )
    assert match is not None
    if match.group(1) is not None and int(match.group(1)) >= torch.cuda.device_count():
        raise ConfigError(
            f"device {device!r}: torch sees {torch.cuda.device_count()} CUDA device(s), "
            f"indices 0..{torch.cuda.device_count() - 1}"
        )
    return name
