"""`compare --risk`: every agent also tested through the guards, as "<agent>+risk", in the
table, metrics.json and the HTML report; on one market and on a universe."""

from __future__ import annotations

import json
from pathlib import Path

import lobzero
import numpy as np
import pytest
from lobzero.cli import main
from lobzero.evaluation.compare import CompareConfig, compare
from lobzero.risk import CircuitBreakerConfig, LimitsConfig, RiskConfig

TINY = CompareConfig(
    env=lobzero.EnvConfig(max_position=0.1, episode_steps=60),
    validation_episodes=1,
    test_episodes=2,
    bootstrap_resamples=50,
)
RISK = RiskConfig(
    limits=LimitsConfig(max_position=0.05),
    circuit_breaker=CircuitBreakerConfig(max_drawdown=0.5),
)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return lobzero.synth_market(seconds=120, seed=4, signal_strength=1.0)


def test_compare_reports_each_agent_with_and_without_the_guards(
    market: lobzero.Market, tmp_path: Path
) -> None:
    result = compare(market, "buy_and_hold,random", 1, 0, tmp_path, config=TINY, risk=RISK)
    assert result.agents == ["buy_and_hold", "buy_and_hold+risk", "random", "random+risk"]
    held = {
        a: max(float(np.abs(e.path.position).max()) for r in result.runs[a] for e in r.episodes)
        for a in result.agents
    }
    assert held["buy_and_hold"] == pytest.approx(0.1)
    assert held["buy_and_hold+risk"] == pytest.approx(0.05)
    assert held["random+risk"] <= 0.05 + 1e-12 < held["random"]
    # the same episodes: same starts, half the position, about half the move
    base, guarded = result.runs["buy_and_hold"][0], result.runs["buy_and_hold+risk"][0]
    assert [e.start_ns for e in base.episodes] == [e.start_ns for e in guarded.episodes]
    assert guarded.risk_interventions > 0 and base.risk_interventions == 0
    doc = json.loads((tmp_path / "metrics.json").read_text())
    assert list(doc["agents"]) == result.agents
    assert doc["risk"]["limits"]["max_position"] == 0.05
    assert doc["agents"]["random+risk"]["runs"][0]["risk_interventions"] > 0
    page = (tmp_path / "index.html").read_text()
    assert "buy_and_hold+risk" in page and "[circuit_breaker]" in page
    with open(tmp_path / "metrics.csv") as fh:
        assert "random+risk" in fh.read()


def test_without_risk_nothing_changes(market: lobzero.Market, tmp_path: Path) -> None:
    result = compare(market, "flat", 1, 0, tmp_path, config=TINY)
    assert result.agents == ["flat"] and result.risk is None
    assert json.loads((tmp_path / "metrics.json").read_text())["risk"] is None


def test_compare_on_a_universe_reports_per_symbol_and_pooled(tmp_path: Path) -> None:
    universe = lobzero.data.universe.Universe(
        {
            "AAA": lobzero.synth_market(seconds=120, seed=1, symbol="AAA"),
            "BBB": lobzero.synth_market(seconds=120, seed=2, symbol="BBB"),
        }
    )
    result = compare(universe, "buy_and_hold", 1, 0, tmp_path, config=TINY, risk=RISK)
    assert set(result.by_symbol["AAA"]) == {"buy_and_hold", "buy_and_hold+risk"}
    assert set(result.summary) == {"buy_and_hold", "buy_and_hold+risk"}
    assert {r.symbol for r in result.runs["buy_and_hold+risk"]} == {"AAA", "BBB"}


def test_the_cli_takes_a_risk_file(tmp_path: Path) -> None:
    risk = RISK.save(tmp_path / "risk.toml")
    out = tmp_path / "out"
    args = ["compare", "--agents", "buy_and_hold", "--seeds", "1", "--steps", "0"]
    args += ["--synth-seconds", "120", "--episode-steps", "60", "--max-position", "0.1"]
    args += ["--test-episodes", "1", "--validation-episodes", "1", "--risk", str(risk)]
    assert main([*args, "--out", str(out)]) == 0
    doc = json.loads((out / "metrics.json").read_text())
    assert list(doc["agents"]) == ["buy_and_hold", "buy_and_hold+risk"]
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits]\nmax_positon = 1.0\n")
    assert main([*args[:-1], str(bad), "--out", str(out)]) == 2
