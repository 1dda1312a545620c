"""`compare` on a universe: folds on the common clock (no symbol's test range reaches another's
training or validation range), metrics per symbol and pooled, in the table, CSV and JSON."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.data.universe import Universe
from lobzero.evaluation.compare import CompareConfig, CompareResult, compare
from lobzero.evaluation.walkforward import Split, walk_forward_splits

S = 1_000_000_000
RULES = ["imbalance", "flat", "buy_and_hold"]
SMALL = CompareConfig(
    env=lobzero.EnvConfig(max_position=0.1, episode_steps=100),
    validation_episodes=2,
    test_episodes=3,
    bootstrap_resamples=200,
)


@pytest.fixture(scope="module")
def universe() -> Universe:
    """Two synthetic symbols; ETHSYN starts 40 s after BTCSYN, so their own spans differ."""
    btc = lobzero.synth_market(seconds=200, seed=5, symbol="BTCSYN", signal_strength=1.0)
    eth = lobzero.synth_market(
        seconds=240, seed=6, symbol="ETHSYN", start_price=3000.0, tick_size="0.01"
    )
    return Universe([btc, eth.slice_time(int(eth.start_ns or 0) + 40 * S, None)])


@pytest.fixture(scope="module")
def run(universe: Universe, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("compare_universe")
    return compare(universe, RULES, 2, 0, out, config=SMALL), out


def leaks(splits_by_symbol: dict[str, list[Split]]) -> bool:
    """Whether some symbol's test range starts before another symbol's training or
    validation range of the same fold ends."""
    folds = zip(*splits_by_symbol.values(), strict=True)
    return any(
        max(s.validation.end_ns for s in fold) > min(s.test.start_ns for s in fold)
        for fold in folds
    )


def test_folds_are_cut_on_the_common_clock(run, universe: Universe) -> None:
    """Every symbol tests in the same test range, after every symbol's train and validation.
    Planted defect: splitting each symbol on its own span (as a single-market compare does)
    leaks, and the check says so."""
    result, _ = run
    assert result.splits == walk_forward_splits(universe.common_span(), SMALL.walkforward)
    assert not leaks({k: result.splits for k in universe})
    own = {k: walk_forward_splits(m, SMALL.walkforward) for k, m in universe.items()}
    assert leaks(own)
    (split,) = result.splits
    for runs in result.runs.values():
        assert sorted((r.symbol, r.seed) for r in runs) == [
            (sym, seed) for sym in ("BTCSYN", "ETHSYN") for seed in (0, 1)
        ]
        for r in runs:
            for ep in r.episodes:
                assert split.test.start_ns <= ep.start_ns and ep.end_ns < split.test.end_ns


def test_metrics_per_symbol_and_pooled(run) -> None:
    result, _ = run
    assert result.symbols == ["BTCSYN", "ETHSYN"]
    for agent in RULES:
        per = [result.by_symbol[sym][agent] for sym in result.symbols]
        assert result.summary[agent]["episodes"] == sum(p["episodes"] for p in per) == 12
        returns = [e.metrics.total_return for r in result.runs[agent] for e in r.episodes]
        assert result.summary[agent]["total_return"] == pytest.approx(np.mean(returns))
        mine = [
            e.metrics.total_return
            for r in result.runs[agent]
            if r.symbol == "ETHSYN"
            for e in r.episodes
        ]
        assert result.by_symbol["ETHSYN"][agent]["total_return"] == pytest.approx(np.mean(mine))
    assert result.summary["flat"]["total_return"] == 0.0
    # two different markets: buy-and-hold does not earn the same on both
    bh = [result.by_symbol[s]["buy_and_hold"]["total_return"] for s in result.symbols]
    assert bh[0] != bh[1]


def test_files_carry_a_symbol_column_and_a_pooled_row(run) -> None:
    _, out = run
    rows = list(csv.DictReader((out / "metrics.csv").open()))
    assert [(r["symbol"], r["agent"]) for r in rows] == [
        (sym, a) for sym in ("BTCSYN", "ETHSYN", "pooled") for a in RULES
    ]
    pooled = [r for r in rows if r["symbol"] == "pooled"]
    assert all(r["targets_judged"] for r in pooled)
    assert all(r["targets_judged"] == "" for r in rows if r["symbol"] != "pooled")
    doc = json.loads((out / "metrics.json").read_text())
    assert doc["pooled_over"] == ["BTCSYN", "ETHSYN"]
    assert set(doc["symbols"]) == {"BTCSYN", "ETHSYN"}
    assert doc["symbols"]["BTCSYN"]["flat"]["summary"]["episodes"] == 6
    assert doc["agents"]["flat"]["summary"]["episodes"] == 12
    assert {r["symbol"] for r in doc["agents"]["imbalance"]["runs"]} == {"BTCSYN", "ETHSYN"}
    page = (out / "index.html").read_text()
    assert "<th>symbol</th><th>agent</th>" in page and "<td>pooled</td>" in page


def test_cli_compare_on_a_universe_folder(
    universe: Universe, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    folder = universe.save(tmp_path / "u")
    config = SMALL.replace(test_episodes=2).save(tmp_path / "c.toml")
    args = ["compare", "--agents", "imbalance,flat", "--seeds", "1", "--budget-steps", "0"]
    args += ["--data", str(folder), "--config", str(config), "--out", str(tmp_path / "r")]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "pooled over 2 symbols" in text
    parts = text.count("test metrics on")
    assert text.count("BTCSYN │") >= parts and text.count("pooled") >= 2
    # a command that trades one market refuses data of two symbols
    bad = ["robustness", "--agent", "rule:flat", "--data", str(folder), "-o", str(tmp_path / "x")]
    assert main(bad) == 2
    assert "symbols" in capsys.readouterr().err


def test_real_spot_pair(shared_data: Path, tmp_path: Path) -> None:
    """BTC and ETH spot of one session with the rule agents, per symbol and pooled."""
    files = sorted(shared_data.glob("binance-spot-*usdt/*.gz"))
    universe = lobzero.import_market(files)
    assert isinstance(universe, Universe) and universe.symbols == ["BTCUSDT", "ETHUSDT"]
    config = SMALL.replace(env=SMALL.env.replace(max_position=0.01), test_episodes=2)
    result: CompareResult = compare(universe, RULES, 1, 0, tmp_path, config=config, report=False)
    assert set(result.by_symbol) == {"BTCUSDT", "ETHUSDT"}
    assert result.summary["flat"]["episodes"] == 4
    assert result.by_symbol["ETHUSDT"]["flat"]["total_return"] == 0.0
