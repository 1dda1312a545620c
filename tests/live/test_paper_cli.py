"""``lobzero paper`` on replay feeds of several symbols, its JSON log, ``paper report``, and
its refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lobzero.cli import main
from lobzero.data.synth import synth_market
from lobzero.live.cli_paper import parse_duration, parse_speed


def _files(tmp_path: Path) -> str:
    for i, s in enumerate(("AAA", "BBB")):
        synth_market(symbol=s, seconds=20, seed=i).save(tmp_path / f"{s}.parquet")
    return f"replay:{tmp_path / 'AAA.parquet'},{tmp_path / 'BBB.parquet'}"


def test_paper_json_log_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    feed, db = _files(tmp_path), tmp_path / "p.sqlite"
    code = main(["paper", "--agent", "rule:imbalance", "--symbols", "BBB,AAA", "--feed", feed,
                 "--db", str(db), "--json-log", "--duration", "15s"])  # fmt: skip
    assert code == 0
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    final = lines[-1]
    assert final["final"] and list(final["symbols"]) == ["BBB", "AAA"]
    start = lines[0]["clock_ns"] - 10**9
    assert final["clock_ns"] - start <= 16 * 10**9
    for s in final["symbols"].values():
        assert 100 <= s["step"] <= 150 and set(s["latency_ms"]) == {"p50", "p90", "p99", "max"}
    assert main(["paper", "report", "--db", str(db), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "AAA" in out and "BBB" in out
    report = json.loads((tmp_path / "r" / "p_report.json").read_text())
    assert report["symbols"]["AAA"]["decisions"] == final["symbols"]["AAA"]["step"]
    assert (tmp_path / "r" / "p_equity.png").stat().st_size > 1000


def test_paper_on_two_real_binance_recordings(
    tmp_path: Path, shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    btc = shared_data / "binance-usdm-btcusdt" / "btcusdt_20240808.gz"
    eth = shared_data / "binance-usdm-ethusdt" / "ethusdt_20240808.gz"
    db = tmp_path / "p.sqlite"
    code = main(["paper", "--agent", "rule:imbalance", "--symbols", "BTCUSDT,ETHUSDT",
                 "--feed", f"replay:{btc},{eth}", "--db", str(db), "--json-log",
                 "--duration", "20s", "--speed", "max"])  # fmt: skip
    assert code == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert all(s["step"] >= 190 for s in final["symbols"].values())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--feed", "ws:binance"], "binance:SYMBOL"),
        (["--symbols", "ZZZ"], "ZZZ not in the feed"),
        (["--speed", "fast"], "--speed"),
        (["--retrain-at", "02:00"], "--registry"),
        (["--risk", "missing-risk.toml"], "missing-risk.toml"),
    ],
)
def test_paper_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], message: str
) -> None:
    feed = _files(tmp_path)
    args = ["paper", "--agent", "rule:flat", "--feed", feed, "--db", str(tmp_path / "p.sqlite")]
    args = args + extra
    if extra[0] == "--feed":
        args = ["paper", "--agent", "rule:flat", *extra]
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_duration_and_speed_parsing() -> None:
    assert parse_duration("24h") == 86400.0 and parse_duration("90") == 90.0
    assert parse_duration("1.5m") == 90.0
    assert parse_speed("max") is None and parse_speed("10") == 10.0


def test_paper_retrains_on_the_accelerated_clock_and_promotes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The whole path of ``--retrain-at``: the registry gets the --agent as champion v1, the
    daily schedule fires 4 market minutes in, the imbalance rule's threshold is tuned on the
    training range, and the gate's decision is in the database and the registry."""
    from lobzero.data.synth import signal_market
    from lobzero.live import ReplayDatabase
    from lobzero.live.registry import ModelRegistry

    signal_market(seconds=300, seed=0).save(tmp_path / "SIG.parquet")
    db = tmp_path / "p.sqlite"
    sig = tmp_path / "SIG.parquet"
    code = main(["paper", "--agent", "rule:imbalance", "--feed", f"replay:{sig}",
                 "--db", str(db), "--registry", str(tmp_path / "reg"), "--retrain-at", "00:04",
                 "--taker-fee-bps", "0", "--retrain-train-s", "90", "--retrain-validation-s", "60",
                 "--json-log"])  # fmt: skip
    assert code == 0
    capsys.readouterr()
    registry = ModelRegistry(tmp_path / "reg")
    assert [v.version for v in registry.versions()] == ["v1", "v2"]
    d = ReplayDatabase(db)
    ((ts, kind, champion, challenger, promoted, reason),) = d.promotions()
    assert (kind, champion, challenger) == ("retrain", "v1", "v2")
    assert registry.champion == ("v2" if promoted else "v1"), reason
    versions = {r["model_version"] for r in d.decisions() if r["ts_ns"] > ts}
    assert versions == {registry.champion}
    d.close()


def test_paper_reads_a_universe_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lobzero.data.universe import Universe

    Universe([synth_market(symbol=s, seconds=5, seed=i) for i, s in enumerate("XY")]).save(
        tmp_path / "u"
    )
    code = main(["paper", "--agent", "rule:flat", "--feed", f"replay:{tmp_path / 'u'}",
                 "--db", str(tmp_path / "p.sqlite"), "--json-log"])  # fmt: skip
    assert code == 0
    final = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert list(final["symbols"]) == ["X", "Y"]


def test_a_trained_agent_trades_in_its_own_environment_without_adversary() -> None:
    from lobzero.envs import AdversaryConfig, EnvConfig
    from lobzero.live import PaperConfig
    from lobzero.live.cli_paper import paper_config_for

    class Trained:
        env_config = EnvConfig(
            step_ms=250.0, features=("spread", "imbalance"), end_ns=5,
            adversary=AdversaryConfig(intensity=0.2),
        )  # fmt: skip

    base = PaperConfig()
    config = paper_config_for(Trained(), base)
    assert config.env.step_ms == 250.0 and config.env.features == ("spread", "imbalance")
    assert config.env.end_ns is None and config.env.adversary == AdversaryConfig()
    assert config.decision_budget_ms == base.decision_budget_ms
    assert paper_config_for(None, base) == base


def test_paper_risk_guards_hold_the_position_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--risk`` puts the guards of a risk TOML between the agent and the broker: buy and hold
    wants the full long (0.01 here) and the limit of 0.005 is what every symbol holds. Planted
    defect it catches: a loop that ignores its risk filter ends at 0.01."""
    feed = _files(tmp_path)
    risk = tmp_path / "risk.toml"
    risk.write_text("[limits]\nmax_position = 0.005\n")
    positions = {}
    for name, extra in (("plain", []), ("guarded", ["--risk", str(risk)])):
        code = main(["paper", "--agent", "rule:buy_and_hold", "--feed", feed,
                     "--db", str(tmp_path / f"{name}.sqlite"), "--json-log",
                     "--duration", "10s", *extra])  # fmt: skip
        assert code == 0
        final = json.loads(capsys.readouterr().out.splitlines()[-1])
        positions[name] = {k: v["position"] for k, v in final["symbols"].items()}
    assert positions["plain"] == {"AAA": pytest.approx(0.01), "BBB": pytest.approx(0.01)}
    assert positions["guarded"] == {"AAA": pytest.approx(0.005), "BBB": pytest.approx(0.005)}
