"""Contract terms of the instrument (contract size, inverse, multiplier): Binance COIN-M files
import as inverse, `import_market` and the CLI override the terms for any format, they survive
a save and load, old files load as linear, and `data info` shows them with the inferred grid."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import pyarrow.parquet as pq
import pytest
from lobzero.cli import main
from lobzero.data.export import to_hftbacktest_npz
from lobzero.data.info import market_info

from tests.data.test_import_binance_stream import futures_lines, write

COINM = "binance-coinm-perp"


@pytest.mark.parametrize(
    ("name", "symbol", "size"),
    [
        ("btcusd_perp_20240808.gz", "BTCUSD_PERP", "100"),
        ("ethusd_perp_20240808.gz", "ETHUSD_PERP", "10"),
    ],
)
def test_coin_m_recordings_import_as_inverse(shared_data: Path, name, symbol, size) -> None:
    """Old code: BTCUSD_PERP imported as linear (contract terms unknown), venue binance-futures."""
    market = lobzero.import_market(shared_data / COINM / name)
    meta = market.instrument
    assert (meta.symbol, meta.venue) == (symbol, "binance-coinm")
    assert (meta.inverse, meta.contract_size, meta.multiplier) == (True, size, "1")
    assert meta.lot_size == "1"  # sizes are whole contracts
    assert any("COIN-M" in note for note in market.import_report["notes"])


def test_usd_m_and_spot_stay_linear(tmp_path: Path) -> None:
    market = lobzero.import_market(write(tmp_path, futures_lines()), format="binance-stream")
    meta = market.instrument
    assert (meta.inverse, meta.contract_size, meta.multiplier) == (False, "1", "1")
    assert meta.venue == "binance-futures"


def test_overrides_for_any_format(tmp_path: Path) -> None:
    """``contract_size``, ``inverse`` and ``multiplier`` replace the importer's terms for text,
    hftbacktest and parquet inputs alike, and are recorded in the import report."""
    rec = write(tmp_path, futures_lines())
    market = lobzero.import_market(rec, contract_size="0.01", multiplier=2)
    assert (market.instrument.contract_size, market.instrument.multiplier) == ("0.01", "2")
    assert market.import_report["contract_overrides"] == {
        "contract_size": "0.01",
        "multiplier": "2",
    }
    saved = market.save(tmp_path / "m.parquet")
    back = lobzero.import_market(saved, inverse=True, contract_size="10", multiplier="1")
    assert (back.instrument.inverse, back.instrument.contract_size) == (True, "10")
    npz = to_hftbacktest_npz(lobzero.synth_market(seconds=20, seed=1), tmp_path / "s.npz")
    hbt = lobzero.import_market(npz, tick_size="0.1", lot_size="0.001", multiplier="50")
    assert hbt.instrument.multiplier == "50"
    assert hbt.to_polars().height == len(hbt)


def test_bad_terms_are_config_errors(tmp_path: Path) -> None:
    rec = write(tmp_path, futures_lines())
    with pytest.raises(lobzero.ConfigError, match="multiplier 1"):
        lobzero.import_market(rec, inverse=True, multiplier="50")
    with pytest.raises(lobzero.ConfigError, match="positive"):
        lobzero.import_market(rec, contract_size="0")
    with pytest.raises(lobzero.ConfigError, match="True or False"):
        lobzero.import_market(rec, inverse="yes")
    with pytest.raises(lobzero.ConfigError, match="contract_size"):
        lobzero.import_market(rec, contract_size="-1")


def test_terms_survive_save_and_load_and_old_files_load_linear(tmp_path: Path) -> None:
    rec = write(tmp_path, futures_lines())
    market = lobzero.import_market(rec, inverse=True, contract_size="100")
    path = market.save(tmp_path / "inv.parquet")
    assert lobzero.Market.load(path).instrument == market.instrument
    # a file written before the terms existed: the instrument has the four old fields only
    table = pq.read_table(path)
    meta = json.loads(table.schema.metadata[b"lobzero"])
    for key in ("contract_size", "inverse", "multiplier"):
        del meta["instrument"][key]
    old = tmp_path / "old.parquet"
    pq.write_table(table.replace_schema_metadata({b"lobzero": json.dumps(meta).encode()}), old)
    loaded = lobzero.Market.load(old).instrument
    assert (loaded.inverse, loaded.contract_size, loaded.multiplier) == (False, "1", "1")
    assert loaded.tick_size == market.instrument.tick_size
    # a damaged flag is a FormatError naming the file, not a string read as true
    meta["instrument"]["inverse"] = "false"
    bad = tmp_path / "bad.parquet"
    pq.write_table(table.replace_schema_metadata({b"lobzero": json.dumps(meta).encode()}), bad)
    with pytest.raises(lobzero.FormatError, match=r"bad\.parquet.*True or False"):
        lobzero.Market.load(bad)


def test_info_marks_the_inferred_grid_and_shows_the_terms(tmp_path: Path) -> None:
    """Old code: `data info` had neither the inferred flags nor the contract terms."""
    rec = write(tmp_path, futures_lines())
    inferred = market_info(lobzero.import_market(rec))
    assert (inferred["tick_size_inferred"], inferred["lot_size_inferred"]) == (True, True)
    given = market_info(lobzero.import_market(rec, tick_size="0.05"))
    assert (given["tick_size_inferred"], given["lot_size_inferred"]) == (False, True)
    assert given["tick_size"] == "0.05"
    assert (given["contract_size"], given["inverse"], given["multiplier"]) == ("1", False, "1")
    assert given["settlement"] == "quote"
    # a market built from columns does not say how its grid was chosen
    assert "tick_size_inferred" not in market_info(lobzero.synth_market(seconds=10, seed=0))


def test_cli_flags_reach_the_importer_and_info_prints_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rec = write(tmp_path, futures_lines())
    out = tmp_path / "m.parquet"
    argv = ["data", "import", str(rec), "-o", str(out), "--tick-size", "0.05", "--lot-size", "0.05"]
    assert main([*argv, "--contract-size", "100", "--inverse"]) == 0
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["tick_size"], info["lot_size"]) == ("0.05", "0.05")
    assert (info["tick_size_inferred"], info["lot_size_inferred"]) == (False, False)
    assert (info["contract_size"], info["inverse"], info["settlement"]) == ("100", True, "base")
    # the table says which of tick and lot came from the data
    assert main(["data", "info", str(rec), "--tick-size", "0.05", "--multiplier", "50"]) == 0
    table = capsys.readouterr().out
    tick_row = next(line for line in table.splitlines() if "tick_size" in line)
    assert "0.05" in tick_row and "inferred" not in tick_row
    lot_row = next(line for line in table.splitlines() if "lot_size" in line)
    assert "inferred from the data" in lot_row
    assert "tick_size_inferred" not in table
    multiplier_row = next(line for line in table.splitlines() if "multiplier" in line)
    assert "50" in multiplier_row
    assert main(["data", "info", str(out), "--no-inverse", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["inverse"] is False
