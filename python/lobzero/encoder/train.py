"""Training the multi-task encoder: the loop, the checkpoint and :func:`load_encoder`.

The loop reads top to bottom: each epoch shuffles the training windows, learns on batches,
scores the validation range, keeps the best weights (and writes them atomically to the
checkpoint) and stops after ``patience`` epochs without a better validation loss, with the best
weights restored in the model it returns.
"""

from __future__ import annotations

import copy
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional

from lobzero.encoder.baselines import Predictions
from lobzero.encoder.config import EncoderConfig
from lobzero.encoder.dataset import EncoderData
from lobzero.encoder.labels import RegimeRule
from lobzero.encoder.samples import CHANNELS, Normaliser
from lobzero.exceptions import DataIOError, FormatError
from lobzero.models.encoder import EncoderOutput, MultiTaskEncoder

CHECKPOINT_FORMAT = "lobzero-encoder"
CHECKPOINT_VERSION = 1


@dataclass
class FitResult:
    """``history``: one dict per epoch (epoch, train_loss, val_loss and the val loss of each
    task); ``best_epoch`` (1-based) and ``best_val_loss`` (the monitored validation loss,
    ``EncoderConfig.monitor``) of the weights kept."""

    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_loss: float = math.inf
    stopped_early: bool = False


def build_model(config: EncoderConfig, levels: int) -> MultiTaskEncoder:
    torch.manual_seed(config.seed)
    return MultiTaskEncoder(
        config.arch,
        config.window,
        levels,
        len(CHANNELS),
        len(config.horizons),
        width=config.width,
        hidden=config.hidden,
        layers=config.layers,
    )


def _batch(data: EncoderData, anchors: np.ndarray, device: str) -> dict[str, torch.Tensor]:
    lab = data.labels
    return {
        "x": torch.from_numpy(data.windows(anchors)).to(device),
        "signal": torch.from_numpy(lab.signal[anchors]).to(device),
        "volatility": torch.from_numpy(lab.volatility[anchors]).to(device),
        "regime": torch.from_numpy(lab.regime[anchors]).to(device),
    }


def task_losses(
    out: EncoderOutput, batch: dict[str, torch.Tensor], model: MultiTaskEncoder
) -> dict[str, torch.Tensor]:
    """Cross-entropy of the signal (mean over horizons) and of the regime, with the model's
    class weights; MSE of the volatility in units of its training deviation (mean over
    horizons), so that no task's loss dwarfs the others by its units alone."""
    signal = torch.stack(
        [
            functional.cross_entropy(
                out.signal_logits[:, i], batch["signal"][:, i], weight=model.signal_class_weight[i]
            )
            for i in range(out.signal_logits.shape[1])
        ]
    ).mean()
    std = model.volatility_std
    return {
        "signal": signal,
        "volatility": functional.mse_loss(out.volatility / std, batch["volatility"] / std),
        "regime": functional.cross_entropy(
            out.regime_logits, batch["regime"], weight=model.regime_class_weight
        ),
    }


def class_weights(labels: np.ndarray, classes: int = 3) -> np.ndarray:
    """Inverse-frequency weights ``[..., classes]`` of integer labels ``[N, ...]``, scaled so
    that the weighted mean over the training labels is 1; a class absent from the training
    range gets weight 0 (it cannot be learnt from it)."""
    lab = labels.reshape(len(labels), -1)
    out = np.zeros((lab.shape[1], classes))
    for j in range(lab.shape[1]):
        counts = np.bincount(lab[:, j], minlength=classes).astype(np.float64)
        present = counts > 0
        out[j, present] = len(lab) / (present.sum() * counts[present])
    return out.reshape(*labels.shape[1:], classes)


def total_loss(losses: dict[str, torch.Tensor], config: EncoderConfig) -> torch.Tensor:
    return (
        config.signal_weight * losses["signal"]
        + config.volatility_weight * losses["volatility"]
        + config.regime_weight * losses["regime"]
    )


@torch.no_grad()
def evaluate_loss(
    model: MultiTaskEncoder,
    data: EncoderData,
    anchors: np.ndarray,
    config: EncoderConfig,
    device: str,
    batch_size: int = 512,
) -> dict[str, float]:
    """The mean losses over ``anchors`` (weighted by batch size): ``loss`` and each task's."""
    model.eval()
    sums: dict[str, float] = {"loss": 0.0, "signal": 0.0, "volatility": 0.0, "regime": 0.0}
    for i in range(0, len(anchors), batch_size):
        part = anchors[i : i + batch_size]
        batch = _batch(data, part, device)
        losses = task_losses(model(batch["x"]), batch, model)
        sums["loss"] += float(total_loss(losses, config)) * len(part)
        for k, v in losses.items():
            sums[k] += float(v) * len(part)
    return {k: v / max(len(anchors), 1) for k, v in sums.items()}


@torch.no_grad()
def predict(
    model: MultiTaskEncoder,
    data: EncoderData,
    anchors: np.ndarray,
    device: str,
    batch_size: int = 512,
) -> Predictions:
    """Class and volatility predictions for ``anchors``."""
    model.eval()
    sig, vol, reg = [], [], []
    for i in range(0, len(anchors), batch_size):
        out = model(torch.from_numpy(data.windows(anchors[i : i + batch_size])).to(device))
        sig.append(out.signal_logits.argmax(-1).cpu().numpy())
        vol.append(out.volatility.cpu().numpy())
        reg.append(out.regime_logits.argmax(-1).cpu().numpy())
    return Predictions(np.concatenate(sig), np.concatenate(vol), np.concatenate(reg))


def fit(
    model: MultiTaskEncoder,
    data: EncoderData,
    config: EncoderConfig,
    *,
    device: str = "cpu",
    save: Callable[[MultiTaskEncoder, int, float], None] | None = None,
    on_step: Callable[[int, int, str], None] | None = None,
    on_epoch_end: Callable[[int, MultiTaskEncoder], None] | None = None,
) -> FitResult:
    """Trains ``model`` in place and leaves the best validation weights in it.

    ``save(model, epoch, val_loss)`` is called whenever the validation loss improves (the
    checkpoint); ``on_step(done_batches, total_batches, info)`` after each batch (progress);
    ``on_epoch_end(epoch, model)`` after each epoch's bookkeeping."""
    vol = data.labels.volatility[data.split.train]
    model.volatility_mean.copy_(torch.from_numpy(vol.mean(axis=0)))
    model.volatility_std.copy_(torch.from_numpy(np.maximum(vol.std(axis=0), 1e-3)))
    if config.balance_classes:
        tr = data.split.train
        model.signal_class_weight.copy_(torch.from_numpy(class_weights(data.labels.signal[tr])))
        model.regime_class_weight.copy_(torch.from_numpy(class_weights(data.labels.regime[tr])))
    model.to(device)
    rng = np.random.default_rng(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    train = data.split.train
    per_epoch = math.ceil(len(train) / config.batch_size)
    result = FitResult()
    best_state: dict[str, torch.Tensor] | None = None
    since_best = 0
    done = 0
    for epoch in range(1, config.epochs + 1):
        model.train()
        order = rng.permutation(train)
        running = 0.0
        for b in range(per_epoch):
            batch = _batch(
                data, np.sort(order[b * config.batch_size : (b + 1) * config.batch_size]), device
            )
            loss = total_loss(task_losses(model(batch["x"]), batch, model), config)
            opt.zero_grad()
            loss.backward()
            opt.step()
            running += float(loss.detach())
            done += 1
            if on_step is not None:
                on_step(
                    done, per_epoch * config.epochs, f"epoch {epoch} loss {running / (b + 1):.4f}"
                )
        val = evaluate_loss(model, data, data.split.val, config, device)
        row = {"epoch": float(epoch), "train_loss": running / per_epoch, "val_loss": val["loss"]}
        row.update({f"val_{k}_loss": v for k, v in val.items() if k != "loss"})
        result.history.append(row)
        if on_step is not None:  # the epoch's line ends with its validation loss
            on_step(
                done,
                per_epoch * config.epochs,
                f"epoch {epoch} loss {row['train_loss']:.4f} val {val['loss']:.4f}",
            )
        watched = val[config.monitor]
        if watched < result.best_val_loss:
            result.best_val_loss, result.best_epoch = watched, epoch
            best_state = copy.deepcopy(model.state_dict())
            since_best = 0
            if save is not None:
                save(model, epoch, watched)
        else:
            since_best += 1
        if on_epoch_end is not None:
            on_epoch_end(epoch, model)
        if since_best >= config.patience:
            result.stopped_early = epoch < config.epochs
            break
    if best_state is not None:
        model.load_state_dict(best_state)
    return result


# -- checkpoint --------------------------------------------------------------------------------
@dataclass
class TrainedEncoder:
    """A trained encoder as :func:`load_encoder` returns it: the ``model`` (eval mode, on the
    CPU), its ``config``, the training range's ``normaliser`` and ``regime_rule``, and the
    ``epoch`` / ``val_loss`` of the weights."""

    model: MultiTaskEncoder
    config: EncoderConfig
    normaliser: Normaliser
    regime_rule: RegimeRule | None
    epoch: int
    val_loss: float

    @property
    def features_dim(self) -> int:
        """Width of :meth:`encode`'s output."""
        return self.model.hidden

    @torch.no_grad()
    def encode(self, windows: np.ndarray) -> np.ndarray:
        """Raw (unnormalised) windows [N, window, levels, channels] → features [N, hidden]."""
        x = torch.from_numpy(self.normaliser.apply(windows))
        return self.model.eval().encode(x).numpy()


def save_checkpoint(
    path: str | Path,
    model: MultiTaskEncoder,
    config: EncoderConfig,
    normaliser: Normaliser,
    rule: RegimeRule | None,
    epoch: int,
    val_loss: float,
) -> Path:
    """Writes the checkpoint to a temporary file and renames it: a crash never leaves a
    half-written checkpoint under ``path``."""
    path = Path(path)
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": config.to_dict(),
        "model": dict(model.kwargs),
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "normaliser": {"mean": normaliser.mean.tolist(), "std": normaliser.std.tolist()},
        "regime_rule": None
        if rule is None
        else {"volatility": rule.volatility, "trend": rule.trend},
        "channels": list(CHANNELS),
        "epoch": epoch,
        "val_loss": val_loss,
    }
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(payload, tmp)
        os.replace(tmp, path)
    except OSError as e:
        raise DataIOError(f"{path}: cannot write the encoder checkpoint ({e})") from e
    return path


def load_encoder(path: str | Path) -> TrainedEncoder:
    """Reads a checkpoint written by ``lobzero train-encoder`` (:func:`save_checkpoint`)."""
    path = Path(path)
    if path.is_dir():
        path = path / "encoder.pt"
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as e:
        raise DataIOError(f"{path}: no such encoder checkpoint") from e
    except (RuntimeError, OSError, EOFError) as e:
        raise FormatError(f"{path}: not an encoder checkpoint ({e})") from e
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise FormatError(f"{path}: not a lobzero encoder checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise FormatError(f"{path}: encoder checkpoint version {payload.get('version')} unknown")
    model = MultiTaskEncoder(**payload["model"])
    model.load_state_dict(payload["state_dict"])
    model.eval()
    rule = payload["regime_rule"]
    return TrainedEncoder(
        model=model,
        config=EncoderConfig.from_dict(payload["config"]),
        normaliser=Normaliser(
            np.asarray(payload["normaliser"]["mean"], dtype=np.float32),
            np.asarray(payload["normaliser"]["std"], dtype=np.float32),
        ),
        regime_rule=None if rule is None else RegimeRule(**rule),
        epoch=int(payload["epoch"]),
        val_loss=float(payload["val_loss"]),
    )
