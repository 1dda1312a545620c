"""Trading on a live feed: a market that grows as messages arrive, and the paper broker over it.

A recorded market is complete before the first decision; a live one is not. :class:`LiveMarket`
turns one symbol's raw exchange messages (the lines the feed records, ``<receive time ns>
<JSON>``) into validated event chunks with the core's own Binance importer fed a line at a
time (``_core.BinanceLiveImporter``: the snapshot + diff procedure, resync on a gap, the same
code that imports the recording afterwards). :class:`LivePaperBroker` is the
:class:`~lobzero.live.broker.PaperBroker` whose environments grow: before each step it appends
the symbol's new events to its :class:`~lobzero.TradingEnv` (``extend_market``, amortized
O(new events) in Rust: no rebuild of the stream) and declares the stream complete up to the
feed's clock, so the environment steps exactly as it would on the recording of the same
messages: paper on the live feed equals the environment on the recorded events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobzero import _core
from lobzero.data.market import Market
from lobzero.envs import EnvConfig, TradingEnv
from lobzero.exceptions import ConfigError
from lobzero.live.broker import PaperBroker


@dataclass
class LiveMarket:
    """One symbol's market as it arrives. ``tick_size`` / ``lot_size``: the exchange's price
    and size steps (decimal strings; Binance's exchangeInfo filters), fixed up front since a
    live import cannot infer them from data not yet received.

    ``known_ns`` is the receive time up to which the market is complete (the last line fed, or
    a quiet feed's clock); ``snapshots`` counts the depth snapshots seen (a book exists after
    the first), ``lines`` the lines fed, ``events`` the events taken."""

    symbol: str
    tick_size: str
    lot_size: str
    known_ns: int = field(init=False, default=-1)
    snapshots: int = field(init=False, default=0)
    lines: int = field(init=False, default=0)
    events: int = field(init=False, default=0)
    _importer: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._importer = _core.BinanceLiveImporter(
            self.tick_size, self.lot_size, symbol=self.symbol, on_gap="resync"
        )

    def feed(self, recv_ns: int, text: str) -> None:
        """Takes one message as received (``text`` its JSON) at ``recv_ns`` (ns, never
        decreasing). A malformed message is the importer's error (it names the line)."""
        self._importer.feed_line(f"{recv_ns} {text}")
        self.lines += 1
        self.known_ns = max(self.known_ns, recv_ns)
        if text.startswith('{"lastUpdateId"'):
            self.snapshots += 1

    def idle(self, now_ns: int) -> None:
        """Nothing arrived until ``now_ns``: the market is complete up to it."""
        self.known_ns = max(self.known_ns, now_ns)

    def prime(self, path: Path) -> int:
        """Feeds a recording of this symbol (what the feed recorded before a restart); returns
        the lines read."""
        read = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                recv, _, text = line.rstrip("\n").partition(" ")
                if not text:
                    continue
                self.feed(int(recv), text)
                read += 1
        return read

    def take(self) -> Market | None:
        """The events made since the last call (None: none)."""
        chunk = self._importer.drain()
        if chunk is None:
            return None
        self.events += len(chunk)
        return Market(chunk)


def resume_markets(
    live: Mapping[str, LiveMarket], recordings: Mapping[str, Path], db: Any = None
) -> int:
    """Reads what a feed recorded before a restart back into ``live`` (each symbol's file of
    ``recordings`` that exists), and sets every market's horizon to the latest moment the
    stopped run knew its markets complete: the last line of any recording (a line of one
    symbol is news that nothing came for the others) or the last executed decision's time in
    ``db`` (a :class:`~lobzero.live.database.ReplayDatabase`; a quiet feed's clock moved on
    without lines), so the stored decisions replay exactly as they were made. Returns the
    lines read."""
    read = 0
    for symbol, market in live.items():
        path = recordings.get(symbol)
        if path is not None and Path(path).exists():
            read += market.prime(Path(path))
    horizon = max((m.known_ns for m in live.values()), default=-1)
    if db is not None:
        row = db.connection.execute("SELECT MAX(next_ts_ns) FROM decisions").fetchone()
        if row is not None and row[0] is not None:
            horizon = max(horizon, int(row[0]))
    for market in live.values():
        market.idle(horizon)
    return read


@dataclass
class LivePaperBroker(PaperBroker):
    """:class:`PaperBroker` on growing markets (see the module docs): ``live`` maps each symbol
    to its :class:`LiveMarket`; each symbol's environment is made from its first events and
    extended before every step. ``episode_steps``: the environments' episode length (a live
    run has no end; it enters the observation's time fraction, so a replay of the run must use
    the same)."""

    markets: Mapping[str, Market] = field(default_factory=dict)
    env_config: EnvConfig = field(default_factory=EnvConfig)
    live: Mapping[str, LiveMarket] = field(default_factory=dict)
    episode_steps: int = 1_000_000_000

    def __post_init__(self) -> None:
        if self.env_config.step_events:
            raise ConfigError("the paper loop runs on the time clock: set step_events = 0")
        if not self.live:
            raise ConfigError("a live broker needs at least one live market")
        self.markets = {}
        self.env_config = self.env_config.replace(episode_steps=self.episode_steps)

    def feature_names(self) -> list[str]:
        """The frame layout of the observations (known before any event: read from an
        environment of the same configuration on a small synthetic market)."""
        if self.envs:
            return super().feature_names()
        from lobzero.data.synth import synth_market

        return TradingEnv(synth_market(seconds=60.0, seed=0), self.env_config).feature_names

    @property
    def lots(self) -> dict[str, float]:
        """Size step of each symbol (units of size), known before any event."""
        return {s: float(m.lot_size) for s, m in self.live.items()}

    def ready(self, symbol: str) -> bool:
        """Whether ``symbol`` can open: a depth snapshot arrived (its book exists)."""
        return self.live[symbol].snapshots > 0

    def sync(self, symbol: str) -> None:
        """Appends the symbol's new events to its environment (makes it on the first)."""
        live = self.live[symbol]
        chunk = live.take()
        env = self.envs.get(symbol)
        if env is None:
            if chunk is None:
                return
            env = TradingEnv(chunk, self.env_config)
            self.envs[symbol] = env
            self.markets = {**self.markets, symbol: chunk}  # type: ignore[misc]
            core = self.env_config.to_core(chunk.instrument)
            self._max_lots[symbol] = int(core["max_position_lots"])
            chunk = None
        env.extend_market(chunk, live.known_ns)

    def open(self, symbol: str, start_ns: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Opens ``symbol`` at ``start_ns`` on the events so far (see PaperBroker.open)."""
        self.sync(symbol)
        if symbol not in self.envs:
            raise ConfigError(f"{symbol}: no events received yet, it cannot open")
        return super().open(symbol, start_ns)

    def execute(self, symbol: str, action: Any) -> Any:
        """Appends the events received since the last step, then steps (PaperBroker.execute)."""
        self.sync(symbol)
        return super().execute(symbol, action)
