"""Baselines on the encoder's split: the majority class (and the training mean of the
volatility), and logistic / linear regression on hand-made features
(:data:`lobzero.encoder.dataset.HAND_FEATURES`: imbalance, OFI, spread, trade flow).

Everything is fitted on the training anchors only; features are standardised with the
training mean and deviation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Predictions:
    """Predictions for N anchors: ``signal`` [N, n_horizons] classes, ``volatility``
    [N, n_horizons] (log(1 + ticks)), ``regime`` [N] classes."""

    signal: np.ndarray
    volatility: np.ndarray
    regime: np.ndarray


class Majority:
    """The training range's most frequent class per task and horizon, its mean volatility."""

    def __init__(self, signal: np.ndarray, volatility: np.ndarray, regime: np.ndarray) -> None:
        self.signal = np.array([np.bincount(c, minlength=3).argmax() for c in signal.T])
        self.volatility = volatility.mean(axis=0)
        self.regime = int(np.bincount(regime, minlength=3).argmax())

    def predict(self, n: int) -> Predictions:
        return Predictions(
            np.tile(self.signal, (n, 1)),
            np.tile(self.volatility, (n, 1)),
            np.full(n, self.regime),
        )


class Stratified:
    """Chance: classes drawn at random with the training range's frequencies, independent of
    the inputs (seeded), and the training mean of the volatility. What a model without
    information scores on each metric."""

    def __init__(
        self, signal: np.ndarray, volatility: np.ndarray, regime: np.ndarray, seed: int = 0
    ) -> None:
        self.signal = [np.bincount(c, minlength=3) / len(c) for c in signal.T]
        self.volatility = volatility.mean(axis=0)
        self.regime = np.bincount(regime, minlength=3) / len(regime)
        self.seed = seed

    def predict(self, n: int) -> Predictions:
        rng = np.random.default_rng(self.seed)
        signal = np.stack([rng.choice(3, size=n, p=p) for p in self.signal], axis=1)
        return Predictions(
            signal, np.tile(self.volatility, (n, 1)), rng.choice(3, size=n, p=self.regime)
        )


def _logistic(x: torch.Tensor, y: torch.Tensor, classes: int, l2: float = 1e-3) -> torch.Tensor:
    """Multinomial logistic regression by L-BFGS: weights [features + 1, classes]."""
    xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
    w = torch.zeros(xb.shape[1], classes, dtype=x.dtype, requires_grad=True)
    opt = torch.optim.LBFGS([w], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(xb @ w, y) + l2 * (w[:-1] ** 2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w.detach()


class HandLogistic:
    """Logistic regression (signal per horizon, regime) and least squares (volatility per
    horizon) on the standardised hand-made features of the anchor sample."""

    def __init__(
        self, hand: np.ndarray, signal: np.ndarray, volatility: np.ndarray, regime: np.ndarray
    ) -> None:
        self.mean = hand.mean(axis=0)
        self.std = np.where(hand.std(axis=0) > 1e-8, hand.std(axis=0), 1.0)
        x = self._x(hand)
        self.signal_w = [_logistic(x, torch.from_numpy(c.astype(np.int64)), 3) for c in signal.T]
        self.regime_w = _logistic(x, torch.from_numpy(regime.astype(np.int64)), 3)
        xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
        self.vol_w = torch.linalg.lstsq(
            xb, torch.from_numpy(volatility.astype(np.float64))
        ).solution

    def _x(self, hand: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((hand - self.mean) / self.std).astype(np.float64))

    def predict(self, hand: np.ndarray) -> Predictions:
        x = self._x(hand)
        xb = torch.cat([x, torch.ones(len(x), 1, dtype=x.dtype)], dim=1)
        signal = np.stack([(xb @ w).argmax(1).numpy() for w in self.signal_w], axis=1)
        return Predictions(
            signal, (xb @ self.vol_w).numpy(), (xb @ self.regime_w).argmax(1).numpy()
        )
