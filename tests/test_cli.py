"""The `lobzero` command: in-process through `main(argv)`, and through real pipes (subprocess)
where stdout, stderr and the terminal width matter."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import lobzero
import pytest
from lobzero.cli import COMMANDS, build_parser, compare_config, main

from tests.data.test_import_binance_stream import depth, futures_lines, write

REPO = Path(__file__).resolve().parents[1]
#: subcommands that build an environment (and an agent, or play one)
ENV_COMMANDS = ("train-agent", "train-adversarial", "robustness", "compare")


def run_cli(*argv: str, columns: int = 80, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`lobzero ARGV` in a fresh process, stdout and stderr on pipes, COLUMNS set."""
    env = {
        **os.environ,
        "COLUMNS": str(columns),
        "PYTHONPATH": str(REPO / "python") + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    env.pop("FORCE_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "lobzero.cli", *argv],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
    )


def subparser(name: str) -> argparse.ArgumentParser:
    """The parser of one subcommand (``"data synth"`` for a data subcommand)."""
    words = name.split()
    parser: argparse.ArgumentParser = build_parser(words[0])
    for word in words:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[word]
    return parser


def options(name: str) -> set[str]:
    return {o for a in subparser(name)._actions for o in a.option_strings}


# ---------------------------------------------------------------- the flows


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
    assert info["max_levels"]["bid"] > 1000  # the REST snapshot has 1000 levels a side


def test_synth_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "synth.parquet"
    args = ["data", "synth", "--preset", "plain", "--seconds", "30", "--seed", "3"]
    assert main([*args, "--signal-strength", "1", "-o", str(out)]) == 0
    market = lobzero.Market.load(out)
    assert market.import_report["config"]["signal_strength"] == 1.0
    assert market.to_polars().equals(
        lobzero.synth_market(seconds=30, seed=3, signal_strength=1.0).to_polars()
    )
    capsys.readouterr()
    assert main(["data", "synth", "--seconds", "-5", "--output", str(out)]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("ConfigError: --seconds must be") and not captured.out


def test_synth_from_a_config_file(tmp_path: Path) -> None:
    config = lobzero.SynthConfig(seconds=20, seed=9, levels=10).save(tmp_path / "s.toml")
    out = tmp_path / "s.parquet"
    assert main(["data", "synth", "--config", str(config), "-o", str(out)]) == 0
    assert lobzero.Market.load(out).import_report["config"]["levels"] == 10
    # a flag overrides the file
    assert main(["data", "synth", "--config", str(config), "--levels", "8", "-o", str(out)]) == 0
    assert lobzero.Market.load(out).import_report["config"]["levels"] == 8


def test_data_synth_writes_the_market_compare_and_train_agent_use(tmp_path: Path) -> None:
    """Old code: `data synth` had signal strength 0.5 and the fast pressure, so no flag of it
    wrote `signal_market`, and its default signal differed from the other subcommands'."""
    from lobzero.evaluation.report import load_market

    out = tmp_path / "m.parquet"
    assert main(["data", "synth", "--seconds", "60", "-o", str(out)]) == 0
    default = load_market(None, 60.0)  # what compare and train-agent build without --data
    assert lobzero.Market.load(out).to_polars().equals(default.to_polars())
    strengths = {name: subparser(name).get_default("signal_strength") for name in ENV_COMMANDS}
    synth = next(
        a for a in subparser("data synth")._actions if "--signal-strength" in a.option_strings
    )
    assert set(strengths.values()) == {1.0}
    assert "(default: 1.0)" in (synth.help or "")


# ---------------------------------------------------------------- one grammar


def test_the_same_names_everywhere() -> None:
    """Old code: robustness had no --config nor --env-config, --out had no -o, data import
    and synth spelled it -o/--output, train-adversarial had no --steps nor
    --moves-per-episode, robustness's market seed was --market-seed."""
    for name in (*ENV_COMMANDS, "demo", "data import", "data synth"):
        assert {"-o", "--out"} <= options(name), name
    for name in ENV_COMMANDS:
        assert {"--config", "--env-config", "--data", "--synth-seed"} <= options(name), name
        assert {"--step-ms", "--episode-steps", "--adversary-intensity"} <= options(name), name
    for name in ("train-agent", "train-adversarial", "compare", "demo"):
        assert "--steps" in options(name), name
    for name in ("robustness", "compare", "demo"):
        assert "--seeds" in options(name), name
    # the old names still work, as aliases of the new
    aliases = [
        ("compare", "--budget-steps", "--steps"),
        ("demo", "--budget-steps", "--steps"),
        ("train-adversarial", "--trader-steps", "--steps"),
        ("train-adversarial", "--budget", "--moves-per-episode"),
        ("robustness", "--market-seed", "--synth-seed"),
        ("data synth", "--output", "--out"),
        ("data import", "--output", "--out"),
        ("compare", "--walkforward-folds", "--folds"),
    ]
    for name, old, new in aliases:
        by_option = {o: a.dest for a in subparser(name)._actions for o in a.option_strings}
        assert by_option[old] == by_option[new], (name, old)


def _missing_flags(parser: argparse.ArgumentParser, config: Any, prefix: str) -> list[str]:
    """Fields of ``config`` (nested ones under ``{prefix}{field}-``) with no flag on
    ``parser`` and not listed as skipped by the CLI: what a forgotten option looks like."""
    from lobzero.cli import ENV_SKIP, MUZERO_SKIP

    known = {o for a in parser._actions for o in a.option_strings}
    skipped = {*ENV_SKIP, *MUZERO_SKIP, "muzero", "trader_steps", "budget"}
    missing = []
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in skipped:
            continue
        if dataclasses.is_dataclass(value):
            nested = "" if (prefix, f.name) == ("", "env") else f"{prefix}{f.name}-"
            if (prefix, f.name) == ("", "adversary") and type(value).__name__ == "PpoConfig":
                nested = "adversary-ppo-"
            missing += _missing_flags(parser, value, nested)
        elif f"--{prefix}{f.name.replace('_', '-')}" not in known:
            if (prefix, f.name) == ("walkforward-", "folds") and "--folds" in known:
                continue
            missing.append(f"{type(config).__name__}.{f.name}")
    return missing


def test_every_config_field_has_a_flag() -> None:
    from lobzero.adversarial import AdversarialConfig
    from lobzero.baselines.sb3 import PpoConfig, SacConfig
    from lobzero.envs.config import EnvConfig
    from lobzero.evaluation.compare import CompareConfig
    from lobzero.evaluation.robustness import RobustnessConfig
    from lobzero.muzero.config import MuZeroConfig

    expected: dict[str, list[tuple[Any, str]]] = {
        "train-agent": [
            (EnvConfig(), ""),
            (MuZeroConfig(), "muzero-"),
            (PpoConfig(), "ppo-"),
            (SacConfig(), "sac-"),
        ],
        "train-adversarial": [
            (EnvConfig(), ""),
            (AdversarialConfig(), ""),
            (MuZeroConfig(), "muzero-"),
        ],
        "robustness": [(RobustnessConfig(), "")],
        "compare": [(CompareConfig(), ""), (MuZeroConfig(), "muzero-")],
        "data synth": [(lobzero.SynthConfig(), "")],
    }
    for name, configs in expected.items():
        parser = subparser(name)
        for config, prefix in configs:
            assert _missing_flags(parser, config, prefix) == [], name
    # the check's power: a field added to EnvConfig without a flag is reported (a plain
    # dataclass with EnvConfig's fields and one more: a TomlConfig subclass made here would
    # join the classes that tests/test_config_roundtrip.py finds)
    base = EnvConfig()
    fields = [
        (f.name, f.type, dataclasses.field(default=getattr(base, f.name)))
        for f in dataclasses.fields(base)
    ]
    extra = dataclasses.make_dataclass(
        "EnvConfig", [*fields, ("queue_model", str, dataclasses.field(default="fifo"))]
    )
    assert _missing_flags(subparser("compare"), extra(), "") == ["EnvConfig.queue_model"]


def test_a_field_of_an_unknown_type_stops_the_parser() -> None:
    """The generator refuses a field it cannot make a flag for instead of leaving it out."""
    from lobzero.cli_flags import FlagGroup
    from lobzero.config import TomlConfig

    @dataclasses.dataclass(frozen=True)
    class Odd(TomlConfig):
        table: dict[str, int] = dataclasses.field(default_factory=dict)

    with pytest.raises(TypeError, match=r"Odd\.table: no flag"):
        FlagGroup(argparse.ArgumentParser(), Odd(), "odd")
    FlagGroup(argparse.ArgumentParser(), Odd(), "odd", skip={"table": "a reason"})


def test_flags_override_the_toml_which_overrides_the_defaults(tmp_path: Path) -> None:
    config = tmp_path / "compare.toml"
    config.write_text(
        "validation_episodes = 2\n[env]\nepisode_steps = 50\nlatency_ms = 3.0\n"
        "[walkforward]\nfolds = 2\n[muzero]\nhidden = 32\n"
    )
    env = lobzero.EnvConfig(step_ms=250.0, latency_ms=7.0).save(tmp_path / "env.toml")
    argv = ["compare", "--config", str(config), "--env-config", str(env), "--folds", "3"]
    argv += ["--latency-ms", "5", "--muzero-num-simulations", "8", "--ppo-n-steps", "64"]
    args = build_parser("compare").parse_args(argv)
    got = compare_config(args)
    assert got.walkforward.folds == 3  # flag over TOML
    assert got.validation_episodes == 2  # TOML over default
    assert got.test_episodes == 0  # default
    assert got.env.step_ms == 250.0  # --env-config over [env]
    assert got.env.latency_ms == 5.0  # flag over both
    assert got.muzero == {"hidden": 32, "num_simulations": 8}
    assert got.ppo.n_steps == 64 and got.ppo.batch_size == 256


# ---------------------------------------------------------------- help and errors


def test_help_shows_every_default() -> None:
    """Old code: most options (--seed, --config, --rounds, --steps, ...) showed none."""
    from lobzero.cli import _HelpFormatter

    names = [n for n in COMMANDS if n != "data"] + ["data import", "data info", "data synth"]
    for name in names:
        parser = subparser(name)
        formatter = _HelpFormatter(parser.prog)
        for action in parser._actions:
            if not action.option_strings or isinstance(action, argparse._HelpAction):
                continue
            text = formatter._format_action(action)  # the lines --help prints for it
            assert "(default:" in text or "(required)" in text, (name, action.option_strings)
        parser.format_help()  # every help string formats (no stray % in a docstring)


def test_top_level_help_lists_every_subcommand_on_one_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name, (summary, _) in COMMANDS.items():
        assert re.search(rf"^\s+{re.escape(name)}\s+{re.escape(summary)}$", out, re.M), name
    assert "data import" in out
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"lobzero {lobzero.__version__}"


def test_an_incomplete_command_shows_its_help(capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: `lobzero data` said "the following arguments are required: data_command"."""
    assert main(["data"]) == 2
    err = capsys.readouterr().err
    assert "usage: lobzero data" in err and "synth" in err and "data_command" not in err


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert len(lines) == 1, captured.err
    return lines[0]


def test_errors_name_the_flag_the_user_typed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old code: `AdversarialConfig.rounds`, `step_ns`, `on_gap="resync"` (and no --step-ms
    flag on compare at all)."""
    line = _error(["train-adversarial", "--rounds", "0"], capsys)
    assert line == "ConfigError: --rounds must be >= 1"
    assert "--budget must" in _error(["train-adversarial", "--budget", "-1"], capsys)
    line = _error(["train-adversarial", "--moves-per-episode", "-1"], capsys)
    assert "--moves-per-episode must" in line
    line = _error(["compare", "--step-ms", "0.0000001"], capsys)
    assert line.startswith("ConfigError: --step-ms must be > 0") and "_ns" not in line
    good = lobzero.synth_market(seconds=10, seed=1).save(tmp_path / "m.parquet")
    line = _error(["data", "info", str(good), "--step-ms", "0"], capsys)
    assert line.startswith("ConfigError: --step-ms must be > 0") and "step_ns" not in line
    line = _error(["train-agent", "--adversary-noise-std", "-1"], capsys)
    assert line == "ConfigError: --adversary-noise-std must be >= 0"
    line = _error(["train-agent", "--algo", "ppo", "--muzero-hidden", "8"], capsys)
    assert "--muzero-hidden is for --algo muzero" in line
    lines = futures_lines()
    lines[4] = depth(5_000_000, 13, 14, 11, asks=[["100.4", "2"]])
    rec = write(tmp_path, lines)
    line = _error(["data", "import", str(rec), "-o", str(tmp_path / "x.parquet")], capsys)
    assert line.startswith("SequenceGapError: ") and "pass --on-gap resync" in line
    assert "on_gap" not in line
    out = tmp_path / "x.parquet"
    assert main(["data", "import", str(rec), "-o", str(out), "--on-gap", "resync"]) == 0


def test_errors_go_to_stderr_as_one_line_through_pipes(tmp_path: Path) -> None:
    """Old code: the error went to stdout (so `> x.json` held it), wrapped at the width."""
    bad = tmp_path / ("a-long-folder-name-" * 3) / "bad.txt"
    bad.parent.mkdir()
    bad.write_text("123 {oops\n")
    result = run_cli("data", "info", str(bad), "--format", "binance-stream", "--json", columns=40)
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith("ParseError: ") and f"{bad}:1" in result.stderr
    # a usage error: one line too, naming the flag
    result = run_cli("compare", "--step-ms", "fast", columns=40)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "--step-ms" in result.stderr
    # and a good run: stdout is the JSON, whole
    good = lobzero.synth_market(seconds=20, seed=1).save(tmp_path / "m.parquet")
    result = run_cli("data", "info", str(good), "--json", columns=40)
    assert result.returncode == 0
    assert json.loads(result.stdout)["symbol"] == "SYNTH"


# ---------------------------------------------------------------- tables


NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?%?")


def test_tables_keep_every_value_whole_in_a_narrow_pipe(tmp_path: Path) -> None:
    """Old code: rich cut cells that did not fit (`one_tick_share=0.9…`), and the robustness
    title said "1 seeds"."""
    from lobzero.cli import _fmt

    market = lobzero.synth_market(seconds=60, seed=1)
    path = market.save(tmp_path / "m.parquet")
    result = run_cli("data", "info", str(path), columns=40)
    assert result.returncode == 0, result.stderr
    assert "…" not in result.stdout
    assert all(len(line) <= 40 for line in result.stdout.splitlines())
    info = json.loads(run_cli("data", "info", str(path), "--json").stdout)
    for key in ("events", "events_per_s", "spread_ticks", "mid"):
        value = info[key]
        values = value.values() if isinstance(value, dict) else [value]
        for v in values:
            assert _fmt(v) in result.stdout, (key, _fmt(v))

    out = tmp_path / "rob"
    argv = ["robustness", "--agent", "rule:imbalance", "--synth-seconds", "600", "--seeds", "1"]
    result = run_cli(*argv, "--episode-steps", "200", "--step-ms", "1000", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert "(mean over 1 seed)" in result.stdout
    assert "…" not in result.stdout
    rows = json.loads((out / "robustness.json").read_text())["rows"]
    for row in rows:
        for text in (f"{row['sharpe']:.2f}", f"{row['total_return']:+.2%}", f"{row['fees']:,.2f}"):
            assert text in result.stdout, text


def test_a_wide_table_is_split_never_cut() -> None:
    """print_table at 80 columns with ten wide columns: every number appears whole, and the
    columns go to a second table (the key repeated) instead of being squeezed."""
    import io

    from lobzero.tables import print_table
    from rich.console import Console

    console = Console(file=io.StringIO(), width=80, color_system=None)
    headers = ["agent", *(f"metric {i}" for i in range(10))]
    cells = [
        f"{-1234.5678 * (i + 1):+,.4f}\n[{-1.2345 * i:.4f}, {9.8765 * i:.4f}]" for i in range(10)
    ]
    print_table(console, headers, [["muzero", *cells]], title="2 seeds")
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert all(len(line) <= 80 for line in text.splitlines())
    for cell in cells:
        for piece in cell.split():
            assert piece in text, piece
    assert text.count("muzero") >= 2 and "(2/" in text


# ---------------------------------------------------------------- demo


def test_demo_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lobzero.demo import run_demo

    assert run_demo(out=tmp_path, seconds=2400.0, seeds=1, budget_steps=256) == 0
    text = capsys.readouterr().out
    assert "M events/s" in text and "M steps/s" in text
    assert "muzero" in text and "report:" in text
    assert (tmp_path / "synth.parquet").exists()
    assert (tmp_path / "compare" / "index.html").exists()


def test_demo_comparison_is_the_shipped_example_config() -> None:
    from lobzero.demo import DEMO_COMPARE
    from lobzero.evaluation.compare import CompareConfig

    example = Path(__file__).resolve().parents[1] / "examples" / "configs" / "compare_synth.toml"
    assert CompareConfig.load(example) == DEMO_COMPARE


def test_the_readme_uses_the_flags_of_the_help() -> None:
    """Every flag of the README's command-line block is a flag of its subcommand (the old
    block had `--budget`, which is not train-adversarial's name any more)."""
    text = (REPO / "README.md").read_text()
    block = text.split("## The command line", 1)[1].split("```bash\n", 1)[1].split("```", 1)[0]
    command = ""
    seen = 0
    for line in block.splitlines():
        if line.startswith("lobzero "):
            words = line.split()[1:3]
            command = " ".join(words) if words[0] == "data" else words[0]
            if command.startswith("-"):
                continue
        flags = re.findall(r"(?<![\w`-])(--[a-z][a-z-]*|-o)\b", line.split("#")[0])
        if command and not command.startswith("-"):
            known = options(command)
            for flag in flags:
                assert flag in known, (command, flag)
                seen += 1
    assert seen > 20


def test_flag_names_leave_paths_and_plain_words_alone() -> None:
    """Only field names with a rule after them (or an underscore) become flags: a file called
    tick_size.csv, the word "levels" in prose, stay as they are."""
    from lobzero.cli_flags import flag_message

    names = {"tick_size": "--tick-size", "levels": "--levels", "step_ms": "--step-ms"}
    assert flag_message("/a/tick_size.csv:3: bad", names, {}) == "/a/tick_size.csv:3: bad"
    assert flag_message("10 levels a side", names, {}) == "10 levels a side"
    assert flag_message("levels must be >= 1", names, {}) == "--levels must be >= 1"
    assert flag_message("step_ns must be > 0", names, {}) == "--step-ms must be > 0"
    owners = {("EnvConfig", "step_ms"): "--step-ms"}
    assert flag_message("EnvConfig.step_ms must be > 0", {}, owners) == "--step-ms must be > 0"


def test_sigint_during_ppo_training_checkpoints_and_resume_continues(tmp_path: Path) -> None:
    """A real `python -m lobzero train-agent --algo ppo` gets SIGINT once its log shows
    training: one line on stderr names the checkpoint, the exit code is 130, no traceback; the
    checkpoint loads as an agent and --resume continues it."""
    from tests.lobzero_process import LobzeroProcess, log_rows

    config = tmp_path / "ppo.toml"
    lobzero.baselines.sb3.PpoConfig(n_steps=16, batch_size=64, n_epochs=1, num_envs=4).save(config)
    out = tmp_path / "run"
    argv = ["train-agent", "--algo", "ppo", "--config", str(config), "--out", str(out)]
    argv += ["--synth-seconds", "120", "--episode-steps", "32"]
    run = LobzeroProcess([*argv, "--steps", "1000000"], tmp_path)
    run.wait_until(lambda: log_rows(out / "train_log.csv") >= 1, "a train_log.csv row")
    assert run.signal(signal.SIGINT) == 130
    err = run.stderr()
    assert err.strip().splitlines()[-1] == (
        f"interrupted by SIGINT: checkpoint written to {out} (continue with --resume)"
    )
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    stopped = json.loads((out / "checkpoint.json").read_text())["env_steps"]
    assert stopped >= 64  # at least the logged rollout: nothing played before it is lost
    agent = lobzero.load_agent(out)
    assert agent.model.num_timesteps == stopped
    rows = log_rows(out / "train_log.csv")
    assert main([*argv, "--steps", str(stopped + 64), "--resume"]) == 0
    assert json.loads((out / "checkpoint.json").read_text())["env_steps"] >= stopped + 64
    assert log_rows(out / "train_log.csv") > rows


# ---------------------------------------------------------------- order-level imports


def test_data_import_databento_with_named_flags(shared_data: Path, tmp_path: Path) -> None:
    """The databento options are flags: --on-cross hold passes the crossed pre-open book of
    the ES session (without it the import stops), --instrument-id picks the data's
    instrument, --on-unknown-order error keeps the strict default."""
    day = shared_data / "databento-cme-es" / "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    out = tmp_path / "es.parquet"
    flags = ("-f", "databento", "--tick-size", "0.25", "--instrument-id", "17077")
    r = run_cli(
        *("data", "import", str(day), *flags, "--on-unknown-order", "error"),
        *("--on-cross", "hold", "-o", str(out)),
    )
    assert r.returncode == 0, r.stderr
    market = lobzero.Market.load(out)
    assert market.import_report["crossed_events_held"] > 0
    assert market.orders is not None and len(market.orders["order_id"]) > 0
    crossed = run_cli("data", "import", str(day), *flags, "-o", str(tmp_path / "x.parquet"))
    assert crossed.returncode == 2
    assert crossed.stderr.startswith("CrossedBookError:"), crossed.stderr


def test_data_import_order_events_with_named_flags(tmp_path: Path) -> None:
    """--time-unit, --size-scale, --on-unknown-order and --on-cross are flags; --opt names the
    columns. The log cancels order 9, never added: skipped under --on-unknown-order skip."""
    log = tmp_path / "log.csv"
    log.write_text(
        "oid,t,px,qty,kind,side\n"
        "7,10,5,3,add,buy\n"
        "9,11,5,1,cancel,buy\n"
        "8,12,6,5,add,sell\n"
        "7,13,5,1,cancel,buy\n"
    )
    out = tmp_path / "log.parquet"
    columns = ("id_column=oid", "time_column=t", "price_column=px", "size_column=qty")
    opts = [a for c in (*columns, "action_column=kind", "side_column=side") for a in ("--opt", c)]
    r = run_cli(
        *("data", "import", str(log), "-f", "order-events", *opts),
        *("--time-unit", "s", "--size-scale", "0.5", "--on-unknown-order", "skip"),
        *("--on-cross", "hold", "-o", str(out)),
    )
    assert r.returncode == 0, r.stderr
    market = lobzero.Market.load(out)
    assert market.columns()["recv_ts_ns"].tolist()[0] == 10_000_000_000
    assert market.import_report["unknown_orders"] == 1
    assert market.instrument.lot_size == "0.5"


def test_on_gap_resync_is_refused_where_the_format_has_no_sequence_gaps(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Old code: order-events, hftbacktest and databento took --on-gap resync and ignored it
    (exit 0, a market as if the flag were absent). Now a ConfigError names the flag typed and
    the format; --on-gap error (the default, which holds trivially) still imports."""
    from lobzero.data.export import to_hftbacktest_npz

    from tests.conftest import SHARED_DATA

    log = tmp_path / "log.csv"
    log.write_text(
        "id,timestamp,price,volume,action,direction\n"
        "1,1,100.5,300000000,created,bid\n"
        "2,2,101.0,200000000,created,ask\n"
    )
    npz = to_hftbacktest_npz(lobzero.synth_market(seconds=5, seed=1), tmp_path / "s.npz")
    inputs = [("order-events", log), ("hftbacktest", npz)]
    day = SHARED_DATA / "databento-cme-es" / "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    if day.is_file():
        inputs.append(("databento", day))
    for fmt, path in inputs:
        out = tmp_path / f"{fmt}.parquet"
        argv = ["data", "import", str(path), "-f", fmt, "-o", str(out)]
        line = _error([*argv, "--on-gap", "resync"], capsys)
        assert line.startswith(f"ConfigError: format {fmt!r} has no sequence numbers"), line
        assert "--on-gap resync would do nothing" in line, line
        assert not out.exists()
    out = tmp_path / "ok.parquet"
    argv = ["data", "import", str(log), "-f", "order-events", "--on-gap", "error", "-o", str(out)]
    assert main(argv) == 0
    assert lobzero.Market.load(out).import_report["format"] == "order-events"


def test_data_import_refuses_a_flag_the_format_does_not_take(
    shared_data: Path, tmp_path: Path
) -> None:
    """One line on stderr, exit 2, naming the flag typed: --size-scale is order-events', not
    databento's; --definition is databento's; --opt sets column names only."""
    day = shared_data / "databento-cme-es" / "esh4-glbx-mdp3-20231225.mbo.dbn.zst"
    out = str(tmp_path / "x.parquet")
    r = run_cli("data", "import", str(day), "-f", "databento", "--size-scale", "0.1", "-o", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith("ConfigError: format 'databento' has no option --size-scale 0.1;"), (
        r.stderr
    )
    log = tmp_path / "log.csv"
    log.write_text("id,timestamp,price,volume,action,direction\n1,1,100.5,3,created,bid\n")
    r = run_cli(
        *("data", "import", str(log), "-f", "order-events", "--definition", str(day), "-o", out)
    )
    assert r.returncode == 2
    assert f"has no option --definition {day};" in r.stderr, r.stderr
    r = run_cli("data", "import", str(day), "-f", "databento", "--opt", "on_cross=hold", "-o", out)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1, r.stderr
    assert "--opt sets the order-events column names only" in r.stderr
    assert r.stderr.rstrip().endswith("use --on-cross"), r.stderr
    assert not Path(out).exists()
