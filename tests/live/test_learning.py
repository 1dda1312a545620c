"""Continuous learning: the gate's decisions, the daily schedule on the loop's clock, the
model registry (atomic promotion, rollback) and the retrain job with planted better and worse
challengers, in a paper run."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import pytest
from lobzero.baselines.rules import make_rule_agent
from lobzero.data.synth import signal_market
from lobzero.envs import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.live import PaperBroker, PaperConfig, PaperLoop, ReplayDatabase, ReplayFeed
from lobzero.live.gate import GateConfig, gate
from lobzero.live.registry import ModelRegistry
from lobzero.live.scheduler import DAY_NS, DailySchedule, RetrainJob

from ..lobzero_process import REPO


def test_the_gate_promotes_only_a_clearly_better_challenger() -> None:
    c = GateConfig(ratio=1.05, sharpe_floor=0.5, max_gap=0.5)
    assert gate(1.0, 1.06, 1.2, c).promoted
    assert not gate(1.0, 1.04, 1.1, c).promoted  # under 1.05 x the champion
    assert not gate(-2.0, 0.4, 0.5, c).promoted  # better, but under the floor
    assert not gate(1.0, 2.0, 5.0, c).promoted  # overfit: train 5 vs validation 2
    assert not gate(-1.0, -1.01, -1.0, GateConfig(sharpe_floor=-5)).promoted  # worse, negative
    assert gate(-1.0, -0.9, -0.9, GateConfig(sharpe_floor=-5)).promoted
    assert not gate(1.0, math.nan, 1.0, c).promoted
    assert gate(math.nan, 1.0, 1.2, c).promoted  # no champion score: floor and gap decide


def test_the_daily_schedule_runs_once_a_day_on_the_loop_clock() -> None:
    runs: list[int] = []
    schedule = DailySchedule("02:00", lambda t, loop: runs.append(t))
    day0 = 1_704_067_200 * 10**9  # 2024-01-01 00:00 UTC
    two = 2 * 3600 * 10**9
    # an accelerated clock: a tick every 10 market minutes over three days
    for t in range(day0, day0 + 3 * DAY_NS, 600 * 10**9):
        schedule.tick(t)
    assert runs == [day0 + k * DAY_NS + two for k in range(3)]
    with pytest.raises(ConfigError):
        DailySchedule("25:00", lambda t, loop: None)


def test_promotion_is_recorded_and_reversible(tmp_path: Path) -> None:
    registry = ModelRegistry(tmp_path / "reg")
    names = ["imbalance_1", "trade_flow"]
    v1 = registry.register(make_rule_agent("flat", names))
    registry.promote(v1)
    v2 = registry.register(make_rule_agent("imbalance", names, threshold=0.2), {"s": 1.0}, v1)
    registry.promote(v2)
    assert registry.champion == v2 and registry.load().threshold == 0.2
    # a crash between writing the temporary file and the rename leaves the old registry
    (registry.file.with_suffix(".json.tmp")).write_text("{half")
    assert ModelRegistry(tmp_path / "reg").champion == v2
    assert registry.rollback() == v1 and registry.champion == v1
    with pytest.raises(ConfigError, match="no earlier champion"):
        registry.rollback()


def _run_with_retrain(tmp_path: Path, champion: str, challenger: str):
    market = signal_market(seconds=300, seed=0)
    markets = {"SIG": market}
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, latency_ms=25.0, taker_fee_bps=0.0)
    cfg = PaperConfig(env=env)
    broker = PaperBroker(markets, env)
    names = broker.feature_names()
    params = {"imbalance": {"threshold": 0.3}, "random": {"seed": 1}}
    registry = ModelRegistry(tmp_path / "reg")
    first = registry.register(make_rule_agent(champion, names, **params[champion]))
    registry.promote(first)
    planted = make_rule_agent(challenger, names, **params[challenger])
    db = ReplayDatabase(tmp_path / "p.sqlite")
    job = RetrainJob(
        registry, markets, env, lambda champ, m, a, b: planted, db,
        train_s=90.0, validation_s=60.0, gate_config=GateConfig(),
    )  # fmt: skip
    # the market starts at 2024-01-01 00:00 UTC: retrain 4 market minutes in
    schedule = DailySchedule("00:04", job)
    loop = PaperLoop(
        ReplayFeed(markets), broker, registry.load(first), db, cfg, model_version=first,
        scheduler=schedule,
    )  # fmt: skip
    asyncio.run(loop.run())
    promotions, decisions = db.promotions(), db.decisions("SIG")
    db.close()
    return registry, schedule, promotions, decisions


def test_a_planted_better_challenger_is_promoted_and_decides(tmp_path: Path) -> None:
    registry, schedule, promotions, decisions = _run_with_retrain(tmp_path, "random", "imbalance")
    assert len(schedule.runs) == 1
    ((ts, kind, champ, chall, promoted, reason),) = promotions
    assert (kind, champ, chall, promoted) == ("retrain", "v1", "v2", 1), reason
    assert registry.champion == "v2"
    versions = [d["model_version"] for d in decisions]
    assert set(versions) == {"v1", "v2"} and versions.index("v2") > 0
    assert all(d["ts_ns"] >= ts for d in decisions if d["model_version"] == "v2")


def test_a_planted_worse_challenger_is_kept_out(tmp_path: Path) -> None:
    registry, _, promotions, decisions = _run_with_retrain(tmp_path, "imbalance", "random")
    ((_, _, champ, chall, promoted, reason),) = promotions
    assert (champ, chall, promoted) == ("v1", "v2", 0) and "validation Sharpe" in reason
    assert registry.champion == "v1" and {d["model_version"] for d in decisions} == {"v1"}
    assert [v.version for v in registry.versions()] == ["v1", "v2"]  # kept, not promoted


def test_paper_rollback_command(tmp_path: Path) -> None:
    import subprocess
    import sys

    registry, *_ = _run_with_retrain(tmp_path, "random", "imbalance")
    done = subprocess.run(
        [sys.executable, "-m", "lobzero", "paper", "rollback", "--registry",
         str(tmp_path / "reg"), "--db", str(tmp_path / "p.sqlite")],
        env={"PYTHONPATH": str(REPO / "python")}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "champion: v1 (was v2)" in done.stdout
    assert registry.champion == "v1"
    db = ReplayDatabase(tmp_path / "p.sqlite")
    assert [p[1] for p in db.promotions()] == ["retrain", "rollback"]
    db.close()


@pytest.mark.slow
def test_a_ppo_champion_gets_a_challenger_trained_afresh(tmp_path: Path) -> None:
    """The retrain job with the CLI's builder on a PPO champion: a PPO challenger trained with
    the champion's configuration on the training range, scored, registered, the decision
    logged (whatever the gate says of so short a training)."""
    from lobzero.baselines.sb3 import PpoConfig, Sb3Agent, train_sb3
    from lobzero.live.scheduler import retrain_builder

    market = signal_market(seconds=240, seed=0)
    markets = {"SIG": market}
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, episode_steps=100)
    tiny = PpoConfig(n_steps=32, batch_size=64, n_epochs=1, num_envs=2, checkpoints=1)
    champion = train_sb3("ppo", market, env, tmp_path / "champ", seed=0, total_steps=64,
                         config=tiny, progress=False)  # fmt: skip
    registry = ModelRegistry(tmp_path / "reg")
    registry.promote(registry.register(champion))
    db = ReplayDatabase(tmp_path / "p.sqlite")
    build = retrain_builder(env, 64, tmp_path / "work")
    job = RetrainJob(registry, markets, champion.env_config, build, db, train_s=120.0,
                     validation_s=60.0)  # fmt: skip
    start = int(market.start_ns)
    promoted = job(start + 230 * 10**9)
    (row,) = db.promotions()
    db.close()
    assert row[1:4] == ("retrain", "v1", "v2") and row[4] == int(promoted)
    challenger = registry.load("v2")
    assert isinstance(challenger, Sb3Agent) and challenger.config == champion.config
    assert set(registry.get("v2").scores) == {"train_sharpe", "validation_sharpe"}


@pytest.mark.slow
def test_a_muzero_champion_gets_a_challenger_trained_afresh(tmp_path: Path) -> None:
    """The CLI's builder on a MuZero champion: a MuZero challenger trained with the champion's
    configuration (its budget the retrain's) on the training range, scored, registered, the
    decision logged. Before this builder a MuZero champion was a ConfigError."""
    from lobzero.live.scheduler import retrain_builder
    from lobzero.muzero import MuZeroAgent, MuZeroConfig, train_muzero

    market = signal_market(seconds=240, seed=0)
    markets = {"SIG": market}
    # a decision every 500 ms: the three scorings search on a few hundred decisions
    env = EnvConfig(max_position=0.01, initial_cash=10_000.0, episode_steps=50, step_ms=500.0)
    tiny = MuZeroConfig(
        total_env_steps=64, num_envs=2, num_simulations=2, latent_dim=8, hidden=16, blocks=1,
        support_size=5, td_steps=3, unroll_steps=2, batch_size=8, replay_capacity=200,
        warmup_steps=16, replay_ratio=0.25, log_interval=32, checkpoint_interval=32,
        target_update_interval=5, reanalyse_fraction=0.0,
    )  # fmt: skip
    champion = train_muzero(tiny, tmp_path / "champ", market=market, env_config=env,
                            progress=False)  # fmt: skip
    registry = ModelRegistry(tmp_path / "reg")
    registry.promote(registry.register(champion))
    db = ReplayDatabase(tmp_path / "p.sqlite")
    build = retrain_builder(env, 48, tmp_path / "work")
    job = RetrainJob(registry, markets, env, build, db, train_s=120.0, validation_s=60.0)
    promoted = job(int(market.start_ns) + 230 * 10**9)
    (row,) = db.promotions()
    db.close()
    assert row[1:4] == ("retrain", "v1", "v2") and row[4] == int(promoted) and row[5]
    challenger = registry.load("v2")
    assert isinstance(challenger, MuZeroAgent)
    assert challenger.config == tiny.replace(total_env_steps=48, warmup_steps=16)
    assert (tmp_path / "work").is_dir()


def test_a_crash_between_the_database_and_the_registry_is_finished_on_restart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The retrain job logs its decision in the database, then promotes in the registry; a crash
    between the two (planted: promote raises) leaves the registry behind, and reconcile()
    brings it to the database's decision, once. A rollback after it is not undone."""
    from lobzero.live.scheduler import reconcile

    promote = ModelRegistry.promote

    def crash(self: ModelRegistry, version: str) -> None:
        if version == "v2":
            raise RuntimeError("killed")
        promote(self, version)

    with monkeypatch.context() as m:
        m.setattr(ModelRegistry, "promote", crash)
        with pytest.raises(RuntimeError, match="killed"):
            _run_with_retrain(tmp_path, "random", "imbalance")
    registry = ModelRegistry(tmp_path / "reg")
    db = ReplayDatabase(tmp_path / "p.sqlite")
    assert registry.versions()[-1].version == "v2" and registry.champions() == ["v1"]
    assert db.promotions()[-1][3:5] == ("v2", 1)
    assert reconcile(registry, db) == "v2" and registry.champion == "v2"
    assert reconcile(registry, db) is None
    db.write([("promotions", ("ts_ns", "kind", "champion", "challenger", "promoted", "reason"),
               (1, "rollback", "v2", "v1", 1, "test"))])  # fmt: skip
    assert reconcile(registry, db) == "v1" and registry.champions() == ["v1"]
    db.close()


def test_a_retrain_on_too_short_a_market_is_refused_with_its_reason(tmp_path: Path) -> None:
    """Markets that begin after the training range's start (a run younger than train +
    validation) give no challenger: the builder is not called, nothing is registered, and the
    refusal and its reason are in the database. Before, the challenger trained on the part of
    the range there was, silently."""
    market = signal_market(seconds=60, seed=0)
    registry = ModelRegistry(tmp_path / "reg")
    names = ["imbalance_1", "trade_flow"]
    registry.promote(registry.register(make_rule_agent("imbalance", names, threshold=0.3)))
    db = ReplayDatabase(tmp_path / "p.sqlite")

    def build(*_: object) -> None:
        raise AssertionError("no challenger is built on too short a market")

    job = RetrainJob(registry, {"SIG": market}, EnvConfig(), build, db, train_s=90.0,
                     validation_s=30.0)  # fmt: skip
    assert job(int(market.start_ns) + 50 * 10**9) is False
    ((_, kind, champion, challenger, promoted, reason),) = db.promotions()
    db.close()
    assert (kind, champion, challenger, promoted) == ("retrain", "v1", None, 0)
    assert reason.startswith("not enough market seen: SIG begin after the training range")
    assert [v.version for v in registry.versions()] == ["v1"]
