"""The trained encoder in front of an agent: observations that carry the book window, an SB3
features extractor that encodes it, and what a saved agent keeps of its encoder.

:class:`BookWindowVecEnv` wraps a :class:`~lobzero.VecTradingEnv` (or anything with its
``reset`` / ``step`` and ``infos["ts_ns"]``) and appends to each environment's observation the
encoder's window ending at the last sample at or before the environment's decision time
(normalised with the encoder's training statistics, flattened): ``[obs_dim + window × levels ×
channels]``; :class:`BookWindowEnv` does the same for one :class:`~lobzero.TradingEnv` (what the
evaluation plays). The samples are the encoder's own clock (``step_ms``), so frame stacking and
the encoder's window agree by construction: the window *is* the stack. A sample at time ``s``
holds the events received up to ``s``, so a window read at decision time ``t`` (``s <= t``)
uses nothing after ``t``.

:class:`EncoderFeaturesExtractor` splits such an observation back, runs (a copy of) the
encoder's trunk on the window, frozen or fine-tuned at the policy's learning rate times
``fine_tune_lr_scale`` (:class:`LrScaledAdam`: a parameter group of its own), and concatenates
the features with the environment's own observation.

:class:`AgentEncoder` is the encoder an agent was trained with and how (``mode`` "frozen" or
"fine-tune", ``lr_scale``); a saved agent embeds its checkpoint as ``encoder.pt`` (the
architecture, the normaliser's statistics and the decision clock of the windows; the agent's own
weights file holds the possibly fine-tuned trunk), so moving or deleting the encoder file does
not break the agent.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import numpy.typing as npt
import torch

from lobzero.data.market import Market
from lobzero.encoder.samples import CHANNELS, book_samples, features
from lobzero.encoder.train import TrainedEncoder, load_encoder, save_checkpoint
from lobzero.exceptions import ConfigError
from lobzero.models.encoder import MultiTaskEncoder

#: the embedded encoder's file in a saved agent's folder
ENCODER_FILE = "encoder.pt"
#: how an agent trains the encoder's trunk
ENCODER_MODES = ("frozen", "fine-tune")


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

    def at(self, ts_ns: npt.ArrayLike) -> np.ndarray:
        last = np.searchsorted(self.ts_ns, np.asarray(ts_ns), side="right") - 1
        out = np.zeros((len(last), self.width), dtype=np.float32)
        for i, k in enumerate(last):
            if k >= 0:
                out[i] = self.x[k : k + self.window].reshape(-1)
        return out


def _widened(base: gym.spaces.Box, width: int) -> gym.spaces.Box:
    low = np.concatenate([base.low, np.full(width, -np.inf, np.float32)])
    high = np.concatenate([base.high, np.full(width, np.inf, np.float32)])
    return gym.spaces.Box(low, high, dtype=np.float32)


class BookWindowVecEnv:
    """A vector environment whose observations end with the encoder's book window (see the
    module docstring), the finished episodes' last observations (``infos["final_obs"]``, read
    at ``final_info[i]["ts_ns"]``) included. ``single_observation_space`` is widened
    accordingly; everything else is the wrapped environment's."""

    def __init__(
        self,
        venv: Any,
        market: Market,
        encoder: TrainedEncoder,
        windows: BookWindows | None = None,
    ) -> None:
        self.venv = venv
        self.windows = windows if windows is not None else BookWindows(market, encoder)
        self.num_envs = venv.num_envs
        base = venv.single_observation_space
        self.obs_dim = int(base.shape[0])
        self.single_observation_space = _widened(base, self.windows.width)
        self.single_action_space = venv.single_action_space

    def _with_window(self, obs: np.ndarray, infos: dict[str, Any]) -> np.ndarray:
        if "final_obs" in infos:
            for i in np.flatnonzero(infos["_final_obs"]):
                ts = [infos["final_info"][i]["ts_ns"]]
                infos["final_obs"][i] = np.concatenate(
                    [infos["final_obs"][i], self.windows.at(ts)[0]]
                )
        return np.concatenate([obs, self.windows.at(infos["ts_ns"])], axis=1)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, infos = self.venv.reset(**kwargs)
        return self._with_window(obs, infos), infos

    def step(self, actions: Any) -> tuple[Any, ...]:
        obs, rewards, terminated, truncated, infos = self.venv.step(actions)
        return self._with_window(obs, infos), rewards, terminated, truncated, infos

    def __getattr__(self, name: str) -> Any:
        return getattr(self.venv, name)


class BookWindowEnv:
    """One environment (a :class:`~lobzero.TradingEnv`, or one behind the risk guards) whose
    observations ``[obs_dim + width]`` end with the encoder's window at ``info["ts_ns"]``;
    everything else (``config``, ``market``, ``round_trips``, ...) is the wrapped one's."""

    def __init__(self, env: Any, windows: BookWindows) -> None:
        self.env, self.windows = env, windows
        self.observation_space = _widened(env.observation_space, windows.width)

    def _with_window(self, obs: np.ndarray, info: dict[str, Any]) -> np.ndarray:
        window = self.windows.at(np.asarray([info["ts_ns"]], np.int64))[0]
        return np.concatenate([np.asarray(obs, np.float32), window])

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return self._with_window(obs, info), info

    def step(self, action: Any) -> tuple[Any, ...]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return self._with_window(obs, info), reward, terminated, truncated, info

    def __getattr__(self, name: str) -> Any:
        return getattr(self.env, name)


@dataclass
class AgentEncoder:
    """The encoder an agent trains with: the checkpoint, ``mode`` ("frozen": its weights stay
    as trained; "fine-tune": they train with the agent at ``lr_scale`` × its learning rate).
    Windows are built once per market (:meth:`windows`)."""

    encoder: TrainedEncoder
    mode: str = "frozen"
    lr_scale: float = 0.1
    _windows: dict[int, tuple[Market, BookWindows]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ENCODER_MODES:
            raise ConfigError(
                f"encoder mode must be one of {', '.join(ENCODER_MODES)}, got {self.mode!r}"
            )
        if not (0.0 < self.lr_scale <= 1.0):
            raise ConfigError(f"encoder_lr_scale must be in (0, 1], got {self.lr_scale}")

    @classmethod
    def load(cls, path: str | Path, mode: str = "frozen", lr_scale: float = 0.1) -> AgentEncoder:
        """The encoder checkpoint at ``path`` (``train-encoder``'s ``--save-path``)."""
        return cls(load_encoder(path), mode, lr_scale)

    @property
    def freeze(self) -> bool:
        return self.mode == "frozen"

    @property
    def shape(self) -> tuple[int, int, int]:
        """(window, levels, channels) of one window."""
        kw = self.encoder.model.kwargs
        return int(kw["window"]), int(kw["levels"]), int(kw["channels"])

    @property
    def width(self) -> int:
        """Floats one window adds to an observation."""
        w, lv, c = self.shape
        return w * lv * c

    def windows(self, market: Market) -> BookWindows:
        """The windows of ``market`` (built at the first call for it)."""
        kept = self._windows.get(id(market))
        if kept is None or kept[0] is not market:
            kept = (market, BookWindows(market, self.encoder))
            self._windows[id(market)] = kept
        return kept[1]

    def wrap_vec(self, venv: Any, market: Market) -> BookWindowVecEnv:
        """``venv`` (over ``market``) with the window after each observation."""
        return BookWindowVecEnv(venv, market, self.encoder, self.windows(market))

    def wrap_env(self, env: Any) -> BookWindowEnv:
        """One environment (``env.market``) with the window after each observation."""
        return BookWindowEnv(env, self.windows(env.market))

    def save(self, directory: str | Path) -> dict[str, Any]:
        """Embeds the checkpoint in ``directory`` (:data:`ENCODER_FILE`); returns what the
        agent's ``agent.json`` records of it."""
        e = self.encoder
        model = e.model
        save_checkpoint(
            Path(directory) / ENCODER_FILE,
            model,
            e.config,
            e.normaliser,
            e.regime_rule,
            e.epoch,
            e.val_loss,
        )
        return {"file": ENCODER_FILE, "mode": self.mode, "lr_scale": self.lr_scale}

    @classmethod
    def from_spec(cls, directory: str | Path, spec: dict[str, Any] | None) -> AgentEncoder | None:
        """The encoder a saved agent embeds (None for ``spec`` None: an agent without one)."""
        if not spec:
            return None
        path = Path(directory) / str(spec.get("file", ENCODER_FILE))
        return cls.load(path, str(spec["mode"]), float(spec["lr_scale"]))


def observation_env(agent: Any, env: Any) -> Any:
    """``env`` as ``agent`` observes it: with the encoder's window after each observation when
    the agent was trained with an encoder, else ``env`` itself."""
    attached = getattr(agent, "encoder", None)
    return attached.wrap_env(env) if isinstance(attached, AgentEncoder) else env


class LrScaledAdam(torch.optim.Adam):
    """Adam whose parameters carrying an ``lr_scale`` attribute (the fine-tuned encoder's, set
    by :class:`EncoderFeaturesExtractor`) form their own parameter group, stepped at the
    group's learning rate times that scale. SB3 sets every group's ``lr`` to the policy's rate
    (its schedule); the scale is applied at each step, so the two never fight."""

    def __init__(self, params: Any, lr: float = 1e-3, **kwargs: Any) -> None:
        params = list(params)
        if params and isinstance(params[0], dict):
            groups = params
        else:
            plain = [p for p in params if not hasattr(p, "lr_scale")]
            scaled: dict[float, list[torch.nn.Parameter]] = {}
            for p in params:
                if hasattr(p, "lr_scale"):
                    scaled.setdefault(float(p.lr_scale), []).append(p)
            groups = [{"params": plain}] if plain else []
            groups += [{"params": ps, "lr_scale": s} for s, ps in scaled.items()]
        super().__init__(groups, lr=lr, **kwargs)

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        rates = [g["lr"] for g in self.param_groups]
        for g in self.param_groups:
            g["lr"] = g["lr"] * g.get("lr_scale", 1.0)
        try:
            return super().step(closure)
        finally:
            for g, rate in zip(self.param_groups, rates, strict=True):
                g["lr"] = rate


def _extractor_base() -> type:
    from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

    return BaseFeaturesExtractor


class EncoderFeaturesExtractor(_extractor_base()):  # type: ignore[misc]
    """SB3 features extractor over :class:`BookWindowVecEnv` observations: ``[B, obs_dim +
    window·levels·channels]`` → ``[B, obs_dim + hidden]``. It runs its own copy of the
    encoder (SAC's actor, critic and target critic each hold one). ``freeze`` keeps the
    weights as trained; otherwise they train with the policy, and each carries
    ``lr_scale = fine_tune_lr_scale`` for :class:`LrScaledAdam` (the policy's optimiser in
    fine-tune mode: their learning rate is the policy's times the scale)."""

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
        self.trunk: MultiTaskEncoder = copy.deepcopy(encoder.model)
        # SB3's orthogonal initialisation (ortho_init, PPO's default) re-draws every linear and
        # convolution weight of the policy after this constructor, the encoder's included: the
        # trained weights are put back, in place, at the first forward (unless a state dict,
        # a saved or resumed agent's, is loaded first: its weights are the ones to keep)
        self._trained = {k: v.clone() for k, v in encoder.model.state_dict().items()}
        self.freeze = freeze
        for p in self.trunk.parameters():
            p.requires_grad_(not freeze)
            if not freeze:
                p.lr_scale = float(fine_tune_lr_scale)  # type: ignore[attr-defined]

    def _load_from_state_dict(self, *args: Any, **kwargs: Any) -> None:
        super()._load_from_state_dict(*args, **kwargs)
        self._trained = {}

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


def sb3_policy_kwargs(attached: AgentEncoder, obs_dim: int, algo: str) -> dict[str, Any]:
    """The ``policy_kwargs`` entries that put ``attached`` in front of an SB3 policy over
    observations of ``obs_dim`` environment features plus the window (``algo``: "ppo" or
    "sac"; PPO's Adam keeps SB3's ``eps`` of 1e-5)."""
    kwargs: dict[str, Any] = {
        "features_extractor_class": EncoderFeaturesExtractor,
        "features_extractor_kwargs": {
            "encoder": attached.encoder,
            "obs_dim": obs_dim,
            "freeze": attached.freeze,
            "fine_tune_lr_scale": attached.lr_scale,
        },
    }
    if algo == "ppo":
        kwargs["share_features_extractor"] = True
    if not attached.freeze:
        kwargs["optimizer_class"] = LrScaledAdam
        if algo == "ppo":
            kwargs["optimizer_kwargs"] = {"eps": 1e-5}
    return kwargs
