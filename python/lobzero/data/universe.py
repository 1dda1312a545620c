"""`Universe`: several instruments on one clock, a mapping of symbol to :class:`Market`.

Aligned means one clock: every market's ``recv_ts_ns`` is int64 ns UTC of receive time, so a time
``t`` names the same instant in all of them (the replay clock of each environment). Markets are
kept whole: nothing is dropped when a universe is built. Where they all have data is the
*common span* ``[latest start, earliest end]`` (:meth:`Universe.common_span`, both ends event
times, ns, inclusive, as :attr:`Market.start_ns` / :attr:`Market.end_ns`); walk-forward splits of
a universe cut that span, so a time range is one range for every symbol. :meth:`Universe.trim`
cuts every market to the common span, an explicit choice that says in each market's import
report how many events it dropped.

On disk (:meth:`Universe.save`): a folder with one lobzero Parquet per symbol (``<symbol>.parquet``,
:meth:`Market.save`) and ``universe.json``, the manifest (format version, symbols in order,
their files, events and spans, the common span).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from lobzero.data.market import Market
from lobzero.exceptions import ConfigError, DataIOError, FormatError

MANIFEST = "universe.json"
_FORMAT_VERSION = 1
_KIND = "lobzero-universe"


class Universe(Mapping[str, Market]):
    """Markets of several instruments on one receive-time clock, keyed by symbol (in the order
    given). ``universe["BTCUSDT"]`` is a :class:`Market` with its own :class:`Instrument`;
    ``len(universe)`` is the number of symbols.

    ``markets``: a mapping of symbol to market, or a sequence of markets (keyed by their
    instrument's symbol; two markets of one symbol are a :class:`ConfigError`: pass a mapping
    with distinct keys).
    """

    __slots__ = ("_markets",)

    def __init__(self, markets: Mapping[str, Market] | Sequence[Market]) -> None:
        if isinstance(markets, Mapping):
            items = [(str(k), m) for k, m in markets.items()]
        else:
            items = [(m.instrument.symbol, m) for m in markets]
            symbols = [k for k, _ in items]
            repeated = sorted({k for k in symbols if symbols.count(k) > 1})
            if repeated:
                raise ConfigError(
                    f"a universe has one market per symbol; {', '.join(repeated)} appear twice "
                    "(pass a mapping with distinct keys, e.g. {'BTCUSDT-spot': m1, ...})"
                )
        if not items:
            raise ConfigError("a universe needs at least one market")
        for key, market in items:
            if not isinstance(market, Market):
                raise ConfigError(
                    f"universe[{key!r}] must be a Market, got {type(market).__name__}"
                )
            if not key or not re.fullmatch(r"[A-Za-z0-9._-]+", key):
                raise ConfigError(
                    f"universe symbol {key!r}: use letters, digits, '.', '_' or '-' "
                    "(it names the market's file)"
                )
            if len(market) == 0:
                raise ConfigError(f"universe[{key!r}]: the market has no events")
        self._markets: dict[str, Market] = dict(items)

    # -- mapping -----------------------------------------------------------------------------
    def __getitem__(self, symbol: str) -> Market:
        try:
            return self._markets[symbol]
        except KeyError:
            raise KeyError(f"{symbol!r} is not in the universe ({', '.join(self)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._markets)

    def __len__(self) -> int:
        return len(self._markets)

    def __deepcopy__(self, memo: dict[int, Any]) -> Universe:
        """The universe itself: its markets are immutable (see :meth:`Market.__deepcopy__`)."""
        return self

    @property
    def symbols(self) -> list[str]:
        """The symbols, in order."""
        return list(self._markets)

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}: {len(m):,} events" for k, m in self.items())
        try:
            first, last = self.common_span()
        except ConfigError:
            return f"Universe({inner}; no common span)"
        return f"Universe({inner}; common span {(last - first) / 1e9:.1f} s)"

    # -- the clock ---------------------------------------------------------------------------
    def common_span(self) -> tuple[int, int]:
        """``(first_ns, last_ns)``: the latest first receive time and the earliest last one over
        the markets (ns, both inclusive), the time every symbol has data for. Markets that do
        not overlap in time are a :class:`ConfigError` (they share no clock to compare on)."""
        starts = {k: int(m.start_ns) for k, m in self.items()}  # type: ignore[arg-type]
        ends = {k: int(m.end_ns) for k, m in self.items()}  # type: ignore[arg-type]
        first, last = max(starts.values()), min(ends.values())
        if first > last:
            late = max(starts, key=starts.__getitem__)
            early = min(ends, key=ends.__getitem__)
            raise ConfigError(
                f"the universe's markets share no time: {late} starts at {first} ns, after "
                f"{early} ends at {last} ns"
            )
        return first, last

    def trim(self) -> Universe:
        """Every market cut to :meth:`common_span` (events received in ``[first, last]``), with
        ``trimmed_to_common_span`` in its import report: the span and the events dropped before
        and after it."""
        first, last = self.common_span()
        out = {}
        for key, market in self.items():
            cut = market.slice_time(first, last + 1)
            recv = market.columns()["recv_ts_ns"]
            before = int((recv < first).sum())
            cut.import_report = {
                **market.import_report,
                "trimmed_to_common_span": {
                    "first_ns": first,
                    "last_ns": last,
                    "events_dropped_before": before,
                    "events_dropped_after": len(market) - len(cut) - before,
                },
            }
            out[key] = cut
        return Universe(out)

    def markets_for(self, num_envs: int) -> list[Market]:
        """``num_envs`` markets, the symbols in turn (environment i trades symbol
        ``i mod len(universe)``)."""
        markets = list(self.values())
        return [markets[i % len(markets)] for i in range(int(num_envs))]

    # -- files -------------------------------------------------------------------------------
    def save(self, folder: str | Path) -> Path:
        """Writes ``folder/<symbol>.parquet`` per symbol and the manifest ``universe.json``
        (written last, so a folder without it is not a universe). Returns the folder."""
        folder = Path(folder)
        if folder.exists() and not folder.is_dir():
            raise DataIOError(f"{folder}: exists and is not a folder (a universe is a folder)")
        first, last = self.common_span()
        entries = []
        for key, market in self.items():
            market.save(folder / f"{key}.parquet")
            entries.append(
                {
                    "symbol": key,
                    "file": f"{key}.parquet",
                    "events": len(market),
                    "start_ns": market.start_ns,
                    "end_ns": market.end_ns,
                }
            )
        manifest = {
            "format_version": _FORMAT_VERSION,
            "kind": _KIND,
            "markets": entries,
            "common_span_ns": [first, last],
        }
        tmp = folder / (MANIFEST + ".tmp")
        try:
            tmp.write_text(json.dumps(manifest, indent=1) + "\n")
            tmp.replace(folder / MANIFEST)
        except OSError as e:
            raise DataIOError(f"{folder / MANIFEST}: cannot write ({e})") from e
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Universe:
        """Reads a folder written by :meth:`save` (each market validated again)."""
        folder = Path(folder)
        path = folder / MANIFEST
        if not path.is_file():
            raise DataIOError(f"{folder}: not a universe folder (no {MANIFEST})")
        try:
            manifest = json.loads(path.read_text())
            if manifest.get("kind") != _KIND:
                raise ValueError(f"kind {manifest.get('kind')!r}, expected {_KIND!r}")
            entries = [(str(e["symbol"]), str(e["file"])) for e in manifest["markets"]]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
            raise FormatError(f"{path}: not a valid universe manifest ({e})") from e
        return cls({symbol: Market.load(folder / file) for symbol, file in entries})


def is_universe(path: str | Path) -> bool:
    """Whether ``path`` is a folder written by :meth:`Universe.save`."""
    return (Path(path) / MANIFEST).is_file()
