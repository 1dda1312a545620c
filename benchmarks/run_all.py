"""`make bench`: every speed benchmark whose inputs are at hand, one after another.

Peers are timed when their virtual environment exists (see ../shared/bench/README.md):
PEER_PYTHON (default /tmp/peers/bin/python) for hftbacktest.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHARED_BENCH = HERE.parent / ".." / "shared" / "bench"


def run(*cmd: str) -> None:
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    peer = os.environ.get("PEER_PYTHON", "/tmp/peers/bin/python")
    have_peer = Path(peer).exists()
    npz = Path(os.environ.get("REPLAY_NPZ", "/tmp/synth_l2.npz"))
    if not npz.exists() and have_peer:
        run(peer, str(SHARED_BENCH / "synth_hftbacktest_npz.py"), "2000000", str(npz))
    if npz.exists():
        cmd = [sys.executable, str(HERE / "replay.py"), "--data", str(npz), "--step-ms", "100"]
        run(*cmd, *(["--peer-python", peer] if have_peer else []))
    else:
        print(f"replay benchmark skipped: {npz} absent and no peer venv at {peer} to make it")
    for script in sorted(HERE.glob("*.py")):
        # muzero_vs_lightzero.py trains two agents (minutes) and needs LightZero's own venv:
        # the README gives its command
        skipped = {"run_all.py", "replay.py", "muzero_vs_lightzero.py", "muzero_value_bias.py"}
        if script.name in skipped or script.name.startswith("_"):
            continue
        run(sys.executable, str(script))


if __name__ == "__main__":
    main()
