"""`MuZeroConfig`: every setting of a MuZero run (network, search, replay, learner), TOML."""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Literal

from lobzero.config import TomlConfig
from lobzero.exceptions import ConfigError


@dataclass(frozen=True)
class MuZeroConfig(TomlConfig):
    """Configuration of :func:`lobzero.muzero.train_muzero`.

    Budget: ``total_env_steps`` environment steps (all ``num_envs`` actors together); the
    learner does ``replay_ratio`` updates per environment step once ``warmup_steps`` steps are
    stored. Temperatures: ``temperatures[i]`` from the fraction ``temperature_steps[i - 1]`` of
    the budget on (1.0, then 0.5 after half, 0.25 after three quarters).

    The defaults are the settings measured to work on lobzero's trading environment (1 s
    decisions, 5-minute episodes; ``benchmarks/muzero_ablation.py`` measures each against its
    alternative, the README has the table), where they differ from the MuZero pseudocode's:

    - ``discount`` 0.97: a horizon of ~33 decisions, the order-flow signal's (its half-life is
      ~14 s). The pseudocode's 0.997 (a 333-step horizon, longer than the 300-step episode)
      makes values mostly far-future PnL noise, and the actions' Q differ by model noise.
    - Gumbel MuZero with 16 simulations: it improves the policy with few simulations (Danihelka
      et al. 2022) and keeps self-play affordable on a CPU (the former default, 50-simulation
      PUCT, ran 943 s for 1,000 steps of a comparison, issue 15's measurement).
    - ``value_transform`` "linear" on a ``value_scale`` fitted to the warm-up returns, 50 atoms
      per side: the heads report E[z] (MuZero's sqrt transform reports h⁻¹(E[h(z)]), a bias
      toward 0 on noisy PnL), and the support covers what the environment produces with room
      for a better policy (see :class:`lobzero.models.muzero_net.ValueCodec`). The trainer logs
      the share of targets clipped at the support's ends and warns when it is more than 1 %, or
      when the targets use less than 5 % of the support.
    - ``priority_scale`` "transformed": priorities |v − z| on the heads' own scale, not in
      dollars, where they track PnL noise (5th-99th percentile 0.05-374) and a batch of 128
      is worth ~26 samples at β = 1.
    - ``obs_scaling`` "bounds": features with known bounds are scaled by them, the others by
      warm-up statistics (see :class:`lobzero.models.muzero_net.ObsNormalizer`). Statistics
      frozen after a warm-up that saw only the start of episodes clip what comes later at
      ±10 sd: CartPole's cart position (sd 0.055 over a 200-step random warm-up) past 0.55
      of its 2.4 track, so the network could not see the cart leave it: benchmarks/
      muzero_cartpole.py reached 475 on 2 seeds of 3 within 30,000 steps (at 17,504 and
      25,008), on the same 3 with the space's bounds (at 25,008, 2,512 and 12,512; 4 of 5
      seeds in all, the README's table). The learner
      logs the clipped share (``obs_clipped``) and the trainer warns past 5 %.
    - ``time_limit`` "auto": when the observation carries the time left (``time_fraction``),
      the end of an episode by its length is the end of the MDP, so it is not bootstrapped
      (the value of a state with no time left is 0, and the value head never sees
      ``time_fraction = 1``); without a time feature it is bootstrapped (Pardo et al. 2018).
    - ``gumbel_value_bounds`` "fitted": Gumbel's completed Q are normalised by fixed bounds
      (± the fitted spread of returns) instead of each node's min-max, which turns any
      difference between the actions, however small against the fees, into ~5 logits and
      over-sharp policy targets.
    - ``gumbel_noise`` "temperature": in self-play the temperature schedule scales the root's
      Gumbel draws (mctx's ``gumbel_scale``: 1, then 0.5, then 0.25). At the paper's fixed
      scale of 1 the acting policy stays close to uniform over the five target positions
      while the logits are flat (301 fills in a 300-step episode, measured), so the value head
      learns the value of paying fees at every step (-$116 where the greedy policy realises
      +$293, corr +0.06), not of the policy that is tested.
    - ``warmup_steps`` 1,000 random-policy steps (uniform search over an untrained net) fill the
      buffer and give the value scale and the unbounded features' statistics; it must be less
      than the budget.
    """

    total_env_steps: int = 100_000
    num_envs: int = 16
    # network
    latent_dim: int = 64
    hidden: int = 128
    blocks: int = 2
    #: atoms per side of the categorical value / reward heads; 0 = scalar heads
    support_size: int = 50
    value_eps: float = 0.001
    #: "linear" (heads report E[z]) or "sqrt" (MuZero's h transform)
    value_transform: Literal["linear", "sqrt"] = "linear"
    #: quote currency per network unit; 0 = fitted to the warm-up returns
    value_scale: float = 0.0
    #: "bounds" (known bounds, else warm-up statistics) or "running" (warm-up statistics only)
    obs_scaling: Literal["bounds", "running"] = "bounds"
    temporal_encoder: Literal["none", "conv", "gru"] = "none"
    #: a pretrained order-book encoder (``lobzero train-encoder``'s checkpoint) in front of the
    #: representation h: the observations carry its book window and h reads its features
    #: beside the environment's; "" = none
    encoder: str = ""
    #: "frozen" (the encoder's weights stay as trained) or "fine-tune" (they train with the
    #: network at ``encoder_lr_scale`` × the learning rate, a parameter group of their own)
    encoder_mode: Literal["frozen", "fine-tune"] = "frozen"
    #: fine-tune: the encoder's learning rate is the network's times this
    encoder_lr_scale: float = 0.1
    prediction: Literal["mlp", "alphazero"] = "mlp"
    # search
    #: "muzero" (PUCT), "gumbel" (Gumbel MuZero) or "stochastic" (Stochastic MuZero: chance
    #: nodes for the market's move, ``stochastic_selection`` at decision nodes)
    algorithm: Literal["muzero", "gumbel", "stochastic"] = "gumbel"
    #: Stochastic MuZero: the chance codebook's size C and the decision nodes' selection
    chance_outcomes: int = 8
    stochastic_selection: Literal["puct", "gumbel"] = "gumbel"
    #: Stochastic MuZero: weight of the chance encoder's VQ-VAE commitment loss. 0 by default:
    #: with VQ-VAE's 0.25 (and with 0.05) the codebook collapsed to one code on a coin-flip
    #: task (tests/models/test_stochastic_net.py) before the zero-initialised reward head could
    #: tell the codes apart; the forward pass uses the one-hot code whatever the weight
    commitment_weight: float = 0.0
    #: Stochastic MuZero: weight of the codebook-usage term, 1 − H(p̄)/ln C where p̄ is the
    #: encoder's softmax averaged over the batch (wav2vec 2.0's diversity loss; not in the
    #: paper). Without it the market's codebook collapses to one code by 3,000 steps (chance
    #: loss 0.001: a deterministic model in disguise); at 1 it keeps 6-7 of 8 codes in use and
    #: the reward loss falls 4.7 → 3.2, but the returns did not improve (README), so 0
    chance_diversity_weight: float = 0.0
    num_simulations: int = 16
    discount: float = 0.97
    pb_c_base: float = 19652.0
    pb_c_init: float = 1.25
    dirichlet_alpha: float = 0.3
    exploration_fraction: float = 0.25
    #: PUCT's value of an unvisited child: "zero" (the MuZero pseudocode: the bottom of the
    #: tree's Q range) or "parent" (the node's own mean value, normalised like a Q: an untried
    #: action is taken to be as good as the node so far; EfficientZero's and LightZero's trees
    #: use the mean Q of the visited children, to the same end). Under "zero" a greedy search
    #: (no root noise) whose prior is confidently wrong never tries the other action: a
    #: CartPole agent pushed one way until the pole fell from a few starting states (9-19
    #: steps) in every evaluation
    unvisited_value: Literal["zero", "parent"] = "zero"
    max_considered_actions: int = 16
    gumbel_c_visit: float = 50.0
    gumbel_c_scale: float = 0.1
    #: "fitted" (± the fitted spread of returns) or "node" (each node's min-max, as in mctx)
    gumbel_value_bounds: Literal["fitted", "node"] = "fitted"
    #: "temperature" (the schedule scales the root's Gumbel noise in self-play) or "fixed"
    #: (scale 1 throughout, as in the paper; the temperatures then change nothing in Gumbel)
    gumbel_noise: Literal["temperature", "fixed"] = "temperature"
    temperatures: tuple[float, ...] = (1.0, 0.5, 0.25)
    temperature_steps: tuple[float, ...] = (0.5, 0.75)
    # sample efficiency (EfficientZero, Ye et al. 2021), each off by default
    #: weight of the temporal consistency loss (SimSiam projection of the predicted and the
    #: real next latent; EfficientZero's 2.0); 0 = off
    consistency_weight: float = 0.0
    #: off-policy correction: a sample of age a (env steps since it was played) bootstraps
    #: after ``td_steps - floor(a / (off_policy_tau · total_env_steps))`` steps (at least 1);
    #: 0 = off (EfficientZero's τ is 0.3)
    off_policy_tau: float = 0.0
    #: value-prefix reward head: an LSTM over the unrolled states predicts the sum of the
    #: rewards since the unroll began (the search reads a step's reward as the difference,
    #: and restarts the prefix every ``unroll_steps`` levels)
    value_prefix: bool = False
    # targets and replay
    td_steps: int = 10
    unroll_steps: int = 5
    #: the end of an episode by its length: "auto", "bootstrap" or "terminal" (see above)
    time_limit: Literal["auto", "bootstrap", "terminal"] = "auto"
    replay_capacity: int = 100_000
    priority_alpha: float = 0.6
    priority_beta: float = 0.4
    #: beta grows linearly to 1 over the budget
    priority_beta_final: float = 1.0
    priority_eps: float = 1e-6
    prioritized: bool = True
    #: "transformed" (|v − z| on the heads' scale) or "value" (in quote currency)
    priority_scale: Literal["transformed", "value"] = "transformed"
    #: n-step bootstrap values: "root" (search values stored at play time) or "target"
    #: (recomputed by the target network)
    value_bootstrap: Literal["root", "target"] = "target"
    #: share of each sampled batch whose policy and value targets are recomputed by a fresh
    #: search with the latest network (MuZero Reanalyse)
    reanalyse_fraction: float = 0.0
    # learner
    batch_size: int = 128
    replay_ratio: float = 0.25
    warmup_steps: int = 1_000
    optimizer: Literal["adamw", "sgd"] = "adamw"
    learning_rate: float = 3e-3
    lr_schedule: Literal["constant", "cosine", "step"] = "constant"
    lr_warmup_updates: int = 0
    #: with "step": the rate is multiplied by 0.1 at these fractions of the budget
    lr_decay_steps: tuple[float, ...] = (0.5, 0.75)
    momentum: float = 0.9
    weight_decay: float = 1e-4
    max_grad_norm: float = 10.0
    value_loss_weight: float = 0.25
    target_update_interval: int = 200
    # bookkeeping
    log_interval: int = 1_000
    checkpoint_interval: int = 10_000
    eval_episodes: int = 0
    torch_threads: int = 0

    def validate(self) -> None:
        """Raises :class:`ConfigError` naming the first setting out of its range."""
        positive = [
            "total_env_steps",
            "num_envs",
            "latent_dim",
            "hidden",
            "num_simulations",
            "td_steps",
            "batch_size",
            "replay_capacity",
            "log_interval",
            "checkpoint_interval",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"MuZeroConfig.{name} must be > 0, got {getattr(self, name)}")
        checks = [
            ("discount", 0.0 < self.discount <= 1.0, "in (0, 1]"),
            ("unroll_steps", self.unroll_steps >= 1, ">= 1"),
            ("support_size", self.support_size >= 0, ">= 0"),
            ("chance_outcomes", self.chance_outcomes >= 2, ">= 2"),
            ("commitment_weight", self.commitment_weight >= 0.0, ">= 0"),
            ("chance_diversity_weight", self.chance_diversity_weight >= 0.0, ">= 0"),
            ("consistency_weight", self.consistency_weight >= 0.0, ">= 0"),
            ("off_policy_tau", self.off_policy_tau >= 0.0, ">= 0 (0: off)"),
            ("value_scale", self.value_scale >= 0.0, ">= 0 (0: fitted to the warm-up data)"),
            ("encoder_lr_scale", 0.0 < self.encoder_lr_scale <= 1.0, "in (0, 1]"),
            (
                "warmup_steps",
                0 <= self.warmup_steps < self.total_env_steps,
                f"in [0, total_env_steps = {self.total_env_steps})",
            ),
            ("reanalyse_fraction", 0.0 <= self.reanalyse_fraction <= 1.0, "in [0, 1]"),
            ("replay_ratio", self.replay_ratio > 0.0, "> 0"),
            (
                # a budget that ends in the warm-up would save an untrained network as the agent
                "warmup_steps",
                int((self.total_env_steps - self.warmup_steps) * self.replay_ratio) >= 1,
                f"small enough to leave steps for at least one update after the warm-up "
                f"(total_env_steps {self.total_env_steps} - warmup_steps "
                f"{self.warmup_steps}) x replay_ratio {self.replay_ratio:g} >= 1",
            ),
            ("priority_alpha", self.priority_alpha >= 0.0, ">= 0"),
            ("learning_rate", self.learning_rate > 0.0, "> 0"),
            (
                "temperatures",
                len(self.temperatures) == len(self.temperature_steps) + 1,
                "one more than temperature_steps",
            ),
            (
                "replay_capacity",
                self.replay_capacity // self.num_envs > self.unroll_steps + self.td_steps,
                f"more than num_envs x (unroll_steps + td_steps) = "
                f"{self.num_envs * (self.unroll_steps + self.td_steps)}",
            ),
        ]
        # the allowed values of a choice are its Literal annotation's: one source for both
        hints = typing.get_type_hints(type(self))
        choices = {
            f.name: typing.get_args(hints[f.name])
            for f in dataclasses.fields(self)
            if typing.get_origin(hints[f.name]) is Literal
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"MuZeroConfig.{name} must be one of {', '.join(allowed)}, got "
                    f"{getattr(self, name)!r}"
                )
        if self.value_prefix and self.algorithm == "stochastic":
            raise ConfigError("MuZeroConfig.value_prefix is not available with Stochastic MuZero")
        for name, ok, rule in checks:
            if not ok:
                raise ConfigError(f"MuZeroConfig.{name} must be {rule}, got {getattr(self, name)}")

    def temperature(self, env_steps: int) -> float:
        """The visit-count temperature after ``env_steps`` of the budget."""
        fraction = env_steps / self.total_env_steps
        passed = sum(fraction >= t for t in self.temperature_steps)
        return self.temperatures[passed]

    @property
    def tree_algorithm(self) -> str:
        """The selection rule at decision nodes: "muzero" (PUCT) or "gumbel"."""
        if self.algorithm == "stochastic":
            return "gumbel" if self.stochastic_selection == "gumbel" else "muzero"
        return self.algorithm

    def mcts_kwargs(self) -> dict[str, object]:
        """The keywords of :class:`lobzero.MctsBatch` this configuration sets."""
        return {
            "algorithm": self.tree_algorithm,
            "discount": self.discount,
            "pb_c_base": self.pb_c_base,
            "pb_c_init": self.pb_c_init,
            "dirichlet_alpha": self.dirichlet_alpha,
            "exploration_fraction": self.exploration_fraction,
            "unvisited_value": self.unvisited_value,
            "max_considered_actions": self.max_considered_actions,
            "gumbel_c_visit": self.gumbel_c_visit,
            "gumbel_c_scale": self.gumbel_c_scale,
        }

    def network_kwargs(self) -> dict[str, object]:
        """The keywords of :class:`lobzero.models.MuZeroNet` this configuration sets."""
        return {
            "latent_dim": self.latent_dim,
            "hidden": self.hidden,
            "blocks": self.blocks,
            "support_size": self.support_size,
            "value_eps": self.value_eps,
            "temporal_encoder": self.temporal_encoder,
            "prediction": self.prediction,
            "value_transform": self.value_transform,
            "value_scale": self.value_scale if self.value_scale > 0 else 1.0,
            "consistency": self.consistency_weight > 0.0,
            "value_prefix": self.value_prefix,
        }
