"""Classification and regression scores of the encoder and its baselines (numpy only)."""

from __future__ import annotations

from typing import Any

import numpy as np


def confusion(true: np.ndarray, pred: np.ndarray, classes: int) -> np.ndarray:
    """[classes, classes] int64 counts, rows the true class, columns the predicted one."""
    out = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(out, (true.astype(np.int64), pred.astype(np.int64)), 1)
    return out


def f1_per_class(matrix: np.ndarray) -> np.ndarray:
    """[classes] F1 of each class from a confusion matrix (0 for a class never true nor
    predicted, as scikit-learn's ``zero_division=0``)."""
    tp = np.diag(matrix).astype(np.float64)
    predicted = matrix.sum(axis=0)
    actual = matrix.sum(axis=1)
    denom = predicted + actual
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def class_scores(true: np.ndarray, pred: np.ndarray, names: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, macro-F1, per-class F1 and the confusion matrix of class predictions
    ``pred`` against ``true`` ([N] ints). Macro-F1 is the mean F1 over the classes that occur
    in ``true`` or ``pred`` (scikit-learn's default): a range that holds one regime only is
    not scored on the two it does not hold."""
    m = confusion(true, pred, len(names))
    f1 = f1_per_class(m)
    present = (m.sum(axis=0) + m.sum(axis=1)) > 0
    return {
        "accuracy": float((true == pred).mean()) if len(true) else float("nan"),
        "macro_f1": float(f1[present].mean()) if present.any() else float("nan"),
        "f1": {name: float(v) for name, v in zip(names, f1, strict=True)},
        "confusion": m.tolist(),
        "n": len(true),
    }


def regression_scores(true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """RMSE and MAE of ``pred`` against ``true`` ([N] floats)."""
    err = pred.astype(np.float64) - true.astype(np.float64)
    return {"rmse": float(np.sqrt(np.mean(err**2))), "mae": float(np.mean(np.abs(err)))}
