"""Agents trained with the encoder: `train-agent --encoder` (PPO, SAC, MuZero), the saved agent in
a fresh process, frozen and fine-tuned weights, MuZero's normaliser and the window's time."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch
from lobzero import EnvConfig, TradingEnv, synth_market
from lobzero.encoder import EncoderConfig, build_dataset, load_encoder
from lobzero.encoder.train import build_model, save_checkpoint

pytest.importorskip("stable_baselines3")

from tests.lobzero_process import REPO

CONFIG = EncoderConfig(
    step_ms=200, window=5, horizons=(3, 6), levels=3, width=4, hidden=8, torch_threads=1
)
SECONDS = 240.0
SEED = 5
#: a MuZero small enough for a few hundred steps in seconds
MUZERO_FLAGS = [
    "--muzero-num-envs", "2", "--muzero-warmup-steps", "50", "--muzero-batch-size", "16",
    "--muzero-replay-ratio", "0.2", "--muzero-latent-dim", "8", "--muzero-hidden", "16",
    "--muzero-blocks", "1", "--muzero-support-size", "5", "--muzero-num-simulations", "4",
    "--muzero-max-considered-actions", "4", "--muzero-log-interval", "100",
    "--muzero-checkpoint-interval", "100", "--muzero-replay-capacity", "1000",
    "--muzero-torch-threads", "1",
]  # fmt: skip
PPO_FLAGS = ["--ppo-num-envs", "2", "--ppo-n-steps", "32", "--ppo-batch-size", "32"]
SAC_FLAGS = [
    "--sac-num-envs", "2", "--sac-learning-starts", "50", "--sac-batch-size", "16",
    "--sac-buffer-size", "1000", "--sac-net-arch", "16,16",
]  # fmt: skip


@pytest.fixture(scope="module")
def encoder_path(tmp_path_factory):
    """An encoder checkpoint (untrained weights: the tests are about the plumbing) for the
    synthetic market of ``--synth-seconds SECONDS --synth-seed SEED``."""
    torch.set_num_threads(1)
    market = synth_market(seconds=SECONDS, seed=SEED)
    data = build_dataset(market, CONFIG)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("enc") / "encoder.pt"
    save_checkpoint(path, build_model(CONFIG, 3), CONFIG, data.normaliser, data.regime_rule, 1, 1.0)
    return path


def _train_agent(algo: str, encoder, out, mode: str = "frozen") -> None:
    from lobzero.cli import main

    flags = {"muzero": MUZERO_FLAGS, "ppo": PPO_FLAGS, "sac": SAC_FLAGS}[algo]
    code = main(
        [
            "train-agent", "--algo", algo, "--synth-seconds", str(SECONDS), "--synth-seed",
            str(SEED), "--steps", "200", "--episode-steps", "50", "--out", str(out),
            "--encoder", str(encoder), "--encoder-mode", mode, *flags,
        ]
    )  # fmt: skip
    assert code == 0


#: plays one test episode with a saved agent on a plain TradingEnv it builds from the
#: agent's own environment configuration; prints the actions as JSON
PLAY = """
import json, sys, torch
torch.set_num_threads(1)
from lobzero import TradingEnv, load_agent, synth_market
from lobzero.agents import agent_env_config
from lobzero.evaluation.robustness import run_episodes
agent = load_agent(sys.argv[1])
market = synth_market(seconds=float(sys.argv[2]), seed=int(sys.argv[3]))
env = TradingEnv(market, agent_env_config(agent).replace(action_mode=agent.action_mode))
(result,) = run_episodes(agent, [env], [0], [market.start_ns + 30 * 10**9], record=True)
print(json.dumps([float(a) for a in result.trace[1]]))
"""


def _actions_here(agent_dir) -> list[float]:
    from lobzero import load_agent
    from lobzero.agents import agent_env_config
    from lobzero.evaluation.robustness import run_episodes

    agent = load_agent(agent_dir)
    market = synth_market(seconds=SECONDS, seed=SEED)
    env = TradingEnv(market, agent_env_config(agent).replace(action_mode=agent.action_mode))
    (result,) = run_episodes(agent, [env], [0], [market.start_ns + 30 * 10**9], record=True)
    assert result.trace is not None
    # what the agent saw: the environment's features, then the window
    assert result.trace[0].shape[1] == env.observation_space.shape[0] + 5 * 3 * 7
    return [float(a) for a in result.trace[1]]


@pytest.mark.parametrize("algo", ["ppo", "muzero"])
def test_train_agent_with_encoder_loads_in_a_fresh_process(algo, encoder_path, tmp_path) -> None:
    """`train-agent --encoder` saves an agent that embeds the encoder: with the encoder file
    moved away, a fresh process loads it and plays the same actions on a plain environment it
    rebuilds (an agent that only recorded the path, or lost the window, would fail)."""
    moved = tmp_path / "encoder.pt"
    shutil.copy(encoder_path, moved)
    out = tmp_path / "run"
    _train_agent(algo, moved, out)
    agent_dir = out if algo == "ppo" else out / "agent"
    spec = json.loads((agent_dir / "agent.json").read_text())
    assert spec["encoder"]["mode"] == "frozen"
    here = _actions_here(agent_dir)
    moved.unlink()
    env = {"PYTHONPATH": str(REPO / "python"), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [sys.executable, "-c", PLAY, str(agent_dir), str(SECONDS), str(SEED)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    there = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(here) == 50
    assert there == here


def _trunk_state(algo: str, agent_dir) -> dict[str, torch.Tensor]:
    from lobzero import load_agent

    agent = load_agent(agent_dir)
    if algo == "muzero":
        return agent.net.encoder.state_dict()
    if algo == "sac":  # the actor's copy (the critics hold their own)
        return agent.model.policy.actor.features_extractor.trunk.state_dict()
    return agent.model.policy.features_extractor.trunk.state_dict()


def _moved(algo: str, encoder_path, out, mode: str) -> bool:
    """Whether training in ``mode`` moved the encoder's weights away from the checkpoint's."""
    _train_agent(algo, encoder_path, out, mode)
    trained = load_encoder(encoder_path).model.state_dict()
    state = _trunk_state(algo, out / "agent" if algo == "muzero" else out)
    return any(not torch.equal(v, trained[k]) for k, v in state.items())


@pytest.mark.parametrize("algo", ["ppo", "sac", "muzero"])
def test_frozen_keeps_the_encoder_and_fine_tune_moves_it(algo, encoder_path, tmp_path) -> None:
    """Frozen, the saved agent's encoder weights equal the checkpoint's; fine-tuned, they
    moved (the check sees a change when there is one)."""
    assert not _moved(algo, encoder_path, tmp_path / "frozen", "frozen")
    assert _moved(algo, encoder_path, tmp_path / "fine", "fine-tune")


def test_a_frozen_mode_that_does_not_freeze_is_caught(encoder_path, tmp_path, monkeypatch):
    """Planted: an extractor that ignores ``freeze`` trains the encoder in frozen mode, and the
    check of the test above fails on it."""
    from lobzero.encoder import agents

    real = agents.EncoderFeaturesExtractor.__init__

    def never_frozen(self, *args, **kwargs):
        kwargs["freeze"] = False
        real(self, *args, **kwargs)

    monkeypatch.setattr(agents.EncoderFeaturesExtractor, "__init__", never_frozen)
    assert _moved("ppo", encoder_path, tmp_path / "planted", "frozen")


def test_fine_tune_trains_the_encoder_at_the_scaled_rate(encoder_path) -> None:
    """MuZero's optimiser: the encoder's parameters are a group of their own at lr × scale
    (fine-tune), in no group when frozen; the rest at the schedule's rate."""
    from lobzero.encoder.agents import AgentEncoder
    from lobzero.muzero import MuZeroConfig
    from lobzero.muzero.agent import build_network
    from lobzero.muzero.learner import Learner

    for mode, groups in (("frozen", 1), ("fine-tune", 2)):
        config = MuZeroConfig(
            latent_dim=8, hidden=16, encoder_mode=mode, encoder_lr_scale=0.25, lr_warmup_updates=0
        )
        attached = AgentEncoder.load(encoder_path, mode, 0.25)
        net = build_network(config, 20 + attached.width, 5, encoder=attached)
        learner = Learner(net, config, 10)
        assert len(learner.optimizer.param_groups) == groups
        encoder_ids = {id(p) for p in net.encoder.parameters()}
        plain = learner.optimizer.param_groups[0]["params"]
        assert not encoder_ids & {id(p) for p in plain}
        if mode == "fine-tune":
            assert {id(p) for p in learner.optimizer.param_groups[1]["params"]} == encoder_ids
            assert learner.optimizer.param_groups[1]["lr_scale"] == 0.25


@pytest.mark.parametrize("planted", [False, True])
def test_muzero_normaliser_leaves_the_window_untouched(encoder_path, planted) -> None:
    """The network's observation normaliser scales the environment's features and passes the
    encoder's window (already normalised by the encoder's statistics) through as it is, even
    after self-play statistics were gathered. Planted: a normaliser over the whole observation
    (what the network had before) rescales and clips the window, and the check fails."""
    from lobzero.encoder.agents import AgentEncoder
    from lobzero.models.muzero_net import ObsNormalizer
    from lobzero.muzero import MuZeroConfig
    from lobzero.muzero.agent import build_network

    attached = AgentEncoder.load(encoder_path)
    env_dim, width = 6, attached.width
    low = np.r_[np.full(env_dim, -2.0), np.full(width, -np.inf)].astype(np.float32)
    high = -low
    config = MuZeroConfig(latent_dim=8, hidden=16)
    net = build_network(config, env_dim + width, 5, obs_bounds=(low, high), encoder=attached)
    if planted:
        net.normalizer = ObsNormalizer(env_dim + width, low=low, high=high)
    rng = np.random.default_rng(0)
    # features within their bounds; a window with values far outside ±clip
    values = np.c_[rng.uniform(-2, 2, (64, env_dim)), rng.normal(0, 30, (64, width))]
    obs = torch.as_tensor(values, dtype=torch.float32)
    net.normalizer.update(obs)
    out = net.normalizer(obs)
    torch.testing.assert_close(out[:, :env_dim], obs[:, :env_dim] / 2.0)
    window_kept = torch.equal(out[:, env_dim:], obs[:, env_dim:])
    assert window_kept is not planted


def test_the_agents_window_ends_at_its_decision_time(encoder_path) -> None:
    """No lookahead on the agent's path: the observations an agent with the encoder sees up to
    a time are the same whether or not the market goes on after it. Planted: windows read one
    sample later than the decision time differ."""
    from lobzero.encoder.agents import AgentEncoder, BookWindows

    market = synth_market(seconds=SECONDS, seed=SEED)
    cut = market.start_ns + 150 * 10**9 + 77_000_000
    short = market.slice_time(end_ns=cut)
    # 100 ms decisions: the episode (20 s) runs into the cut
    start = market.start_ns + 140 * 10**9
    config = EnvConfig(episode_steps=200, step_ms=100.0)

    class Ahead(BookWindows):
        def at(self, ts_ns):
            return super().at(np.asarray(ts_ns) + int(CONFIG.step_ms * 1e6))

    def seen(m, windows_class=BookWindows) -> list[tuple[int, np.ndarray]]:
        attached = AgentEncoder.load(encoder_path)
        attached._windows[id(m)] = (m, windows_class(m, attached.encoder))
        env = attached.wrap_env(TradingEnv(m, config))
        obs, info = env.reset(seed=0, options={"start_ns": start})
        rows = [(int(info["ts_ns"]), obs)]
        for _ in range(200):
            obs, _, terminated, truncated, info = env.step(0)
            rows.append((int(info["ts_ns"]), obs))
            if terminated or truncated:
                break
        return [(t, o) for t, o in rows if t < cut - 1]

    full, cut_short = seen(market), seen(short)
    assert len(cut_short) > 90 and cut_short[-1][0] > cut - 10**9
    for (t, a), (u, b) in zip(full, cut_short, strict=False):
        assert t == u
        np.testing.assert_array_equal(a, b)
    ahead_full, ahead_short = seen(market, Ahead), seen(short, Ahead)
    assert any(
        not np.array_equal(a, b) for (_, a), (_, b) in zip(ahead_full, ahead_short, strict=False)
    )


def test_finished_episodes_last_observations_carry_the_window(encoder_path) -> None:
    """The vector wrapper appends the window to ``final_obs`` too (SB3's terminal observation,
    MuZero's bootstrap), read at the finished episode's own time."""
    from lobzero import VecTradingEnv
    from lobzero.encoder.agents import AgentEncoder

    market = synth_market(seconds=SECONDS, seed=SEED)
    attached = AgentEncoder.load(encoder_path)
    venv = attached.wrap_vec(VecTradingEnv(market, 2, EnvConfig(episode_steps=5)), market)
    venv.reset(seed=0)
    for _ in range(5):
        obs, _, terminated, truncated, infos = venv.step(np.zeros(2, dtype=np.int64))
    assert (terminated | truncated).all()
    windows = venv.windows
    for i in range(2):
        final = infos["final_obs"][i]
        assert final.shape == obs[i].shape
        expect = windows.at([infos["final_info"][i]["ts_ns"]])[0]
        np.testing.assert_array_equal(final[venv.obs_dim :], expect)


def test_compare_with_the_encoder_reports_both_rows(encoder_path, tmp_path) -> None:
    """`compare --encoder`: each learned agent trained with and without the encoder, on the
    same fold, seed and budget, both in the printed table and in the report's rows
    (metrics.csv / metrics.json); a rule agent has no twin. (The report's figures, two thirds
    of the time here and tested in tests/evaluation, are not drawn: ``report=False``.)"""
    from lobzero.baselines.sb3 import PpoConfig
    from lobzero.cli import build_parser, compare_config
    from lobzero.evaluation.compare import CompareConfig, compare
    from lobzero.evaluation.compare_report import _rows

    args = build_parser().parse_args(["compare", "--encoder", str(encoder_path)])
    assert compare_config(args).encoder == str(encoder_path)
    config = CompareConfig(
        env=EnvConfig(episode_steps=50),
        validation_episodes=1,
        test_episodes=2,
        bootstrap_resamples=50,
        ppo=PpoConfig(num_envs=2, n_steps=32, batch_size=32, checkpoints=1),
        encoder=str(encoder_path),
    )
    market = synth_market(seconds=SECONDS, seed=SEED)
    result = compare(market, "ppo,flat", 1, 128, tmp_path, config=config, report=False)
    assert result.agents == ["ppo", "ppo+encoder", "flat"]
    assert [row["agent"] for row in _rows(result)] == ["ppo", "ppo+encoder", "flat"]
    plain, encoded = result.runs["ppo"][0], result.runs["ppo+encoder"][0]
    assert (plain.fold, plain.seed) == (encoded.fold, encoded.seed)
    assert plain.train_env_steps == encoded.train_env_steps == 128
    assert [e.start_ns for e in plain.episodes] == [e.start_ns for e in encoded.episodes]
    saved = json.loads(
        (tmp_path / "agents" / "ppo+encoder" / "fold0_seed0" / "best" / "agent.json").read_text()
    )
    assert saved["encoder"]["mode"] == "frozen" and "encoder" not in json.loads(
        (tmp_path / "agents" / "ppo" / "fold0_seed0" / "best" / "agent.json").read_text()
    )


def test_bad_encoder_settings_are_config_errors(encoder_path, tmp_path) -> None:
    """An unknown mode, a scale out of (0, 1], an encoder without a market to read (a gymnasium
    environment) and a missing checkpoint are refused before anything trains."""
    from lobzero import ConfigError, DataIOError
    from lobzero.encoder.agents import AgentEncoder
    from lobzero.muzero import MuZeroConfig, train_muzero

    with pytest.raises(ConfigError, match="encoder mode"):
        AgentEncoder.load(encoder_path, "thawed")
    with pytest.raises(ConfigError, match="encoder_lr_scale"):
        AgentEncoder.load(encoder_path, "fine-tune", 0.0)
    config = MuZeroConfig(total_env_steps=200, warmup_steps=50, encoder=str(encoder_path))
    with pytest.raises(ConfigError, match="market"):
        train_muzero(config, tmp_path / "gym", env_id="CartPole-v1", progress=False)
    with pytest.raises(DataIOError, match="no such encoder"):
        AgentEncoder.load(tmp_path / "missing.pt")
