"""The examples run (tiny budgets): a user copies them, so they must not rot."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_quickstart() -> None:
    quickstart = load("quickstart")
    results = quickstart.main(quickstart.Args(seconds=120.0, episode_steps=300))
    # fees only ever take money away
    assert results["pnl_fee_4bps"] <= results["pnl_fee_0bps"]


def test_train_muzero(tmp_path: Path) -> None:
    example = load("train_muzero")
    args = example.Args(
        seconds=900.0,
        episode_steps=40,
        total_env_steps=256,
        num_simulations=4,
        test_episodes=2,
        out=str(tmp_path / "run"),
    )
    results = example.main(args)
    assert set(results) == {"muzero", "random", "flat"}
    assert results["flat"]["total_return"] == 0.0 and results["flat"]["fees"] == 0.0
    assert (tmp_path / "run" / "agent" / "agent.json").exists()
