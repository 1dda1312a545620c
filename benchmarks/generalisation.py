"""Do the agents a comparison selected keep their test return on other paths of the market?

    python benchmarks/generalisation.py RUN_DIR [--paths 1,2,3,4,5] [--episodes 16] [--json]

``RUN_DIR`` is the output folder of ``lobzero compare`` on the synthetic market (the README's
command: 2 hours, 1 s decisions, 5-minute episodes). For every agent the run trained (each seed's
selected checkpoint, ``agents/NAME/fold0_seedK/best``) and for the imbalance rule (a fixed rule:
it cannot overfit, so what it loses from one path to another is the market's doing), plays
``--episodes`` 5-minute episodes of each path in ``--paths`` (``signal_market(seed=k)``, 2 hours,
random starts over the whole path, as ``lobzero robustness --synth-seed k``), and prints the
return per episode on each path, their mean, and that mean as a share of the agent's test
return in the comparison (the issue's "keeps at least 70 %"). One path says little: the rule's
return per episode ranges over 0.6-1.7 % from path to path (2026-12-02, paths 0-5).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
import torch
from lobzero.agents import agent_env_config
from lobzero.envs import TradingEnv
from lobzero.evaluation.compare import CompareConfig
from lobzero.evaluation.report import load_agent_spec, load_market
from lobzero.evaluation.robustness import AgentSpec, robustness

SYNTH_SECONDS = 7200.0
EPISODE_STEPS = 300


def test_returns(doc: dict[str, Any]) -> dict[tuple[str, int], float]:
    """(agent, seed) -> mean test return per episode (a fraction) in a comparison's
    ``metrics.json`` (its first fold)."""
    return {
        (name, int(run["seed"])): float(np.mean([ep["total_return"] for ep in run["episodes"]]))
        for name, agent in doc["agents"].items()
        for run in agent["runs"]
        if run["fold"] == 0
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a `lobzero compare` output folder")
    parser.add_argument("--paths", default="1,2,3,4,5", help="market seeds of the other paths")
    parser.add_argument("--episodes", type=int, default=16, help="episodes per path")
    parser.add_argument("--json", action="store_true", help="one JSON line per agent and seed")
    args = parser.parse_args()
    torch.set_num_threads(1)
    try:
        paths = [int(p) for p in args.paths.split(",") if p]
    except ValueError:
        parser.error(f"--paths takes market seeds like 1,2,3, got {args.paths!r}")
    if not paths:
        parser.error("--paths needs at least one market seed, e.g. 1,2,3")
    if not (args.run / "metrics.json").is_file():
        parser.error(f"{args.run}: no metrics.json (not a `lobzero compare` output folder)")
    doc = json.loads((args.run / "metrics.json").read_text())
    tests = test_returns(doc)
    env_config = CompareConfig.from_dict(doc["config"]).env
    specs: list[tuple[str, int, str]] = [
        (name, seed, str(folder))
        for (name, seed) in sorted(tests)
        if (folder := args.run / "agents" / name / f"fold0_seed{seed}" / "best").is_dir()
    ]
    specs.append(("imbalance", 0, "rule:imbalance"))
    markets = [load_market(None, SYNTH_SECONDS, seed=k) for k in paths]
    # every path of the synthetic market has the same features: one environment tells them
    config = env_config.replace(episode_steps=EPISODE_STEPS)
    names = tuple(TradingEnv(markets[0], config).feature_names)
    rows: list[dict[str, Any]] = []
    for name, seed, spec in specs:
        # a trained agent plays in the environment it learned, as `lobzero robustness` has it
        trained = agent_env_config(load_agent_spec(spec, list(names)))
        played = (
            config
            if trained is None
            else trained.replace(episode_steps=EPISODE_STEPS, start_ns=None, end_ns=None)
        )
        per_path = []
        for market in markets:
            (row,) = robustness(AgentSpec(spec, names), market, played, [0.0], range(args.episodes))
            per_path.append(row["total_return"])
        test = tests.get((name, seed), float("nan"))
        mean = float(np.mean(per_path))
        rows.append(
            {
                "agent": name,
                "seed": seed,
                "test_return": test,
                "path_returns": dict(zip(paths, per_path, strict=True)),
                "mean_path_return": mean,
                "kept": mean / test if test > 0 else float("nan"),
            }
        )
        if args.json:
            print(json.dumps(rows[-1]), flush=True)
        else:
            cells = " ".join(f"{r:+.2%}" for r in per_path)
            print(
                f"{name:>12} seed {seed}: test {test:+.2%}  paths {cells}  mean {mean:+.2%}  "
                f"kept {rows[-1]['kept']:.0%}",
                flush=True,
            )


if __name__ == "__main__":
    main()
