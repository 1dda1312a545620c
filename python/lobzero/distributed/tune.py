"""`lobzero tune`: an Optuna study of one agent's settings, judged on the validation range.

A trial trains the agent (MuZero, PPO or SAC) on the train range of each walk-forward fold
with the trial's settings, scores each checkpoint on the fixed validation episodes (as
``compare`` selects checkpoints) and returns the best validation score, the mean over folds:
the test range is never played. Each checkpoint's score is reported to Optuna as an
intermediate value, so the pruner (median of the earlier trials at the same step) stops a
trial that trails. The study lives in its storage (``sqlite:///tune.db``): run the command
again and it goes on to ``trials`` in all, a trial left running by a dead process failed and
retried (heartbeats). On ``--backend ray`` the trials run as Ray tasks in parallel, each
reading and writing the same storage (a sqlite file on one machine; a database URL, e.g.
``postgresql://``, across machines).

The search space is TOML, one table per algorithm and one table per setting: ``low``/``high``
(``log = true`` for a log-uniform draw, ``type = "int"`` for integers) or ``choices``.
:data:`DEFAULT_SPACES` holds each algorithm's defaults; ``--params`` picks which of them are
searched (the rest keep the base configuration's values).

At the end: the best trial printed, ``best.toml`` (the algorithm's configuration with the best
settings: ``train-agent --config``), ``best_compare.toml`` (the comparison's configuration with
them in its ``[muzero]``/``[ppo]``/``[sac]`` table: ``compare --config``), and
``history.png`` and ``importance.png`` (Optuna's optimisation history and parameter
importances).
"""

from __future__ import annotations

import tomllib
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lobzero.data.market import Market
from lobzero.distributed.backend import Backend, LocalBackend
from lobzero.evaluation.compare import CompareConfig, _Selector, _train, muzero_config
from lobzero.evaluation.walkforward import TimeRange, episode_starts, walk_forward_splits
from lobzero.exceptions import ConfigError

ALGOS = ("muzero", "ppo", "sac")

#: the search space of each algorithm: name -> low/high (log, type "int") or choices
DEFAULT_SPACES: dict[str, dict[str, dict[str, Any]]] = {
    "muzero": {
        "pb_c_init": {"low": 0.5, "high": 2.5},
        "num_simulations": {"low": 4, "high": 64, "type": "int", "log": True},
        "learning_rate": {"low": 1e-4, "high": 1e-2, "log": True},
        "discount": {"low": 0.9, "high": 0.997},
        "td_steps": {"low": 3, "high": 20, "type": "int"},
        "unroll_steps": {"low": 3, "high": 8, "type": "int"},
        "weight_decay": {"low": 1e-6, "high": 1e-3, "log": True},
        "gumbel_c_scale": {"low": 0.05, "high": 1.0, "log": True},
        "replay_ratio": {"low": 0.1, "high": 1.0, "log": True},
    },
    "ppo": {
        "learning_rate": {"low": 1e-5, "high": 1e-3, "log": True},
        "gamma": {"low": 0.9, "high": 0.999},
        "gae_lambda": {"low": 0.8, "high": 0.99},
        "clip_range": {"low": 0.1, "high": 0.3},
        "ent_coef": {"low": 1e-4, "high": 0.05, "log": True},
        "n_epochs": {"low": 1, "high": 10, "type": "int"},
    },
    "sac": {
        "learning_rate": {"low": 1e-5, "high": 1e-3, "log": True},
        "gamma": {"low": 0.9, "high": 0.999},
        "tau": {"low": 0.001, "high": 0.05, "log": True},
        "batch_size": {"choices": [64, 128, 256]},
    },
}


def load_space(path: str | Path | None, algo: str, params: Sequence[str] | None) -> dict[str, Any]:
    """The search space of ``algo``: its table in the TOML at ``path`` over
    :data:`DEFAULT_SPACES`, restricted to ``params`` (all of it when None); an unknown
    algorithm, parameter or malformed range is a :class:`ConfigError`."""
    if algo not in ALGOS:
        raise ConfigError(f"--algo must be one of {', '.join(ALGOS)}, got {algo!r}")
    space = dict(DEFAULT_SPACES[algo])
    if path is not None:
        try:
            doc = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"{path}: not a readable search space ({e})") from e
        space.update(doc.get(algo, {}))
    if params is not None:
        unknown = [p for p in params if p not in space]
        if unknown:
            raise ConfigError(
                f"--params {', '.join(unknown)}: not in the {algo} search space "
                f"({', '.join(space)}; add a [{algo}.NAME] table to --space)"
            )
        space = {p: space[p] for p in params}
    if not space:
        raise ConfigError("the search space is empty: name --params")
    for name, spec in space.items():
        ok = "choices" in spec or ("low" in spec and "high" in spec and spec["low"] < spec["high"])
        if not ok or set(spec) - {"low", "high", "log", "type", "choices"}:
            raise ConfigError(
                f"search space {algo}.{name}: give low < high (log, type = 'int') or choices; "
                f"got {spec}"
            )
    return space


def suggest(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """The trial's draw of every setting of ``space``."""
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if "choices" in spec:
            out[name] = trial.suggest_categorical(name, list(spec["choices"]))
        elif spec.get("type") == "int":
            out[name] = trial.suggest_int(
                name, int(spec["low"]), int(spec["high"]), log=bool(spec.get("log"))
            )
        else:
            out[name] = trial.suggest_float(
                name, float(spec["low"]), float(spec["high"]), log=bool(spec.get("log"))
            )
    return out


def with_params(config: CompareConfig, algo: str, params: dict[str, Any]) -> CompareConfig:
    """``config`` with ``params`` in the algorithm's table."""
    if algo == "muzero":
        return config.replace(muzero={**config.muzero, **params})
    section = config.ppo if algo == "ppo" else config.sac
    return config.replace(**{algo: section.replace(**params)})


@dataclass(frozen=True)
class TuneSettings:
    """What every trial shares: the algorithm, its space, the base comparison configuration
    (environment, walk-forward folds, validation episodes, the algorithm's other settings),
    the training budget (env steps per fold), the seed, where trials write (``out/trials``)."""

    algo: str
    space: dict[str, Any]
    config: CompareConfig
    budget_steps: int
    seed: int
    out: Path
    storage: str
    study: str
    #: trials whose intermediate scores are never pruned (the pruner needs a baseline)
    startup_trials: int = 2


def _open_study(settings: TuneSettings, draw: int = 0) -> Any:
    """The study in its storage (created the first time); ``draw`` varies the sampler's seed
    between the tasks that open it (parallel trials would otherwise draw the same settings)."""
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    storage: Any = settings.storage
    if settings.storage.startswith(("sqlite:", "postgresql", "mysql")):
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5.0
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = RDBStorage(
                settings.storage,
                engine_kwargs={"connect_args": {"timeout": 60}}
                if settings.storage.startswith("sqlite:")
                else {},
                heartbeat_interval=30,
                grace_period=90,
                # a trial whose process died is failed and run again, once
                heartbeat_stale_trial_callback=RetryHeartbeatStaleTrialCallback(max_retry=1),
            )
    study = optuna.create_study(
        storage=storage,
        study_name=settings.study,
        direction="maximize",
        load_if_exists=True,
        pruner=optuna.pruners.MedianPruner(n_startup_trials=settings.startup_trials),
    )
    # a seed per task and per state of the study: reproducible, and distinct in parallel
    seed = settings.seed + 7919 * draw + len(study.get_trials(deepcopy=False))
    study.sampler = optuna.samplers.TPESampler(seed=seed)
    return study


def objective(trial: Any, market: Market, settings: TuneSettings) -> float:
    """Trains the trial's agent on each fold's train range and returns the mean over folds of
    its best validation score; reports each checkpoint's score (pruning)."""
    import optuna

    from lobzero.envs.trading_env import TradingEnv

    params = suggest(trial, settings.space)
    config = with_params(settings.config, settings.algo, params)
    if settings.algo == "muzero":
        muzero_config(config, settings.budget_steps)  # an out-of-range draw fails here
    splits = walk_forward_splits(market, config.walkforward)
    base = config.env.replace(seed=settings.seed)
    best: list[float] = []
    for split in splits:
        validation = split.validation
        cache: dict[str, list[TradingEnv]] = {}

        def envs_for(
            mode: str,
            n: int,
            r: TimeRange = validation,
            cache: dict[str, list[TradingEnv]] = cache,
        ) -> list[TradingEnv]:
            envs = cache.setdefault(mode, [])
            cfg = r.env_config(base).replace(action_mode=mode)
            envs += [TradingEnv(market, cfg) for _ in range(n - len(envs))]
            return envs[:n]

        run_dir = settings.out / "trials" / f"trial{trial.number}" / f"fold{split.fold}"
        selector = _PruningSelector(
            trial,
            split.fold * settings.budget_steps,
            envs_for,
            episode_starts(validation, base, config.validation_episodes),
            settings.seed,
            config.select_by,
            run_dir / "best",
        )
        final = _train(
            settings.algo,
            market,
            split.train.env_config(base),
            run_dir,
            settings.seed,
            settings.budget_steps,
            config,
            selector,
        )
        if not selector.history:
            selector(settings.budget_steps, final)
        assert selector.best is not None
        best.append(selector.best[1])
    value = float(np.mean(best))
    if not np.isfinite(value):
        raise optuna.TrialPruned(f"validation score {value}")
    return value


class _PruningSelector(_Selector):
    """compare's checkpoint scorer that also reports each score to the trial (at the env step
    of the run, offset by the fold) and stops a trial the pruner rejects."""

    def __init__(self, trial: Any, offset: int, *args: Any) -> None:
        super().__init__(*args)
        self.trial, self.offset = trial, offset

    def __call__(self, step: int, agent: Any) -> float:
        import optuna

        score = super().__call__(step, agent)
        self.trial.report(score if np.isfinite(score) else -1e18, self.offset + int(step))
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned at env step {step} (validation {score:.4g})")
        return score


def _run_trial(index: int, *, market: Market, settings: TuneSettings) -> int:
    """One trial of the study (a Ray task on ``--backend ray``); returns its number."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = _open_study(settings, index)
    numbers: list[int] = []

    def run(trial: Any) -> float:
        numbers.append(trial.number)
        return objective(trial, market, settings)

    study.optimize(run, n_trials=1, catch=(ConfigError,))
    return numbers[0] if numbers else -1


def finished(study: Any) -> int:
    """Trials of ``study`` that ended (complete or pruned): what ``--trials`` counts."""
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))


@dataclass
class TuneResult:
    """The study after the run: its best trial's number, value and settings, the trials run
    now and in all, and the files written (best.toml, best_compare.toml, PNGs)."""

    best_number: int
    best_value: float
    best_params: dict[str, Any]
    ran: int
    total: int
    files: dict[str, Path]
    notes: list[str] = field(default_factory=list)


def tune(
    market: Market,
    settings: TuneSettings,
    trials: int,
    backend: Backend | None = None,
    on_trial: Callable[[int], None] | None = None,
) -> TuneResult:
    """Runs the study of ``settings`` until ``trials`` trials have ended in its storage (a
    resumed study runs only the rest), on ``backend`` (Ray: in parallel); writes the best
    configuration and the figures into ``settings.out``."""
    try:
        import optuna
    except ImportError as e:
        raise ConfigError(f"lobzero tune needs optuna ({e}): pip install 'lobzero[tune]'") from e
    if trials < 1:
        raise ConfigError(f"--trials must be >= 1, got {trials}")
    if settings.budget_steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {settings.budget_steps}")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    settings.out.mkdir(parents=True, exist_ok=True)
    study = _open_study(settings)
    remaining = max(0, trials - finished(study))
    backend = backend or LocalBackend()
    shared = {"market": market, "settings": settings}
    done = None if on_trial is None else (lambda _i, number: on_trial(number))
    backend.map(_run_trial, [(i,) for i in range(remaining)], shared, done)
    study = _open_study(settings)
    try:
        best = study.best_trial
    except ValueError as e:
        raise ConfigError(f"study {settings.study}: no trial completed ({e})") from e
    files, notes = write_outputs(study, settings, best.params)
    return TuneResult(
        best.number, float(best.value), dict(best.params), remaining, finished(study), files, notes
    )


def write_outputs(
    study: Any, settings: TuneSettings, params: dict[str, Any]
) -> tuple[dict[str, Path], list[str]]:
    """``best.toml``, ``best_compare.toml``, ``history.png`` and ``importance.png`` (this one
    needs two completed trials that differ: otherwise a note says why it is missing)."""
    import optuna

    from lobzero.baselines.sb3 import CONFIGS
    from lobzero.evaluation.report import pyplot
    from lobzero.muzero import MuZeroConfig

    out = settings.out
    best_compare = with_params(settings.config, settings.algo, params)
    files = {"compare": best_compare.save(out / "best_compare.toml")}
    if settings.algo == "muzero":
        files["config"] = MuZeroConfig.from_dict(best_compare.muzero).save(out / "best.toml")
    else:
        algo_config = getattr(best_compare, settings.algo)
        files["config"] = (
            CONFIGS[settings.algo].from_dict(algo_config.to_dict()).save(out / "best.toml")
        )
    plt = pyplot()
    notes: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        ax = optuna.visualization.matplotlib.plot_optimization_history(study)
        fig: Any = ax.figure
        fig.savefig(out / "history.png", dpi=100, bbox_inches="tight")
        plt.close(fig)
        files["history"] = out / "history.png"
        warnings.simplefilter("ignore", UserWarning)  # "too few trials": the note below
        try:
            ax = optuna.visualization.matplotlib.plot_param_importances(study)
        except (ValueError, RuntimeError) as e:
            notes.append(f"importance.png not written: {e}")
        else:
            fig = ax.figure
            fig.savefig(out / "importance.png", dpi=100, bbox_inches="tight")
            plt.close(fig)
            files["importance"] = out / "importance.png"
    return files, notes
