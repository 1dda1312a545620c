"""LightZero's MuZero on CartPole-v1 or lobzero's trading environment, scored like lobzero's.

    /path/to/lightzero-venv/bin/python benchmarks/_lightzero_runner.py '{"env": "CartPole-v1", ...}'

The peer side of ``benchmarks/muzero_vs_lightzero.py``: it runs in LightZero's own virtual
environment (LightZero 0.1.0, DI-engine, torch), with lobzero's ``python/`` on ``PYTHONPATH``
(the trading environment and the scoring code come from there). The one argument is a JSON
object of :class:`Settings` fields. It prints JSON lines on stdout:

- ``{"kind": "setup", ...}``: the LightZero configuration actually used and the network's size;
- ``{"kind": "eval", "env_steps", "train_seconds", "seconds", "eval_return"}``: the greedy
  return (mean over the evaluation episodes; % of cash per episode on the trading environment)
  each time the collected env steps pass a multiple of ``eval_interval``, and once at the end;
  ``train_seconds`` is wall time without the evaluations, ``seconds`` with them.

The training loop is ``lzero.entry.train_muzero``'s (collector, game buffer, learner, updates
per collect = collected transitions x ``replay_ratio``) without its evaluator, which evaluates
by learner iterations: here the evaluation runs at env-step marks, on the same episodes and with
the same code as lobzero's side (:func:`evaluate`). Everything runs in this one process (DI-engine's
``base`` env manager), as lobzero's vector environments do.

This module's top level imports only lobzero, numpy and the standard library, so that the
benchmark can import :func:`trading_setup` and :func:`evaluate` from it.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, ClassVar

import numpy as np


@dataclass
class Settings:
    """What both sides of the comparison share (set by the benchmark) and LightZero's own knobs."""

    env: str = "CartPole-v1"  # a gymnasium id, or "lobzero" (signal_market's trading env)
    steps: int = 5_000  # env steps to collect (LightZero collects whole episodes: it may overshoot)
    seed: int = 0
    eval_interval: int = 1_000  # env steps between evaluations
    eval_episodes: int = 20  # CartPole episodes per evaluation (the trading env: its test starts)
    num_simulations: int = 16
    discount: float = 0.997
    td_steps: int = 5
    unroll_steps: int = 5
    batch_size: int = 128
    replay_ratio: float = 0.5  # gradient updates per collected env step
    learning_rate: float = 3e-3
    torch_threads: int = 1
    # LightZero's own settings (its zoo's CartPole recipe unless said otherwise)
    policy: str = "muzero"  # or "gumbel_muzero"
    collector_env_num: int = 8
    n_episode: int = 8  # episodes per collect
    latent_state_dim: int = 128
    game_segment_length: int = 50
    self_supervised_learning_loss: bool = True
    ssl_loss_weight: float = 2.0
    use_priority: bool = False
    support_scale: int = 300
    replay_buffer_size: int = 1_000_000


# ----- shared with lobzero's side of the benchmark (lobzero imports only) -----


@lru_cache(maxsize=4)
def _market(seed: int) -> Any:
    from lobzero import signal_market

    return signal_market(seed=seed)


def trading_setup(seed: int) -> tuple[Any, Any, Any, list[int]]:
    """``(market, train_env_config, test_env_config, test_starts_ns)`` of the trading case: the
    demo's environment (1 s decisions, 5-minute episodes, 1 BTC at most, 1 bps taker fee) over
    ``signal_market(seed=0)``, trained on its first 80 %, scored on 8 episodes spread over the
    held-out last 20 % (as benchmarks/muzero_ablation.py's "test")."""
    from lobzero.demo import DEMO_COMPARE
    from lobzero.evaluation.walkforward import TimeRange, episode_starts

    market = _market(0)
    env = DEMO_COMPARE.env.replace(seed=seed)
    first, last = int(market.stream.start_ns), int(market.stream.end_ns)
    cut = first + int(0.8 * (last + 1 - first))
    train_range, test_range = TimeRange(first, cut), TimeRange(cut, last + 1)
    starts = [int(s) for s in episode_starts(test_range, env, 8)]
    return market, train_range.env_config(env), test_range.env_config(env), starts


def evaluate(agent: Any, env: str, episodes: int) -> float:
    """Mean greedy return of ``agent`` (anything with ``act(obs [N, obs_dim]) -> actions [N]``):
    on a gymnasium id, ``episodes`` episodes seeded 10000.. (lobzero's ``evaluate_gym``); on
    "lobzero", the % of starting cash per episode over the trading case's test episodes."""
    if env != "lobzero":
        from lobzero.muzero.trainer import evaluate_gym

        return float(np.mean(evaluate_gym(agent, env, episodes=episodes, seed=10_000)))
    from lobzero.envs import TradingEnv
    from lobzero.evaluation.robustness import run_episodes

    market, _, test_config, starts = trading_setup(0)
    envs = [TradingEnv(market, test_config) for _ in starts]
    results = run_episodes(agent, envs, [0] * len(starts), starts)
    return float(np.mean([100.0 * (r.equity[-1] / r.equity[0] - 1.0) for r in results]))


# ----- LightZero's side -----


def _register_envs() -> None:
    """Registers ``lobzero_gym`` (a gymnasium env by id) and ``lobzero_trading`` (lobzero's
    TradingEnv) as DI-engine environments in LightZero's format: observations are dicts of
    ``observation`` [obs_dim] float32, ``action_mask`` [num_actions] int8 (all ones) and
    ``to_play`` -1; the episode's return is in ``info['eval_episode_return']`` when it ends."""
    import gymnasium as gym
    from ding.envs import BaseEnv, BaseEnvTimestep
    from ding.utils import ENV_REGISTRY
    from easydict import EasyDict

    class _LobzeroBaseEnv(BaseEnv):  # type: ignore[misc]
        config: ClassVar[dict[str, Any]] = {}

        @classmethod
        def default_config(cls: type) -> EasyDict:
            cfg = EasyDict(copy.deepcopy(cls.config))  # type: ignore[attr-defined]
            cfg.cfg_type = cls.__name__ + "Dict"
            return cfg

        def __init__(self, cfg: dict[str, Any]) -> None:
            self._cfg = cfg
            self._env: Any = None
            self._seed: int | None = None
            self._seeded = False
            self._return = 0.0

        def _make(self) -> Any:
            raise NotImplementedError

        def _wrap(self, obs: Any) -> dict[str, Any]:
            return {
                "observation": np.asarray(obs, np.float32),
                "action_mask": np.ones(self.action_space.n, np.int8),
                "to_play": -1,
            }

        def reset(self) -> dict[str, Any]:
            if self._env is None:
                self._env = self._make()
            # seeded once: later episodes continue the environment's own random stream
            seed = None if self._seeded else self._seed
            self._seeded = True
            obs, _ = self._env.reset(seed=seed)
            self._return = 0.0
            return self._wrap(obs)

        def step(self, action: Any) -> Any:
            action = int(np.asarray(action).reshape(-1)[0])
            obs, reward, terminated, truncated, info = self._env.step(action)
            done = bool(terminated or truncated)
            self._return += float(reward)
            info = {k: v for k, v in info.items() if k != "fills"}
            if done:
                info["eval_episode_return"] = self._return
            return BaseEnvTimestep(self._wrap(obs), float(reward), done, info)

        def close(self) -> None:
            if self._env is not None:
                self._env.close()
            self._env = None

        def seed(self, seed: int, dynamic_seed: bool = True) -> None:
            self._seed = int(seed)
            self._seeded = False

        def random_action(self) -> np.ndarray:
            return np.array([self.action_space.sample()], np.int64)

        @property
        def observation_space(self) -> Any:
            return self._spaces()[0]

        @property
        def action_space(self) -> Any:
            return self._spaces()[1]

        @property
        def reward_space(self) -> Any:
            return gym.spaces.Box(-np.inf, np.inf, (1,), np.float32)

        def _spaces(self) -> tuple[Any, Any]:
            if self._env is None:
                self._env = self._make()
            return self._env.observation_space, self._env.action_space

        def __repr__(self) -> str:
            return f"lobzero adapter {self._cfg.get('env_id', 'trading')}"

    class LobzeroGymEnv(_LobzeroBaseEnv):
        """A gymnasium environment by id (``cfg.env_id``)."""

        config: ClassVar[dict[str, Any]] = {"env_id": "CartPole-v1"}

        def _make(self) -> Any:
            return gym.make(self._cfg.env_id)

    class LobzeroTradingEnv(_LobzeroBaseEnv):
        """lobzero's TradingEnv over the trading case's train range (:func:`trading_setup`)."""

        config: ClassVar[dict[str, Any]] = {"env_seed": 0}

        def _make(self) -> Any:
            from lobzero.envs import TradingEnv

            market, train_config, _, _ = trading_setup(int(self._cfg.env_seed))
            return TradingEnv(market, train_config)

    ENV_REGISTRY.register("lobzero_gym", force_overwrite=True)(LobzeroGymEnv)
    ENV_REGISTRY.register("lobzero_trading", force_overwrite=True)(LobzeroTradingEnv)


def _obs_and_actions(s: Settings) -> tuple[int, int]:
    if s.env == "lobzero":
        from lobzero.envs import TradingEnv

        market, train_config, _, _ = trading_setup(s.seed)
        env = TradingEnv(market, train_config)
    else:
        import gymnasium as gym

        env = gym.make(s.env)
    obs_dim = int(np.prod(env.observation_space.shape))
    return obs_dim, int(env.action_space.n)


def lightzero_config(s: Settings) -> tuple[Any, Any]:
    """``(main_config, create_config)`` for ``lzero``: its zoo's CartPole MuZero recipe with the
    shared settings of ``s`` put in."""
    from easydict import EasyDict

    obs_dim, num_actions = _obs_and_actions(s)
    env = (
        {"type": "lobzero_trading", "env_seed": s.seed}
        if s.env == "lobzero"
        else {"type": "lobzero_gym", "env_id": s.env}
    )
    main = {
        "exp_name": "lightzero",
        "env": {
            "env_id": s.env,
            "continuous": False,
            "manually_discretization": False,
            "collector_env_num": s.collector_env_num,
            "evaluator_env_num": 1,  # unused: evaluation is :func:`evaluate`
            "n_evaluator_episode": 1,
            "manager": {"shared_memory": False},
            **{k: v for k, v in env.items() if k != "type"},
        },
        "policy": {
            "model": {
                "observation_shape": obs_dim,
                "action_space_size": num_actions,
                "model_type": "mlp",
                "lstm_hidden_size": 128,
                "latent_state_dim": s.latent_state_dim,
                "self_supervised_learning_loss": s.self_supervised_learning_loss,
                "discrete_action_encoding_type": "one_hot",
                "norm_type": "BN",
                "support_scale": s.support_scale,
                "reward_support_size": 2 * s.support_scale + 1,
                "value_support_size": 2 * s.support_scale + 1,
            },
            "model_path": None,
            "cuda": False,
            "env_type": "not_board_games",
            "action_type": "fixed_action_space",
            "game_segment_length": s.game_segment_length,
            "update_per_collect": None,
            "replay_ratio": s.replay_ratio,
            "batch_size": s.batch_size,
            "optim_type": "Adam",
            "lr_piecewise_constant_decay": False,
            "learning_rate": s.learning_rate,
            "ssl_loss_weight": s.ssl_loss_weight if s.self_supervised_learning_loss else 0.0,
            "num_simulations": s.num_simulations,
            "discount_factor": s.discount,
            "td_steps": s.td_steps,
            "num_unroll_steps": s.unroll_steps,
            "reanalyze_ratio": 0.0,
            "use_priority": s.use_priority,
            "n_episode": s.n_episode,
            "eval_freq": 10**9,
            "replay_buffer_size": s.replay_buffer_size,
            "collector_env_num": s.collector_env_num,
            "evaluator_env_num": 1,
        },
    }
    if s.policy == "gumbel_muzero":
        main["policy"]["max_num_considered_actions"] = num_actions
    create = {
        "env": {"type": env["type"], "import_names": []},
        "env_manager": {"type": "base"},
        "policy": {"type": s.policy, "import_names": [f"lzero.policy.{s.policy}"]},
    }
    return EasyDict(main), EasyDict(create)


class GreedyLightZeroAgent:
    """LightZero's eval mode (search without noise, the most visited action) behind the
    ``act`` interface lobzero's evaluation code calls."""

    action_mode = "target"

    def __init__(self, policy: Any, num_actions: int) -> None:
        self.policy = policy
        self.num_actions = num_actions

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        import torch

        obs = torch.as_tensor(np.asarray(obs_batch, np.float32))
        n = obs.shape[0]
        mask = [np.ones(self.num_actions, np.int8) for _ in range(n)]
        out = self.policy.forward(obs, mask, [-1] * n, ready_env_id=np.arange(n))
        return np.array([int(out[i]["action"]) for i in range(n)], np.int64)


def _skip_lzero_entry_init() -> None:
    """Makes ``lzero.entry`` importable without its ``__init__``, which imports every entry,
    among them ``train_muzero_with_reward_model`` and through it ``lzero.reward_model``, a
    package the LightZero 0.1.0 wheel does not ship (the import fails). The policies import
    ``lzero.entry.utils`` only; the submodules load as usual from the installed files."""
    import importlib.util
    import types

    if "lzero.entry" in sys.modules:
        return
    spec = importlib.util.find_spec("lzero")
    if spec is None or spec.origin is None:
        sys.exit("lzero is not importable with this python: give the LightZero venv's python")
    package = types.ModuleType("lzero.entry")
    package.__path__ = [os.path.join(os.path.dirname(spec.origin), "entry")]
    package.__package__ = "lzero.entry"
    sys.modules["lzero.entry"] = package


def _emit(row: dict[str, Any]) -> None:
    print(json.dumps(row), flush=True)


def run(s: Settings) -> None:
    """Trains LightZero's MuZero for ``s.steps`` collected env steps, printing JSON lines."""
    import torch

    _skip_lzero_entry_init()
    from ding.config import compile_config
    from ding.envs import create_env_manager, get_vec_env_setting
    from ding.policy import create_policy
    from ding.utils import set_pkg_seed
    from ding.worker import BaseLearner
    from lzero.policy import visit_count_temperature
    from lzero.worker import MuZeroCollector

    if s.policy == "gumbel_muzero":
        from lzero.mcts import GumbelMuZeroGameBuffer as GameBuffer
    else:
        from lzero.mcts import MuZeroGameBuffer as GameBuffer

    torch.set_num_threads(s.torch_threads)
    _register_envs()
    main, create = lightzero_config(s)
    cfg = compile_config(main, seed=s.seed, env=None, auto=True, create_cfg=create, save_cfg=False)
    cfg.policy.device = "cpu"
    env_fn, collector_env_cfg, _ = get_vec_env_setting(cfg.env)
    collector_env = create_env_manager(
        cfg.env.manager, [partial(env_fn, cfg=c) for c in collector_env_cfg]
    )
    collector_env.seed(cfg.seed)
    set_pkg_seed(cfg.seed, use_cuda=False)
    policy = create_policy(cfg.policy, enable_field=["learn", "collect", "eval"])
    learner = BaseLearner(cfg.policy.learn.learner, policy.learn_mode, None, exp_name=cfg.exp_name)
    buffer = GameBuffer(cfg.policy)
    collector = MuZeroCollector(
        env=collector_env,
        policy=policy.collect_mode,
        tb_logger=None,
        exp_name=cfg.exp_name,
        policy_config=cfg.policy,
    )
    model = policy.learn_mode.get_attribute("model")
    _emit(
        {
            "kind": "setup",
            "settings": dataclasses.asdict(s),
            "parameters": int(sum(p.numel() for p in model.parameters())),
            "policy": {
                k: cfg.policy[k]
                for k in (
                    "num_simulations",
                    "discount_factor",
                    "td_steps",
                    "num_unroll_steps",
                    "batch_size",
                    "replay_ratio",
                    "learning_rate",
                    "optim_type",
                    "use_priority",
                    "ssl_loss_weight",
                    "fixed_temperature_value",
                    "root_dirichlet_alpha",
                    "root_noise_weight",
                    "game_segment_length",
                    "target_update_freq",
                    "value_loss_weight",
                )
                if k in cfg.policy
            },
        }
    )
    agent = GreedyLightZeroAgent(policy.eval_mode, int(cfg.policy.model.action_space_size))
    learner.call_hook("before_run")
    started = time.perf_counter()
    eval_seconds = 0.0
    next_eval = s.eval_interval

    def evaluation() -> None:
        nonlocal eval_seconds
        t = time.perf_counter()
        value = evaluate(agent, s.env, s.eval_episodes)
        eval_seconds += time.perf_counter() - t
        now = time.perf_counter() - started
        _emit(
            {
                "kind": "eval",
                "env_steps": int(collector.envstep),
                "updates": int(learner.train_iter),
                "train_seconds": now - eval_seconds,
                "seconds": now,
                "eval_return": value,
            }
        )

    while collector.envstep < s.steps:
        temperature = visit_count_temperature(
            cfg.policy.manual_temperature_decay,
            cfg.policy.fixed_temperature_value,
            cfg.policy.threshold_training_steps_for_final_temperature,
            trained_steps=learner.train_iter,
        )
        new_data = collector.collect(
            train_iter=learner.train_iter,
            policy_kwargs={"temperature": temperature, "epsilon": 0.0},
        )
        collected = sum(len(segment) for segment in new_data[0])
        buffer.push_game_segments(new_data)
        buffer.remove_oldest_data_to_fit()
        for _ in range(int(collected * cfg.policy.replay_ratio)):
            if buffer.get_num_of_transitions() <= s.batch_size:
                break
            train_data = buffer.sample(s.batch_size, policy)
            log_vars = learner.train(train_data, collector.envstep)
            if cfg.policy.use_priority:
                buffer.update_priority(train_data, log_vars[0]["value_priority_orig"])
        if collector.envstep >= next_eval and collector.envstep < s.steps:
            evaluation()
            while next_eval <= collector.envstep:
                next_eval += s.eval_interval
    evaluation()
    learner.call_hook("after_run")
    collector_env.close()


def main() -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    given = json.loads(sys.argv[1]) if len(sys.argv) > 1 else {}
    unknown = sorted(set(given) - fields)
    if unknown:
        sys.exit(f"unknown settings {unknown}; known: {sorted(fields)}")
    settings = Settings(**given)
    try:
        import lobzero  # noqa: F401
    except ImportError as e:
        sys.exit(
            f"lobzero is not importable with {sys.executable} ({e}): put the checkout's python/ "
            f"on PYTHONPATH and give that venv lobzero's dependencies ({sys.executable} -m pip "
            "install tomli-w polars pyarrow)"
        )
    # DI-engine and LightZero write logs and checkpoints under ./<exp_name>: keep them out of
    # the caller's folder
    with tempfile.TemporaryDirectory(prefix="lightzero_") as scratch:
        os.chdir(scratch)
        run(settings)


if __name__ == "__main__":
    main()
