"""Hyperliquid recordings (``hyperliquid``): the l2Book/trades fixture in ../shared/data and small
files written here (snapshot diffs, trade sides, refusals, random damage)."""

from __future__ import annotations

import gzip
import json
import tempfile
from pathlib import Path

import lobzero
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.data.importers import guess_format
from lobzero.data.market import KIND_CLEAR, KIND_SNAPSHOT, KIND_TRADE, KIND_UPDATE

from tests.data.corrupt import damage, data_error_or_valid, maybe_gzip

T0 = 1_737_918_843_000_000_000
MS = 1_000_000


def book(recv: int, bids: list[tuple[str, str]], asks: list[tuple[str, str]]) -> str:
    levels = [[{"px": p, "sz": s, "n": 1} for p, s in side] for side in (bids, asks)]
    data = {"coin": "BTC", "time": recv // MS - 300, "levels": levels}
    return f"{recv} " + json.dumps({"channel": "l2Book", "data": data})


def trades(recv: int, *prints: tuple[str, str, str]) -> str:
    data = [
        {"coin": "BTC", "side": side, "px": px, "sz": sz, "time": recv // MS - 100, "tid": 1}
        for side, px, sz in prints
    ]
    return f"{recv} " + json.dumps({"channel": "trades", "data": data})


LINES = [
    book(T0, [("100", "1"), ("99", "2")], [("101", "3")]),
    trades(T0 + 100 * MS, ("A", "100", "0.5"), ("B", "101", "1")),
    book(T0 + 500 * MS, [("100", "0.5"), ("99", "2")], [("101", "2"), ("102", "1")]),
    book(T0 + 900 * MS, [("99", "2")], [("101", "2"), ("102", "1")]),
]


def write(folder: Path, lines: list[str], name: str = "btc.gz") -> Path:
    path = folder / name
    with gzip.open(path, "wt") as fh:
        fh.write("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="module")
def fixture_file(shared_data: Path) -> Path:
    path = shared_data / "format-fixtures" / "hyperliquid" / "btcusd_20250126.gz"
    if not path.is_file():
        pytest.skip(f"the Hyperliquid fixture {path} is absent")
    return path


def test_the_real_recording_imports(fixture_file: Path) -> None:
    assert guess_format(fixture_file) == "hyperliquid"
    market = lobzero.import_market(fixture_file)
    report = market.import_report
    assert report["messages"] == {"l2Book": 46, "trades": 9}
    assert report["recv_time_unit"] == "ns"
    assert market.instrument.symbol == "BTC" and market.instrument.venue == "hyperliquid"
    df = market.to_polars()
    kinds = df["kind"].to_list()
    assert kinds[0] == KIND_CLEAR and kinds.count(KIND_CLEAR) == 1
    assert kinds.count(KIND_SNAPSHOT) == 40
    # every l2Book after the first is one or more changes, never a whole book again
    assert 0 < kinds.count(KIND_UPDATE) < 45 * 40
    trade_sides = set(df.filter(df["kind"] == KIND_TRADE)["side"].to_list())
    assert trade_sides == {1, -1}
    assert any("older than the first book" in n for n in report["notes"])


def test_consecutive_books_become_changes(tmp_path: Path) -> None:
    market = lobzero.import_market(write(tmp_path, LINES))
    df = market.to_polars()
    rows = list(zip(df["kind"], df["side"], df["price_ticks"], df["qty_lots"], strict=True))
    lot = 2  # lot 0.5
    assert rows == [
        (KIND_CLEAR, 0, 0, 0),
        (KIND_SNAPSHOT, 1, 100, 1 * lot),
        (KIND_SNAPSHOT, 1, 99, 2 * lot),
        (KIND_SNAPSHOT, -1, 101, 3 * lot),
        (KIND_TRADE, -1, 100, 1),  # "A": the seller crossed
        (KIND_TRADE, 1, 101, 1 * lot),
        (KIND_UPDATE, 1, 100, 1),
        (KIND_UPDATE, -1, 101, 2 * lot),
        (KIND_UPDATE, -1, 102, 1 * lot),
        (KIND_UPDATE, 1, 100, 0),  # the level left the book
    ]
    assert df["ts_ns"][4] == T0 + 100 * MS - 100 * MS


@pytest.mark.parametrize(
    ("change", "error", "line"),
    [
        (lambda ls: [ls[0], ls[1].replace('"A"', '"S"'), *ls[2:]], lobzero.InvalidValueError, 2),
        (lambda ls: [ls[0].replace("l2Book", "bbo"), *ls[1:]], lobzero.FormatError, 1),
        (lambda ls: [ls[0].replace('"99"', '"100"'), *ls[1:]], lobzero.InvalidValueError, 1),
        (lambda ls: [ls[1], ls[0], *ls[2:]], lobzero.TimestampOrderError, 2),
        (lambda ls: [ls[1]], lobzero.FormatError, None),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, change, error, line) -> None:
    path = write(tmp_path, change(LINES))
    with pytest.raises(error, match=rf"btc.gz:{line}:" if line else "btc.gz"):
        lobzero.import_market(path, format="hyperliquid")


def test_the_damage_property_fails_on_a_planted_crash() -> None:
    """The property below lets only DataError through: a crash of another kind fails it."""
    with pytest.raises(KeyError):
        data_error_or_valid(lambda: {}["x"])


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_damage_is_a_data_error_never_a_crash(data: st.DataObject) -> None:
    blob = maybe_gzip(data, damage(data, ("\n".join(LINES) + "\n").encode()))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.txt"
        path.write_bytes(blob)
        data_error_or_valid(lambda: lobzero.import_market(path, format="hyperliquid"))
