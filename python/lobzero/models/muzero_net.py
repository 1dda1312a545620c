"""MuZero's three functions as torch modules: representation h, dynamics g, prediction f.

- h: observation ``[B, obs_dim]`` (optionally ``frame_stack`` frames, oldest first, through a
  temporal encoder) → latent ``[B, latent_dim]``;
- g: latent + one-hot action → next latent and reward;
- f: latent → policy logits ``[B, A]`` and value.

Latents are min-max scaled to [0, 1] per sample, as in the paper, so that they share the range
of the one-hot action. Value and reward heads are categorical over ``2·support_size + 1`` atoms
(see :mod:`lobzero.models.support`) or, with ``support_size = 0``, scalars, on a scale fitted to
the data (:class:`ValueCodec`). Observations are scaled by their known bounds, or by a running
mean / std from self-play observations only (:class:`ObsNormalizer`); both are saved with the
network.

With a pretrained order-book encoder (:class:`lobzero.models.encoder.MultiTaskEncoder`), the
observation ends with its book window (``window × levels × channels`` floats, already
normalised by the encoder's own statistics: the normaliser passes them through unchanged) and h
reads the encoder's features beside the (normalised) environment features: ``[B, env_dim +
window·levels·channels]`` → ``[B, env_dim]`` ‖ ``encode(window) [B, hidden]`` → latent.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import numpy.typing as npt
import torch
from torch import nn
from torch.nn import functional

from lobzero.exceptions import ConfigError
from lobzero.models.alphazero import AlphaZeroNet, ResidualBlock
from lobzero.models.encoder import MultiTaskEncoder
from lobzero.models.support import (
    inverse_scale_transform,
    scalar_to_support,
    scale_transform,
    support_to_scalar,
)


class ValueCodec(nn.Module):
    """How a value or reward head's output ``[B, W]`` maps to scalars ``[B]`` (quote currency)
    and is trained: categorical (``W = 2S + 1``, cross-entropy against two-hot targets) or
    scalar (``W = 1``, squared error).

    A scalar ``x`` is first divided by ``scale`` (quote currency per network unit), then, with
    ``transform="sqrt"``, squashed by MuZero's ``h`` (:mod:`lobzero.models.support`);
    ``"linear"`` keeps it as it is. Why both: the expectation of a categorical head is taken on
    the encoded scale, so with ``h`` the head reports ``h⁻¹(E[h(z)])``, which for noisy targets
    (a one-step PnL) lies well inside ``E[z]`` (Jensen): it shrinks a noisy edge toward 0 while a
    deterministic fee is learned exactly, a bias toward staying flat. The linear support reports
    ``E[z]`` exactly, and needs a ``scale`` that fits the data (:meth:`fit_scale`).

    Buffers saved with the network: ``scale``, ``fitted`` (1 once :meth:`fit_scale` ran) and
    ``spread`` (the 99th percentile of |returns| the scale was fitted on, quote currency; 0
    until fitted).
    """

    scale: torch.Tensor
    fitted: torch.Tensor
    spread: torch.Tensor

    #: :meth:`fit_scale` puts the 99th percentile of |returns| at this share of the support, so
    #: that a policy better than the warm-up one (larger returns) still fits
    FIT_SHARE = 0.25

    def __init__(
        self,
        support_size: int,
        eps: float = 0.001,
        transform: str = "sqrt",
        scale: float = 1.0,
    ) -> None:
        super().__init__()
        if transform not in ("sqrt", "linear"):
            raise ConfigError(f"value_transform must be 'sqrt' or 'linear', got {transform!r}")
        if not (scale > 0.0 and math.isfinite(scale)):
            raise ConfigError(f"value scale must be finite and > 0, got {scale}")
        self.support_size, self.eps, self.transform = support_size, eps, transform
        self.register_buffer("scale", torch.tensor(float(scale), dtype=torch.float64))
        self.register_buffer("fitted", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("spread", torch.tensor(0.0, dtype=torch.float64))

    @property
    def width(self) -> int:
        return 2 * self.support_size + 1 if self.support_size > 0 else 1

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Scalars ``[...]`` (quote currency) on the scale the heads learn (support units)."""
        y = x / self.scale.to(x.dtype)
        return scale_transform(y, self.eps) if self.transform == "sqrt" else y

    def decode(self, y: torch.Tensor) -> torch.Tensor:
        """The inverse of :meth:`encode`."""
        x = inverse_scale_transform(y, self.eps) if self.transform == "sqrt" else y
        return x * self.scale.to(y.dtype)

    def to_scalar(self, out: torch.Tensor) -> torch.Tensor:
        """Scalars ``[...]`` (quote currency) of head outputs ``[..., W]``."""
        if self.support_size == 0:
            return self.decode(out[..., 0])
        return self.decode(support_to_scalar(out, transform=False))

    def loss(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Per-sample loss ``[...]`` of outputs ``[..., W]`` against scalar targets ``[...]``."""
        y = self.encode(target)
        if self.support_size == 0:
            return (out[..., 0] - y) ** 2
        two_hot = scalar_to_support(y, self.support_size, transform=False)
        return -(two_hot * functional.log_softmax(out, dim=-1)).sum(-1)

    def clipped(self, target: torch.Tensor) -> torch.Tensor:
        """[...] bool: the target lies beyond the support's ends (categorical heads only)."""
        if self.support_size == 0:
            return torch.zeros_like(target, dtype=torch.bool)
        return self.encode(target).abs() > self.support_size

    def typical_value(self) -> float:
        """The |value| (quote currency) that sits at :data:`FIT_SHARE` of the support: the
        99th percentile of |returns| once :meth:`fit_scale` ran."""
        units = self.FIT_SHARE * self.support_size if self.support_size > 0 else 1.0
        return float(self.decode(torch.tensor(units, dtype=torch.float64)))

    @torch.no_grad()
    def fit_scale(self, returns: torch.Tensor) -> float:
        """Sets ``scale`` so that the 99th percentile of ``|returns|`` (``[N]``, quote currency,
        e.g. discounted returns of the warm-up data) lands at :data:`FIT_SHARE` of the support
        (of 1 network unit for scalar heads); returns the new scale. Degenerate data (all zero)
        keeps the scale."""
        finite = returns[torch.isfinite(returns)].abs().to(torch.float64)
        if finite.numel() == 0:
            return float(self.scale)
        spread = float(torch.quantile(finite, 0.99))
        if spread <= 0.0:
            return float(self.scale)
        units = self.FIT_SHARE * self.support_size if self.support_size > 0 else 1.0
        if self.transform == "sqrt":
            units = float(
                inverse_scale_transform(torch.tensor(units, dtype=torch.float64), self.eps)
            )
        self.scale.fill_(spread / units)
        self.spread.fill_(spread)
        self.fitted.fill_(1.0)
        return float(self.scale)


class ObsNormalizer(nn.Module):
    """Scales observations ``[B, obs_dim]`` for the network: a feature with finite bounds
    ``[low, high]`` (the environment's observation space, which the core derives from each
    feature's definition) maps linearly onto ``[-1, 1]``; any other feature is standardised by
    a running mean and variance (parallel Welford merge, updated only by :meth:`update`) and
    clipped to ``±clip``.

    Why bounds first: self-play's warm-up sees only the first steps of each episode (all lanes
    start together), so statistics of a bounded feature such as ``time_fraction`` gathered there
    are far from its real range (mean 0.10, sd 0.06 over a 300-step episode's first 63 steps),
    and a frozen normaliser would clip it at ``±clip`` for the last 30 % of every episode.

    ``passthrough``: the last that many features are returned as they are (the encoder's book
    window, normalised by the encoder's training statistics; scaling it again by self-play's
    statistics would feed the encoder inputs it was not trained on).
    """

    count: torch.Tensor
    mean: torch.Tensor
    var: torch.Tensor
    bounded: torch.Tensor
    bound_mid: torch.Tensor
    bound_half: torch.Tensor

    def __init__(
        self,
        obs_dim: int,
        clip: float = 10.0,
        low: npt.ArrayLike | None = None,
        high: npt.ArrayLike | None = None,
        passthrough: int = 0,
    ) -> None:
        super().__init__()
        if not (0 <= passthrough <= obs_dim):
            raise ConfigError(f"passthrough must be in [0, {obs_dim}], got {passthrough}")
        self.clip = clip
        self.passthrough = passthrough
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        lo = torch.full((obs_dim,), -math.inf, dtype=torch.float64)
        hi = torch.full((obs_dim,), math.inf, dtype=torch.float64)
        if low is not None and high is not None:
            lo = torch.as_tensor(np.asarray(low, np.float64)).reshape(-1)
            hi = torch.as_tensor(np.asarray(high, np.float64)).reshape(-1)
            if lo.shape != (obs_dim,) or hi.shape != (obs_dim,):
                raise ConfigError(
                    f"observation bounds have shapes {tuple(lo.shape)} and {tuple(hi.shape)}, "
                    f"the observation has {obs_dim} features"
                )
        bounded = torch.isfinite(lo) & torch.isfinite(hi) & (hi > lo)
        self.register_buffer("bounded", bounded)
        self.register_buffer("bound_mid", torch.where(bounded, (lo + hi) / 2, 0.0))
        self.register_buffer("bound_half", torch.where(bounded, (hi - lo) / 2, 1.0))

    @torch.no_grad()
    def update(self, obs: torch.Tensor) -> None:
        """Adds a batch ``[B, obs_dim]`` to the statistics (non-finite rows are skipped)."""
        x = obs.to(torch.float64)
        x = x[torch.isfinite(x).all(dim=1)]
        n = x.shape[0]
        if n == 0:
            return
        batch_mean = x.mean(0)
        batch_var = x.var(0, unbiased=False)
        total = self.count + n
        delta = batch_mean - self.mean
        self.mean += delta * n / total
        self.var.copy_(
            (self.var * self.count + batch_var * n + delta**2 * self.count * n / total) / total
        )
        self.count.copy_(total)

    def _unclipped(self, obs: torch.Tensor) -> torch.Tensor:
        std = torch.sqrt(self.var + 1e-8).to(obs.dtype)
        z = (obs - self.mean.to(obs.dtype)) / std
        by_bounds = (obs - self.bound_mid.to(obs.dtype)) / self.bound_half.to(obs.dtype)
        return torch.nan_to_num(torch.where(self.bounded, by_bounds, z), nan=0.0)

    @torch.no_grad()
    def clipped_fraction(self, obs: torch.Tensor) -> torch.Tensor:
        """``[obs_dim]``: the share of the rows of ``obs [B, obs_dim]`` whose scaled feature
        lies beyond ``±clip`` (0 for passthrough features). The network sees all of those
        values as one: statistics frozen after a warm-up that never left the start of an
        episode (CartPole's cart position: sd 0.055 over 200 random steps, so every |x| > 0.55
        of the 2.4 track looked the same) make the states where the episode fails
        indistinguishable."""
        beyond = (self._unclipped(obs).abs() > self.clip).to(torch.float32).mean(0)
        if self.passthrough:
            beyond[obs.shape[1] - self.passthrough :] = 0.0
        return beyond

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        z = self._unclipped(obs).clamp(-self.clip, self.clip)
        if self.passthrough == 0:
            return z
        keep = obs.shape[1] - self.passthrough
        return torch.cat([z[:, :keep], obs[:, keep:]], dim=1)


def scale_latent(latent: torch.Tensor) -> torch.Tensor:
    """Min-max scales each row of ``[B, latent_dim]`` to [0, 1] (the paper's hidden-state
    scaling)."""
    low = latent.min(dim=1, keepdim=True).values
    high = latent.max(dim=1, keepdim=True).values
    return (latent - low) / (high - low).clamp(min=1e-5)


def residual_mlp(in_dim: int, hidden: int, out_dim: int, blocks: int) -> nn.Sequential:
    """Linear → ``blocks`` pre-norm residual blocks → layer norm → ReLU → linear."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden),
        *[ResidualBlock(hidden) for _ in range(blocks)],
        nn.LayerNorm(hidden),
        nn.ReLU(),
        nn.Linear(hidden, out_dim),
    )


class TemporalEncoder(nn.Module):
    """Encodes ``frame_stack`` stacked frames ``[B, W·F]`` (oldest first) into ``[B, hidden]``:
    a 1-D convolution over time (``"conv"``) or a GRU whose last state is kept (``"gru"``)."""

    def __init__(self, kind: str, frames: int, frame_dim: int, hidden: int) -> None:
        super().__init__()
        self.kind, self.frames, self.frame_dim = kind, frames, frame_dim
        if kind == "conv":
            kernel = min(3, frames)
            self.conv = nn.Conv1d(frame_dim, hidden, kernel_size=kernel)
            self.proj = nn.Linear(hidden * (frames - kernel + 1), hidden)
        elif kind == "gru":
            self.gru = nn.GRU(frame_dim, hidden, batch_first=True)
        else:
            raise ConfigError(f"temporal_encoder must be 'none', 'conv' or 'gru', got {kind!r}")

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        seq = obs.reshape(obs.shape[0], self.frames, self.frame_dim)
        if self.kind == "conv":
            h = functional.relu(self.conv(seq.transpose(1, 2)))
            return functional.relu(self.proj(h.flatten(1)))
        _, last = self.gru(seq)
        return last[0]


class MuZeroNet(nn.Module):
    """Representation, dynamics and prediction networks (see the module docstring).

    ``support_size``: atoms per side of the categorical value and reward heads (0: scalar
    heads). ``frame_stack`` > 1 with ``temporal_encoder`` "conv" or "gru" reads the observation
    as that many frames of ``obs_dim / frame_stack`` features. ``prediction`` "mlp" (default)
    or "alphazero" (:class:`AlphaZeroNet` as f: tanh value, needs scalar heads and values in
    [-1, 1]). ``value_transform`` and ``value_scale``: see :class:`ValueCodec`; ``obs_low`` /
    ``obs_high`` ``[obs_dim]``: the observation space's bounds (see :class:`ObsNormalizer`).
    ``encoder``: a pretrained order-book encoder in front of h (see the module docstring; the
    network keeps its own copy), ``freeze_encoder`` keeps its weights out of training.
    """

    def __init__(
        self,
        obs_dim: int,
        num_actions: int,
        *,
        latent_dim: int = 64,
        hidden: int = 128,
        blocks: int = 2,
        support_size: int = 300,
        value_eps: float = 0.001,
        frame_stack: int = 1,
        temporal_encoder: str = "none",
        prediction: str = "mlp",
        value_transform: str = "sqrt",
        value_scale: float = 1.0,
        obs_low: npt.ArrayLike | None = None,
        obs_high: npt.ArrayLike | None = None,
        consistency: bool = False,
        value_prefix: bool = False,
        encoder: MultiTaskEncoder | None = None,
        freeze_encoder: bool = True,
    ) -> None:
        super().__init__()
        if obs_dim <= 0 or num_actions <= 1 or latent_dim <= 1:
            raise ConfigError(
                f"MuZeroNet needs obs_dim > 0, num_actions > 1 and latent_dim > 1, got "
                f"{obs_dim}, {num_actions}, {latent_dim}"
            )
        self.obs_dim, self.num_actions, self.latent_dim = obs_dim, num_actions, latent_dim
        self.codec = ValueCodec(support_size, value_eps, value_transform, value_scale)
        self.encoder: MultiTaskEncoder | None = None
        self.window_shape: tuple[int, int, int] = (0, 0, 0)
        window_width = 0
        if encoder is not None:
            kw = encoder.kwargs
            self.window_shape = (int(kw["window"]), int(kw["levels"]), int(kw["channels"]))
            window_width = math.prod(self.window_shape)
            if obs_dim <= window_width:
                raise ConfigError(
                    f"observations of {obs_dim} features cannot carry the encoder's window of "
                    f"{window_width} after the environment's: wrap the environments in "
                    "lobzero.encoder.agents.BookWindowVecEnv"
                )
            self.encoder = copy.deepcopy(encoder)
            self.freeze_encoder = freeze_encoder
            for p in self.encoder.parameters():
                p.requires_grad_(not freeze_encoder)
        self.env_dim = obs_dim - window_width
        self.normalizer = ObsNormalizer(
            obs_dim, low=obs_low, high=obs_high, passthrough=window_width
        )
        if temporal_encoder != "none" and frame_stack > 1:
            if self.env_dim % frame_stack:
                raise ConfigError(
                    f"obs_dim {self.env_dim} is not a whole number of {frame_stack} stacked frames"
                )
            self.temporal: TemporalEncoder | None = TemporalEncoder(
                temporal_encoder, frame_stack, self.env_dim // frame_stack, hidden
            )
            rep_in = hidden
        else:
            self.temporal = None
            rep_in = self.env_dim
        if self.encoder is not None:
            rep_in += int(self.encoder.hidden)
        self.representation_net = residual_mlp(rep_in, hidden, latent_dim, blocks)
        self.dynamics_net = residual_mlp(latent_dim + num_actions, hidden, hidden, blocks)
        self.next_latent_head = nn.Linear(hidden, latent_dim)
        self.reward_head = nn.Sequential(nn.ReLU(), nn.Linear(hidden, self.codec.width))
        if prediction == "alphazero":
            if support_size != 0:
                raise ConfigError("prediction='alphazero' has a tanh value: set support_size = 0")
            self.prediction_net: nn.Module = AlphaZeroNet(latent_dim, num_actions, hidden, blocks)
        elif prediction == "mlp":
            self.prediction_net = residual_mlp(
                latent_dim, hidden, num_actions + self.codec.width, blocks
            )
        else:
            raise ConfigError(f"prediction must be 'mlp' or 'alphazero', got {prediction!r}")
        self.prediction_kind = prediction
        # EfficientZero's value prefix: an LSTM over the unrolled steps predicts the sum of the
        # rewards so far, read by the reward head instead of the one step's state. It reads the
        # next latent, as EfficientZero does: fed only the dynamics' hidden layer, the prefix
        # loss never shaped the latents f reads, and on CartPole the dynamics learned almost
        # nothing of what an action does (Q(right) − Q(left) sd 0.86 against 12 with the
        # latent; greedy return 24 against 137 after 6,000 steps). It reads the hidden layer
        # too: the hidden layer saw the state and the action, where the next latent need not
        # hold what the step's reward needs: a trade's fee is paid on the change of position,
        # and the next latent holds the new position, not the old one
        self.prefix_lstm: nn.LSTMCell | None = None
        if value_prefix:
            self.prefix_lstm = nn.LSTMCell(latent_dim + hidden, hidden)
        # EfficientZero's temporal consistency (SimSiam): a projection of latents and a
        # predictor on top of it, only for the loss
        self.projection: nn.Module | None = None
        self.projection_predictor: nn.Module | None = None
        if consistency:
            self.projection = nn.Sequential(
                nn.Linear(latent_dim, hidden),
                nn.LayerNorm(hidden),
                nn.ReLU(),
                nn.Linear(hidden, hidden),
            )
            self.projection_predictor = nn.Sequential(
                nn.Linear(hidden, hidden // 2), nn.ReLU(), nn.Linear(hidden // 2, hidden)
            )
        # zero output layers: a new network predicts a uniform policy and a value and reward
        # of 0, so early search is not steered by random head weights
        last_layers: list[nn.Module] = [self.reward_head[-1]]
        if isinstance(self.prediction_net, nn.Sequential):
            last_layers.append(self.prediction_net[-1])
        for layer in last_layers:
            assert isinstance(layer, nn.Linear)
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def representation(self, obs: torch.Tensor) -> torch.Tensor:
        """h: observations ``[B, obs_dim]`` → latents ``[B, latent_dim]`` in [0, 1]."""
        x = self.normalizer(obs)
        window = x[:, self.env_dim :]
        x = x[:, : self.env_dim]
        if self.temporal is not None:
            x = self.temporal(x)
        if self.encoder is not None:
            window = window.reshape(-1, *self.window_shape)
            if self.freeze_encoder:
                with torch.no_grad():
                    features = self.encoder.encode(window)
            else:
                features = self.encoder.encode(window)
            x = torch.cat([x, features], dim=1)
        return scale_latent(self.representation_net(x))

    def dynamics(
        self, latent: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """g: latents ``[B, latent_dim]`` and actions ``[B]`` (int64) → next latents
        ``[B, latent_dim]`` and reward outputs ``[B, W]``."""
        one_hot = functional.one_hot(action.long(), self.num_actions).to(latent.dtype)
        h = self.dynamics_net(torch.cat([latent, one_hot], dim=1))
        return scale_latent(self.next_latent_head(h)), self.reward_head(h)

    def prediction(self, latent: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """f: latents → policy logits ``[B, A]`` and value outputs ``[B, W]``."""
        if self.prediction_kind == "alphazero":
            logits, value = self.prediction_net(latent)
            return logits, value.unsqueeze(-1)
        out = self.prediction_net(latent)
        return out[:, : self.num_actions], out[:, self.num_actions :]

    def consistency_loss(
        self, predicted_latent: torch.Tensor, next_obs: torch.Tensor
    ) -> torch.Tensor:
        """EfficientZero's temporal consistency, per sample ``[B]``: the negative cosine
        similarity of the predictor's projection of the dynamics' latent ``[B, D]`` and the
        projection of the representation of the real next observation ``[B, obs_dim]``, whose
        branch gets no gradient (SimSiam's stop-gradient)."""
        if self.projection is None or self.projection_predictor is None:
            raise ConfigError("this network was built without consistency (consistency_weight 0)")
        with torch.no_grad():
            target = self.projection(self.representation(next_obs))
        predicted = self.projection_predictor(self.projection(predicted_latent))
        return -functional.cosine_similarity(predicted, target, dim=-1)

    def initial_inference(
        self, obs: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Latents, value outputs ``[B, W]`` and policy logits ``[B, A]`` of observations."""
        latent = self.representation(obs)
        logits, value = self.prediction(latent)
        return latent, value, logits

    def dynamics_prefix(
        self,
        latent: torch.Tensor,
        action: torch.Tensor,
        state: tuple[torch.Tensor, torch.Tensor] | None,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """g with the value-prefix LSTM: latents ``[B, D]``, actions ``[B]`` and the LSTM state
        ``(h, c)`` ``[B, hidden]`` each (None: a fresh unroll) → next latents, the value prefix
        outputs ``[B, W]`` (the sum of the rewards since the unroll began) and the new state.
        The LSTM reads the next latent (EfficientZero's design) beside the dynamics' hidden
        layer ``[B, hidden]``, which knows the action taken."""
        if self.prefix_lstm is None:
            raise ConfigError("this network was built without a value prefix (value_prefix off)")
        one_hot = functional.one_hot(action.long(), self.num_actions).to(latent.dtype)
        h = self.dynamics_net(torch.cat([latent, one_hot], dim=1))
        nxt = scale_latent(self.next_latent_head(h))
        new_state = self.prefix_lstm(torch.cat([nxt, h], dim=1), state)
        return nxt, self.reward_head(new_state[0]), new_state

    def recurrent_inference(
        self, latent: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Next latents, reward outputs, value outputs and policy logits after ``action``. With a
        value prefix, the reward is the prefix of this one step from a fresh LSTM state."""
        if self.prefix_lstm is not None:
            nxt, reward, _ = self.dynamics_prefix(latent, action, None)
        else:
            nxt, reward = self.dynamics(latent, action)
        logits, value = self.prediction(nxt)
        return nxt, reward, value, logits
