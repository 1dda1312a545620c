"""lobzero's MuZero against LightZero's, side by side on the same environment and budget.

    python benchmarks/muzero_vs_lightzero.py --peer-python P [--env CartPole-v1|lobzero]
        [--steps N] [--seeds 0,1,2] [--eval-interval N] [--eval-episodes 20]
        [--simulations 16] [--lightzero-policy muzero|gumbel_muzero] [--lightzero-ssl]
        [--lightzero-latent 128] [--lightzero-collectors 8] [--lightzero-td-steps N]
        [--only lobzero|lightzero]
        [--out DIR] [--json]

For every seed it trains lobzero's MuZero in this process, then LightZero's MuZero (``lzero``
0.1.0) in its own virtual environment: ``benchmarks/_lightzero_runner.py`` run by the python
``P`` with this checkout's ``python/`` on ``PYTHONPATH`` (the trading environment and the
scoring code come from lobzero; the peer's numpy 1.26 loads lobzero's extension, and lobzero's
pure-Python dependencies must be there: ``P -m pip install tomli-w polars pyarrow``).

Both sides get the same env steps, simulations per search, discount, TD and unroll steps
(``--lightzero-td-steps`` gives LightZero its own), batch size, updates per env step and
learning rate, and are scored by the same code
(``_lightzero_runner.evaluate``) at the same env-step marks (every ``--eval-interval``, by
default a tenth of the budget, and at the end): the greedy return (search without noise, the
preferred action) over

- CartPole-v1: 20 episodes seeded 10000..10019 (lobzero's ``evaluate_gym``);
- lobzero: the % of starting cash per episode over 8 episodes spread over the held-out last
  20 % of ``signal_market(seed=0)`` (the demo's environment: 1 s decisions, 5-minute episodes,
  1 BTC at most, 1 bps taker fee), trained on its first 80 % (as benchmarks/muzero_ablation.py).

It prints both learning curves (return against env steps and against training wall time,
evaluations excluded), the final returns, and the env steps and time lobzero took to reach
LightZero's final return (also as fractions of LightZero's). ``--json`` prints one line instead:
``lobzero_return``, ``lightzero_return`` (means over seeds of the final evaluation),
``lobzero_seconds``, ``lightzero_seconds`` (mean training wall time) and per-seed lists;
``--out DIR`` writes ``result.json`` (with the curves) and ``curves.png``. The settings that
still differ between the two sides are :data:`DIFFERENCES` (printed with the report).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _lightzero_runner import evaluate, trading_setup
from muzero_cartpole import Args as CartPoleArgs
from muzero_cartpole import config_fields

REPO = Path(__file__).resolve().parents[1]

#: lobzero's MuZeroConfig fields per environment: CartPole's are benchmarks/muzero_cartpole.py's
#: defaults (the best measured there: PUCT, a fixed temperature 0.25 after a 200-step warm-up,
#: the consistency loss, support 25, 10-step targets, the parent rule for unvisited children, a
#: cosine learning rate over the budget, x and θ scaled by the observation space's bounds;
#: before 2026-12-03 the warm-up statistics, which clipped x past 0.55), the trading env's are
#: benchmarks/muzero_ablation.py's BASE (MuZeroConfig's defaults: discount 0.97, fitted linear
#: support, bounded-feature scaling)
LOBZERO: dict[str, dict[str, Any]] = {
    "CartPole-v1": {
        k: v
        for k, v in config_fields(CartPoleArgs()).items()
        if k not in ("total_env_steps", "checkpoint_interval", "log_interval")
    },
    "lobzero": {
        "algorithm": "gumbel",
        "support_size": 50,
        "num_envs": 16,
        "batch_size": 128,
        "td_steps": 10,
        "warmup_steps": 1_000,
        "replay_ratio": 0.25,
        "torch_threads": 1,
    },
}

#: what the benchmark sets on both sides from lobzero's configuration
SHARED = ("discount", "td_steps", "unroll_steps", "batch_size", "replay_ratio", "learning_rate")

DIFFERENCES = [
    "collection: LightZero collects whole episodes, 8 at a time (--lightzero-collectors), so it "
    "can pass the env-step budget by up to one collect and evaluates at the first collect past "
    "each mark (its env steps are reported as they are); lobzero steps 16 lanes together",
    "network: lobzero's MLP (latent 64, hidden 128, 2 blocks) vs LightZero's MuZeroModelMLP "
    "(latent 128, BatchNorm, [32] heads; ~171k parameters); on CartPole lobzero's heads have 51 "
    "atoms on the sqrt scale (support 25), LightZero's 601",
    "search: on CartPole PUCT on both sides, Dirichlet noise 0.3 / 0.25 on both, an unvisited "
    "child valued at its parent's mean value by lobzero (MuZeroConfig.unvisited_value "
    "'parent') and at its siblings' mean Q by LightZero; on the "
    "trading env lobzero's Gumbel MuZero (Gumbel top-k, "
    "sequential halving) against LightZero's PUCT (--lightzero-policy gumbel_muzero: its Gumbel "
    "one)",
    "replay: lobzero prioritized (alpha 0.6, beta 0.4 -> 1); LightZero uniform (its default)",
    "exploration: on CartPole both a fixed visit-count temperature 0.25, lobzero after a "
    "200-step warm-up under an untrained net, LightZero with none; on the trading env lobzero "
    "warms up 1,000 steps and follows MuZeroConfig's temperature schedule",
    "consistency loss: on CartPole lobzero's is on (weight 2, as muzero_cartpole.py's best "
    "run), LightZero's off unless --lightzero-ssl; off on both sides on the trading env",
    "observations: lobzero scales them (the features' bounds where the space declares them, "
    "CartPole's x and θ and the trading env's bounded features; warm-up mean/sd otherwise); "
    "LightZero feeds them raw",
    "values: on the trading env lobzero's linear support of 101 atoms fitted to the warm-up's "
    "returns; LightZero's sqrt transform with 601 atoms (support scale 300) everywhere",
    "episode ends: a CartPole time limit is bootstrapped by lobzero, terminal for LightZero "
    "(its 'done'); both treat the trading env's time limit as terminal",
    "LightZero's zoo CartPole recipe turns its SimSiam loss on (--lightzero-ssl, ~3.5M parameters)",
    "optimiser: lobzero AdamW, LightZero Adam, both lr 3e-3, weight decay 1e-4, grad clip 10; "
    "on CartPole lobzero's learning rate follows a cosine over the budget, LightZero's is "
    "constant; "
    "target network refreshed every 100 updates (lobzero's trading default: 200)",
    "wall time: lobzero's includes writing a checkpoint (network, optimiser, replay buffer) at "
    "every evaluation mark; LightZero's starts after its imports and writes none",
]


@dataclass
class Curve:
    """One training run's evaluations: ``rows`` of env_steps, train_seconds, eval_return."""

    side: str
    seed: int
    rows: list[dict[str, float]] = field(default_factory=list)
    parameters: int = 0

    @property
    def final(self) -> dict[str, float]:
        return self.rows[-1] if self.rows else {}


def run_lobzero(env: str, steps: int, seed: int, sims: int, interval: int, episodes: int) -> Curve:
    """Trains lobzero's MuZero here, evaluating at every ``interval`` env steps and at the end."""
    import torch
    from lobzero.muzero import MuZeroAgent, MuZeroConfig, train_muzero

    fields = {
        **LOBZERO[env],
        "num_simulations": sims,
        "total_env_steps": steps,
        "checkpoint_interval": interval,
        "log_interval": interval,
    }
    config = MuZeroConfig.from_dict(fields)
    curve = Curve("lobzero", seed)
    started = time.perf_counter()
    eval_seconds = 0.0

    def on_checkpoint(env_steps: int, agent: MuZeroAgent) -> None:
        nonlocal eval_seconds
        if not curve.parameters:
            curve.parameters = int(sum(p.numel() for p in agent.net.parameters()))
        t = time.perf_counter()
        value = evaluate(agent, env, episodes)
        eval_seconds += time.perf_counter() - t
        now = time.perf_counter() - started
        curve.rows.append(
            {
                "env_steps": env_steps,
                "train_seconds": now - eval_seconds,
                "seconds": now,
                "eval_return": value,
            }
        )

    torch.manual_seed(seed)
    with tempfile.TemporaryDirectory(prefix="lobzero_muzero_") as out:
        if env == "lobzero":
            market, train_config, _, _ = trading_setup(seed)
            train_muzero(
                config,
                out,
                market=market,
                env_config=train_config,
                seed=seed,
                on_checkpoint=on_checkpoint,
                progress=False,
            )
        else:
            train_muzero(
                config, out, env_id=env, seed=seed, on_checkpoint=on_checkpoint, progress=False
            )
    return curve


def run_lightzero(
    peer_python: str,
    env: str,
    steps: int,
    seed: int,
    sims: int,
    interval: int,
    episodes: int,
    policy: str,
    ssl: bool,
    latent: int,
    collectors: int,
    td_steps: int | None = None,
) -> Curve:
    """Trains LightZero's MuZero in the peer venv (``_lightzero_runner.py``), reading its JSON
    lines; its log goes to a temporary file, shown when the run fails."""
    lob = LOBZERO[env]
    settings = {
        "env": env,
        "steps": steps,
        "seed": seed,
        "eval_interval": interval,
        "eval_episodes": episodes,
        "num_simulations": sims,
        "discount": lob.get("discount", 0.97),
        "td_steps": lob["td_steps"] if td_steps is None else td_steps,
        "unroll_steps": 5,
        "batch_size": lob["batch_size"],
        "replay_ratio": lob["replay_ratio"],
        "learning_rate": lob.get("learning_rate", 3e-3),
        "torch_threads": 1,
        "policy": policy,
        "self_supervised_learning_loss": ssl,
        "latent_state_dim": latent,
        "collector_env_num": collectors,
        "n_episode": collectors,
    }
    environ = {**os.environ, "PYTHONPATH": str(REPO / "python")}
    curve = Curve("lightzero", seed)
    with tempfile.TemporaryFile("w+") as log:
        proc = subprocess.Popen(
            [peer_python, str(REPO / "benchmarks" / "_lightzero_runner.py"), json.dumps(settings)],
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            env=environ,
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            if not line.startswith('{"kind"'):
                continue  # DI-engine's own prints
            row = json.loads(line)
            if row["kind"] == "setup":
                curve.parameters = int(row["parameters"])
            elif row["kind"] == "eval":
                curve.rows.append(
                    {k: row[k] for k in ("env_steps", "train_seconds", "seconds", "eval_return")}
                )
        if proc.wait() != 0:
            log.seek(0)
            tail = log.read()[-4000:]
            sys.exit(f"the LightZero runner failed (exit {proc.returncode}):\n{tail}")
    return curve


def first_reaching(curve: Curve, target: float) -> dict[str, float] | None:
    """The first evaluation of ``curve`` with a return of at least ``target``, or None."""
    return next((r for r in curve.rows if r["eval_return"] >= target), None)


def summary(
    env: str, lob: list[Curve], lz: list[Curve], args: argparse.Namespace
) -> dict[str, Any]:
    lob_final = [c.final["eval_return"] for c in lob]
    lz_final = [c.final["eval_return"] for c in lz]
    target = float(np.mean(lz_final))
    reached = [first_reaching(c, target) for c in lob]
    return {
        "env": env,
        "steps": args.steps,
        "seeds": [c.seed for c in lob],
        "simulations": args.simulations,
        "lightzero_policy": args.lightzero_policy,
        "lightzero_ssl": args.lightzero_ssl,
        "lightzero_latent": args.lightzero_latent,
        "lightzero_collectors": args.lightzero_collectors,
        "lightzero_td_steps": args.lightzero_td_steps,
        "lobzero_return": float(np.mean(lob_final)),
        "lightzero_return": target,
        "lobzero_seconds": float(np.mean([c.final["train_seconds"] for c in lob])),
        "lightzero_seconds": float(np.mean([c.final["train_seconds"] for c in lz])),
        "lobzero_returns": lob_final,
        "lightzero_returns": lz_final,
        "lobzero_env_steps": [int(c.final["env_steps"]) for c in lob],
        "lightzero_env_steps": [int(c.final["env_steps"]) for c in lz],
        "lobzero_parameters": lob[0].parameters,
        "lightzero_parameters": lz[0].parameters,
        # per lobzero seed: its first evaluation at or above LightZero's mean final return
        "lobzero_steps_to_lightzero_return": [
            None if r is None else int(r["env_steps"]) for r in reached
        ],
        "lobzero_seconds_to_lightzero_return": [
            None if r is None else r["train_seconds"] for r in reached
        ],
        # the same as fractions of LightZero's mean final env steps and training time (the
        # issue's goal on CartPole: at most 0.5 and 0.2)
        "lobzero_steps_fraction": [
            None if r is None else r["env_steps"] / np.mean([c.final["env_steps"] for c in lz])
            for r in reached
        ],
        "lobzero_seconds_fraction": [
            None
            if r is None
            else r["train_seconds"] / np.mean([c.final["train_seconds"] for c in lz])
            for r in reached
        ],
        "curves": {
            "lobzero": [c.rows for c in lob],
            "lightzero": [c.rows for c in lz],
        },
        "differences": DIFFERENCES,
    }


def print_report(result: dict[str, Any]) -> None:
    unit = "% of cash per episode" if result["env"] == "lobzero" else "return"
    print(
        f"\n{result['env']}: {result['steps']} env steps, {result['simulations']} simulations, "
        f"seeds {result['seeds']}; greedy {unit} at each mark (train s excludes evaluation)"
    )
    for side in ("lobzero", "lightzero"):
        print(f"\n{side} ({result[f'{side}_parameters']:,} parameters)")
        print(f"{'seed':>4s} {'env steps':>10s} {'train s':>9s} {'return':>10s}")
        for seed, rows in zip(result["seeds"], result["curves"][side], strict=True):
            for r in rows:
                steps, secs, value = int(r["env_steps"]), r["train_seconds"], r["eval_return"]
                print(f"{seed:4d} {steps:10d} {secs:9.1f} {value:10.2f}")
    print("\nfinal (mean over seeds; per seed)")
    for side in ("lobzero", "lightzero"):
        per = " / ".join(f"{v:.2f}" for v in result[f"{side}_returns"])
        steps = " / ".join(str(v) for v in result[f"{side}_env_steps"])
        print(
            f"  {side:10s} return {result[f'{side}_return']:9.2f} ({per})  train "
            f"{result[f'{side}_seconds']:7.1f} s  env steps {steps}"
        )
    steps_to = result["lobzero_steps_to_lightzero_return"]
    secs_to = result["lobzero_seconds_to_lightzero_return"]
    fractions = [
        "never" if a is None else f"{a:.2f} of the steps, {b:.2f} of the time"
        for a, b in zip(
            result["lobzero_steps_fraction"], result["lobzero_seconds_fraction"], strict=True
        )
    ]
    print(
        f"  lobzero reached LightZero's final return {result['lightzero_return']:.2f} at env steps "
        f"{steps_to}, train seconds {[None if s is None else round(s, 1) for s in secs_to]} "
        f"({'; '.join(fractions)} LightZero took)"
    )
    print("\nsettings that differ:")
    for d in result["differences"]:
        print(f"  - {d}")


def plot(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    for side, colour in (("lobzero", "tab:blue"), ("lightzero", "tab:orange")):
        for i, rows in enumerate(result["curves"][side]):
            label = side if i == 0 else None
            x_steps = [r["env_steps"] for r in rows]
            x_secs = [r["train_seconds"] for r in rows]
            y = [r["eval_return"] for r in rows]
            axes[0].plot(x_steps, y, color=colour, marker=".", label=label)
            axes[1].plot(x_secs, y, color=colour, marker=".", label=label)
    axes[0].set_xlabel("env steps")
    axes[1].set_xlabel("training wall time (s)")
    unit = "% of cash per episode" if result["env"] == "lobzero" else "return"
    for ax in axes:
        ax.set_ylabel(f"greedy {unit}")
        ax.legend()
    fig.suptitle(f"MuZero on {result['env']}: lobzero vs LightZero")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--peer-python", required=True, help="the LightZero venv's python")
    parser.add_argument("--env", default="CartPole-v1", choices=sorted(LOBZERO))
    parser.add_argument(
        "--steps", type=int, default=None, help="30000 on CartPole, 20000 on lobzero"
    )
    parser.add_argument("--seeds", default="0", help="comma-separated seeds, e.g. 0,1,2")
    parser.add_argument("--eval-interval", type=int, default=None, help="env steps (steps / 10)")
    parser.add_argument("--eval-episodes", type=int, default=20, help="CartPole episodes")
    parser.add_argument("--simulations", type=int, default=16)
    parser.add_argument("--lightzero-policy", default="muzero", choices=("muzero", "gumbel_muzero"))
    parser.add_argument(
        "--lightzero-ssl",
        action="store_true",
        help="LightZero's zoo CartPole recipe: its self-supervised consistency loss (weight 2), "
        "a 1024-wide projector (3.4M parameters)",
    )
    parser.add_argument("--lightzero-latent", type=int, default=128, help="its MLP's latent size")
    parser.add_argument(
        "--lightzero-collectors",
        type=int,
        default=8,
        help="LightZero's collector envs (= episodes per collect; its zoo's 8)",
    )
    parser.add_argument(
        "--lightzero-td-steps",
        type=int,
        default=None,
        help="LightZero's TD steps, where its own recipe differs (its zoo's CartPole: 5); by "
        "default lobzero's",
    )
    parser.add_argument("--only", choices=("lobzero", "lightzero"), default=None)
    parser.add_argument("--out", default=None, help="folder for result.json and curves.png")
    parser.add_argument("--json", action="store_true", help="one JSON line")
    args = parser.parse_args()
    if args.lightzero_td_steps is not None and args.lightzero_td_steps < 1:
        parser.error(f"--lightzero-td-steps must be >= 1, got {args.lightzero_td_steps}")
    if args.steps is None:
        args.steps = 30_000 if args.env == "CartPole-v1" else 20_000
    interval = args.eval_interval or max(1, args.steps // 10)
    episodes = args.eval_episodes if args.env == "CartPole-v1" else 8
    if not Path(args.peer_python).is_file() and args.only != "lobzero":
        sys.exit(f"--peer-python {args.peer_python} is not a file")
    seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    lob: list[Curve] = []
    lz: list[Curve] = []
    for seed in seeds:
        if args.only != "lightzero":
            lob.append(
                run_lobzero(args.env, args.steps, seed, args.simulations, interval, episodes)
            )
            if not args.json:
                print(f"lobzero   seed {seed}: {lob[-1].final}", flush=True)
        if args.only != "lobzero":
            lz.append(
                run_lightzero(
                    args.peer_python,
                    args.env,
                    args.steps,
                    seed,
                    args.simulations,
                    interval,
                    episodes,
                    args.lightzero_policy,
                    args.lightzero_ssl,
                    args.lightzero_latent,
                    args.lightzero_collectors,
                    args.lightzero_td_steps,
                )
            )
            if not args.json:
                print(f"lightzero seed {seed}: {lz[-1].final}", flush=True)
    if args.only is not None:
        curves = lob or lz
        print(json.dumps({"side": args.only, "curves": [c.rows for c in curves]}))
        return
    result = summary(args.env, lob, lz, args)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(result, indent=1))
        plot(result, out / "curves.png")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k not in ("curves", "differences")}))
    else:
        print_report(result)


if __name__ == "__main__":
    main()
