"""The `lobzero` command, run in-process through `main(argv)`."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import pytest
from lobzero.cli import main


def test_import_then_info(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = shared_data / "binance-usdm-btcusdt" / "btcusdt_20240808.gz"
    out = tmp_path / "usdm.parquet"
    assert main(["data", "import", str(src), "-o", str(out), "--format", "binance-stream"]) == 0
    assert lobzero.Market.load(out).metadata.symbol == "BTCUSDT"
    capsys.readouterr()
    assert main(["data", "info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["venue"] == "binance-futures"
    assert info["spread_ticks"]["median"] == 1.0
    assert info["import"]["gaps"] == 0


def test_errors_are_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("123 {oops\n")
    assert main(["data", "info", str(bad), "--format", "binance-stream"]) == 2
    out = capsys.readouterr().out
    assert "ParseError" in out and "bad.txt:1" in out
    assert "Traceback" not in out


def test_help_lists_the_flows(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "data import" in out and "demo" in out
