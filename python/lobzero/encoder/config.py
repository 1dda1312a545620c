"""`EncoderConfig`: the order-book encoder's data, model and training settings (one TOML)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class EncoderConfig(TomlConfig):
    """How `lobzero train-encoder` builds windows and labels and trains the multi-task encoder.

    Samples are books read every ``step_ms`` of receive time (the decision clock), ``levels`` a
    side; a window is the last ``window`` samples. Labels look ``horizons`` decisions ahead.
    The split is chronological: the last ``test_split`` of the samples is the test range, the
    last ``val_split`` of the rest the validation range, the remainder the training range.
    """

    #: decision clock: one sample of the book every step_ms milliseconds of receive time
    step_ms: float = 100.0
    #: book levels a side in each sample (missing levels are zeros)
    levels: int = 10
    #: samples in one window (the encoder's memory, in decisions)
    window: int = 50
    #: label horizons in decisions (signal and volatility; several at once)
    horizons: tuple[int, ...] = (10, 50, 100)
    #: what the signal label follows: the mid or the microprice
    price: Literal["mid", "microprice"] = "mid"
    #: a window every stride samples (1: every sample; larger thins overlapping windows)
    stride: int = 1
    #: share of the samples at the end kept for the test (never trained or selected on)
    test_split: float = 0.2
    #: last share of the training data used for validation (model selection, early stopping)
    val_split: float = 0.2
    #: encoder architecture: DeepLOB-style (convolutions, inception, GRU) or a small transformer
    arch: Literal["deeplob", "transformer"] = "deeplob"
    #: filters of the convolutions (deeplob) or model width (transformer)
    width: int = 16
    #: size of the shared trunk (the encoder's output features)
    hidden: int = 64
    #: transformer layers (arch transformer)
    layers: int = 2
    #: weight of the signal loss (cross-entropy, mean over horizons)
    signal_weight: float = 1.0
    #: weight of the volatility loss (MSE of log(1 + realised volatility in ticks))
    volatility_weight: float = 1.0
    #: weight of the regime loss (cross-entropy)
    regime_weight: float = 1.0
    #: weight each class by the inverse of its training frequency in the cross-entropies (off:
    #: with a rare flat class it made the encoder predict flat where nothing is predictable)
    balance_classes: bool = False
    epochs: int = 50
    batch_size: int = 32
    #: Adam learning rate
    lr: float = 0.001
    #: epochs without a better validation loss before training stops (best weights restored)
    patience: int = 5
    #: the validation loss that selects the checkpoint and stops early: the weighted total, or
    #: one task's (signal: the volatility's noisier loss does not pick the epoch)
    monitor: Literal["loss", "signal", "volatility", "regime"] = "loss"
    #: seed of the weights and of the batch order
    seed: int = 0
    #: torch CPU threads (0: torch's default; 1 is fastest for small models on a busy machine)
    torch_threads: int = 0

    def __post_init__(self) -> None:
        problems = []
        if not self.step_ms > 0:
            problems.append(f"step_ms must be > 0, got {self.step_ms}")
        for name in ("levels", "window", "stride", "width", "hidden", "layers", "epochs"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.batch_size < 2:
            problems.append(f"batch_size must be >= 2, got {self.batch_size}")
        if not self.horizons or any(h < 1 for h in self.horizons):
            problems.append(f"horizons must be decisions >= 1, got {list(self.horizons)}")
        if len(set(self.horizons)) != len(self.horizons):
            problems.append(f"horizons must differ, got {list(self.horizons)}")
        for name in ("test_split", "val_split"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                problems.append(f"{name} must be in (0, 1), got {value}")
        if not self.lr > 0:
            problems.append(f"lr must be > 0, got {self.lr}")
        if self.torch_threads < 0:
            problems.append(f"torch_threads must be >= 0, got {self.torch_threads}")
        if self.patience < 1:
            problems.append(f"patience must be >= 1, got {self.patience}")
        for name in ("signal_weight", "volatility_weight", "regime_weight"):
            if not getattr(self, name) >= 0:
                problems.append(f"{name} must be >= 0, got {getattr(self, name)}")
        if problems:
            raise ConfigError("EncoderConfig: " + "; ".join(problems))

    @property
    def max_horizon(self) -> int:
        """The longest horizon, decisions: how far the labels look ahead."""
        return max(self.horizons)
