"""`lobzero train-encoder`: its flags (generated from :class:`EncoderConfig`) and its run."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from lobzero.exceptions import ConfigError


def build(p: argparse.ArgumentParser) -> None:
    """Adds the flags of ``train-encoder`` to ``p``."""
    from lobzero.cli import TypedFlag, _add_market
    from lobzero.cli_flags import FlagGroup
    from lobzero.encoder.config import EncoderConfig

    _add_market(p, 3600.0, 0)
    p.add_argument(
        "--asset",
        metavar="NAME",
        default=None,
        help="the symbol to train on when --data holds several (a universe)",
    )
    p.add_argument(
        "--test-data",
        metavar="FILE",
        nargs="+",
        default=None,
        help="new data scored beside the in-sample test: another instrument of the venue or a "
        "later period (seen with the training range's statistics)",
    )
    p.add_argument(
        "--test-asset",
        metavar="NAME",
        action="append",
        default=None,
        help="a symbol of the --data universe scored as new data (repeatable)",
    )
    p.add_argument(
        "--save-path",
        metavar="PATH",
        type=Path,
        default=Path("runs/encoder/encoder.pt"),
        action=TypedFlag,
        help="the checkpoint (best validation loss); metrics.json, train_log.csv and the "
        "figures go beside it",
    )
    p.add_argument("--config", metavar="TOML", type=Path, default=None, help="EncoderConfig TOML")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto")
    groups = {"encoder": FlagGroup(p, EncoderConfig(), "encoder (EncoderConfig, over --config)")}
    p.set_defaults(func=run, groups=groups)


def _pick(market: Any, asset: str | None, what: str) -> Any:
    from lobzero.data.universe import Universe

    if isinstance(market, Universe):
        if asset is None:
            raise ConfigError(
                f"{what} holds {len(market)} symbols ({', '.join(market)}): choose one with --asset"
            )
        return market[asset]
    if asset is not None and asset != market.instrument.symbol:
        raise ConfigError(f"--asset {asset}: {what} holds {market.instrument.symbol} only")
    return market


def run(args: argparse.Namespace) -> int:
    """Runs ``train-encoder`` from parsed arguments; prints the table and the files."""
    from lobzero.cli import _layered, _load_market, console, status_console
    from lobzero.devices import resolve_device
    from lobzero.encoder.config import EncoderConfig
    from lobzero.encoder.report import print_report
    from lobzero.encoder.run import train_encoder
    from lobzero.evaluation.report import load_market_or_universe

    config = _layered(EncoderConfig(), args.config, args.groups["encoder"], args)
    device = resolve_device(args.device)
    loaded = _load_market(args, universe=True)
    market = _pick(loaded, args.asset, "--data")
    new: dict[str, Any] = {}
    for symbol in args.test_asset or []:
        new[f"new:{symbol}"] = _pick(loaded, symbol, "--data")
    if args.test_data:
        with status_console.status(f"importing {' '.join(args.test_data)}"):
            other = load_market_or_universe(args.test_data, args.synth_seconds)
        other = _pick(other, None, "--test-data (one symbol)")
        new[f"new:{Path(args.test_data[0]).stem}"] = other
    result = train_encoder(market, config, args.save_path, device=device, new_data=new)
    print_report(console, result.scores, config.horizons)
    console.print(
        f"best epoch {result.fit.best_epoch} (validation loss {result.fit.best_val_loss:.4f}"
        + (", stopped early" if result.fit.stopped_early else "")
        + f"); encoder: {args.save_path} (lobzero.load_encoder({str(args.save_path)!r}))",
        highlight=False,
    )
    for path in result.files[1:]:
        console.print(f"  {path}", highlight=False)
    return 0
