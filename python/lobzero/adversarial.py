"""Adversarial training: a trader and a trained adversary, trained in turn.

The adversary (stable-baselines3 PPO over :class:`~lobzero.envs.adversarial.AdversaryVecEnv`)
learns which perturbation to inject, and when, to hurt the trader most within a budget per
episode; the trader (PPO, SAC or MuZero) then trains in an environment where that adversary
acts every step (:class:`~lobzero.envs.adversarial.AdversarialVecEnv`), so it learns to resist
the worst the adversary found rather than random noise only.

Schedule: the trader trains ``trader_steps`` on the plain market, then each of ``rounds``
rounds trains the adversary ``adversary_steps`` against the current trader and the trader
``trader_steps`` against the current adversary, all on the first ``1 - test_fraction`` of the
market. After every phase both are saved (``out/trader``, ``out/adversary``) and the trader is
scored over ``eval_episodes`` episodes inside the held-out rest, with and without the
adversary (``out/rounds.csv``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.baselines.sb3 import (
    ACTION_MODES,
    MODEL_FILE,
    PpoConfig,
    SacConfig,
    Sb3Agent,
    _build_model,
)
from lobzero.config import TomlConfig
from lobzero.data.market import Market
from lobzero.envs.adversarial import (
    ADVERSARY_MOVES,
    AdversarialVecEnv,
    AdversaryVecEnv,
)
from lobzero.envs.config import EnvConfig
from lobzero.envs.sb3 import Sb3VecEnv
from lobzero.envs.vector import VecTradingEnv
from lobzero.evaluation.walkforward import TimeRange
from lobzero.exceptions import ConfigError

TRADERS = ("ppo", "sac", "muzero")


class AdversaryAgent:
    """A trained adversary: ``act(adversary_obs [N, obs_dim + 2]) -> moves [N]`` (indices of
    :data:`~lobzero.envs.adversarial.ADVERSARY_MOVES`), ``save(dir)``, :meth:`load`."""

    kind = "adversary"
    name = "adversary"
    action_mode = "adversary"

    def __init__(self, model: Any, budget: int, env_config: EnvConfig) -> None:
        self.model, self.budget, self.env_config = model, budget, env_config

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        """Moves ``[N]`` int64 (indices of ``ADVERSARY_MOVES``) for adversary observations
        ``[N, obs_dim + 2]`` float32."""
        actions, _ = self.model.predict(np.asarray(obs_batch, np.float32), deterministic=True)
        return np.asarray(actions, np.int64).reshape(len(obs_batch))

    def save(self, directory: str | Path) -> Path:
        """Writes ``agent.json`` (budget, move names, environment) and the SB3 model into
        ``directory``; returns it."""
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        self.model.save(path / MODEL_FILE)
        spec = {
            "kind": self.kind,
            "budget": self.budget,
            "moves": [name for name, _, _ in ADVERSARY_MOVES],
            "env_config": self.env_config.to_dict(),
        }
        (path / "agent.json").write_text(json.dumps(spec, indent=1))
        return path

    @classmethod
    def load(cls, directory: str | Path) -> AdversaryAgent:
        """The adversary :meth:`save` wrote into ``directory`` (loaded on the CPU)."""
        from stable_baselines3 import PPO

        path = Path(directory)
        spec = json.loads((path / "agent.json").read_text())
        if spec.get("kind") != cls.kind:
            raise ConfigError(f"{path}: not an adversary (kind {spec.get('kind')!r})")
        model = PPO.load(path / MODEL_FILE, device="cpu")
        return cls(model, int(spec["budget"]), EnvConfig.from_dict(spec["env_config"]))


@dataclass(frozen=True)
class AdversarialConfig(TomlConfig):
    """Settings of :func:`train_adversarial` (TOML; tables ``[adversary]``, ``[ppo]``,
    ``[sac]``, ``[muzero]``: the adversary's PPO, the trader's hyperparameters)."""

    #: the trader's algorithm: ppo, sac or muzero
    trader: str = "ppo"
    #: rounds of adversary training then trader training, after the plain phase
    rounds: int = 3
    #: the trader's environment steps per phase
    trader_steps: int = 20_000
    #: the adversary's environment steps per round
    adversary_steps: int = 20_000
    #: perturbations the adversary may inject per episode
    budget: int = 20
    #: test episodes that score the trader after each phase
    eval_episodes: int = 8
    #: the last share of the market, held out: the trader is scored there, nobody trains there
    test_fraction: float = 0.2
    adversary: PpoConfig = field(default_factory=PpoConfig)
    ppo: PpoConfig = field(default_factory=PpoConfig)
    sac: SacConfig = field(default_factory=SacConfig)
    muzero: dict[str, Any] = field(default_factory=dict)

    def validate(self) -> None:
        if self.trader not in TRADERS:
            raise ConfigError(f"trader must be one of {', '.join(TRADERS)}, got {self.trader!r}")
        for name in ("rounds", "trader_steps", "adversary_steps", "eval_episodes"):
            if getattr(self, name) < 1:
                raise ConfigError(f"AdversarialConfig.{name} must be >= 1")
        if self.budget < 0:
            raise ConfigError("AdversarialConfig.budget must be >= 0")
        if not 0.0 < self.test_fraction < 1.0:
            raise ConfigError("AdversarialConfig.test_fraction must be in (0, 1)")


class _Trader:
    """The trader being trained, whichever algorithm: ``train(steps, adversary)`` continues
    its training for ``steps`` more environment steps with ``adversary`` acting inside."""

    def __init__(
        self,
        config: AdversarialConfig,
        market: Market,
        env_config: EnvConfig,
        out: Path,
        seed: int,
    ) -> None:
        self.config, self.market, self.out, self.seed = config, market, out, seed
        self.algo = config.trader
        mode = "target" if self.algo == "muzero" else ACTION_MODES[self.algo]
        self.env_config = env_config.replace(action_mode=mode, seed=seed)
        self.steps = 0
        self.model: Any = None
        self.agent: Any = None

    def _wrap(self, vec: VecTradingEnv, adversary: AdversaryAgent | None) -> Any:
        if adversary is None:
            return vec
        return AdversarialVecEnv(vec, adversary, self.config.budget)

    def train(self, steps: int, adversary: AdversaryAgent | None) -> Any:
        self.steps += steps
        if self.algo == "muzero":
            from lobzero.muzero import MuZeroConfig, train_muzero

            mz = MuZeroConfig.from_dict(self.config.muzero).replace(total_env_steps=self.steps)
            self.agent = train_muzero(
                mz,
                self.out,
                market=self.market,
                env_config=self.env_config,
                seed=self.seed,
                resume=True,
                progress=False,
                env_wrapper=lambda vec: self._wrap(vec, adversary),
            )
            return self.agent
        sb3_config: PpoConfig | SacConfig = getattr(self.config, self.algo)
        vec = VecTradingEnv(self.market, sb3_config.num_envs, self.env_config)
        venv = Sb3VecEnv(self._wrap(vec, adversary))
        if self.model is None:
            self.model = _silent(_build_model(self.algo, venv, sb3_config, self.seed))
            self.agent = Sb3Agent(
                self.model, self.algo, self.env_config, vec.feature_names, sb3_config
            )
        else:
            self.model.set_env(venv)
        self.model.learn(total_timesteps=steps, reset_num_timesteps=False, progress_bar=False)
        self.agent.save(self.out / "agent")
        return self.agent


def _silent(model: Any) -> Any:
    """``model`` with a logger that writes nothing: without one, each SB3 ``learn`` call makes
    an empty ``SB3-<date>`` folder in the system's temporary directory (one per round)."""
    from stable_baselines3.common.logger import Logger

    model.set_logger(Logger(None, []))
    return model


def _train_adversary(
    model: Any,
    config: AdversarialConfig,
    market: Market,
    env_config: EnvConfig,
    trader: Any,
    seed: int,
) -> Any:
    vec = VecTradingEnv(market, config.adversary.num_envs, env_config.replace(seed=seed + 7919))
    venv = Sb3VecEnv(AdversaryVecEnv(vec, trader, config.budget))
    if model is None:
        model = _silent(_build_model("ppo", venv, config.adversary, seed))
    else:
        model.set_env(venv)
    model.learn(total_timesteps=config.adversary_steps, reset_num_timesteps=False)
    return model


def evaluate_trader(
    trader: Any,
    market: Market,
    env_config: EnvConfig,
    episodes: int,
    adversary: AdversaryAgent | None = None,
    budget: int = 0,
    seed: int = 100_000,
) -> dict[str, float]:
    """Mean and worst total return of ``episodes`` episodes (one per environment of a batch,
    seeds ``seed + i``) played by ``trader``, with ``adversary`` acting inside when given; and
    the perturbations it made per episode."""
    vec = VecTradingEnv(market, episodes, env_config.replace(seed=seed))
    env: Any = vec if adversary is None else AdversarialVecEnv(vec, adversary, budget)
    obs, _ = env.reset(seed=seed)
    returns = np.full(episodes, np.nan)
    moves = np.zeros(episodes)
    running = np.ones(episodes, bool)
    initial = env_config.initial_cash
    while running.any():
        obs, _, terminated, truncated, infos = env.step(trader.act(np.array(obs)))
        if "moves_made" in infos:
            moves += np.where(running, infos["moves_made"] != 0, 0)
        for i in np.flatnonzero((terminated | truncated) & running):
            returns[i] = infos["final_info"][i]["equity"] / initial - 1.0
            running[i] = False
    return {
        "mean_return": float(np.mean(returns)),
        "worst_return": float(np.min(returns)),
        "moves_per_episode": float(np.mean(moves)),
    }


def train_adversarial(
    market: Market,
    env_config: EnvConfig,
    out: str | Path,
    *,
    config: AdversarialConfig | None = None,
    seed: int = 0,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Alternates trader and adversary training (see the module docstring); returns one row
    per phase: the trader's mean and worst test return without and with the adversary.
    ``log(row)`` is called after each phase (e.g. to print it)."""
    config = config or AdversarialConfig()
    config.validate()
    first_ns, last_ns = market.start_ns, market.end_ns
    if first_ns is None or last_ns is None:
        raise ConfigError(f"{market} has no events to train on")
    # both sides train on the first (1 - test_fraction) of the market; the trader is scored on
    # episodes that start and end inside the rest
    split_ns = first_ns + int((1.0 - config.test_fraction) * (last_ns - first_ns))
    train_config = TimeRange(first_ns, split_ns).env_config(env_config)
    test_config = TimeRange(split_ns, last_ns + 1).env_config(env_config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    config.save(out / "adversarial.toml")
    trader = _Trader(config, market, train_config, out / "trader", seed)
    test_env = test_config.replace(action_mode=trader.env_config.action_mode)
    adversary: AdversaryAgent | None = None
    adversary_model: Any = None
    rows: list[dict[str, Any]] = []
    phases = [("trader", 0)] + [
        (who, r) for r in range(1, config.rounds + 1) for who in ("adversary", "trader")
    ]
    for who, round_no in phases:
        if who == "trader":
            agent = trader.train(config.trader_steps, adversary)
        else:
            adversary_model = _train_adversary(
                adversary_model, config, market, trader.env_config, agent, seed + round_no
            )
            adversary = AdversaryAgent(adversary_model, config.budget, trader.env_config)
            adversary.save(out / "adversary")
        plain = evaluate_trader(agent, market, test_env, config.eval_episodes)
        row: dict[str, Any] = {
            "round": round_no,
            "phase": who,
            "trader_steps": trader.steps,
            "plain_mean_return": plain["mean_return"],
            "plain_worst_return": plain["worst_return"],
        }
        if adversary is not None:
            attacked = evaluate_trader(
                agent, market, test_env, config.eval_episodes, adversary, config.budget
            )
            row.update(
                attacked_mean_return=attacked["mean_return"],
                attacked_worst_return=attacked["worst_return"],
                adversary_moves_per_episode=attacked["moves_per_episode"],
            )
        rows.append(row)
        if log is not None:
            log(row)
    fields = sorted({k for r in rows for k in r}, key=lambda k: list(rows[-1]).index(k))
    with open(out / "rounds.csv", "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    (out / "rounds.json").write_text(json.dumps(rows, indent=1))
    return rows
