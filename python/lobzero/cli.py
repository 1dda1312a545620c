"""The `lobzero` command: one subcommand per flow (`lobzero --help` lists them).

One grammar throughout: ``--steps`` is a training length, ``-o/--out`` the output, ``--seed``
one seed and ``--seeds`` a number of seeds, ``--config`` the subcommand's TOML and
``--env-config`` the environment's; ``--data`` a market file, else the synthetic market
(``--synth-seconds``, ``--synth-seed``, ``--signal-strength``). The flags of the settings are
generated from the configuration dataclasses (:mod:`lobzero.cli_flags`): defaults, then the
TOML, then the flags typed. Results go to stdout; status and errors to stderr, an error as
one line (``ParseError: rec.gz:55: ...``) with exit code 2.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console

from lobzero.cli_flags import (
    FlagGroup,
    TypedFlag,
    TypedSwitch,
    flag_message,
    flag_names,
    load_over,
    merge,
)
from lobzero.exceptions import ConfigError, LobzeroError
from lobzero.tables import plural, print_table

#: results (tables, paths): stdout
console = Console()
#: status, progress and log lines: stderr, so that stdout stays the results
status_console = Console(stderr=True)


def print_info(info: dict[str, Any], title: str) -> None:
    """Prints a summary dict (nested dicts on one line each) as a two-column table. A field
    ``k`` with a true ``k_inferred`` beside it is marked "(inferred from the data)"."""
    rows: list[tuple[str, Any]] = []
    for key, value in info.items():
        if key.endswith("_inferred") and key.removesuffix("_inferred") in info:
            continue
        if info.get(f"{key}_inferred") is True:
            value = f"{value} (inferred from the data)"
        if key == "import" and isinstance(value, dict):
            rows.extend((f"import.{k}", v) for k, v in value.items())
        else:
            rows.append((key, value))
    cells = []
    for key, value in rows:
        if isinstance(value, dict):
            # "k: v": a narrow column breaks at the space, never inside the number
            value = ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items())
        elif isinstance(value, list):
            value = "\n".join(str(v) for v in value) or "-"
        cells.append((key, _fmt(value)))
    print_table(console, ("field", "value"), cells, title=title, justify="left", show_header=False)


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
            f"-o/--out {output}: the output is lobzero Parquet, name it *.parquet "
            f"(got suffix {output.suffix or 'none'!r})"
        )


#: the options of `import_market` that `data import` and `data info` take, by flag dest
IMPORT_OPTIONS = (
    "symbol",
    "venue",
    "tick_size",
    "lot_size",
    "on_gap",
    "contract_size",
    "inverse",
    "multiplier",
    "date",
    "levels",
    "on_book_mismatch",
    "definition",
    "instrument_id",
    "on_unknown_order",
    "on_cross",
    "size_scale",
    "time_unit",
)


def _import(inputs: Sequence[Path] | Path, args: argparse.Namespace) -> Any:
    from lobzero.data.importers import ORDER_EVENTS_COLUMNS, import_market

    options: dict[str, Any] = {k: getattr(args, k) for k in IMPORT_OPTIONS}
    options = {k: v for k, v in options.items() if v is not None}
    if args.round_qty:
        options["round_qty"] = True
    for item in getattr(args, "opt", None) or []:
        key, sep, value = item.partition("=")
        key = key.replace("-", "_")
        if not sep or not key:
            raise ConfigError(
                f"--opt `{item}`: expected COLUMN=NAME (e.g. --opt size_column=amount)"
            )
        if key not in ORDER_EVENTS_COLUMNS:
            # backquoted: the error line would rewrite a bare on_cross=hold into --on-cross hold
            named = f"; use --{key.replace('_', '-')}" if key in IMPORT_OPTIONS else ""
            raise ConfigError(
                f"--opt `{item}`: --opt sets the order-events column names only "
                f"({', '.join(ORDER_EVENTS_COLUMNS)}){named}"
            )
        options[key] = value
    return import_market(inputs, format=args.format, **options)


def _check_universe_output(output: Path, symbols: Sequence[str]) -> None:
    """Files of several symbols make a universe, a folder: a ``.parquet`` name (one market's)
    or an existing file is refused before the work starts."""
    if output.suffix.lower() == ".parquet" or (output.exists() and not output.is_dir()):
        raise ConfigError(
            f"-o/--out {output}: the files hold {len(symbols)} symbols ({', '.join(symbols)}), "
            "a universe: name a folder (one .parquet per symbol and universe.json go in it)"
        )


def _cmd_import(args: argparse.Namespace) -> int:
    from lobzero.data.importers import symbol_groups
    from lobzero.data.info import market_info, universe_info

    groups = None if args.symbol is not None else symbol_groups(args.inputs, args.format)
    if groups is None:
        _check_parquet_output(args.out)
    else:
        _check_universe_output(args.out, list(groups))
    with status_console.status(f"importing {plural(len(args.inputs), 'file')}"):
        market = _import(args.inputs, args)
    path = market.save(args.out)
    if groups is None:
        print_info(market_info(market), f"{path}")
    else:
        print_universe_info(universe_info(market), f"{path}")
    return 0


def print_universe_info(info: dict[str, Any], title: str) -> None:
    """One row per symbol: instrument, events, span, spread and mid; then the common span."""
    rows = []
    for symbol, m in info["symbols"].items():
        spread = m.get("spread_ticks", {}).get("mean", float("nan"))
        mid = m.get("mid", {})
        rows.append(
            (
                symbol,
                m["venue"],
                m["tick_size"],
                m["lot_size"],
                _fmt(m["events"]),
                m["start"].removesuffix(" UTC"),
                m["end"].removesuffix(" UTC"),
                _fmt(m["span_s"]),
                _fmt(spread),
                _fmt(mid.get("first", float("nan"))),
                _fmt(mid.get("last", float("nan"))),
            )
        )
    headers = (
        *("symbol", "venue", "tick", "lot", "events", "start UTC", "end UTC", "span s"),
        *("spread ticks", "mid first", "mid last"),
    )
    common = info["common_span"]
    print_table(
        console,
        headers,
        rows,
        title=f"{title}: common span {common['start']} to {common['end']} "
        f"({_fmt(common['span_s'])} s)",
    )


def _cmd_info(args: argparse.Namespace) -> int:
    from lobzero.data.info import market_info, universe_info
    from lobzero.data.universe import Universe

    if not args.step_ms > 0:
        raise ConfigError(f"--step-ms must be > 0, got {args.step_ms:g}")
    market = _import(args.file, args)
    if isinstance(market, Universe):
        info = universe_info(market, step_ms=args.step_ms)
        if args.json:
            print(json.dumps(info))
        else:
            print_universe_info(info, str(args.file))
        return 0
    info = market_info(market, step_ms=args.step_ms)
    if args.json:
        print(json.dumps(info))
    else:
        print_info(info, str(args.file))
    return 0


def _synth_presets() -> dict[str, Any]:
    from lobzero.data.synth import SynthConfig, signal_market_config

    return {"signal": signal_market_config(seconds=SynthConfig().seconds), "plain": SynthConfig()}


def _cmd_synth(args: argparse.Namespace) -> int:
    from lobzero.data.info import market_info
    from lobzero.data.synth import synth_market

    _check_parquet_output(args.out)
    config = _layered(_synth_presets()[args.preset], args.config, args.groups["synth"], args)
    with status_console.status(f"generating {config.seconds:g} s of synthetic market"):
        market = synth_market(config=config)
    path = market.save(args.out)
    print_info(market_info(market), f"{path}")
    return 0


def _layered(base: Any, path: Path | None, group: FlagGroup | None, args: Any) -> Any:
    """``base``, then the TOML at ``path`` (its tables change only the fields they name),
    then the flags of ``group`` the user typed."""
    config = load_over(base, path) if path is not None else base
    return group.apply(config, args) if group is not None else config


def _env_config(args: argparse.Namespace, base: Any) -> Any:
    """The environment: ``base``, then ``--env-config``, then the environment flags."""
    return _layered(base, args.env_config, args.groups["env"], args)


def _with_env_config(config: Any, args: argparse.Namespace) -> Any:
    """A configuration whose ``env`` table ``--env-config`` changes (before the flags)."""
    if args.env_config is None:
        return config
    return config.replace(env=load_over(config.env, args.env_config))


def _load_market(args: argparse.Namespace, universe: bool = False) -> Any:
    """The market of ``--data``, or the built-in synthetic market with a signal; with
    ``universe``, files of several symbols (or a universe folder) give a universe."""
    from lobzero.evaluation.report import load_market, load_market_or_universe

    data = args.data
    what = f"importing {' '.join(map(str, data))}" if data else "generating the synthetic market"
    load = load_market_or_universe if universe else load_market
    with status_console.status(what):
        return load(
            data,
            args.synth_seconds,
            seed=args.synth_seed,
            signal_strength=args.signal_strength,
        )


def _refuse_other_algos(args: argparse.Namespace, algo: str) -> None:
    """A flag of another algorithm's settings is a mistake, not something to ignore."""
    for name in ("muzero", "ppo", "sac"):
        if name == algo:
            continue
        for flag in args.groups[name].flags:
            if getattr(args, flag.dest, None) is not None:
                typed = (args.typed_flags or {}).get(flag.dest, flag.option)
                raise ConfigError(f"{typed} is for --algo {name}, not {algo}")


#: the defaults of train-agent's Ray self-play flags, which the local loop refuses to differ from
RAY_SELF_PLAY_DEFAULTS = {
    "actors": 1,
    "broadcast_interval": 1,
    "reanalyse_actors": 1,
    "max_ahead": 2,
}


def _ray_actors(args: argparse.Namespace) -> Any:
    """MuZero's self-play actors of ``--backend ray`` (None for local), the flags checked
    before any cluster starts."""
    from lobzero.distributed.self_play import RayActors

    # (a value other than the default: the local loop has one actor, in sync, no reanalysers)
    ray_flags = {
        f"--{dest.replace('_', '-')}": getattr(args, dest) != default
        for dest, default in RAY_SELF_PLAY_DEFAULTS.items()
    } | {
        "--actor-device": args.actor_device != "cpu",
        "--actor-gpus": args.actor_gpus is not None,
        "--asynchronous": args.asynchronous,
    }
    if args.backend == "local":
        for flag, given in ray_flags.items():
            if given:
                raise ConfigError(f"{flag} is for --backend ray")
        return None
    if args.actor_gpus is not None and args.actor_device != "cuda":
        raise ConfigError("--actor-gpus is for --actor-device cuda")
    num_gpus = 0.0
    if args.actor_device == "cuda":
        num_gpus = 1.0 if args.actor_gpus is None else args.actor_gpus
        if num_gpus <= 0:
            raise ConfigError(f"--actor-gpus must be > 0, got {num_gpus:g}")
        import torch

        # a local cluster has this machine's GPUs; a remote one is checked once connected
        if args.ray_address is None and not torch.cuda.is_available():
            raise ConfigError(
                "--actor-device cuda: no CUDA device on this machine (torch.cuda.is_available() "
                "is False); use --actor-device cpu, or --ray-address of a cluster with GPUs"
            )
    actors = RayActors(
        args.actors,
        args.broadcast_interval,
        args.ray_address,
        num_gpus=num_gpus,
        reanalyse_actors=args.reanalyse_actors,
        asynchronous=args.asynchronous,
        max_ahead=args.max_ahead,
    )
    actors.check()
    return actors


def _cmd_train_agent(args: argparse.Namespace) -> int:
    from lobzero.envs.config import EnvConfig

    out = args.out  # a path or an fsspec URL (s3://bucket/run): the trainers publish to it
    env_config = _env_config(args, EnvConfig())
    _refuse_other_algos(args, args.algo)
    if args.backend == "local" and args.ray_address is not None:
        raise ConfigError("--ray-address is for --backend ray")
    if args.backend == "ray" and args.algo != "muzero":
        raise ConfigError(f"--backend ray plays MuZero's self-play on Ray; {args.algo} trains here")
    ray_actors = _ray_actors(args)
    env_wrapper = None
    if args.risk is not None:
        from lobzero.risk.vector import risk_env_wrapper

        if args.env is not None:
            raise ConfigError("--risk guards a trading market; --env is another gymnasium env")
        env_wrapper = risk_env_wrapper(args.risk)
    if args.algo == "muzero":
        from lobzero.muzero import MuZeroConfig, evaluate_gym, train_muzero

        config = _layered(MuZeroConfig(), args.config, args.groups["muzero"], args)
        if args.steps is not None:
            config = config.replace(total_env_steps=args.steps)
        if args.encoder is not None:
            config = config.replace(
                encoder=str(args.encoder),
                encoder_mode=args.encoder_mode,
                encoder_lr_scale=args.encoder_lr_scale,
            )
            config.validate()
        market = None
        if args.env is None:
            market = _load_market(args)
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
            self_play=ray_actors,
            env_wrapper=env_wrapper,
        )
        if args.env is not None and config.eval_episodes > 0:
            returns = evaluate_gym(agent, args.env, episodes=config.eval_episodes)
            console.print(
                f"{args.env}: mean return {sum(returns) / len(returns):.1f} over "
                f"{plural(len(returns), 'greedy episode')}"
            )
    else:
        from lobzero.baselines.sb3 import CONFIGS, train_sb3

        if args.env is not None:
            raise ConfigError(f"--env is for MuZero; {args.algo} trains on a market (--data)")
        sb3_config = _layered(CONFIGS[args.algo](), args.config, args.groups[args.algo], args)
        market = _load_market(args)
        encoder = None
        if args.encoder is not None:
            from lobzero.encoder.agents import AgentEncoder

            encoder = AgentEncoder.load(args.encoder, args.encoder_mode, args.encoder_lr_scale)
        train_sb3(
            args.algo,
            market,
            env_config,
            out,
            seed=args.seed,
            total_steps=args.steps or DEFAULT_STEPS,
            config=sb3_config,
            device=args.device,
            resume=args.resume,
            env_wrapper=env_wrapper,
            encoder=encoder,
        )
    console.print(f"agent: {out} (lobzero.load_agent({str(out)!r}))")
    return 0


def _cmd_train_adversarial(args: argparse.Namespace) -> int:
    from lobzero.adversarial import AdversarialConfig, train_adversarial
    from lobzero.envs.config import EnvConfig

    config = _layered(AdversarialConfig(), args.config, args.groups["adversarial"], args)
    config = merge(config, {"muzero": args.groups["muzero"].overrides(args)})
    config.validate()
    env_config = _env_config(args, EnvConfig())
    market = _load_market(args)

    def log(row: dict[str, Any]) -> None:
        attacked = row.get("attacked_mean_return")
        status_console.print(
            f"round {row['round']} {row['phase']}: plain {row['plain_mean_return']:+.3%}"
            + ("" if attacked is None else f", attacked {attacked:+.3%}")
        )

    with status_console.status("training trader and adversary in turn"):
        rows = train_adversarial(
            market, env_config, Path(args.out), config=config, seed=args.seed, log=log
        )
    cells = []
    for r in rows:
        attacked = r.get("attacked_mean_return")
        cells.append(
            (
                str(r["round"]),
                r["phase"],
                f"{r['trader_steps']:,}",
                f"{r['plain_mean_return']:+.3%}",
                "-" if attacked is None else f"{attacked:+.3%}",
                "-" if attacked is None else f"{r['adversary_moves_per_episode']:.1f}",
            )
        )
    print_table(
        console,
        ("round", "phase", "trader steps", "plain", "attacked", "moves/episode"),
        cells,
        title=f"adversarial training of a {config.trader} trader (test returns)",
    )
    console.print(
        f"trader: {Path(args.out) / 'trader'}   adversary: {Path(args.out) / 'adversary'}"
    )
    return 0


def _cmd_robustness(args: argparse.Namespace) -> int:
    from lobzero.evaluation.report import robustness_report
    from lobzero.evaluation.robustness import RobustnessConfig

    config = _with_env_config(_layered(RobustnessConfig(), args.config, None, args), args)
    config = args.groups["robustness"].apply(config, args)
    if not config.intensity:
        raise ConfigError("--intensity needs at least one level, e.g. 0,0.1,0.2")
    if config.seeds < 1:
        raise ConfigError(f"--seeds must be >= 1, got {config.seeds}")
    rows, paths = robustness_report(
        agent_spec=args.agent,
        data=args.data,
        intensities=list(config.intensity),
        seeds=list(range(config.seeds)),
        episode_steps=config.env.episode_steps,
        out=args.out,
        synth_seconds=args.synth_seconds,
        synth_seed=args.synth_seed,
        env_config=config.env,
        backend=_backend(args),
    )
    cells = [
        (
            f"{r['intensity']:g}",
            f"{r['sharpe']:.2f}",
            f"{r['max_drawdown']:.1%}",
            f"{r['total_return']:+.2%}",
            f"{r['worst_return']:+.2%}",
            f"{r['fees']:,.2f}",
        )
        for r in rows
    ]
    print_table(
        console,
        ("intensity", "Sharpe", "max drawdown", "return", "worst return", "fees"),
        cells,
        title=f"robustness of {args.agent} (mean over {plural(config.seeds, 'seed')})",
    )
    for line in paths["verdict"]:
        console.print(line, markup=False)
    console.print(f"written: {paths['csv']}, {paths['json']}, {paths['png']}", markup=False)
    return 0


def compare_config(args: argparse.Namespace) -> Any:
    """The :class:`~lobzero.evaluation.compare.CompareConfig` of ``lobzero compare``: its
    defaults, then ``--config``, then ``--env-config`` (the ``[env]`` table), then the flags."""
    from lobzero.evaluation.compare import CompareConfig

    config = _with_env_config(_layered(CompareConfig(), args.config, None, args), args)
    config = args.groups["compare"].apply(config, args)
    return merge(config, {"muzero": args.groups["muzero"].overrides(args)})


def _cmd_compare(args: argparse.Namespace) -> int:
    from lobzero.evaluation.compare import compare

    config = compare_config(args)
    risk = None
    if args.risk is not None:
        from lobzero.risk import RiskConfig

        risk = RiskConfig.load(args.risk)
    market = _load_market(args, universe=True)
    result = compare(
        market,
        args.agents,
        args.seeds,
        args.steps,
        args.out,
        config=config,
        progress=True,
        risk=risk,
        backend=_backend(args),
    )
    print_compare(result, market, config, args.seeds)
    return 0


def print_compare(result: Any, market: Any, config: Any, seeds: int) -> None:
    """The comparison's table of test metrics (with bootstrap intervals; on a universe a row
    per symbol and agent, then the pooled rows), the verdicts and each agent against the
    user's targets, then the report's path."""
    from lobzero.evaluation.compare_report import COLUMNS, POOLED, symbol_fmt_ci, target_lines

    episodes = int(result.summary[result.agents[0]]["episodes"])
    columns = [
        *("sharpe", "episode_sharpe", "max_drawdown", "profit_factor", "win_rate"),
        *("total_return", "fills", "round_trips"),
    ]
    headers = {k: h for k, h, _ in COLUMNS}
    symbols = [*result.symbols, POOLED] if result.symbols else [POOLED]
    lead = ("symbol", "agent") if result.symbols else ("agent",)
    pooled = f", pooled over {plural(len(result.symbols), 'symbol')}" if result.symbols else ""
    print_table(
        console,
        (*lead, *(headers[k] for k in columns)),
        [
            (
                *((sym,) if result.symbols else ()),
                agent,
                *(symbol_fmt_ci(result, sym, agent, k, sep="\n") for k in columns),
            )
            for sym in symbols
            for agent in result.agents
        ],
        title=(
            f"test metrics on {market} ({plural(seeds, 'seed')}, "
            f"{plural(episodes, 'episode')} per agent{pooled}; "
            f"[{config.confidence:.0%} bootstrap interval])"
        ),
    )
    for v in result.verdicts:
        console.print(v.line(), markup=False)
    for line in target_lines(result):
        console.print(line, markup=False)
    console.print(f"report: {result.files['html']}", markup=False)


def _cmd_tune(args: argparse.Namespace) -> int:
    from lobzero.distributed.tune import TuneSettings, load_space, tune
    from lobzero.evaluation.compare import CompareConfig

    config = _with_env_config(_layered(CompareConfig(), args.config, None, args), args)
    params = [p.strip() for p in args.params.split(",") if p.strip()] if args.params else None
    storage = args.storage
    if storage.startswith("sqlite:///") and not storage.startswith("sqlite:////"):
        # relative to here, for every Ray worker too (they need not share this folder)
        storage = "sqlite:///" + str(Path(storage.removeprefix("sqlite:///")).resolve())
    settings = TuneSettings(
        algo=args.algo,
        space=load_space(args.space, args.algo, params),
        config=config,
        budget_steps=args.steps,
        seed=args.seed,
        out=Path(args.out).resolve(),
        storage=storage,
        study=args.study or f"lobzero-{args.algo}",
    )
    market = _load_market(args)
    with status_console.status(f"tuning {args.algo}: {args.trials} trials in {settings.study}"):
        result = tune(
            market,
            settings,
            args.trials,
            backend=_backend(args),
            on_trial=lambda n: status_console.print(f"trial {n} done"),
        )
    print_table(
        console,
        ("setting", "best value"),
        [
            (k, f"{v:.6g}" if isinstance(v, float) else str(v))
            for k, v in result.best_params.items()
        ],
        title=(
            f"best trial {result.best_number} of {result.total} in {settings.study}: validation "
            f"{config.select_by} {result.best_value:.4g} ({result.ran} run now)"
        ),
    )
    for note in result.notes:
        console.print(note, markup=False)
    files = ", ".join(str(p) for p in result.files.values())
    console.print(f"written: {files}", markup=False)
    console.print(
        f"train it: lobzero train-agent --algo {args.algo} --config {result.files['config']}; "
        f"compare it: lobzero compare --config {result.files['compare']}",
        markup=False,
    )
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from lobzero.demo import run_demo

    return run_demo(out=Path(args.out), seeds=args.seeds, budget_steps=args.steps)


# ---------------------------------------------------------------- the parser

#: training steps of `train-agent` for PPO and SAC (MuZero: its config's total_env_steps)
DEFAULT_STEPS = 100_000


class _HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (or says it is required); subcommand names
    as long as ``train-adversarial`` keep their help on their line."""

    def __init__(self, prog: str, **kwargs: Any) -> None:
        kwargs.setdefault("max_help_position", 30)
        super().__init__(prog, **kwargs)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if (
            not action.option_strings
            or "(default:" in text
            or isinstance(action, argparse._HelpAction | argparse._VersionAction)
        ):
            return text
        if action.required:
            return f"{text} (required)".lstrip()
        default = action.default
        shown = "off" if default is False else "none" if default is None else default
        if isinstance(shown, int) and not isinstance(shown, bool) and abs(shown) >= 10_000:
            shown = f"{shown:,}"
        return f"{text} (default: {str(shown).replace('%', '%%')})".lstrip()

    def _format_action(self, action: argparse.Action) -> str:
        # argparse prints no help line for an option without help: give it its default's
        if action.option_strings and action.help is None:
            action = copy.copy(action)
            action.help = self._get_help_string(action)
        return super()._format_action(action)


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line on stderr, naming the flag, with exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _HelpFormatter)
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> Any:
        line = " ".join(message.split())
        self.exit(2, f"{self.prog}: error: {line} (see {self.prog} --help)\n")


def _show_help(parser: argparse.ArgumentParser) -> Callable[[argparse.Namespace], int]:
    """What an incomplete command (``lobzero data``) does: its help, on stderr, exit 2."""

    def run(args: argparse.Namespace) -> int:
        parser.print_help(sys.stderr)
        return 2

    return run


def _out_target(text: str) -> Any:
    """A local path (a Path), or an fsspec URL kept as text (``Path`` would fold its ``//``)."""
    from lobzero.storage import is_url

    return text if is_url(text) else Path(text)


def _add_out(
    parser: argparse.ArgumentParser,
    default: str | None,
    what: str,
    *aliases: str,
    url: bool = False,
) -> None:
    """``-o/--out``; ``url``: also an fsspec URL (``s3://bucket/run``, written atomically)."""
    parser.add_argument(
        "-o",
        "--out",
        *aliases,
        metavar="URL" if url else "PATH",
        type=_out_target if url else Path,
        default=default,
        required=default is None,
        help=what,
        action=TypedFlag,
    )


def _add_market(parser: argparse.ArgumentParser, seconds: float, seed: int, *aliases: str) -> None:
    """The market flags of every subcommand that builds an environment."""
    from lobzero.data.synth import signal_market_config

    g = parser.add_argument_group(
        "market", "a market file, or the built-in synthetic market (`lobzero data synth` writes it)"
    )
    g.add_argument(
        "--data",
        metavar="FILE",
        nargs="+",
        default=None,
        help="market file, or files of one recording (default: none: the synthetic market); "
        "compare: also files of several symbols or a universe folder",
    )
    g.add_argument(
        "--synth-seconds",
        metavar="S",
        type=float,
        default=seconds,
        help="length of the synthetic market when --data is absent (s)",
    )
    g.add_argument(
        "--synth-seed",
        *aliases,
        metavar="N",
        type=int,
        default=seed,
        action=TypedFlag,
        help="path (seed) of the synthetic market when --data is absent",
    )
    g.add_argument(
        "--signal-strength",
        metavar="X",
        type=float,
        default=signal_market_config().signal_strength,
        action=TypedFlag,
        help="signal of the synthetic market when --data is absent (0 none, 1 strongest)",
    )


def _add_backend(parser: argparse.ArgumentParser, what: str) -> None:
    """``--backend local|ray`` and ``--ray-address`` (lobzero.distributed.backend)."""
    from lobzero.distributed.backend import BACKENDS

    g = parser.add_argument_group("backend", f"where {what} run")
    g.add_argument(
        "--backend",
        choices=BACKENDS,
        default="local",
        help="local: here, one after the other; ray: Ray tasks (the `ray` extra)",
    )
    g.add_argument(
        "--ray-address",
        metavar="ADDRESS",
        default=None,
        help="the Ray cluster (auto, or ray://host:10001); default: start a local one",
    )


def _backend(args: argparse.Namespace) -> Any:
    from lobzero.distributed.backend import make_backend

    return make_backend(args.backend, args.ray_address)


def _add_configs(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--config", metavar="TOML", type=Path, default=None, help=f"{what} TOML")
    parser.add_argument(
        "--env-config", metavar="TOML", type=Path, default=None, help="EnvConfig TOML"
    )


#: EnvConfig fields without a flag: the seed is the run's (--seed, or each of --seeds)
ENV_SKIP = {"seed": "the run's --seed (or each of --seeds) seeds the environment"}
MUZERO_SKIP = {
    "total_env_steps": "--steps",
    "encoder": "--encoder",
    "encoder_mode": "--encoder-mode",
    "encoder_lr_scale": "--encoder-lr-scale",
}


def _env_group(parser: argparse.ArgumentParser, base: Any | None = None) -> FlagGroup:
    from lobzero.envs.config import EnvConfig

    return FlagGroup(
        parser, base or EnvConfig(), "environment (EnvConfig, over --env-config)", skip=ENV_SKIP
    )


def _algo_groups(parser: argparse.ArgumentParser, muzero_title: str) -> dict[str, FlagGroup]:
    from lobzero.baselines.sb3 import PpoConfig, SacConfig
    from lobzero.muzero.config import MuZeroConfig

    return {
        "muzero": FlagGroup(
            parser, MuZeroConfig(), muzero_title, prefix="muzero-", skip=MUZERO_SKIP
        ),
        "ppo": FlagGroup(parser, PpoConfig(), "PPO (PpoConfig)", prefix="ppo-"),
        "sac": FlagGroup(parser, SacConfig(), "SAC (SacConfig)", prefix="sac-"),
    }


def _import_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--format",
        "-f",
        default=None,
        help="binance-stream, binance-csv, tardis, lobster, hyperliquid, databento, "
        "order-events, hftbacktest, parquet (default: guessed)",
    )
    p.add_argument(
        "--opt",
        action="append",
        metavar="COLUMN=NAME",
        help="order-events: a column name, repeatable (id_column, time_column, "
        "exchange_time_column, side_column, price_column, size_column, action_column; "
        "e.g. --opt size_column=amount); every other option is a flag",
    )
    p.add_argument("--symbol", action=TypedFlag, help="instrument symbol (default: the file's)")
    p.add_argument("--venue", action=TypedFlag, help="venue (default: the file's)")
    p.add_argument(
        "--tick-size",
        action=TypedFlag,
        help="decimal, e.g. 0.01 (default: inferred when possible)",
    )
    p.add_argument(
        "--lot-size", action=TypedFlag, help="decimal, e.g. 0.001 (default: inferred when possible)"
    )
    p.add_argument(
        "--contract-size",
        action=TypedFlag,
        help="decimal: quote notional of one contract when inverse (BTCUSD_PERP: 100), base "
        "units per unit of size when linear (default: the importer's, 1 except Binance COIN-M)",
    )
    p.add_argument(
        "--inverse",
        action=TypedSwitch,
        default=None,
        help="profit and loss in the base coin (COIN-M); --no-inverse forces linear "
        "(default: the importer's)",
    )
    p.add_argument(
        "--multiplier",
        action=TypedFlag,
        help="decimal: quote currency per price point per unit of size (ES: 50; default 1)",
    )
    p.add_argument(
        "--on-gap",
        choices=["error", "resync"],
        default=None,
        action=TypedFlag,
        help="on a sequence gap: stop, or clear the book until a snapshot (default: error)",
    )
    p.add_argument(
        "--date",
        action=TypedFlag,
        help="lobster: trading day YYYY-MM-DD (default: from the file name)",
    )
    p.add_argument(
        "--levels",
        type=int,
        action=TypedFlag,
        help="lobster: book levels in the orderbook file (default: from the file name)",
    )
    p.add_argument(
        "--on-book-mismatch",
        choices=["error", "count"],
        default=None,
        action=TypedFlag,
        help="lobster: a message that disagrees with the book change: stop, or count it",
    )
    p.add_argument(
        "--definition",
        type=Path,
        action=TypedFlag,
        help="databento: a definition DBN file (tick size, contract multiplier)",
    )
    p.add_argument(
        "--instrument-id",
        type=int,
        action=TypedFlag,
        help="databento: the instrument of a file that holds several",
    )
    p.add_argument(
        "--on-unknown-order",
        choices=["error", "skip"],
        default=None,
        action=TypedFlag,
        help="databento, order-events: a cancel, modify or fill of an order never added: stop, "
        "or skip it (counted; the book is marked partial) (default: error)",
    )
    p.add_argument(
        "--on-cross",
        choices=["error", "hold"],
        default=None,
        action=TypedFlag,
        help="databento, order-events: the book of orders crossed after an event: stop, or "
        "hold level updates until it uncrosses (default: error)",
    )
    p.add_argument(
        "--size-scale",
        action=TypedFlag,
        help="order-events: decimal, the size of one unit of the size column "
        "(e.g. 0.00000001 for satoshis; default 1)",
    )
    p.add_argument(
        "--time-unit",
        choices=["ns", "us", "ms", "s"],
        default=None,
        action=TypedFlag,
        help="order-events: the unit of the time columns (default: ms)",
    )
    p.add_argument(
        "--round-qty",
        action="store_true",
        help="round sizes off the lot grid to the nearest lot (counted)",
    )


def _build_data(data: argparse.ArgumentParser) -> None:
    data.set_defaults(func=_show_help(data), groups={})
    data_sub = data.add_subparsers(title="data commands", metavar="COMMAND", parser_class=_Parser)

    imp = data_sub.add_parser(
        "import", help=DATA_COMMANDS["import"], description=DATA_COMMANDS["import"]
    )
    imp.add_argument(
        "inputs",
        nargs="+",
        type=Path,
        help="files of one recording, in order (files of several symbols: grouped by symbol)",
    )
    _add_out(imp, None, "output .parquet (files of several symbols: a universe folder)", "--output")
    _import_flags(imp)
    imp.set_defaults(func=_cmd_import)

    info = data_sub.add_parser(
        "info", help=DATA_COMMANDS["info"], description=DATA_COMMANDS["info"]
    )
    info.add_argument("file", type=Path, help="market file or universe folder")
    info.add_argument(
        "--step-ms", type=float, default=100.0, help="clock of the spread and mid statistics (ms)"
    )
    info.add_argument("--json", action="store_true", help="print one JSON object")
    _import_flags(info)
    info.set_defaults(func=_cmd_info, extra_names={"step_ms": "--step-ms"})

    synth = data_sub.add_parser(
        "synth", help=DATA_COMMANDS["synth"], description=DATA_COMMANDS["synth"]
    )
    _add_out(synth, None, "output .parquet", "--output")
    synth.add_argument(
        "--preset",
        choices=("signal", "plain"),
        default="signal",
        help="signal: the market compare and train-agent use without --data "
        "(lobzero.signal_market); plain: SynthConfig's defaults",
    )
    synth.add_argument(
        "--config", type=Path, default=None, help="SynthConfig TOML, over the preset"
    )
    groups = {
        "synth": FlagGroup(
            synth, _synth_presets()["signal"], "synthetic market (SynthConfig; --preset signal)"
        )
    }
    synth.set_defaults(func=_cmd_synth, groups=groups)


def _add_encoder_flags(p: argparse.ArgumentParser) -> None:
    from lobzero.encoder.agents import ENCODER_MODES

    g = p.add_argument_group(
        "pretrained encoder",
        "the order-book encoder of `lobzero train-encoder` in front of the agent",
    )
    g.add_argument(
        "--encoder",
        metavar="PATH",
        default=None,
        help="encoder checkpoint: observations carry its book window, the policy (PPO, SAC) or "
        "MuZero's representation encodes it; the agent embeds it",
    )
    g.add_argument(
        "--encoder-mode",
        choices=ENCODER_MODES,
        default="frozen",
        help="frozen: the encoder's weights stay as trained; fine-tune: they train with the agent",
    )
    g.add_argument(
        "--encoder-lr-scale",
        metavar="X",
        type=float,
        default=0.1,
        help="fine-tune: the encoder's learning rate is the agent's times this",
    )


def _build_train_agent(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--algo", choices=("muzero", "ppo", "sac"), default="muzero", help="what to train"
    )
    p.add_argument(
        "--env", default=None, help="a gymnasium id to train MuZero on instead (e.g. CartPole-v1)"
    )
    p.add_argument(
        "--steps",
        metavar="N",
        type=int,
        default=None,
        action=TypedFlag,
        help=f"environment steps to train (default: {DEFAULT_STEPS:,}, or the --config's "
        "total_env_steps for MuZero)",
    )
    _add_out(p, "runs/agent", "output folder or fsspec URL (s3://bucket/run)", url=True)
    p.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of the run and its environments"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --out from its checkpoint"
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    p.add_argument(
        "--risk", metavar="TOML", type=Path, default=None,
        help="train with the guards of a risk TOML (lobzero.risk) between the policy and "
        "the market",
    )  # fmt: skip
    _add_configs(p, "the algorithm's (MuZeroConfig, PpoConfig or SacConfig)")
    _add_market(p, 3600.0, 0)
    groups = {"env": _env_group(p), **_algo_groups(p, "MuZero (MuZeroConfig, over --config)")}
    _add_backend(p, "MuZero's self-play actors")
    _add_encoder_flags(p)
    g = p.add_argument_group("ray self-play", "MuZero on --backend ray")
    defaults = RAY_SELF_PLAY_DEFAULTS
    g.add_argument(
        "--actors", metavar="N", type=int, default=defaults["actors"], help="self-play actors"
    )
    g.add_argument(
        "--broadcast-interval",
        metavar="N",
        type=int,
        default=defaults["broadcast_interval"],
        help="learner updates between weight broadcasts to the actors (1: in sync)",
    )
    g.add_argument(
        "--reanalyse-actors",
        metavar="N",
        type=int,
        default=defaults["reanalyse_actors"],
        help="reanalyse actors (with reanalyse_fraction > 0), each a part of a batch's searches",
    )
    g.add_argument(
        "--asynchronous",
        action="store_true",
        help="actors step without waiting for each other or the learner (not reproducible)",
    )
    g.add_argument(
        "--max-ahead",
        metavar="N",
        type=int,
        default=defaults["max_ahead"],
        help="with --asynchronous: steps an actor may play ahead of the learner's buffer",
    )
    g.add_argument(
        "--actor-device",
        choices=("cpu", "cuda"),
        default="cpu",
        help="where the actors' network inference runs (the Rust search stays on the CPU)",
    )
    g.add_argument(
        "--actor-gpus",
        metavar="F",
        type=float,
        default=None,
        help="GPUs per actor with --actor-device cuda, fractional to share one (default 1)",
    )
    p.set_defaults(func=_cmd_train_agent, groups=groups, extra_names={"total_env_steps": "--steps"})


def _build_train_adversarial(p: argparse.ArgumentParser) -> None:
    from lobzero.adversarial import AdversarialConfig
    from lobzero.muzero.config import MuZeroConfig

    _add_out(p, "runs/adversarial", "output folder")
    p.add_argument(
        "--seed", metavar="N", type=int, default=0, help="seed of the run and its environments"
    )
    _add_configs(p, "AdversarialConfig")
    _add_market(p, 3600.0, 0)
    groups = {
        "adversarial": FlagGroup(
            p,
            AdversarialConfig(),
            "adversarial training (AdversarialConfig, over --config)",
            renames={
                "trader_steps": ("--steps", "--trader-steps"),
                "budget": ("--moves-per-episode", "--budget"),
            },
            prefixes={"adversary": "adversary-ppo-"},
            skip={"muzero": "the --muzero-* flags"},
        ),
        "muzero": FlagGroup(
            p,
            MuZeroConfig(),
            "MuZero trader (--trader muzero; MuZeroConfig)",
            prefix="muzero-",
            skip={"total_env_steps": "--steps"},
        ),
        "env": _env_group(p),
    }
    p.set_defaults(func=_cmd_train_adversarial, groups=groups)


def _build_robustness(p: argparse.ArgumentParser) -> None:
    from lobzero.evaluation.robustness import RobustnessConfig

    p.add_argument(
        "--agent",
        required=True,
        help="rule:NAME (flat, buy_and_hold, random, imbalance) or an agent folder",
    )
    _add_out(p, "runs/robustness", "output folder or fsspec URL", url=True)
    _add_configs(p, "RobustnessConfig ([env] included)")
    # path 1: not the path 0 that train-agent and compare train on
    _add_market(p, 3600.0, 1, "--market-seed")
    group = FlagGroup(
        p,
        RobustnessConfig(),
        "robustness (RobustnessConfig; the environment over --env-config)",
        prefixes={"env": ""},
        skip={"env.seed": ENV_SKIP["seed"]},
    )
    _add_backend(p, "the (intensity, seed) episodes")
    p.set_defaults(func=_cmd_robustness, groups={"robustness": group})


def _build_compare(p: argparse.ArgumentParser) -> None:
    from lobzero.evaluation.compare import AGENTS, CompareConfig
    from lobzero.muzero.config import MuZeroConfig

    p.add_argument(
        "--agents",
        metavar="LIST",
        default="muzero,ppo,sac,buy_and_hold,random,flat",
        help=f"comma-separated, the first is the candidate of the verdict; of {', '.join(AGENTS)}",
    )
    p.add_argument("--seeds", metavar="N", type=int, default=3, help="training seeds per agent")
    p.add_argument(
        "--steps",
        "--budget-steps",
        metavar="N",
        type=int,
        default=20_000,
        action=TypedFlag,
        help="training env steps per agent, seed and fold",
    )
    _add_out(p, "runs/compare", "report folder or fsspec URL", url=True)
    p.add_argument(
        "--risk",
        metavar="TOML",
        type=Path,
        default=None,
        help="RiskConfig file: also test every agent through these risk guards (rows agent+risk)",
    )
    _add_configs(p, "CompareConfig ([env], [walkforward], [ppo], [sac], [muzero])")
    _add_market(p, 1800.0, 0)
    groups = {
        "compare": FlagGroup(
            p,
            CompareConfig(),
            "comparison and its environment (CompareConfig, over --config and --env-config)",
            prefixes={"env": "", "ppo": "ppo-", "sac": "sac-"},
            renames={"walkforward.folds": ("--folds", "--walkforward-folds")},
            skip={"env.seed": ENV_SKIP["seed"], "muzero": "the --muzero-* flags"},
        ),
        "muzero": FlagGroup(
            p,
            MuZeroConfig(),
            "MuZero agents (the changes of CompareConfig.muzero)",
            prefix="muzero-",
            skip=MUZERO_SKIP,
        ),
    }
    _add_backend(p, "the (agent, fold, seed) jobs")
    extra = {"budget_steps": "--steps", "total_env_steps": "--steps"}
    p.set_defaults(func=_cmd_compare, groups=groups, extra_names=extra)


def _build_train_encoder(p: argparse.ArgumentParser) -> None:
    from lobzero.encoder.command import build

    build(p)


def _build_tune(p: argparse.ArgumentParser) -> None:
    from lobzero.distributed.tune import ALGOS

    p.add_argument("--algo", required=True, choices=ALGOS, help="the agent whose settings to tune")
    p.add_argument(
        "--params",
        metavar="LIST",
        default=None,
        help="comma-separated settings to search (default: all of the algorithm's space)",
    )
    p.add_argument("--trials", metavar="N", type=int, default=20, help="trials in the study, all")
    p.add_argument(
        "--storage",
        metavar="URL",
        default="sqlite:///tune.db",
        help="the Optuna storage the study lives (and resumes) in",
    )
    p.add_argument("--study", metavar="NAME", default=None, help="default: lobzero-ALGO")
    p.add_argument("--space", metavar="TOML", type=Path, default=None, help="search space TOML")
    p.add_argument(
        "--steps", metavar="N", type=int, default=20_000, help="training env steps per trial"
    )
    p.add_argument("--seed", type=int, default=0, help="training and sampler seed")
    _add_out(p, "runs/tune", "folder of best.toml, best_compare.toml and the PNGs")
    _add_configs(p, "the base CompareConfig ([env], [walkforward], [ppo], [sac], [muzero])")
    _add_market(p, 1800.0, 0)
    _add_backend(p, "the trials")
    p.set_defaults(func=_cmd_tune, groups={})


def _build_demo(p: argparse.ArgumentParser) -> None:
    _add_out(p, "runs/demo", "output folder")
    p.add_argument("--seeds", type=int, default=2, help="training seeds per agent")
    p.add_argument(
        "--steps", "--budget-steps", type=int, default=8000, help="training steps per agent"
    )
    p.set_defaults(func=_cmd_demo, groups={})


def _build_paper(p: argparse.ArgumentParser) -> None:
    from lobzero.live.cli_paper import build_paper

    build_paper(p)


DATA_COMMANDS = {
    "import": "exchange/vendor files -> lobzero Parquet",
    "info": "what a market file holds (--json: one JSON object)",
    "synth": "write the built-in synthetic market (the one compare uses by default)",
}

#: subcommand -> (one line of help, what adds its flags)
COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "data": ("market data: data import | data info | data synth", _build_data),
    "train-encoder": ("train and score the order-book encoder", _build_train_encoder),
    "train-agent": ("train one agent (MuZero, PPO or SAC)", _build_train_agent),
    "train-adversarial": (
        "train a trader and a PPO adversary in turn",
        _build_train_adversarial,
    ),
    "robustness": ("an agent's metrics under adversarial injection", _build_robustness),
    "compare": ("train, select and test agents on one walk-forward split", _build_compare),
    "tune": ("tune an agent's settings with Optuna, on validation", _build_tune),
    "demo": ("the quick tour that `make demo` runs", _build_demo),
    "paper": (
        "paper trading on a feed; paper report | paper rollback",
        _build_paper,
    ),
}


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The `lobzero` parser; ``only``: the one subcommand whose flags are built (building a
    subcommand imports its configurations), "" for none (the top-level help)."""
    from lobzero import __version__

    parser = _Parser(
        prog="lobzero",
        description="lobzero: train and compare trading agents on limit-order-book data.",
        epilog=__doc__.split("\n\n", 1)[1],
    )
    parser.add_argument("--version", action="version", version=f"lobzero {__version__}")
    parser.set_defaults(func=_show_help(parser), groups={})
    sub = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for name, (summary, build) in COMMANDS.items():
        p = sub.add_parser(name, help=summary, description=summary)
        if only is None or only == name:
            build(p)
    return parser


def _command_of(argv: Sequence[str]) -> str:
    """The subcommand named in ``argv`` ("" when none: top-level options only)."""
    return next((a for a in argv if not a.startswith("-")), "")


def _error_line(error: BaseException, args: argparse.Namespace) -> str:
    """The error as one line, in the words of the flags the user typed."""
    names, owners = flag_names(
        args.groups.values(), getattr(args, "typed_flags", None), getattr(args, "extra_names", None)
    )
    for dest in (*IMPORT_OPTIONS, "out", "steps", "synth_seed", "signal_strength"):
        names.setdefault(dest, "--" + dest.replace("_", "-"))
    message = flag_message(" ".join(str(error).split()), names, owners)
    return f"{type(error).__name__}: {message}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `lobzero` console script; returns the exit code."""
    from lobzero.interrupt import Interrupted, signal_handlers

    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_of(argv)
    parser = build_parser(command if command in COMMANDS else "")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, usage errors (already printed)
        return int(e.code or 0)
    try:
        with signal_handlers():
            return int(args.func(args))
    except Interrupted as e:
        print(e.line(), file=sys.stderr, flush=True)
        return e.exit_code
    except LobzeroError as e:
        sys.stdout.flush()
        sys.stderr.write(_error_line(e, args) + "\n")
        return 2


if __name__ == "__main__":
    sys.exit(main())
