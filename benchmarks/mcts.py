"""Batched MCTS speed: lobzero's Rust tree vs LightZero's C++ tree (ctree) in one run.

Both run B roots x S simulations with A actions and the same stand-in model (random rewards,
values and logits from numpy, Dirichlet root noise), and report the tree's own time: the whole
search minus the stand-in model's time, measured the same way for both (the loop of
../shared/bench/lightzero_mcts.py). With ``--torch-net`` it also times one full search with a
small torch MuZero-shaped network (representation, dynamics, prediction MLPs) on the CPU,
through `lobzero.mcts.search`::

    python benchmarks/mcts.py --peer-python /tmp/peers_lz/bin/python --torch-net

(the peer venv: ``python3 -m venv /tmp/peers_lz``, then
``/tmp/peers_lz/bin/pip install LightZero==0.1.0``).
``--chance C`` adds the Stochastic MuZero tree (`StochasticMctsBatch`, decision and chance
nodes, C chance outcomes) driven the same way (PUCT and Gumbel rows).
``--json`` prints one line.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
from lobzero.mcts import MctsBatch, StochasticMctsBatch, search

PEER_SCRIPT = Path(__file__).resolve().parents[1] / ".." / "shared" / "bench" / "lightzero_mcts.py"


def time_lobzero(batch: int, actions: int, sims: int, algorithm: str) -> dict[str, Any]:
    """ms per search of lobzero's tree with the numpy stand-in model, stand-in subtracted."""
    rng = np.random.default_rng(0)
    tree = MctsBatch(batch, actions, sims, algorithm=algorithm, discount=0.997, seed=0)

    def model() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (
            rng.normal(size=batch).astype(np.float32),
            rng.normal(size=batch).astype(np.float32),
            rng.normal(size=(batch, actions)).astype(np.float32),
        )

    def one_search() -> np.ndarray:
        tree.reset(
            rng.normal(size=(batch, actions)).astype(np.float32),
            np.zeros(batch, np.float32),
            noise=True,
        )
        for _ in range(sims):
            tree.select()
            tree.backup(*model())
        tree.policy_target()
        return tree.root_visit_counts()

    one_search()
    repeats = max(5, 4000 // batch)
    start = time.perf_counter()
    for _ in range(repeats):
        one_search()
    total = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        for _ in range(sims):
            model()
    stand_in = (time.perf_counter() - start) / repeats
    tree_s = max(total - stand_in, 1e-9)
    return {
        "ms_per_search": total * 1e3,
        "tree_ms_per_search": tree_s * 1e3,
        "tree_sims_per_s": batch * sims / tree_s,
    }


def time_lobzero_chance(
    batch: int, actions: int, sims: int, outcomes: int, algorithm: str
) -> dict[str, Any]:
    """ms per search of the chance-node tree with a numpy stand-in model (reward, value,
    prior logits [B, A] and outcome logits [B, C] every simulation), stand-in subtracted."""
    rng = np.random.default_rng(0)
    tree = StochasticMctsBatch(
        batch, actions, sims, outcomes, algorithm=algorithm, discount=0.997, seed=0
    )

    def model() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        return (
            rng.normal(size=batch).astype(np.float32),
            rng.normal(size=batch).astype(np.float32),
            rng.normal(size=(batch, actions)).astype(np.float32),
            rng.normal(size=(batch, outcomes)).astype(np.float32),
        )

    def one_search() -> np.ndarray:
        tree.reset(
            rng.normal(size=(batch, actions)).astype(np.float32),
            np.zeros(batch, np.float32),
            noise=True,
        )
        for _ in range(sims):
            tree.select()
            tree.backup(*model())
        tree.policy_target()
        return tree.root_visit_counts()

    one_search()
    repeats = max(5, 4000 // batch)
    start = time.perf_counter()
    for _ in range(repeats):
        one_search()
    total = (time.perf_counter() - start) / repeats
    start = time.perf_counter()
    for _ in range(repeats):
        for _ in range(sims):
            model()
    stand_in = (time.perf_counter() - start) / repeats
    tree_s = max(total - stand_in, 1e-9)
    return {
        "ms_per_search": total * 1e3,
        "tree_ms_per_search": tree_s * 1e3,
        "tree_sims_per_s": batch * sims / tree_s,
        "chance_outcomes": outcomes,
    }


def time_peer(python: str, batch: int, actions: int, sims: int) -> dict[str, Any] | None:
    out = subprocess.run(
        [python, str(PEER_SCRIPT), str(batch), str(actions), str(sims)],
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        print(f"peer failed (exit {out.returncode}): {out.stderr.strip()[-500:]}")
        return None
    return json.loads(lines[-1])


def time_torch_net(batch: int, actions: int, sims: int) -> dict[str, Any] | None:
    """One full search with a small torch MuZero-shaped network on the CPU (no grad)."""
    try:
        import torch
        from torch import nn
    except ImportError:
        return None
    obs_dim, latent, hidden = 64, 64, 128
    torch.manual_seed(0)
    represent = nn.Sequential(nn.Linear(obs_dim, hidden), nn.ReLU(), nn.Linear(hidden, latent))
    dynamics = nn.Sequential(
        nn.Linear(latent + actions, hidden), nn.ReLU(), nn.Linear(hidden, latent + 1)
    )
    predict = nn.Sequential(nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, actions + 1))
    one_hot = torch.eye(actions)

    def root_fn(obs: Any) -> tuple[Any, Any, Any]:
        s = represent(obs)
        out = predict(s)
        return s, out[:, 0], out[:, 1:]

    def recurrent_fn(s: Any, action: Any) -> tuple[Any, Any, Any, Any]:
        out = dynamics(torch.cat([s, one_hot[action]], dim=1))
        nxt = out[:, :latent]
        pred = predict(nxt)
        return nxt, out[:, latent], pred[:, 0], pred[:, 1:]

    obs = torch.randn(batch, obs_dim)
    tree = MctsBatch(batch, actions, sims, seed=0)
    with torch.no_grad():
        search(root_fn, recurrent_fn, obs, batch=tree)
        repeats = 10
        start = time.perf_counter()
        for _ in range(repeats):
            search(root_fn, recurrent_fn, obs, batch=tree)
        total = (time.perf_counter() - start) / repeats
    return {
        "ms_per_search": total * 1e3,
        "network": f"MLP obs {obs_dim} latent {latent} hidden {hidden}",
        "torch_threads": torch.get_num_threads(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--actions", type=int, default=5)
    parser.add_argument("--sims", type=int, default=50)
    parser.add_argument("--peer-python", help="python of a venv with LightZero==0.1.0")
    parser.add_argument("--torch-net", action="store_true", help="also time a torch network")
    parser.add_argument(
        "--chance", type=int, metavar="C", help="also time the chance-node tree, C outcomes"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    result: dict[str, Any] = {"batch": args.batch, "actions": args.actions, "sims": args.sims}
    result["lobzero"] = time_lobzero(args.batch, args.actions, args.sims, "muzero")
    result["lobzero_gumbel"] = time_lobzero(args.batch, args.actions, args.sims, "gumbel")
    if args.chance:
        for algorithm, name in (("muzero", "lobzero_chance"), ("gumbel", "lobzero_chance_gumbel")):
            result[name] = time_lobzero_chance(
                args.batch, args.actions, args.sims, args.chance, algorithm
            )
    if args.peer_python:
        peer = time_peer(args.peer_python, args.batch, args.actions, args.sims)
        if peer is not None:
            result["lightzero"] = peer
            result["tree_speedup_vs_lightzero"] = (
                peer["tree_ms_per_search"] / result["lobzero"]["tree_ms_per_search"]
            )
    if args.torch_net:
        result["lobzero_torch_net"] = time_torch_net(args.batch, args.actions, args.sims)
    if args.json:
        print(json.dumps(result))
        return
    shape = f"B={args.batch}, A={args.actions}, {args.sims} simulations"
    print(f"MCTS, {shape} (tree time = search - stand-in model)")
    names = ("lobzero", "lobzero_gumbel", "lobzero_chance", "lobzero_chance_gumbel", "lightzero")
    for name in names:
        if name in result:
            r = result[name]
            print(
                f"  {name:21s} {r['ms_per_search']:8.2f} ms/search"
                f"  tree {r['tree_ms_per_search']:8.3f} ms"
                f"  {r['tree_sims_per_s'] / 1e6:7.2f} M sims/s"
            )
    if "tree_speedup_vs_lightzero" in result:
        print(f"  tree speed-up vs LightZero: {result['tree_speedup_vs_lightzero']:.1f}x")
    if result.get("lobzero_torch_net"):
        r = result["lobzero_torch_net"]
        print(f"  full search, torch {r['network']} (CPU): {r['ms_per_search']:.1f} ms")


if __name__ == "__main__":
    main()
