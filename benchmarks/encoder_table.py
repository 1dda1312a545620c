"""The README's encoder table from the ``metrics.json`` of `lobzero train-encoder` runs.

    python benchmarks/encoder_table.py NAME=RUN_DIR [NAME=RUN_DIR ...]

One row per run and range (in-sample test, then each new-data range): macro-F1 of the signal
per horizon for the encoder, the logistic regression on hand-made features and chance
(stratified random), the volatility RMSE of the encoder and the best baseline, and the
regime's macro-F1 of the encoder and the best baseline.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def rows(name: str, metrics: dict) -> list[str]:
    horizons = [str(h) for h in metrics["config"]["horizons"]]
    out = []
    for rng, models in metrics["scores"].items():
        if rng == "validation":
            continue
        enc, logit, chance = models["encoder"], models["logistic"], models["chance"]
        cells = [f"{name}", rng, f"{metrics['windows']['train']:,}"]
        for h in horizons:
            cells.append(
                f"{enc['signal'][h]['macro_f1']:.2f} / {logit['signal'][h]['macro_f1']:.2f} / "
                f"{chance['signal'][h]['macro_f1']:.2f}"
            )
        base_vol = min(
            models[k]["volatility"][horizons[-1]]["rmse"] for k in models if k != "encoder"
        )
        cells.append(f"{enc['volatility'][horizons[-1]]['rmse']:.2f} / {base_vol:.2f}")
        base_reg = max(models[k]["regime"]["macro_f1"] for k in models if k != "encoder")
        cells.append(f"{enc['regime']['macro_f1']:.2f} / {base_reg:.2f}")
        out.append("| " + " | ".join(cells) + " |")
    return out


def main(argv: list[str]) -> None:
    first = None
    lines = []
    for arg in argv:
        name, _, folder = arg.rpartition("=")
        metrics = json.loads((Path(folder) / "metrics.json").read_text())
        first = first or metrics
        lines += rows(name, metrics)
    if first is None:
        raise SystemExit(__doc__)
    hs = first["config"]["horizons"]
    head = ["run", "range", "train windows"]
    head += [f"signal h{h} F1 enc / logit / chance" for h in hs]
    head += [f"vol h{hs[-1]} RMSE enc / best base", "regime F1 enc / best base"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    print("\n".join(lines))


if __name__ == "__main__":
    main(sys.argv[1:])
