"""The encoder's evaluation: scores of the encoder and the baselines on every range, the
final table, the verdict, the JSON and the figures (confusion matrices, learning curves)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from lobzero.encoder.baselines import Predictions
from lobzero.encoder.labels import REGIME_CLASSES, SIGNAL_CLASSES
from lobzero.encoder.metrics import class_scores, regression_scores
from lobzero.tables import print_table


def score(
    pred: Predictions,
    signal: np.ndarray,
    vol: np.ndarray,
    regime: np.ndarray,
    horizons: tuple[int, ...],
) -> dict[str, Any]:
    """Scores of one model on one range: per horizon the signal's class scores and the
    volatility's RMSE / MAE, and the regime's class scores."""
    out: dict[str, Any] = {"signal": {}, "volatility": {}}
    for i, h in enumerate(horizons):
        out["signal"][str(h)] = class_scores(signal[:, i], pred.signal[:, i], SIGNAL_CLASSES)
        out["volatility"][str(h)] = regression_scores(vol[:, i], pred.volatility[:, i])
    out["regime"] = class_scores(regime, pred.regime, REGIME_CLASSES)
    return out


def signal_table(
    scores: dict[str, dict[str, dict[str, Any]]], horizons: tuple[int, ...]
) -> tuple[list[str], list[list[str]]]:
    """The signal's rows (range: model) × per horizon accuracy, macro-F1 and the F1 of
    down / flat / up."""
    headers = ["signal"]
    for h in horizons:
        headers += [f"h{h} acc", f"h{h} F1", f"h{h} F1 d/f/u"]
    rows = []
    for rng, models in scores.items():
        for name, s in models.items():
            row = [f"{rng}: {name}"]
            for h in horizons:
                c = s["signal"][str(h)]
                f1 = "/".join(f"{c['f1'][k]:.2f}" for k in SIGNAL_CLASSES)
                row += [f"{c['accuracy']:.3f}", f"{c['macro_f1']:.3f}", f1]
            rows.append(row)
    return headers, rows


def volatility_regime_table(
    scores: dict[str, dict[str, dict[str, Any]]], horizons: tuple[int, ...]
) -> tuple[list[str], list[list[str]]]:
    """The volatility's RMSE and MAE per horizon (log(1 + ticks)) and the regime's accuracy,
    macro-F1 and the F1 of calm / trending / volatile."""
    headers = ["volatility, regime"]
    headers += [f"vol h{h} RMSE" for h in horizons] + [f"vol h{h} MAE" for h in horizons]
    headers += ["regime acc", "regime F1", "F1 c/t/v"]
    rows = []
    for rng, models in scores.items():
        for name, s in models.items():
            row = [f"{rng}: {name}"]
            row += [f"{s['volatility'][str(h)]['rmse']:.3f}" for h in horizons]
            row += [f"{s['volatility'][str(h)]['mae']:.3f}" for h in horizons]
            r = s["regime"]
            row += [
                f"{r['accuracy']:.3f}",
                f"{r['macro_f1']:.3f}",
                "/".join(f"{r['f1'][k]:.2f}" for k in REGIME_CLASSES),
            ]
            rows.append(row)
    return headers, rows


def verdicts(scores: dict[str, dict[str, dict[str, Any]]], horizons: tuple[int, ...]) -> list[str]:
    """One line per range and task: does the encoder beat the best baseline (macro-F1 for the
    classes, RMSE for the volatility)?"""
    lines = []
    for rng, models in scores.items():
        enc = models["encoder"]
        base = {k: v for k, v in models.items() if k != "encoder"}
        for h in horizons:
            best_name, best = max(
                ((k, v["signal"][str(h)]["macro_f1"]) for k, v in base.items()), key=lambda t: t[1]
            )
            mine = enc["signal"][str(h)]["macro_f1"]
            word = "beats" if mine > best else "does NOT beat"
            lines.append(
                f"{rng}: signal h{h}: encoder macro-F1 {mine:.3f} {word} {best_name} {best:.3f}"
            )
            best_name, best = min(
                ((k, v["volatility"][str(h)]["rmse"]) for k, v in base.items()), key=lambda t: t[1]
            )
            mine = enc["volatility"][str(h)]["rmse"]
            word = "beats" if mine < best else "does NOT beat"
            lines.append(
                f"{rng}: volatility h{h}: encoder RMSE {mine:.3f} {word} {best_name} {best:.3f}"
            )
        best_name, best = max(
            ((k, v["regime"]["macro_f1"]) for k, v in base.items()), key=lambda t: t[1]
        )
        mine = enc["regime"]["macro_f1"]
        word = "beats" if mine > best else "does NOT beat"
        lines.append(f"{rng}: regime: encoder macro-F1 {mine:.3f} {word} {best_name} {best:.3f}")
    return lines


def print_report(console: Console, scores: dict[str, Any], horizons: tuple[int, ...]) -> None:
    headers, rows = signal_table(scores, horizons)
    print_table(console, headers, rows, title="signal: encoder vs baselines (same split)")
    headers, rows = volatility_regime_table(scores, horizons)
    print_table(console, headers, rows, title="volatility and regime: encoder vs baselines")
    for line in verdicts(scores, horizons):
        console.print(line, highlight=False)


def write_json(path: Path, payload: dict[str, Any]) -> Path:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2))
    tmp.replace(path)
    return path


def write_figures(
    out: Path, scores: dict[str, Any], history: list[dict[str, float]], horizons: tuple[int, ...]
) -> list[Path]:
    """``learning_curves.png`` (train and validation loss per epoch) and
    ``confusion_<range>.png`` (the encoder's confusion matrices, one panel per horizon and
    the regime); returns the paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = [r["epoch"] for r in history]
    ax.plot(epochs, [r["train_loss"] for r in history], label="train")
    ax.plot(epochs, [r["val_loss"] for r in history], label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("weighted loss")
    ax.legend()
    ax.set_title("encoder learning curves")
    fig.tight_layout()
    paths.append(out / "learning_curves.png")
    fig.savefig(paths[-1], dpi=100)
    plt.close(fig)
    for rng, models in scores.items():
        enc = models["encoder"]
        panels = [(f"signal h{h}", enc["signal"][str(h)], SIGNAL_CLASSES) for h in horizons]
        panels.append(("regime", enc["regime"], REGIME_CLASSES))
        fig, axes = plt.subplots(1, len(panels), figsize=(3.2 * len(panels), 3.2))
        for ax, (title, s, names) in zip(np.atleast_1d(axes), panels, strict=True):
            m = np.asarray(s["confusion"])
            ax.imshow(m, cmap="Blues")
            for i in range(m.shape[0]):
                for j in range(m.shape[1]):
                    ax.text(j, i, str(m[i, j]), ha="center", va="center", fontsize=8)
            ax.set_xticks(range(len(names)), names)
            ax.set_yticks(range(len(names)), names)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            ax.set_title(f"{title} (F1 {s['macro_f1']:.2f})")
        fig.tight_layout()
        paths.append(out / f"confusion_{rng}.png")
        fig.savefig(paths[-1], dpi=100)
        plt.close(fig)
    return paths
