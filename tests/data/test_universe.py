"""Universe: files of several symbols grouped into one market per symbol on one clock; the
common span; trimming that reports what it drops; the folder format; `lobzero data` on it."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.cli import main
from lobzero.data.importers import import_market, symbol_groups
from lobzero.data.universe import MANIFEST, Universe

S = 1_000_000_000


@pytest.fixture(scope="module")
def pair() -> tuple[lobzero.Market, lobzero.Market]:
    """Two synthetic instruments whose spans overlap but differ: ETHSYN starts 20 s later and
    ends 30 s earlier than BTCSYN."""
    btc = lobzero.synth_market(seconds=120, seed=1, symbol="BTCSYN")
    eth = lobzero.synth_market(
        seconds=120, seed=2, symbol="ETHSYN", start_price=3000.0, tick_size="0.01"
    )
    t0 = int(eth.start_ns or 0)
    return btc, eth.slice_time(t0 + 20 * S, t0 + 90 * S)


def same_events(a: lobzero.Market, b: lobzero.Market) -> bool:
    ca, cb = a.columns(), b.columns()
    return a.instrument == b.instrument and all(np.array_equal(ca[k], cb[k]) for k in ca)


def test_the_common_span_is_latest_start_to_earliest_end(pair) -> None:
    btc, eth = pair
    universe = Universe([btc, eth])
    assert universe.symbols == ["BTCSYN", "ETHSYN"] and universe["ETHSYN"] is eth
    assert universe.common_span() == (eth.start_ns, eth.end_ns)
    # the markets are kept whole: nothing dropped by building the universe
    assert len(universe["BTCSYN"]) == len(btc)


def test_trim_cuts_to_the_common_span_and_reports_it(pair) -> None:
    btc, eth = pair
    trimmed = Universe([btc, eth]).trim()
    first, last = eth.start_ns, eth.end_ns
    recv = trimmed["BTCSYN"].columns()["recv_ts_ns"]
    assert first <= recv[0] and recv[-1] <= last
    report = trimmed["BTCSYN"].import_report["trimmed_to_common_span"]
    dropped = report["events_dropped_before"] + report["events_dropped_after"]
    assert report["events_dropped_before"] > 0 and report["events_dropped_after"] > 0
    assert len(trimmed["BTCSYN"]) + dropped == len(btc)
    assert len(trimmed["ETHSYN"]) == len(eth)


def test_markets_without_common_time_or_with_one_symbol_twice_are_refused(pair) -> None:
    btc, _ = pair
    t0 = int(btc.start_ns or 0)
    early, late = btc.slice_time(t0, t0 + 10 * S), btc.slice_time(t0 + 50 * S, None)
    with pytest.raises(lobzero.ConfigError, match="share no time"):
        Universe({"A": early, "B": late}).common_span()
    with pytest.raises(lobzero.ConfigError, match="appear twice"):
        Universe([early, late])
    with pytest.raises(lobzero.ConfigError, match="at least one"):
        Universe([])


def test_save_and_load_round_trip(pair, tmp_path: Path) -> None:
    universe = Universe([*pair])
    folder = universe.save(tmp_path / "u")
    assert sorted(p.name for p in folder.iterdir()) == [
        "BTCSYN.parquet",
        "ETHSYN.parquet",
        MANIFEST,
    ]
    back = Universe.load(folder)
    assert back.symbols == universe.symbols
    assert all(same_events(back[k], universe[k]) for k in universe)
    assert isinstance(import_market(folder), Universe)
    manifest = json.loads((folder / MANIFEST).read_text())
    assert manifest["common_span_ns"] == list(universe.common_span())


def test_a_folder_that_is_not_a_universe_is_refused(tmp_path: Path) -> None:
    with pytest.raises(lobzero.DataIOError, match="not a universe"):
        Universe.load(tmp_path)
    (tmp_path / MANIFEST).write_text('{"kind": "something else"}')
    with pytest.raises(lobzero.FormatError, match="not a valid universe manifest"):
        Universe.load(tmp_path)


def test_files_of_two_symbols_are_grouped_by_the_symbol_in_their_data(pair, tmp_path) -> None:
    """Planted defect: importing the files as one recording (the old meaning for every list)
    mixes two instruments, which the importer refuses; grouping gives each its own market."""
    btc, eth = pair
    a, b = btc.save(tmp_path / "a.parquet"), eth.save(tmp_path / "b.parquet")
    universe = import_market([a, b])
    assert isinstance(universe, Universe) and universe.symbols == ["BTCSYN", "ETHSYN"]
    assert same_events(universe["BTCSYN"], btc) and same_events(universe["ETHSYN"], eth)
    assert symbol_groups([a, a]) is None  # one symbol: one recording, as ever
    mapped = import_market({"X": [a], "Y": b})
    assert mapped.symbols == ["X", "Y"] and same_events(mapped["Y"], eth)


def test_real_spot_pair_one_market_per_symbol(shared_data: Path) -> None:
    """BTC and ETH spot of one session (two files each): the universe's markets equal the
    markets imported from each symbol's files alone, and all four files of one symbol still
    make one market."""
    btc = sorted((shared_data / "binance-spot-btcusdt").glob("*.gz"))
    eth = sorted((shared_data / "binance-spot-ethusdt").glob("*.gz"))
    universe = import_market([*btc, *eth])
    assert isinstance(universe, Universe) and universe.symbols == ["BTCUSDT", "ETHUSDT"]
    alone = import_market(eth)
    assert isinstance(alone, lobzero.Market) and same_events(universe["ETHUSDT"], alone)
    assert universe["BTCUSDT"].instrument.lot_size != alone.instrument.lot_size
    first, last = universe.common_span()
    assert first == max(m.start_ns for m in universe.values())  # type: ignore[type-var]
    assert last == min(m.end_ns for m in universe.values())  # type: ignore[type-var]


def test_cli_import_writes_a_universe_and_info_prints_a_row_per_symbol(
    pair, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a, b = pair[0].save(tmp_path / "a.parquet"), pair[1].save(tmp_path / "b.parquet")
    assert main(["data", "import", str(a), str(b), "-o", str(tmp_path / "u.parquet")]) == 2
    assert "a universe: name a folder" in capsys.readouterr().err
    assert main(["data", "import", str(a), str(b), "-o", str(tmp_path / "u")]) == 0
    assert (tmp_path / "u" / MANIFEST).is_file()
    capsys.readouterr()
    assert main(["data", "info", str(tmp_path / "u"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert list(info["symbols"]) == ["BTCSYN", "ETHSYN"]
    assert info["symbols"]["ETHSYN"]["events"] == len(pair[1])
    assert main(["data", "info", str(tmp_path / "u")]) == 0
    table = capsys.readouterr().out
    # one row per symbol in each part of the table (a narrow terminal splits its columns)
    parts = table.count("common span")
    assert parts >= 1 and table.count("BTCSYN") == table.count("ETHSYN") == parts
