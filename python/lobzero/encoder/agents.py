"""The trained encoder in front of an agent: observations that carry the book window, and an
SB3 features extractor that encodes it.

:class:`BookWindowVecEnv` wraps a :class:`~lobzero.VecTradingEnv` (or anything with its
``reset`` / ``step`` and ``infos["ts_ns"]``) and appends to each environment's observation the
encoder's window ending at the last sample at or before the environment's decision time
(normalised with the encoder's training statistics, flattened): ``[obs_dim + window × levels ×
channels]``. The samples are the encoder's own clock (``step_ms``), so frame stacking and the
encoder's window agree by construction: the window *is* the stack.

:class:`EncoderFeaturesExtractor` splits such an observation back, runs the encoder's trunk on
the window (frozen, or fine-tuned at the policy's learning rate times ``fine_tune_lr_scale``)
and concatenates the features with the environment's own observation.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from lobzero.data.market import Market
from lobzero.encoder.samples import CHANNELS, book_samples, features
from lobzero.encoder.train import TrainedEncoder
from lobzero.exceptions import ConfigError
from lobzero.models.encoder import MultiTaskEncoder


class BookWindows:
    """The encoder's windows of one market at any decision time: ``at(ts_ns [N])`` →
    ``[N, window × levels × channels]`` float32 (normalised), from the last sample at or
    before each time (zeros before the first full window)."""

    def __init__(self, market: Market, encoder: TrainedEncoder) -> None:
        c = encoder.config
        s = book_samples(market, c.step_ms, c.levels)
        self.ts_ns = s.ts_ns
        self.window = c.window
        x = encoder.normaliser.apply(features(s))
        pad = np.zeros((c.window - 1, *x.shape[1:]), dtype=np.float32)
        self.x = np.concatenate([pad, x])  # row i + window - 1 is sample i
        self.width = c.window * x.shape[1] * x.shape[2]

    def at(self, ts_ns: np.ndarray) -> np.ndarray:
        last = np.searchsorted(self.ts_ns, np.asarray(ts_ns), side="right") - 1
        out = np.zeros((len(last), self.width), dtype=np.float32)
        for i, k in enumerate(last):
            if k >= 0:
                out[i] = self.x[k : k + self.window].reshape(-1)
        return out


class BookWindowVecEnv:
    """A vector environment whose observations end with the encoder's book window (see the
    module docstring). ``single_observation_space`` is widened accordingly; everything else
    is the wrapped environment's."""

    def __init__(self, venv: Any, market: Market, encoder: TrainedEncoder) -> None:
        self.venv = venv
        self.windows = BookWindows(market, encoder)
        self.num_envs = venv.num_envs
        base = venv.single_observation_space
        self.obs_dim = int(base.shape[0])
        width = self.windows.width
        low = np.concatenate([base.low, np.full(width, -np.inf, np.float32)])
        high = np.concatenate([base.high, np.full(width, np.inf, np.float32)])
        self.single_observation_space = gym.spaces.Box(low, high, dtype=np.float32)
        self.single_action_space = venv.single_action_space

    def _with_window(self, obs: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
        return np.concatenate([obs, self.windows.at(infos["ts_ns"])], axis=1)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, infos = self.venv.reset(**kwargs)
        return self._with_window(obs, infos), infos

    def step(self, actions: Any) -> tuple[Any, ...]:
        obs, rewards, terminated, truncated, infos = self.venv.step(actions)
        return self._with_window(obs, infos), rewards, terminated, truncated, infos

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venv, name)


def _extractor_base() -> type:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    return BaseFeaturesExtractor


class EncoderFeaturesExtractor(_extractor_base()):  # type: ignore[misc]
    """SB3 features extractor over :class:`BookWindowVecEnv` observations: ``[B, obs_dim +
    window·levels·channels]`` → ``[B, obs_dim + hidden]``. ``freeze`` keeps the encoder's
    weights fixed; otherwise they train with the policy (SB3 gives them the policy's learning
    rate; ``fine_tune_lr_scale`` scales their gradients, a lower effective rate for Adam-free
    optimisers and a damped one for Adam)."""

    def __init__(
        self,
        observation_space: gym.spaces.Box,
        encoder: TrainedEncoder,
        obs_dim: int,
        freeze: bool = True,
        fine_tune_lr_scale: float = 0.1,
    ) -> None:
        hidden = encoder.features_dim
        super().__init__(observation_space, features_dim=obs_dim + hidden)
        c = encoder.config
        levels = int(encoder.model.kwargs["levels"])
        if observation_space.shape[0] != obs_dim + c.window * levels * len(CHANNELS):
            raise ConfigError(
                f"observations of width {observation_space.shape[0]} do not carry the encoder's "
                f"window ({c.window} × {levels} × {len(CHANNELS)} after {obs_dim} features): "
                "wrap the environment in BookWindowVecEnv with this encoder"
            )
        self.obs_dim = obs_dim
        self.shape = (c.window, levels, len(CHANNELS))
        self.trunk: MultiTaskEncoder = encoder.model
        # SB3's orthogonal initialisation (ortho_init, PPO's default) re-draws every linear and
        # convolution weight of the policy after this constructor, the encoder's included: the
        # trained weights are put back, in place, at the first forward
        self._trained = {k: v.clone() for k, v in encoder.model.state_dict().items()}
        self.freeze = freeze
        for p in self.trunk.parameters():
            p.requires_grad_(not freeze)
            if not freeze and fine_tune_lr_scale != 1.0:
                p.register_hook(lambda g, s=fine_tune_lr_scale: g * s)

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        if self._trained:
            with torch.no_grad():
                for k, v in self.trunk.state_dict().items():
                    v.copy_(self._trained[k])
            self._trained = {}
        base = observations[:, : self.obs_dim]
        window = observations[:, self.obs_dim :].reshape(-1, *self.shape)
        if self.freeze:
            with torch.no_grad():
                f = self.trunk.encode(window)
        else:
            f = self.trunk.encode(window)
        return torch.cat([base, f], dim=1)
