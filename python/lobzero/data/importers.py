"""`import_market`: read exchange and vendor files into a :class:`Market`.

Formats (``format=``):

- ``binance-stream``: Binance recordings, gzip or plain lines ``<recv_ns> <JSON>`` (REST depth
  snapshot, ``depthUpdate`` diffs, ``trade`` / ``aggTrade``, ``bookTicker``), spot and USD-M.
- ``binance-csv``: Binance historical depth CSVs (``snap`` / ``set`` rows) and trade CSVs.
- ``tardis``: Tardis ``incremental_book_L2``, ``book_snapshot_N`` and ``trades`` CSVs.
- ``hftbacktest``: hftbacktest ``.npz`` event arrays (its ``event_dtype``).
- ``parquet``: lobzero's own format (:meth:`Market.save`).

Every importer validates what it reads and raises a :class:`~lobzero.exceptions.DataError`
subclass naming the file, the line or row and the rule broken. Standard repairs are explicit
options, counted in ``market.import_report``.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lobzero import _core
from lobzero.data.market import Market
from lobzero.exceptions import (
    ConfigError,
    DataIOError,
    FormatError,
    ParseError,
    TruncatedFileError,
)

PathLike = str | Path

FORMATS = ("binance-stream", "binance-csv", "tardis", "hftbacktest", "parquet")


def _paths(paths: PathLike | Sequence[PathLike]) -> list[Path]:
    items = [paths] if isinstance(paths, str | Path) else list(paths)
    if not items:
        raise ConfigError("import_market needs at least one input path")
    out = [Path(p) for p in items]
    for p in out:
        if not p.is_file():
            raise DataIOError(f"{p}: no such file")
    return out


def _text_format(fmt: str) -> Callable[..., Market]:
    """An importer for one of the text formats the Rust core reads."""

    def importer(paths: list[Path], **options: Any) -> Market:
        stream, report = _core.import_files(fmt, [str(p) for p in paths], **options)
        return Market(stream, json.loads(report))

    return importer


HBT_FIELDS = {
    "ev": np.uint64,
    "exch_ts": np.int64,
    "local_ts": np.int64,
    "px": np.float64,
    "qty": np.float64,
}


def _read_hftbacktest_npz(path: Path) -> np.ndarray:
    """The event array of an hftbacktest .npz (key ``data``, or its only array)."""
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = list(archive.keys())
            if "data" in keys:
                key = "data"
            elif len(keys) == 1:
                key = keys[0]
            else:
                raise FormatError(
                    f"{path}: not a valid hftbacktest file (no 'data' array among {keys})"
                )
            data = archive[key]
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise DataIOError(f"{path}: no such file") from e
        with open(path, "rb") as fh:
            zipped = fh.read(4) == b"PK\x03\x04"
        if zipped:
            raise TruncatedFileError(f"{path}: file is truncated or damaged ({e})") from e
        raise FormatError(f"{path}: not a valid hftbacktest file (not an .npz archive: {e})") from e
    names = data.dtype.names or ()
    for field in HBT_FIELDS:
        if field not in names:
            raise ParseError(
                f"{path}: missing field {field!r} (hftbacktest's event_dtype has "
                f"{', '.join(HBT_FIELDS)}, ...; found {list(names)})"
            )
    return data


def _hftbacktest(paths: list[Path], **options: Any) -> Market:
    arrays = [_read_hftbacktest_npz(p) for p in paths]
    data = np.concatenate(arrays) if len(arrays) > 1 else arrays[0]
    cols = {
        name: np.ascontiguousarray(data[name], dtype=dtype) for name, dtype in HBT_FIELDS.items()
    }
    source = str(paths[0]) if len(paths) == 1 else f"{paths[0]} (+{len(paths) - 1} files)"
    stream, report = _core.import_hftbacktest(**cols, source=source, **options)
    return Market(stream, json.loads(report))


def _parquet(paths: list[Path], **options: Any) -> Market:
    if options:
        raise ConfigError(f"format 'parquet' takes no options, got {sorted(options)}")
    if len(paths) != 1:
        raise ConfigError("format 'parquet' reads one file at a time")
    return Market.load(paths[0])


_IMPORTERS: dict[str, Callable[..., Market]] = {
    "binance-stream": _text_format("binance-stream"),
    "binance-csv": _text_format("binance-csv"),
    "tardis": _text_format("tardis"),
    "hftbacktest": _hftbacktest,
    "parquet": _parquet,
}


def register_importer(name: str, importer: Callable[..., Market]) -> None:
    """Adds a format to :func:`import_market` (``importer(paths: list[Path], **options)``)."""
    _IMPORTERS[name] = importer


def guess_format(path: PathLike) -> str:
    """The format a file most likely holds, from its name and first bytes."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".parquet"):
        return "parquet"
    if name.endswith(".npz"):
        return "hftbacktest"
    if name.endswith(".csv") or name.endswith(".csv.gz"):
        import gzip

        opener = gzip.open if name.endswith(".gz") else open
        try:
            with opener(p, "rt") as fh:  # type: ignore[operator]
                header = fh.readline()
        except OSError as e:
            raise DataIOError(f"{p}: cannot read ({e})") from e
        if header.startswith("exchange,symbol,timestamp,local_timestamp"):
            return "tardis"
        return "binance-csv"
    return "binance-stream"


def import_market(
    paths: PathLike | Sequence[PathLike],
    format: str | None = None,
    **options: Any,
) -> Market:
    """Imports one file or several files of one recording (in order) into a :class:`Market`.

    ``format`` is one of :data:`FORMATS`; guessed from the first file's name and header when
    omitted. Common options: ``symbol``, ``venue``, ``tick_size`` and ``lot_size`` (decimal
    strings, inferred from the data when the format allows), ``on_gap`` (``"error"`` or
    ``"resync"``), ``round_qty`` (round off-grid sizes to the lot, counted).
    """
    files = _paths(paths)
    fmt = format or guess_format(files[0])
    try:
        importer = _IMPORTERS[fmt]
    except KeyError:
        raise ConfigError(
            f"unknown format {fmt!r}; choose one of {', '.join(sorted(_IMPORTERS))}"
        ) from None
    for key in ("tick_size", "lot_size"):
        if key in options and options[key] is not None:
            options[key] = str(options[key])
    return importer(files, **options)
