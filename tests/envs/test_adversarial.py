"""A trained adversary's moves inside the environment: forced perturbations, the two vector
views, the budget, invariants under any forced move, and the alternating training loop."""

from __future__ import annotations

from pathlib import Path

import lobzero
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lobzero.envs import PERTURBATIONS, EnvConfig, TradingEnv, VecTradingEnv
from lobzero.envs.adversarial import ADVERSARY_MOVES, AdversarialVecEnv, AdversaryVecEnv

from tests.envs.test_adversary import trace
from tests.envs.test_properties_env import MARKETS, run_checking_invariants
from tests.envs.test_trading_env import wavy_market

MS = 1_000_000
CONFIG = EnvConfig(max_position=0.1, episode_steps=30, initial_cash=10_000.0)


@pytest.fixture(scope="module")
def market() -> lobzero.Market:
    return wavy_market(seconds=60)


class Always:
    """A stand-in agent that always plays one action."""

    def __init__(self, action: int) -> None:
        self.action = action

    def act(self, obs_batch: np.ndarray) -> np.ndarray:
        return np.full(len(obs_batch), self.action, np.int64)


def test_forcing_nothing_is_bit_identical(market: lobzero.Market) -> None:
    start = market.start_ns + 10_000 * MS
    actions = [4, 0, 2, 3, 1] * 6
    plain = trace(TradingEnv(market, CONFIG), actions, start)

    class Forcing(TradingEnv):
        def step(self, action):  # type: ignore[no-untyped-def]
            self.force_perturbations(())
            return super().step(action)

    assert trace(Forcing(market, CONFIG), actions, start) == plain


def test_a_forced_gap_moves_the_book_one_way_for_one_step(market: lobzero.Market) -> None:
    start = market.start_ns + 10_000 * MS
    plain, forced = TradingEnv(market, CONFIG), TradingEnv(market, CONFIG)
    plain.reset(options={"start_ns": start})
    forced.reset(options={"start_ns": start})
    forced.force_perturbations(["price_gap"], gap_sign=-1)
    _, _, _, _, base = plain.step(2)
    _, _, _, _, info = forced.step(2)
    assert info["perturbations"] == ["price_gap"]
    gap = CONFIG.adversary.gap_ticks * market.instrument.tick
    assert info["mark"] == pytest.approx(base["mark"] - gap)
    _, _, _, _, info = forced.step(2)
    assert info["perturbations"] == []
    with pytest.raises(lobzero.ConfigError, match="unknown perturbation"):
        forced.force_perturbations(["earthquake"])


def test_batch_equals_singles_under_forced_moves(market: lobzero.Market) -> None:
    rng = np.random.default_rng(0)
    n = 3
    vec = VecTradingEnv(market, n, CONFIG, copy=True)
    singles = [TradingEnv(market, CONFIG.replace(seed=CONFIG.seed + i)) for i in range(n)]
    vec_obs, _ = vec.reset(seed=5)
    for i, env in enumerate(singles):
        obs, _ = env.reset(seed=5 + i)
        np.testing.assert_array_equal(obs, vec_obs[i])
    for _ in range(20):
        masks = rng.integers(0, 1 << len(PERTURBATIONS), size=n).astype(np.uint8)
        signs = rng.choice([-1, 0, 1], size=n).astype(np.int8)
        actions = rng.integers(0, 5, size=n)
        vec.force_perturbations(masks, signs)
        vec_obs, vec_rewards, *_ = vec.step(actions)
        for i, env in enumerate(singles):
            kinds = [k for b, k in enumerate(PERTURBATIONS) if masks[i] >> b & 1]
            env.force_perturbations(kinds, int(signs[i]))
            obs, reward, terminated, truncated, _ = env.step(int(actions[i]))
            np.testing.assert_array_equal(obs, vec_obs[i])
            assert reward == vec_rewards[i]
            if terminated or truncated:
                env.reset()


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2),
    actions=st.lists(st.integers(0, 4), min_size=5, max_size=30),
    forced=st.lists(st.lists(st.sampled_from(PERTURBATIONS), max_size=3), max_size=30),
)
def test_invariants_hold_under_any_forced_move(seed, actions, forced) -> None:
    config = EnvConfig(max_position=0.2, episode_steps=60, initial_cash=2_000.0)
    run_checking_invariants(MARKETS[seed], config, actions, forced)


def test_adversary_view_respects_its_budget_and_negates_rewards(market: lobzero.Market) -> None:
    vec = VecTradingEnv(market, 4, CONFIG)
    env = AdversaryVecEnv(vec, trader=Always(4), budget=5)
    obs, _ = env.reset(seed=1)
    assert obs.shape == (4, vec.single_observation_space.shape[0] + 2)
    assert env.single_action_space.n == len(ADVERSARY_MOVES)
    np.testing.assert_array_equal(obs[:, -1], 1.0)  # the whole budget left
    made = np.zeros(4)
    slippage = [name for name, _, _ in ADVERSARY_MOVES].index("slippage")
    for _ in range(CONFIG.episode_steps):
        obs, rewards, terminated, truncated, infos = env.step(np.full(4, slippage))
        made += infos["moves_made"] != 0
        trader_rewards = -rewards
        assert np.isfinite(trader_rewards).all()
        if (terminated | truncated).any():
            break
    np.testing.assert_array_equal(made, 5)  # then the budget is spent
    assert (terminated | truncated).all()
    np.testing.assert_array_equal(obs[:, -1], 1.0)  # refilled for the new episodes
    assert infos["final_obs"][0][-1] == 0.0  # the last view of the old one: none left


def test_an_adversary_inside_hurts_the_trader_it_targets(market: lobzero.Market) -> None:
    """A stand-in adversary that always gaps the price down costs a long trader money."""
    from lobzero.adversarial import evaluate_trader

    gap_down = [name for name, _, _ in ADVERSARY_MOVES].index("price_gap_down")
    long = Always(4)
    plain = evaluate_trader(long, market, CONFIG, episodes=4)
    attacked = evaluate_trader(long, market, CONFIG, 4, adversary=Always(gap_down), budget=3)
    assert attacked["moves_per_episode"] == 3
    assert attacked["mean_return"] < plain["mean_return"]
    # the trader's view keeps the plain environment's spaces
    wrapped = AdversarialVecEnv(VecTradingEnv(market, 2, CONFIG), Always(gap_down), budget=3)
    assert wrapped.single_observation_space == wrapped.vec.single_observation_space


def tiny_adversarial(budget: int):  # type: ignore[no-untyped-def]
    """One round of a few PPO steps each (trader and adversary)."""
    from lobzero.adversarial import AdversarialConfig
    from lobzero.baselines.sb3 import PpoConfig

    small = PpoConfig(n_steps=32, batch_size=64, num_envs=2, n_epochs=1)
    return AdversarialConfig(
        rounds=1,
        trader_steps=64,
        adversary_steps=64,
        budget=budget,
        eval_episodes=2,
        adversary=small,
        ppo=small,
    )


def test_train_adversarial_alternates_and_saves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Also: no SB3 log folder is left in the temporary directory (planted: the adversary's PPO
    without its silent logger leaves two empty ``SB3-<date>`` folders there, one per
    ``learn``)."""
    import tempfile

    from lobzero.adversarial import train_adversarial

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    market = lobzero.synth_market(seconds=120, seed=0, signal_strength=1.0)
    config = tiny_adversarial(budget=4)
    rows = train_adversarial(
        market, EnvConfig(max_position=0.1, episode_steps=20), tmp_path, config=config
    )
    assert [(r["round"], r["phase"]) for r in rows] == [
        (0, "trader"),
        (1, "adversary"),
        (1, "trader"),
    ]
    assert "attacked_mean_return" in rows[-1] and rows[-1]["trader_steps"] == 128
    assert rows[-1]["adversary_moves_per_episode"] <= 4
    adversary = lobzero.load_agent(tmp_path / "adversary")
    trader = lobzero.load_agent(tmp_path / "trader")
    assert trader.action_mode == "target" and adversary.action_mode == "adversary"
    assert (tmp_path / "rounds.csv").exists()
    assert [p.name for p in scratch.iterdir() if p.name.startswith("SB3-")] == []


def test_cli_train_adversarial_then_robustness_of_the_trader(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from lobzero.cli import main

    config = tiny_adversarial(budget=3).save(tmp_path / "adv.toml")
    out = tmp_path / "run"
    argv = ["train-adversarial", "--config", str(config), "--synth-seconds", "120"]
    assert main([*argv, "--episode-steps", "20", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "adversarial training of a ppo trader" in printed and "attacked" in printed
    # the trained trader goes through the robustness command like any saved agent
    argv = ["robustness", "--agent", str(out / "trader"), "--intensity", "0,0.3", "--seeds", "1"]
    argv += ["--episode-steps", "100", "--synth-seconds", "120"]
    assert main([*argv, "--out", str(tmp_path / "rob")]) == 0
    assert (tmp_path / "rob" / "robustness.csv").exists()
