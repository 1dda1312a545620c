"""Helpers the text-format importer tests share."""

from __future__ import annotations

import gzip
from pathlib import Path

KIND = {"snapshot": 0, "update": 1, "trade": 2, "clear": 3}


def write(tmp_path: Path, name: str, text: str) -> Path:
    """Writes ``text`` to ``tmp_path / name`` (gzip when the name ends in .gz)."""
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wt") as fh:
            fh.write(text)
    else:
        path.write_text(text)
    return path
