"""The `lobzero` command. Subcommands per flow:

lobzero data import --format F IN... -o OUT.parquet   exchange/vendor files -> lobzero Parquet
lobzero data info FILE                                what a market file holds
lobzero data synth --seconds S --seed N -o OUT        the built-in synthetic market
lobzero train-agent --algo muzero --data F --out DIR  train one agent (muzero, ppo, sac)
lobzero train-adversarial --trader ppo --rounds 3     a trader and an adversary, in turn
lobzero compare --agents muzero,ppo,... --seeds 3     agents on the same walk-forward test
lobzero demo                                          the quick tour `make demo` runs
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from lobzero.exceptions import ConfigError, LobzeroError

console = Console()


def print_info(info: dict[str, Any], title: str) -> None:
    """Prints a summary dict (nested dicts on one line each) as a two-column rich table."""
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows: list[tuple[str, Any]] = []
    for key, value in info.items():
        if key == "import" and isinstance(value, dict):
            rows.extend((f"import.{k}", v) for k, v in value.items())
        else:
            rows.append((key, value))
    for key, value in rows:
        if isinstance(value, dict):
            value = ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = "\n".join(str(v) for v in value) or "-"
        table.add_row(key, _fmt(value))
    console.print(table)


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.4g}" if abs(value) < 1e3 else f"{value:,.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)


def _check_parquet_output(output: Path) -> None:
    """A market is written as lobzero Parquet whatever its name: a .csv name would mislead
    every reader, so any other suffix is refused before the work starts."""
    if output.suffix.lower() != ".parquet":
        raise ConfigError(
            f"-o/--output {output}: the output is lobzero Parquet, name it *.parquet "
            f"(got suffix {output.suffix or 'none'!r})"
        )


def _cmd_import(args: argparse.Namespace) -> int:
    from lobzero.data.importers import import_market
    from lobzero.data.info import market_info

    _check_parquet_output(args.output)
    options: dict[str, Any] = {}
    for key in ("symbol", "venue", "tick_size", "lot_size", "on_gap"):
        if getattr(args, key) is not None:
            options[key] = getattr(args, key)
    if args.round_qty:
        options["round_qty"] = True
    with console.status(f"importing {len(args.inputs)} file(s)"):
        market = import_market(args.inputs, format=args.format, **options)
    path = market.save(args.output)
    print_info(market_info(market), f"{path}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from lobzero.data.importers import import_market
    from lobzero.data.info import market_info

    market = import_market(args.file, format=args.format)
    info = market_info(market, step_ms=args.step_ms)
    if args.json:
        print(json.dumps(info))
    else:
        print_info(info, str(args.file))
    return 0


def _cmd_synth(args: argparse.Namespace) -> int:
    from lobzero.data.info import market_info
    from lobzero.data.synth import SynthConfig, synth_market

    _check_parquet_output(args.output)
    config = SynthConfig.load(args.config) if args.config else SynthConfig()
    overrides = {
        "seconds": args.seconds,
        "seed": args.seed,
        "signal_strength": args.signal_strength,
    }
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    with console.status(f"generating {config.seconds:g} s of synthetic market"):
        market = synth_market(config=config)
    path = market.save(args.output)
    print_info(market_info(market), f"{path}")
    return 0


def _load_market(data: str | None, synth_seconds: float, signal_strength: float) -> Any:
    """The market of ``--data``, or the built-in synthetic market with a signal (path 0)."""
    from lobzero.evaluation.report import load_market

    with console.status(f"importing {data}" if data else "generating the synthetic market"):
        return load_market(data, synth_seconds, seed=0, signal_strength=signal_strength)


def _cmd_train_agent(args: argparse.Namespace) -> int:
    from lobzero.envs.config import EnvConfig

    out = Path(args.out)
    env_config = EnvConfig.load(args.env_config) if args.env_config else EnvConfig()
    if args.episode_steps is not None:
        env_config = env_config.replace(episode_steps=args.episode_steps)
    if args.algo == "muzero":
        from lobzero.muzero import MuZeroConfig, evaluate_gym, train_muzero

        config = MuZeroConfig.load(args.config) if args.config else MuZeroConfig()
        if args.steps is not None:
            config = config.replace(total_env_steps=args.steps)
        market = None
        if args.env is None:
            market = _load_market(args.data, args.synth_seconds, args.signal_strength)
        elif args.data:
            raise ConfigError("give either --data (a market) or --env (a gymnasium id)")
        agent = train_muzero(
            config,
            out,
            market=market,
            env_config=env_config,
            env_id=args.env,
            seed=args.seed,
            resume=args.resume,
            device=args.device,
        )
        if args.env is not None and config.eval_episodes > 0:
            returns = evaluate_gym(agent, args.env, episodes=config.eval_episodes)
            console.print(
                f"{args.env}: mean return {sum(returns) / len(returns):.1f} over "
                f"{len(returns)} greedy episodes"
            )
    else:
        from lobzero.baselines.sb3 import CONFIGS, train_sb3

        if args.env is not None:
            raise ConfigError(f"--env is for MuZero; {args.algo} trains on a market (--data)")
        sb3_config = CONFIGS[args.algo].load(args.config) if args.config else None
        market = _load_market(args.data, args.synth_seconds, args.signal_strength)
        train_sb3(
            args.algo,
            market,
            env_config,
            out,
            seed=args.seed,
            total_steps=args.steps or 100_000,
            config=sb3_config,
            device=args.device,
            resume=args.resume,
        )
    console.print(f"agent: {out} (lobzero.load_agent({str(out)!r}))")
    return 0


def _cmd_train_adversarial(args: argparse.Namespace) -> int:
    from lobzero.adversarial import AdversarialConfig, train_adversarial
    from lobzero.envs.config import EnvConfig

    config = AdversarialConfig.load(args.config) if args.config else AdversarialConfig()
    overrides = {
        "trader": args.trader,
        "rounds": args.rounds,
        "trader_steps": args.trader_steps,
        "adversary_steps": args.adversary_steps,
        "budget": args.budget,
    }
    config = config.replace(**{k: v for k, v in overrides.items() if v is not None})
    env_config = EnvConfig.load(args.env_config) if args.env_config else EnvConfig()
    if args.episode_steps is not None:
        env_config = env_config.replace(episode_steps=args.episode_steps)
    market = _load_market(args.data, args.synth_seconds, args.signal_strength)
    table = Table(title=f"adversarial training of a {config.trader} trader (test returns)")
    for col in ("round", "phase", "trader steps", "plain", "attacked", "moves/episode"):
        table.add_column(col, justify="right")

    def log(row: dict[str, Any]) -> None:
        attacked = row.get("attacked_mean_return")
        console.print(
            f"round {row['round']} {row['phase']}: plain {row['plain_mean_return']:+.3%}"
            + ("" if attacked is None else f", attacked {attacked:+.3%}")
        )

    with console.status("training trader and adversary in turn"):
        rows = train_adversarial(
            market, env_config, Path(args.out), config=config, seed=args.seed, log=log
        )
    for r in rows:
        attacked = r.get("attacked_mean_return")
        table.add_row(
            str(r["round"]),
            r["phase"],
            f"{r['trader_steps']:,}",
            f"{r['plain_mean_return']:+.3%}",
            "-" if attacked is None else f"{attacked:+.3%}",
            "-" if attacked is None else f"{r['adversary_moves_per_episode']:.1f}",
        )
    console.print(table)
    console.print(
        f"trader: {Path(args.out) / 'trader'}   adversary: {Path(args.out) / 'adversary'}"
    )
    return 0


def _cmd_robustness(args: argparse.Namespace) -> int:
    from lobzero.evaluation.report import robustness_report

    intensities = [float(x) for x in args.intensity.split(",") if x.strip()]
    if not intensities:
        raise ConfigError("--intensity needs at least one level, e.g. 0,0.1,0.2")
    rows, paths = robustness_report(
        agent_spec=args.agent,
        data=args.data,
        intensities=intensities,
        seeds=list(range(args.seeds)),
        episode_steps=args.episode_steps,
        out=Path(args.out),
        synth_seconds=args.synth_seconds,
        synth_seed=args.market_seed,
    )
    table = Table(title=f"robustness of {args.agent} (mean over {args.seeds} seeds)")
    for col in ("intensity", "Sharpe", "max drawdown", "return", "worst return", "fees"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            f"{r['intensity']:g}",
            f"{r['sharpe']:.2f}",
            f"{r['max_drawdown']:.1%}",
            f"{r['total_return']:+.2%}",
            f"{r['worst_return']:+.2%}",
            f"{r['fees']:,.2f}",
        )
    console.print(table)
    for line in paths["verdict"]:
        console.print(line)
    console.print(f"written: {paths['csv']}, {paths['json']}, {paths['png']}")
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from lobzero.evaluation.compare import CompareConfig, compare

    config = CompareConfig.load(args.config) if args.config else CompareConfig()
    if args.episode_steps is not None:
        config = config.replace(env=config.env.replace(episode_steps=args.episode_steps))
    if args.folds is not None:
        config = config.replace(walkforward=config.walkforward.replace(folds=args.folds))
    market = _load_market(args.data, args.synth_seconds, args.signal_strength)
    result = compare(
        market,
        args.agents,
        args.seeds,
        args.budget_steps,
        Path(args.out),
        config=config,
        progress=True,
    )
    print_compare(result, market, config, args.seeds)
    return 0


def print_compare(result: Any, market: Any, config: Any, seeds: int) -> None:
    """The comparison's rich table of test metrics (with bootstrap intervals), the verdicts
    and each agent against the user's targets, then the report's path."""
    from rich.markup import escape

    from lobzero.evaluation.compare_report import COLUMNS, fmt_ci, target_lines

    episodes = int(result.summary[result.agents[0]]["episodes"])
    table = Table(
        title=escape(
            f"test metrics on {market} ({seeds} seeds, {episodes} episodes per agent; "
            f"[{config.confidence:.0%} bootstrap interval])"
        )
    )
    columns = [
        *("sharpe", "episode_sharpe", "max_drawdown", "profit_factor", "win_rate"),
        *("total_return", "fills", "round_trips"),
    ]
    headers = {k: h for k, h, _ in COLUMNS}
    table.add_column("agent", style="bold")
    for key in columns:
        table.add_column(headers[key], justify="right")
    for agent in result.agents:
        table.add_row(agent, *(escape(fmt_ci(result, agent, k, sep="\n")) for k in columns))
    console.print(table)
    for v in result.verdicts:
        console.print(escape(v.line()))
    for line in target_lines(result):
        console.print(escape(line))
    console.print(f"report: {result.files['html']}")


def _cmd_demo(args: argparse.Namespace) -> int:
    from lobzero.demo import run_demo

    return run_demo(out=Path(args.out), seeds=args.seeds, budget_steps=args.budget_steps)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lobzero", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="import, inspect and generate market data")
    data_sub = data.add_subparsers(dest="data_command", required=True)

    imp = data_sub.add_parser("import", help="exchange/vendor files -> lobzero Parquet")
    imp.add_argument("inputs", nargs="+", type=Path, help="files of one recording, in order")
    imp.add_argument(
        "--format",
        "-f",
        default=None,
        help="binance-stream, binance-csv, tardis, hftbacktest, parquet (default: guessed)",
    )
    imp.add_argument("-o", "--output", type=Path, required=True, help="output .parquet")
    imp.add_argument("--symbol")
    imp.add_argument("--venue")
    imp.add_argument("--tick-size", help="decimal, e.g. 0.01 (default: inferred when possible)")
    imp.add_argument("--lot-size", help="decimal, e.g. 0.001 (default: inferred when possible)")
    imp.add_argument(
        "--on-gap",
        choices=["error", "resync"],
        default=None,
        help="on a sequence gap: stop (default) or clear the book until a snapshot",
    )
    imp.add_argument(
        "--round-qty",
        action="store_true",
        help="round sizes off the lot grid to the nearest lot (counted)",
    )
    imp.set_defaults(func=_cmd_import)

    info = data_sub.add_parser("info", help="what a market file holds")
    info.add_argument("file", type=Path)
    info.add_argument("--format", "-f", default=None)
    info.add_argument(
        "--step-ms", type=float, default=100.0, help="clock for spread/mid statistics (ms)"
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=_cmd_info)

    synth = data_sub.add_parser("synth", help="generate the built-in synthetic market")
    synth.add_argument("--seconds", type=float, default=None, help="market time to generate (s)")
    synth.add_argument("--seed", type=int, default=None)
    synth.add_argument(
        "--signal-strength",
        type=float,
        default=None,
        help="0 = no predictable signal, 1 = strongest",
    )
    synth.add_argument("--config", type=Path, default=None, help="SynthConfig TOML")
    synth.add_argument("-o", "--output", type=Path, required=True)
    synth.set_defaults(func=_cmd_synth)

    train = sub.add_parser("train-agent", help="train one agent (MuZero, PPO or SAC)")
    train.add_argument("--algo", choices=("muzero", "ppo", "sac"), default="muzero")
    train.add_argument("--data", default=None, help="market file (default: synthetic market)")
    train.add_argument(
        "--env", default=None, help="a gymnasium environment id instead (MuZero, e.g. CartPole-v1)"
    )
    train.add_argument("--config", type=Path, default=None, help="the algorithm's TOML config")
    train.add_argument("--env-config", type=Path, default=None, help="EnvConfig TOML")
    train.add_argument("--steps", type=int, default=None, help="environment steps to train")
    train.add_argument("--episode-steps", type=int, default=None, help="decisions per episode")
    train.add_argument("--out", default="runs/agent", help="output folder")
    train.add_argument("--seed", type=int, default=0)
    train.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint"
    )
    train.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    train.add_argument("--synth-seconds", type=float, default=3600.0)
    train.add_argument("--signal-strength", type=float, default=1.0)
    train.set_defaults(func=_cmd_train_agent)

    adv = sub.add_parser("train-adversarial", help="train a trader and an adversary (PPO) in turn")
    adv.add_argument("--trader", choices=("ppo", "sac", "muzero"), default=None)
    adv.add_argument("--data", default=None, help="market file (default: synthetic market)")
    adv.add_argument("--config", type=Path, default=None, help="AdversarialConfig TOML")
    adv.add_argument("--env-config", type=Path, default=None, help="EnvConfig TOML")
    adv.add_argument("--rounds", type=int, default=None)
    adv.add_argument("--trader-steps", type=int, default=None, help="per phase")
    adv.add_argument("--adversary-steps", type=int, default=None, help="per phase")
    adv.add_argument("--budget", type=int, default=None, help="perturbations per episode")
    adv.add_argument("--episode-steps", type=int, default=None, help="decisions per episode")
    adv.add_argument("--out", default="runs/adversarial", help="output folder")
    adv.add_argument("--seed", type=int, default=0)
    adv.add_argument("--synth-seconds", type=float, default=3600.0)
    adv.add_argument("--signal-strength", type=float, default=1.0)
    adv.set_defaults(func=_cmd_train_adversarial)

    rob = sub.add_parser("robustness", help="an agent's metrics under adversarial injection")
    rob.add_argument(
        "--agent",
        required=True,
        help="rule:NAME (flat, buy_and_hold, random, imbalance) or an agent folder",
    )
    rob.add_argument(
        "--data", default=None, help="market file (default: the built-in synthetic market)"
    )
    rob.add_argument("--intensity", default="0,0.1,0.2,0.3", help="comma-separated levels")
    rob.add_argument("--seeds", type=int, default=3, help="episodes (seeds) per level")
    rob.add_argument("--episode-steps", type=int, default=3000, help="decisions per episode")
    rob.add_argument(
        "--synth-seconds",
        type=float,
        default=3600.0,
        help="length of the synthetic market when --data is absent",
    )
    rob.add_argument(
        "--market-seed",
        type=int,
        default=1,
        help="path of the synthetic market without --data (1: not the path 0 that train-agent "
        "and compare train on)",
    )
    rob.add_argument("--out", default="runs/robustness", help="output folder")
    rob.set_defaults(func=_cmd_robustness)

    cmp = sub.add_parser(
        "compare", help="train, select and test agents on the same walk-forward split"
    )
    cmp.add_argument(
        "--data", default=None, help="market file (default: a synthetic market with a signal)"
    )
    cmp.add_argument(
        "--agents",
        default="muzero,ppo,sac,buy_and_hold,random,flat",
        help="comma-separated: muzero (Gumbel), muzero_puct, stochastic_muzero, ppo, sac, "
        "buy_and_hold, random, flat, imbalance (the first is the candidate of the verdict)",
    )
    cmp.add_argument("--seeds", type=int, default=3, help="seeds per agent")
    cmp.add_argument(
        "--budget-steps", type=int, default=20_000, help="training env steps per agent and seed"
    )
    cmp.add_argument("--out", default="runs/compare", help="report folder")
    cmp.add_argument(
        "--config", type=Path, default=None, help="CompareConfig TOML ([env], [ppo], ...)"
    )
    cmp.add_argument("--episode-steps", type=int, default=None, help="decisions per episode")
    cmp.add_argument("--folds", type=int, default=None, help="rolling walk-forward folds")
    cmp.add_argument(
        "--synth-seconds",
        type=float,
        default=1800.0,
        help="length of the synthetic market when --data is absent",
    )
    cmp.add_argument(
        "--signal-strength",
        type=float,
        default=1.0,
        help="signal of the synthetic market when --data is absent (0 none, 1 strongest)",
    )
    cmp.set_defaults(func=_cmd_compare)

    demo = sub.add_parser("demo", help="the quick tour that `make demo` runs")
    demo.add_argument("--out", default="runs/demo", help="output folder")
    demo.add_argument("--seeds", type=int, default=2, help="seeds per agent in the comparison")
    demo.add_argument("--budget-steps", type=int, default=8000, help="training steps per agent")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lobzero` console script; returns the exit code."""
    from lobzero.interrupt import Interrupted, signal_handlers

    args = build_parser().parse_args(argv)
    try:
        with signal_handlers():
            return int(args.func(args))
    except Interrupted as e:
        print(e.line(), file=sys.stderr, flush=True)
        return e.exit_code
    except LobzeroError as e:
        console.print(f"[bold red]{type(e).__name__}[/]: {e}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
