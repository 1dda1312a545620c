"""``lobzero paper``: the paper-trading loop on a replay feed, and ``paper report`` /
``paper rollback``.

    lobzero paper --agent DIR|rule:NAME --symbols BTCUSDT,ETHUSDT --feed replay:PATH[,PATH]
                  [--speed 1|10|max] --db paper.sqlite [--risk risk.toml] [--duration 24h]
                  [--retrain-at 02:00 --registry DIR] [--shadow DIR|rule:NAME] [--json-log]
    lobzero paper --agent ... --feed binance:BTCUSDT,ETHUSDT [--binance-market usdm|spot]
                  [--ws-url ws://...] [--rest-url http://...] [--record-dir DIR] --db ...
                  [--retrain-at 02:00 --registry DIR] (retrains on the feed's recording)
    lobzero paper report --db paper.sqlite [--out DIR]
    lobzero paper ab --db paper.sqlite [--feed replay:PATH[,PATH]] [--out DIR]
    lobzero paper rollback --registry DIR [--db paper.sqlite]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from pathlib import Path
from typing import Any

from lobzero.cli_flags import FlagGroup, load_over
from lobzero.exceptions import ConfigError

DURATION_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> float:
    """``"24h"``, ``"30m"``, ``"90s"``, ``"2d"`` or plain seconds, as seconds."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([smhd]?)\s*", text)
    if not m:
        raise ConfigError(f"--duration {text!r}: use a number with s, m, h or d (24h)")
    return float(m.group(1)) * DURATION_UNITS.get(m.group(2) or "s", 1.0)


def parse_speed(text: str) -> float | None:
    """``"max"`` (None: as fast as possible) or a positive factor of real time."""
    if text == "max":
        return None
    try:
        speed = float(text)
    except ValueError:
        speed = -1.0
    if not speed > 0:
        raise ConfigError(f"--speed {text!r}: use 1, 10, any factor > 0, or max")
    return speed


def load_feed_markets(feed: str, symbols: list[str] | None) -> dict[str, Any]:
    """The markets of ``replay:PATH[,PATH]`` (files of any importable format, or a universe
    folder) keyed by symbol, restricted to ``symbols`` (in that order) when given."""
    from lobzero.data.importers import import_market
    from lobzero.data.market import Market
    from lobzero.data.universe import Universe

    if not feed.startswith("replay:"):
        raise ConfigError(f"--feed {feed!r}: use replay:PATH[,PATH] or binance:SYMBOL[,SYMBOL]")
    paths = [p for p in feed.removeprefix("replay:").split(",") if p]
    if not paths:
        raise ConfigError("--feed replay: needs at least one path")
    loaded = [import_market(p) for p in paths]
    markets: dict[str, Market] = {}
    for item in loaded:
        items = item.items() if isinstance(item, Universe) else [(item.instrument.symbol, item)]
        for key, market in items:
            if key in markets:
                raise ConfigError(f"--feed: two markets of symbol {key}")
            markets[key] = market
    if symbols:
        missing = [s for s in symbols if s not in markets]
        if missing:
            raise ConfigError(
                f"--symbols {', '.join(missing)} not in the feed (it has {', '.join(markets)})"
            )
        markets = {s: markets[s] for s in symbols}
    return markets


def build_paper(p: argparse.ArgumentParser) -> None:
    from lobzero.live.orchestrator import PaperConfig

    p.add_argument(
        "action", nargs="?", default="run", choices=("run", "report", "rollback", "ab"),
        help="run the loop (default), report on a database, roll the champion back, or "
        "compare the champion with its shadow (ab)",
    )  # fmt: skip
    p.add_argument("--agent", help="rule:NAME or an agent folder (the champion of --registry wins)")
    p.add_argument("--symbols", help="comma-separated symbols of the feed to trade (default: all)")
    p.add_argument(
        "--feed",
        help="replay:PATH[,PATH] (market files or a universe folder), or binance:SYM[,SYM] "
        "(Binance's websocket streams, traded live on paper)",
    )
    p.add_argument(
        "--binance-market", default="usdm", choices=("usdm", "spot"),
        help="binance feed: USD-M futures or spot",
    )  # fmt: skip
    p.add_argument("--ws-url", default=None, help="binance feed: websocket base (ws://, wss://)")
    p.add_argument("--rest-url", default=None, help="binance feed: REST base (snapshots, steps)")
    p.add_argument(
        "--record-dir", type=Path, default=None,
        help="binance feed: where the received messages are recorded, one file a symbol "
        "(default: <db>_recording beside --db; a restart reads it back)",
    )  # fmt: skip
    p.add_argument("--speed", default="max", help="1 (real time), 10, any factor, or max")
    p.add_argument("--db", type=Path, default=Path("paper.sqlite"), help="replay database (SQLite)")
    p.add_argument("--risk", type=Path, default=None, help="risk TOML of lobzero.risk")
    p.add_argument("--duration", default=None, help="market time to run (24h, 30m, 90s)")
    p.add_argument("--retrain-at", default=None, help="daily retrain time, UTC HH:MM[:SS]")
    p.add_argument("--registry", type=Path, default=None, help="model registry folder")
    p.add_argument(
        "--shadow", default=None,
        help="a challenger (rule:NAME or agent folder) deciding beside the champion, untraded",
    )  # fmt: skip
    from lobzero.live.faults import FAULTS_GRAMMAR

    p.add_argument(
        "--faults", default=None, metavar="SPEC",
        help=f"inject faults into a replay run (lobzero.live.faults): {FAULTS_GRAMMAR}",
    )  # fmt: skip
    p.add_argument("--fault-seed", type=int, default=0, help="seed of the injected faults")
    p.add_argument("--json-log", action="store_true", help="JSON lines on stdout, no live view")
    p.add_argument("--out", type=Path, default=None, help="report: folder for JSON and PNG")
    p.add_argument("--config", metavar="TOML", type=Path, default=None, help="PaperConfig TOML")
    group = FlagGroup(
        p,
        PaperConfig(),
        "paper loop (PaperConfig; the environment and gate over --config)",
        prefixes={"env": "", "gate": "gate-"},
        skip={"env.seed": "the environment's seed of the config", "duration_s": "--duration"},
    )
    p.set_defaults(func=run_paper_command, groups={"paper": group})


def run_paper_command(args: argparse.Namespace) -> int:
    if args.action == "report":
        return _report(args)
    if args.action == "rollback":
        return _rollback(args)
    if args.action == "ab":
        return _ab(args)
    return _run(args)


def paper_config_for(agent: Any, config: Any) -> Any:
    """``config`` with a trained agent's own environment (clock, features, action mode, sizes,
    costs, as it learned them; no adversary: paper trades the market as it is) in place of
    ``[env]``; unchanged for a rule agent (None: not loaded yet) or an agent without one. The
    flags typed apply after this."""
    from lobzero.agents import agent_env_config
    from lobzero.envs import AdversaryConfig

    trained = agent_env_config(agent) if agent is not None else None
    if trained is None:
        return config
    env = trained.replace(start_ns=None, end_ns=None, adversary=AdversaryConfig().to_dict())
    return config.replace(env=env)


def _risk_filter(path: Path | None, broker: Any, env_config: Any) -> Any:
    """The guards of ``--risk`` on the broker's symbols, or None."""
    if path is None:
        return None
    from lobzero.live.risk_seam import risk_filter_from_toml

    lots = getattr(broker, "lots", None) or {
        symbol: env.market.instrument.lot for symbol, env in broker.envs.items()
    }
    return risk_filter_from_toml(path, env_config, lots)


def binance_feed_and_broker(args: argparse.Namespace, env_config: Any) -> tuple[Any, Any]:
    """The Binance feed of ``--feed binance:SYM[,SYM]`` and the live broker over its markets.
    The tick and lot sizes come from the exchange's exchangeInfo; a restart (the database
    holds a run) reads the recording back into the markets first, so the stored decisions
    replay on the events they were made on."""
    from lobzero.live.binance import BinanceFeed
    from lobzero.live.live_market import LiveMarket, LivePaperBroker

    symbols = [s.upper() for s in args.feed.removeprefix("binance:").split(",") if s]
    if not symbols:
        raise ConfigError("--feed binance: needs at least one symbol (binance:BTCUSDT,ETHUSDT)")
    if args.symbols and [s.upper() for s in args.symbols.split(",") if s] != symbols:
        raise ConfigError("--symbols: a binance feed trades the symbols of --feed binance:...")
    record_dir = args.record_dir or args.db.with_name(f"{args.db.stem}_recording")
    probe = BinanceFeed(
        symbols, record_dir, market=args.binance_market, ws_url=args.ws_url,
        rest_url=args.rest_url,
    )  # fmt: skip
    steps = asyncio.run(probe.exchange_steps())
    live = {s: LiveMarket(s, *steps[s]) for s in symbols}
    if args.db.exists():
        from lobzero.live.database import ReplayDatabase
        from lobzero.live.live_market import resume_markets

        db = ReplayDatabase(args.db)
        try:
            resume_markets(live, {s: probe.record_path(s) for s in symbols}, db)
        finally:
            db.close()
    feed = BinanceFeed(
        symbols, record_dir, market=args.binance_market, ws_url=args.ws_url,
        rest_url=args.rest_url, live=live,
    )  # fmt: skip
    return feed, LivePaperBroker(env_config=env_config, live=live)


def _run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lobzero.evaluation.report import load_agent_spec
    from lobzero.live.broker import PaperBroker
    from lobzero.live.database import ReplayDatabase
    from lobzero.live.feeds import ReplayFeed
    from lobzero.live.orchestrator import PaperConfig, PaperLoop
    from lobzero.live.view import LiveView

    if not args.feed:
        raise ConfigError("paper needs --feed replay:PATH[,PATH] or binance:SYMBOL[,SYMBOL]")
    registry = None
    version = "v0"
    if args.registry is not None:
        from lobzero.live.registry import ModelRegistry

        registry = ModelRegistry(args.registry)
        if args.db.exists():
            from lobzero.live.scheduler import reconcile

            reconcile_db = ReplayDatabase(args.db)
            try:
                reconcile(registry, reconcile_db)
            finally:
                reconcile_db.close()
    agent: Any = None
    if registry is not None and registry.champion is not None:
        version = registry.champion
        agent = registry.load(version)
    elif not args.agent:
        raise ConfigError("paper needs --agent (or a --registry with a champion)")
    elif not args.agent.startswith("rule:"):
        from lobzero.agents import load_agent

        # a saved agent reads its own frame layout; a trained one brings its environment
        agent = load_agent(args.agent)
    config = PaperConfig()
    if args.config is not None:
        config = load_over(config, args.config)
    config = args.groups["paper"].apply(paper_config_for(agent, config), args)
    if args.duration is not None:
        config = config.replace(duration_s=parse_duration(args.duration))
    feed: Any
    if args.faults is not None:
        from lobzero.live.faults import parse_faults

        if args.feed.startswith("binance:"):
            raise ConfigError("--faults wraps replay feeds (a live feed's faults are real ones)")
        # the grammar before any file is read (the units of the rates need the feed: below)
        parse_faults(args.faults, 1e-9, 1e-9)
    markets: Any
    if args.feed.startswith("binance:"):
        from lobzero.live.binance import recording_source

        feed, broker = binance_feed_and_broker(args, config.env)
        # the retrain job's markets: what the feed recorded, up to the retrain's clock
        markets = recording_source(feed)
    else:
        symbols = [s for s in (args.symbols or "").split(",") if s] or None
        markets = load_feed_markets(args.feed, symbols)
        broker = PaperBroker(markets, config.env)
        feed = ReplayFeed(markets, speed=parse_speed(args.speed))
    if agent is None:
        agent = load_agent_spec(args.agent, broker.feature_names())
        if registry is not None:
            version = registry.register(agent, {}, parent=None)
            registry.promote(version)
    if getattr(agent, "action_mode", config.env.action_mode) != config.env.action_mode:
        raise ConfigError(
            f"the agent acts in action mode {agent.action_mode!r}, the environment is "
            f"{config.env.action_mode!r} (set --action-mode)"
        )
    db = ReplayDatabase(args.db)
    scheduler = None
    if args.retrain_at is not None:
        if registry is None:
            raise ConfigError("--retrain-at needs --registry (where challengers are kept)")
        from lobzero.live.scheduler import DailySchedule, RetrainJob, retrain_builder

        build = retrain_builder(config.env, config.retrain_steps, registry.root / "work")
        job = RetrainJob(
            registry, markets, config.env, build, db,
            config.retrain_train_s, config.retrain_validation_s, config.gate,
        )  # fmt: skip
        scheduler = DailySchedule(args.retrain_at, job)
    view = LiveView(console=Console(stderr=True), json_out=sys.stdout if args.json_log else None)
    injected = None
    if args.faults is not None:
        from lobzero.live.faults import parse_faults, with_faults

        n = len(feed.symbols)
        faults = parse_faults(args.faults, feed.slice_ns / 1e9 / n, broker.step_ns / 1e9 / n)
        feed, broker, agent = injected = with_faults(feed, broker, agent, faults, args.fault_seed)
    risk = _risk_filter(args.risk, broker, config.env)
    shadow = None
    if args.shadow is not None:
        shadow = load_agent_spec(args.shadow, broker.feature_names())
        if getattr(shadow, "action_mode", config.env.action_mode) != config.env.action_mode:
            raise ConfigError(
                f"--shadow acts in action mode {shadow.action_mode!r}, the environment is "
                f"{config.env.action_mode!r}"
            )
    loop = PaperLoop(
        feed, broker, agent, db, config, model_version=version, risk=risk,
        on_update=view, scheduler=scheduler, shadow=shadow,
        shadow_version=args.shadow or "shadow",
    )  # fmt: skip
    began = time.perf_counter()
    try:
        with view:
            asyncio.run(loop.run())
            view.final(loop)
    finally:
        db.close()
    elapsed = time.perf_counter() - began
    decisions = sum(s.step for s in loop.states.values()) - loop.resumed_steps
    line = (
        f"paper: {decisions:,} decisions in {elapsed:.1f} s ({loop.resumed_steps:,} resumed "
        f"from {args.db}); database {args.db}"
    )
    print(line, file=sys.stderr)
    if injected is not None:
        counts, (_, faulty_broker, faulty_agent) = injected[0].counts, injected
        print(
            f"faults injected: {counts.dropped} gaps, {counts.duplicated} duplicates, "
            f"{counts.reordered} reordered, {counts.stalls} stalls, {counts.disconnects} "
            f"disconnects, {faulty_broker.crashes} broker crashes, {faulty_agent.crashes} agent "
            f"crashes; the loop counted {json.dumps(loop.counters)}",
            file=sys.stderr,
        )
    return 0


def _report(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lobzero.live.database import ReplayDatabase
    from lobzero.live.report import plot_equity, summarize
    from lobzero.tables import print_table

    if not args.db.exists():
        raise ConfigError(f"--db {args.db}: no such database")
    db = ReplayDatabase(args.db)
    try:
        summary = summarize(db)
        out = args.out or args.db.parent
        out.mkdir(parents=True, exist_ok=True)
        stem = args.db.stem
        (out / f"{stem}_report.json").write_text(json.dumps(summary, indent=1))
        png = plot_equity(db, out / f"{stem}_equity.png")
    finally:
        db.close()
    console = Console()
    rows = []
    for symbol, s in summary["symbols"].items():
        if not s["decisions"]:
            rows.append((symbol, "0", *[""] * 8))
            continue
        lat = s["latency_ms"]
        rows.append((
            symbol, f"{s['decisions']:,}", f"{s['fills']:,}", f"{s['equity']:,.2f}",
            f"{s['pnl']:+,.2f}", f"{s['fees']:,.2f}", f"{s['position']:g}",
            f"{lat['p50']:.2f}/{lat['p99']:.2f}/{lat['max']:.2f}",
            f"{s['over_budget']}", ",".join(s["model_versions"]),
        ))  # fmt: skip
    print_table(
        console,
        (
            "symbol",
            "decisions",
            "fills",
            "equity",
            "PnL",
            "fees",
            "position",
            "latency p50/p99/max ms",
            "over budget",
            "models",
        ),
        rows,
        title=f"paper run {args.db} (schema {summary['schema_version']})",
    )
    console.print(f"feed health: {summary['health']}", markup=False)
    for ts, kind, champ, chall, promoted, reason in summary["promotions"]:
        verdict = "promoted" if promoted else "kept champion"
        versus = f"{chall} vs {champ}" if chall is not None else f"no challenger of {champ}"
        console.print(f"{kind} at {ts}: {versus}: {verdict} ({reason})", markup=False)
    console.print(f"written: {out / f'{stem}_report.json'}, {png}", markup=False)
    return 0


def _ab(args: argparse.Namespace) -> int:
    from rich.console import Console

    from lobzero.live.ab import compare
    from lobzero.live.database import ReplayDatabase
    from lobzero.tables import print_table

    if not args.db.exists():
        raise ConfigError(f"--db {args.db}: no such database")
    markets = load_feed_markets(args.feed, None) if args.feed else None
    db = ReplayDatabase(args.db)
    try:
        summary = compare(db, markets)
    finally:
        db.close()
    out = args.out or args.db.parent
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{args.db.stem}_ab.json"
    path.write_text(json.dumps(summary, indent=1))
    rows = []
    for symbol, s in summary.items():
        shadow_pnl = f"{s['shadow_pnl']:+,.2f}" if "shadow_pnl" in s else "(needs --feed)"
        rows.append((
            symbol, f"{s['decisions']:,}", f"{s['shadow_decisions']:,}",
            f"{s['agreement']:.1%}", f"{s['champion_pnl']:+,.2f}", shadow_pnl,
            ",".join(s["champion_versions"]), ",".join(s["shadow_versions"]),
        ))  # fmt: skip
    console = Console()
    print_table(
        console,
        ("symbol", "decisions", "shadow", "agreement", "champion PnL", "shadow PnL",
         "champion", "shadow version"),
        rows,
        title=f"champion vs shadow, {args.db}",
    )  # fmt: skip
    console.print(f"written: {path}", markup=False)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    from lobzero.live.registry import ModelRegistry

    if args.registry is None:
        raise ConfigError("paper rollback needs --registry")
    registry = ModelRegistry(args.registry)
    champions = registry.champions()
    if len(champions) < 2:
        raise ConfigError(f"{registry.file}: no earlier champion to roll back to")
    before, after = champions[-1], champions[-2]
    if args.db is not None and args.db.exists():
        from lobzero.live.database import ReplayDatabase

        # the database first: a crash before the registry follows is finished by reconcile()
        db = ReplayDatabase(args.db)
        try:
            db.write([(
                "promotions", ("ts_ns", "kind", "champion", "challenger", "promoted", "reason"),
                (time.time_ns(), "rollback", before, after, 1, f"rolled back {before} -> {after}"),
            )])  # fmt: skip
        finally:
            db.close()
    registry.rollback()
    print(f"champion: {after} (was {before})")
    return 0
