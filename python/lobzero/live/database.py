"""The replay database of the paper loop: SQLite in WAL mode, with a schema version and
migrations.

Tables: ``meta`` (key/value: the run's settings, its start per symbol), ``feed_health``,
``decisions`` (symbol, step, decision time, observation reference, intended and executed
action, search policy and value where the agent has them, decision latency, model version, the
account after the step), ``fills``, ``transitions`` (s, a, r, s' as float32 blobs, ready for
training), ``models`` and ``promotions``; from version 2 ``shadow_decisions`` (shadow mode:
a challenger's action on the same observation as the champion's decision of that symbol and
step, with its policy, value, latency and version; never executed); from version 3
``risk_state`` (one row: the risk layer's state as of the last commit, replaced by each).

Every row has a natural key (symbol and step for a decision, plus the fill's index for a
fill, ...) and is written with ``INSERT OR IGNORE``, in transactions of many rows
(:meth:`ReplayDatabase.write`). A ``kill -9`` at any moment loses at most the open
transaction, and a restart that recomputes those rows writes each once: SQLite's journal makes
a transaction all or nothing, the keys make a rewrite a no-op.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.exceptions import ConfigError

#: schema version this lobzero writes (``PRAGMA user_version``)
SCHEMA_VERSION = 3

#: migration k takes a database of version k to version k + 1
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE feed_health (
        symbol TEXT NOT NULL, ts_ns INTEGER NOT NULL, kind TEXT NOT NULL, detail TEXT,
        PRIMARY KEY (symbol, ts_ns, kind));
    CREATE TABLE decisions (
        symbol TEXT NOT NULL, step INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
        obs_ref TEXT NOT NULL, intended_action REAL NOT NULL, action REAL NOT NULL,
        policy TEXT, value REAL, latency_ms REAL NOT NULL, over_budget INTEGER NOT NULL,
        model_version TEXT NOT NULL, equity REAL NOT NULL, cash REAL NOT NULL,
        position REAL NOT NULL, mark REAL NOT NULL, fees REAL NOT NULL,
        next_ts_ns INTEGER NOT NULL, done INTEGER NOT NULL,
        PRIMARY KEY (symbol, step));
    CREATE TABLE fills (
        symbol TEXT NOT NULL, step INTEGER NOT NULL, k INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
        side INTEGER NOT NULL, price REAL NOT NULL, size REAL NOT NULL, fee REAL NOT NULL,
        PRIMARY KEY (symbol, step, k));
    CREATE TABLE transitions (
        symbol TEXT NOT NULL, step INTEGER NOT NULL, obs BLOB NOT NULL, action REAL NOT NULL,
        reward REAL NOT NULL, next_obs BLOB NOT NULL, done INTEGER NOT NULL,
        PRIMARY KEY (symbol, step));
    CREATE TABLE models (
        version TEXT PRIMARY KEY, path TEXT NOT NULL, created_ns INTEGER NOT NULL,
        scores TEXT NOT NULL);
    CREATE TABLE promotions (
        ts_ns INTEGER NOT NULL, kind TEXT NOT NULL, champion TEXT, challenger TEXT,
        promoted INTEGER NOT NULL, reason TEXT NOT NULL,
        PRIMARY KEY (ts_ns, kind));
    """,
    # 2: shadow mode, the challenger's decisions beside the champion's (never executed)
    """
    CREATE TABLE shadow_decisions (
        symbol TEXT NOT NULL, step INTEGER NOT NULL, ts_ns INTEGER NOT NULL,
        action REAL NOT NULL, policy TEXT, value REAL, latency_ms REAL NOT NULL,
        model_version TEXT NOT NULL,
        PRIMARY KEY (symbol, step));
    """,
    # 3: the risk layer's state as of the last commit (one row, replaced by each commit)
    """
    CREATE TABLE risk_state (id INTEGER PRIMARY KEY CHECK (id = 0), state BLOB NOT NULL);
    """,
)

#: tables of one row that each write replaces (a snapshot, not a log)
REPLACED_TABLES = frozenset({"risk_state"})

SHADOW_COLUMNS = (
    "symbol", "step", "ts_ns", "action", "policy", "value", "latency_ms", "model_version",
)  # fmt: skip

DECISION_COLUMNS = (
    "symbol", "step", "ts_ns", "obs_ref", "intended_action", "action", "policy", "value",
    "latency_ms", "over_budget", "model_version", "equity", "cash", "position", "mark", "fees",
    "next_ts_ns", "done",
)  # fmt: skip


def _insert(table: str, columns: Sequence[str]) -> str:
    marks = ", ".join("?" * len(columns))
    verb = "REPLACE" if table in REPLACED_TABLES else "IGNORE"
    return f"INSERT OR {verb} INTO {table} ({', '.join(columns)}) VALUES ({marks})"


class ReplayDatabase:
    """The paper loop's database at ``path`` (created and migrated to :data:`SCHEMA_VERSION`
    when needed; a newer version is a :class:`ConfigError`). ``wal``: journal in WAL mode
    (readers, such as ``paper report``, never block the loop)."""

    def __init__(self, path: str | Path, wal: bool = True) -> None:
        self.path = Path(path)
        self.connection = sqlite3.connect(self.path, isolation_level=None, timeout=30.0)
        if wal:
            self.connection.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed transaction survives a power cut too, not only a kill -9
        self.connection.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _migrate(self) -> None:
        version = int(self.connection.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path}: replay database schema version {version}, but this lobzero "
                f"reads up to {SCHEMA_VERSION}"
            )
        for k in range(version, SCHEMA_VERSION):
            self.connection.execute("BEGIN IMMEDIATE")
            try:
                for statement in MIGRATIONS[k].split(";"):
                    if statement.strip():
                        self.connection.execute(statement)
                self.connection.execute(f"PRAGMA user_version={k + 1}")
                self.connection.execute("COMMIT")
            except BaseException:
                self.connection.execute("ROLLBACK")
                raise

    @property
    def schema_version(self) -> int:
        """The database's schema version (``PRAGMA user_version``)."""
        return int(self.connection.execute("PRAGMA user_version").fetchone()[0])

    def close(self) -> None:
        """Closes the connection (committed rows are on disk already)."""
        self.connection.close()

    # -- writing -------------------------------------------------------------------------------
    def write(self, rows: Iterable[tuple[str, Sequence[str], Sequence[Any]]]) -> int:
        """Writes ``(table, columns, values)`` rows in one transaction (all or none); rows whose
        key is already stored are skipped. Returns the rows inserted."""
        inserted = 0
        connection = self.connection
        connection.execute("BEGIN IMMEDIATE")
        try:
            for table, columns, values in rows:
                inserted += connection.execute(_insert(table, columns), tuple(values)).rowcount
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return inserted

    def set_meta(self, values: dict[str, Any]) -> None:
        """Stores settings as JSON (existing keys keep their first value: a resumed run must
        not rewrite the run it continues)."""
        self.write(("meta", ("key", "value"), (k, json.dumps(v))) for k, v in values.items())

    def meta(self) -> dict[str, Any]:
        """The stored settings (``start_ns``, ``symbols``, ``env``), decoded."""
        rows = self.connection.execute("SELECT key, value FROM meta").fetchall()
        return {k: json.loads(v) for k, v in rows}

    # -- reading -------------------------------------------------------------------------------
    def risk_state(self) -> bytes | None:
        """The risk layer's state stored with the last commit (None: none stored)."""
        row = self.connection.execute("SELECT state FROM risk_state WHERE id = 0").fetchone()
        return None if row is None else bytes(row[0])

    def decisions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """Decisions in (symbol, step) order, as dicts of :data:`DECISION_COLUMNS`."""
        query = f"SELECT {', '.join(DECISION_COLUMNS)} FROM decisions"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            query, args = query + " WHERE symbol = ?", (symbol,)
        rows = self.connection.execute(query + " ORDER BY symbol, step", args).fetchall()
        return [dict(zip(DECISION_COLUMNS, r, strict=True)) for r in rows]

    def fills(self, symbol: str | None = None) -> list[tuple[Any, ...]]:
        """(symbol, step, k, ts_ns, side, price, size, fee) in order."""
        query = "SELECT symbol, step, k, ts_ns, side, price, size, fee FROM fills"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            query, args = query + " WHERE symbol = ?", (symbol,)
        return self.connection.execute(query + " ORDER BY symbol, step, k", args).fetchall()

    def transitions(self, symbol: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(obs [T, obs_dim] float32, actions [T], rewards [T], next_obs [T, obs_dim]) of
        ``symbol`` in step order, ready for a learner."""
        rows = self.connection.execute(
            "SELECT obs, action, reward, next_obs FROM transitions WHERE symbol = ? ORDER BY step",
            (symbol,),
        ).fetchall()
        if not rows:
            empty = np.zeros((0, 0), np.float32)
            return empty, np.zeros(0), np.zeros(0), empty
        obs = np.stack([np.frombuffer(r[0], np.float32) for r in rows])
        nxt = np.stack([np.frombuffer(r[3], np.float32) for r in rows])
        return obs, np.array([r[1] for r in rows]), np.array([r[2] for r in rows]), nxt

    def count(self, table: str) -> int:
        """Rows in ``table`` (one of the schema's)."""
        if table not in (
            "feed_health",
            "decisions",
            "fills",
            "transitions",
            "models",
            "promotions",
            "shadow_decisions",
        ):
            raise ConfigError(f"no table {table!r} in the replay database")
        return int(self.connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])

    def shadow_decisions(self, symbol: str | None = None) -> list[dict[str, Any]]:
        """The shadow's decisions in (symbol, step) order, as dicts of :data:`SHADOW_COLUMNS`."""
        query = f"SELECT {', '.join(SHADOW_COLUMNS)} FROM shadow_decisions"
        args: tuple[Any, ...] = ()
        if symbol is not None:
            query, args = query + " WHERE symbol = ?", (symbol,)
        rows = self.connection.execute(query + " ORDER BY symbol, step", args).fetchall()
        return [dict(zip(SHADOW_COLUMNS, r, strict=True)) for r in rows]

    def promotions(self) -> list[tuple[Any, ...]]:
        """(ts_ns, kind, champion, challenger, promoted, reason) in the order they were written
        (a retrain's time is the loop's clock, a rollback's the wall clock)."""
        return self.connection.execute(
            "SELECT ts_ns, kind, champion, challenger, promoted, reason FROM promotions "
            "ORDER BY rowid"
        ).fetchall()
