"""``lobzero paper ab``: the champion against its shadow over a paper run, from the replay
database: per symbol, how often the shadow's action equals the champion's (both as decided,
before the over-budget policy and the risk layer), and the shadow's paper PnL: its decisions
replayed through a fresh :class:`~lobzero.live.broker.PaperBroker` on the same events (the
run's start and environment, from the database), next to the champion's.

The shadow decided on the champion's observations: where the observation holds the account
(position, PnL features), the replay feeds it back a trajectory it did not see, so its PnL is
what its decisions would have made, not what it would have made deciding on its own account.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from lobzero.data.market import Market
from lobzero.envs import EnvConfig
from lobzero.exceptions import ConfigError
from lobzero.live.broker import PaperBroker
from lobzero.live.database import ReplayDatabase


def compare(db: ReplayDatabase, markets: Mapping[str, Market] | None = None) -> dict[str, Any]:
    """Per symbol: ``decisions``, ``shadow_decisions``, ``agreement`` (share of the steps both
    decided with equal actions), ``champion_pnl`` (settlement currency, against the initial
    cash) and, with ``markets``, ``shadow_pnl``, ``shadow_fills`` and ``shadow_fees`` (a
    step without a shadow decision, after a crash of the shadow, holds). Plus the versions."""
    meta = db.meta()
    if not meta:
        raise ConfigError(f"{db.path}: no paper run in this database")
    env = EnvConfig.from_dict(meta["env"])
    initial = float(env.initial_cash)
    start = int(meta["start_ns"])
    broker = None
    if markets is not None:
        missing = [s for s in meta["symbols"] if s not in markets]
        if missing:
            raise ConfigError(f"--feed lacks the run's symbols {', '.join(missing)}")
        broker = PaperBroker({s: markets[s] for s in meta["symbols"]}, env)
    out: dict[str, Any] = {}
    for symbol in meta["symbols"]:
        champion = db.decisions(symbol)
        shadow = {r["step"]: r for r in db.shadow_decisions(symbol)}
        both = [d for d in champion if d["step"] in shadow]
        agree = [d["intended_action"] == shadow[d["step"]]["action"] for d in both]
        row: dict[str, Any] = {
            "decisions": len(champion),
            "shadow_decisions": len(shadow),
            "agreement": float(np.mean(agree)) if agree else float("nan"),
            "champion_pnl": champion[-1]["equity"] - initial if champion else 0.0,
            "champion_fills": len(db.fills(symbol)),
            "champion_versions": sorted({d["model_version"] for d in champion}),
            "shadow_versions": sorted({r["model_version"] for r in shadow.values()}),
        }
        if broker is not None:
            broker.open(symbol, start)
            equity, fills, fees = initial, 0, 0.0
            discrete = env.action_mode != "continuous"
            for d in champion:
                s = shadow.get(d["step"])
                if s is None:
                    action: Any = broker.hold_action(symbol)
                else:
                    action = int(s["action"]) if discrete else np.float32(s["action"])
                ex = broker.execute(symbol, action)
                equity, fees = float(ex.info["equity"]), float(ex.info["fees"])
                fills += len(ex.fills)
                if ex.done:
                    break
            row.update({"shadow_pnl": equity - initial, "shadow_fills": fills,
                        "shadow_fees": fees})  # fmt: skip
        out[symbol] = row
    return out
