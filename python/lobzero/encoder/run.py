"""`train_encoder`: data, training, checkpoint, baselines and the report in one call (what
`lobzero train-encoder` runs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.data.market import Market
from lobzero.encoder.baselines import HandLogistic, Majority, Stratified
from lobzero.encoder.config import EncoderConfig
from lobzero.encoder.dataset import EncoderData, build_dataset, build_new_data
from lobzero.encoder.report import score, write_figures, write_json
from lobzero.encoder.train import FitResult, build_model, fit, predict, save_checkpoint
from lobzero.models.encoder import MultiTaskEncoder
from lobzero.progress import TrainProgress


@dataclass
class EncoderRun:
    """What :func:`train_encoder` returns: the trained ``model`` (best weights), the ``fit``
    history, ``scores[range][model]`` and the files written."""

    model: MultiTaskEncoder
    fit: FitResult
    scores: dict[str, dict[str, Any]]
    files: list[Path]


def _scores(
    model: MultiTaskEncoder,
    data: EncoderData,
    anchors: np.ndarray,
    baselines: tuple[Majority, HandLogistic, Stratified],
    config: EncoderConfig,
    device: str,
) -> dict[str, Any]:
    lab = data.labels
    truth = (lab.signal[anchors], lab.volatility[anchors], lab.regime[anchors], config.horizons)
    majority, logistic, chance = baselines
    return {
        "encoder": score(predict(model, data, anchors, device), *truth),
        "logistic": score(logistic.predict(data.hand[anchors]), *truth),
        "majority": score(majority.predict(len(anchors)), *truth),
        "chance": score(chance.predict(len(anchors)), *truth),
    }


class EpochBars:
    """One progress bar per epoch (``epoch k/N``, its batches, the running loss, then the
    validation loss), each left on the terminal when its epoch ends; off a terminal, plain
    lines (:class:`lobzero.progress.TrainProgress`) and one line at the end of each epoch."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs
        self.epoch = 0
        self.bar: TrainProgress | None = None

    def step(self, done: int, total: int, info: str) -> None:
        """``fit``'s ``on_step``: ``done`` of ``total`` batches over all epochs."""
        per_epoch = max(1, total // self.epochs)
        epoch = (done - 1) // per_epoch + 1
        if epoch != self.epoch or self.bar is None:
            self.stop()
            self.epoch = epoch
            self.bar = TrainProgress(f"epoch {epoch}/{self.epochs}", per_epoch, unit="batches")
        self.bar.update(done - (epoch - 1) * per_epoch, info)

    def end_epoch(self, epoch: int, _model: Any) -> None:
        """``fit``'s ``on_epoch_end``: the epoch's bar stays as it ended."""
        if self.bar is not None and self.bar.bar is None:
            self.bar.say()
        self.stop()

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def train_encoder(
    market: Market,
    config: EncoderConfig,
    save_path: str | Path,
    *,
    device: str = "cpu",
    new_data: dict[str, Market] | None = None,
    progress: bool = True,
) -> EncoderRun:
    """Trains the encoder on ``market`` (train / validation ranges), writes the best
    checkpoint to ``save_path`` and, beside it, ``metrics.json``, ``train_log.csv``,
    ``learning_curves.png`` and ``confusion_<range>.png``. Scores the encoder and the
    baselines on the validation and test ranges and on each market of ``new_data`` (name →
    market: another instrument or a later period, seen with the training range's statistics)."""
    save_path = Path(save_path)
    if config.torch_threads > 0:
        import torch

        torch.set_num_threads(config.torch_threads)
    out = save_path.parent
    out.mkdir(parents=True, exist_ok=True)
    data = build_dataset(market, config)
    levels = data.x.shape[1]
    model = build_model(config, levels)

    def save(m: MultiTaskEncoder, epoch: int, val_loss: float) -> None:
        save_checkpoint(save_path, m, config, data.normaliser, data.regime_rule, epoch, val_loss)

    bars = EpochBars(config.epochs) if progress else None
    try:
        result = fit(
            model,
            data,
            config,
            device=device,
            save=save,
            on_step=None if bars is None else bars.step,
            on_epoch_end=None if bars is None else bars.end_epoch,
        )
    finally:
        if bars is not None:
            bars.stop()
    tr = data.split.train
    lab = data.labels
    baselines = (
        Majority(lab.signal[tr], lab.volatility[tr], lab.regime[tr]),
        HandLogistic(data.hand[tr], lab.signal[tr], lab.volatility[tr], lab.regime[tr]),
        Stratified(lab.signal[tr], lab.volatility[tr], lab.regime[tr], config.seed),
    )
    scores: dict[str, dict[str, Any]] = {
        "validation": _scores(model, data, data.split.val, baselines, config, device),
        "test": _scores(model, data, data.split.test, baselines, config, device),
    }
    for name, other in (new_data or {}).items():
        other_data, anchors = build_new_data(other, config, data.normaliser, data.regime_rule)
        scores[name] = _scores(model, other_data, anchors, baselines, config, device)
    with open(out / "train_log.csv", "w") as f:
        keys = list(result.history[0]) if result.history else []
        f.write(",".join(keys) + "\n")
        for row in result.history:
            f.write(",".join(f"{row[k]:.6g}" for k in keys) + "\n")
    files = [save_path, out / "train_log.csv"]
    files.append(
        write_json(
            out / "metrics.json",
            {
                "config": config.to_dict(),
                "best_epoch": result.best_epoch,
                "best_val_loss": result.best_val_loss,
                "stopped_early": result.stopped_early,
                "windows": {
                    "train": len(data.split.train),
                    "validation": len(data.split.val),
                    "test": len(data.split.test),
                },
                "true_regimes": data.true_regimes,
                "history": result.history,
                "scores": scores,
            },
        )
    )
    files += write_figures(out, scores, result.history, config.horizons)
    return EncoderRun(model, result, scores, files)
