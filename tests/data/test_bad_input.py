"""Inputs that used to import into nonsense, or fail with a misleading message: empty files
and frames, directories, zip archives, a missing instrument, an output under the wrong name."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

import lobzero
import pytest
from lobzero.cli import main
from lobzero.data.market import Instrument

from tests.data.textfiles import write

META = Instrument(symbol="TEST", venue="test", tick_size="0.1", lot_size="0.001")


def small_market() -> lobzero.Market:
    return lobzero.synth_market(seconds=30, seed=0)


@pytest.mark.parametrize("fmt", [None, "binance-stream", "binance-csv", "tardis"])
@pytest.mark.parametrize("name", ["empty.csv", "empty.gz", "empty.csv.gz"])
def test_an_empty_file_is_a_data_error_naming_it(
    tmp_path: Path, name: str, fmt: str | None
) -> None:
    """Before: rc 0 and a market of 0 events, symbol "" and tick 1 (gzip or plain)."""
    path = tmp_path / name
    if name.endswith(".gz"):
        with gzip.open(path, "wb"):
            pass  # a valid gzip stream of no bytes
    else:
        path.write_bytes(b"")
    with pytest.raises(lobzero.DataError, match=rf"{name}.*(empty|no events)"):
        lobzero.import_market(path, format=fmt)


def test_a_header_only_csv_holds_no_events(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "depth.csv",
        "symbol,timestamp,first_update_id,last_update_id,side,update_type,price,qty,pu\n",
    )
    with pytest.raises(lobzero.FormatError, match=r"depth.csv.*no events"):
        lobzero.import_market(path, format="binance-csv")


def test_an_empty_file_fails_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "day.gz"
    with gzip.open(empty, "wb"):
        pass
    out = tmp_path / "out.parquet"
    assert main(["data", "import", str(empty), "-o", str(out), "--format", "binance-stream"]) == 2
    assert "day.gz" in capsys.readouterr().err
    assert not out.exists()


def test_an_empty_frame_is_a_data_error() -> None:
    """Before: ``Market.from_polars`` of an empty frame gave a 0-event market."""
    empty = small_market().to_polars().head(0)
    with pytest.raises(lobzero.FormatError, match=r"frame.parquet: .*no events"):
        lobzero.Market.from_polars(empty, META, source="frame.parquet")


def test_an_empty_parquet_file_names_the_file(tmp_path: Path) -> None:
    market = small_market().slice_rows(0, 0)
    path = market.save(tmp_path / "nothing.parquet")
    with pytest.raises(lobzero.DataError, match=r"nothing.parquet.*no events"):
        lobzero.Market.load(path)


@pytest.mark.parametrize("metadata", [None, "TEST", {"symbol": "TEST"}])
def test_from_polars_without_an_instrument_says_what_is_needed(metadata: object) -> None:
    """Before: ``TypeError: 'NoneType' object is not iterable``."""
    df = small_market().to_polars()
    with pytest.raises(lobzero.ConfigError, match="symbol, venue, tick_size, lot_size"):
        lobzero.Market.from_polars(df, metadata)  # type: ignore[arg-type]


def test_from_polars_takes_a_dict_of_the_four_fields() -> None:
    df = small_market().to_polars()
    market = lobzero.Market.from_polars(
        df, {"symbol": "X", "venue": "v", "tick_size": "0.1", "lot_size": "0.001"}
    )
    assert market.instrument.symbol == "X" and len(market) == len(df)


def test_a_directory_says_it_is_a_directory(tmp_path: Path) -> None:
    """Before: "no such file", for a folder that is there."""
    folder = tmp_path / "day"
    folder.mkdir()
    with pytest.raises(lobzero.DataIOError, match="day: is a directory"):
        lobzero.import_market(folder)
    with pytest.raises(lobzero.DataIOError, match="day: is a directory"):
        lobzero.import_market([folder], format="tardis")


def test_the_core_refuses_a_directory_too(tmp_path: Path) -> None:
    """A caller of the Rust importer itself (no Python path check) gets the same answer."""
    with pytest.raises(lobzero.DataIOError, match="is a directory"):
        lobzero._core.import_files("binance-stream", [str(tmp_path)])


@pytest.mark.parametrize("fmt", [None, "binance-stream", "binance-csv", "tardis"])
def test_a_zip_archive_is_named_unsupported(tmp_path: Path, fmt: str | None) -> None:
    """Before: "not UTF-8 text" for a Bybit ``.zip`` download."""
    path = tmp_path / "BTCUSDT2024-08-08.csv.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "BTCUSDT2024-08-08.csv", "timestamp,symbol,side,size,price\n1,BTC,Buy,1,2\n"
        )
    with pytest.raises(
        lobzero.FormatError,
        match=r"csv.zip: .*zip archives are not supported: unzip it first; supported formats: "
        r".*binance-stream.*tardis.*parquet",
    ):
        lobzero.import_market(path, format=fmt)


@pytest.mark.parametrize("name", ["out.csv", "out", "out.parquet.tmp"])
def test_import_output_must_be_named_parquet(
    tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: rc 0 and a Parquet file under a .csv name."""
    src = small_market().save(tmp_path / "in.parquet")
    out = tmp_path / name
    assert main(["data", "import", str(src), "-o", str(out), "--format", "parquet"]) == 2
    said = capsys.readouterr().err
    assert "ConfigError" in said and "-o/--out" in said and ".parquet" in said
    assert not out.exists()
    assert main(["data", "import", str(src), "-o", str(tmp_path / "ok.PARQUET")]) == 0


def test_synth_output_must_be_named_parquet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``data synth -o out.csv`` wrote Parquet under a .csv name, rc 0."""
    out = tmp_path / "out.csv"
    assert main(["data", "synth", "--seconds", "10", "-o", str(out)]) == 2
    said = capsys.readouterr().err
    assert "-o/--out" in said and ".parquet" in said and not out.exists()
