"""The older Binance collector layout that ``binance-stream`` also reads: receive times in µs
(unit detected from the magnitude, reported; a time fitting no unit refused), the REST snapshot
written as a Python dict, and ``markPrice`` lines (counted, not events). No real file has this
layout: the files are written here."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import lobzero
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.data.corrupt import damage, data_error_or_valid, maybe_gzip
from tests.data.test_import_binance_stream import depth, trade

US = 1_700_000_000_000_000  # µs since 1970 (November 2023)
MS_PER_US = 1_000


def legacy_lines() -> list[str]:
    """The futures session of the modern tests, re-timed in µs, snapshot as a dict."""
    snapshot = {"lastUpdateId": 9, "E": 2, "T": 2, "bids": [["100.0", "2.000"]], "asks": []}
    snapshot["asks"] = [["100.2", "3"]]
    mark = {"e": "markPriceUpdate", "E": 4, "s": "BTCUSDT", "p": "100.25", "r": "0.0001"}

    def at_us(line: str, us: int) -> str:
        return f"{us} " + line.split(" ", 1)[1]

    return [
        at_us(depth(1, 5, 8, 4, bids=[["100.0", "1.000"]]), US + 1),
        f"{US + 2} {snapshot!r}",
        f"{US + 3} " + json.dumps({"stream": "btcusdt@markPrice@1s", "data": mark}),
        at_us(depth(3, 9, 12, 8, bids=[["100.1", "0.5"]], asks=[["100.3", "1"]]), US + 4),
        at_us(trade(4, "100.3", "0.25", False), US + 5),
    ]


def write(folder: Path, lines: list[str]) -> Path:
    path = folder / "rec.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_the_older_layout_imports_and_says_what_it_read(tmp_path: Path) -> None:
    market = lobzero.import_market(write(tmp_path, legacy_lines()), format="binance-stream")
    report = market.import_report
    assert report["recv_time_unit"] == "us"
    assert report["messages"]["markPrice"] == 1
    assert report["stale_diffs_dropped"] == 1
    assert any("Python dicts" in n for n in report["notes"])
    assert any("markPrice" in n for n in report["notes"])
    df = market.to_polars()
    assert df["recv_ts_ns"][0] == (US + 2) * MS_PER_US  # the snapshot's receive time, in ns
    assert report["events_by_kind"]["trade"] == 1


def test_the_modern_layout_reports_ns(tmp_path: Path) -> None:
    lines = [
        f"{1_700_000_000_000_000_000 + i} " + ln.split(" ", 1)[1]
        for i, ln in enumerate(legacy_lines())
    ]
    report = lobzero.import_market(write(tmp_path, lines), format="binance-stream").import_report
    assert report["recv_time_unit"] == "ns"


@pytest.mark.parametrize(
    ("recv", "rule"),
    [
        (50_000_000_000_000_000, "fits no unit"),  # between epoch µs and epoch ns
        (-5, "fits no unit"),
        (1_700_000_000_000_000_000, "not of the unit of the lines before"),  # ns among µs
    ],
)
def test_a_time_of_no_unit_or_another_unit_is_refused(tmp_path: Path, recv: int, rule: str) -> None:
    lines = legacy_lines()
    lines[3] = f"{recv} " + lines[3].split(" ", 1)[1]
    with pytest.raises(lobzero.DataError, match=rf"rec.txt:4: .*{rule}"):
        lobzero.import_market(write(tmp_path, lines), format="binance-stream")


def test_a_python_dict_with_escapes_is_refused_by_line(tmp_path: Path) -> None:
    lines = legacy_lines()
    lines[1] = f"{US + 2} {{'lastUpdateId': 9, 'bids': [['1\\\\0', '2']], 'asks': []}}"
    with pytest.raises(lobzero.ParseError, match=r"rec.txt:2: .*backslash"):
        lobzero.import_market(write(tmp_path, lines), format="binance-stream")


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_random_damage_is_a_data_error_never_a_crash(data: st.DataObject) -> None:
    """The planted crash this property catches is shown in tests/data/test_lobster.py
    (``test_the_damage_property_fails_on_a_planted_crash``: same helper)."""
    blob = maybe_gzip(data, damage(data, ("\n".join(legacy_lines()) + "\n").encode()))
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / "rec.txt"
        path.write_bytes(blob)
        data_error_or_valid(lambda: lobzero.import_market(path, format="binance-stream"))
