"""The planner's Gumbel search: Q normalised by the fitted spread of returns, not by each
node's min-max, so that a small difference between actions gives a mild policy target."""

from __future__ import annotations

import numpy as np
import torch
from lobzero.mcts import search
from lobzero.muzero import MuZeroConfig, Planner, build_network


def two_arm_targets(value_bounds: tuple[float, float] | None) -> np.ndarray:
    """Gumbel policy targets at a root whose two actions differ by $1 of reward (values 0)."""

    def root_fn(obs: np.ndarray):
        n = len(obs)
        return np.zeros((n, 1), np.float32), np.zeros(n, np.float32), np.zeros((n, 2), np.float32)

    def recurrent_fn(latent: np.ndarray, action: np.ndarray):
        n = len(latent)
        reward = np.where(action == 0, 1.0, 0.0).astype(np.float32)
        return latent, reward, np.zeros(n, np.float32), np.zeros((n, 2), np.float32)

    result = search(
        root_fn,
        recurrent_fn,
        np.zeros((4, 1), np.float32),
        num_simulations=16,
        noise=False,
        algorithm="gumbel",
        value_bounds=value_bounds,
    )
    return result.policy_target


def test_fitted_bounds_keep_small_differences_small() -> None:
    """The defect: with each node's min-max, a $1 difference (against returns that spread over
    ±$100) became the whole [0, 1] range, σ ≈ 5.6 logits, and a target of ~1.0 on the argmax;
    with the fitted bounds the better action gets a mild preference."""
    sharp = two_arm_targets(None)
    mild = two_arm_targets((-100.0, 100.0))
    assert (sharp[:, 0] > 0.99).all()
    assert (mild[:, 0] > 0.5).all() and (mild[:, 0] < 0.6).all()


def test_planner_uses_the_fitted_spread() -> None:
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, num_simulations=4)
    net = build_network(config, 3, 2)
    planner = Planner(net, config)
    net.codec.fit_scale(torch.linspace(-50.0, 50.0, 1001, dtype=torch.float64))
    low, high = planner.value_bounds()  # type: ignore[misc]
    assert high == -low and abs(high - float(net.codec.spread)) < 1e-6
    planner.run(np.zeros((2, 3), np.float32), noise=False)
    assert list(planner._batches) == [(2, (low, high), 1.0)]
    assert Planner(net, config.replace(gumbel_value_bounds="node")).value_bounds() is None
    assert Planner(net, config.replace(algorithm="muzero")).value_bounds() is None


def test_self_play_noise_follows_the_temperature() -> None:
    """With ``gumbel_noise`` "temperature" a search with noise at temperature 0.25 draws Gumbel
    noise at a quarter of the scale (the defect it replaced: the temperatures changed nothing in
    Gumbel, and self-play traded at every step); "fixed" keeps the paper's scale 1, and a
    search without noise is the same whatever the temperature."""
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, num_simulations=4)
    obs = np.zeros((2, 3), np.float32)
    planner = Planner(build_network(config, 3, 2), config)
    planner.run(obs, noise=True, temperature=0.25)
    planner.run(obs, noise=False, temperature=0.25)
    assert sorted(key[2] for key in planner._batches) == [0.25, 1.0]
    fixed = Planner(planner.net, config.replace(gumbel_noise="fixed"))
    fixed.run(obs, noise=True, temperature=0.25)
    assert [key[2] for key in fixed._batches] == [1.0]


def test_the_unvisited_rule_reaches_the_search() -> None:
    """``MuZeroConfig.unvisited_value`` is the PUCT tree's: the planner's visit counts are
    those of a search with that rule, and the two rules differ on some of 64 random roots (so
    a planner that dropped the option, always "zero", fails here). Why it matters: under
    "zero" a CartPole agent's greedy search never tried the action its prior ruled out and
    pushed one way until the pole fell (benchmarks/muzero_cartpole.py, the README)."""
    torch.manual_seed(0)
    config = MuZeroConfig(latent_dim=8, hidden=16, blocks=1, num_simulations=16, algorithm="muzero")
    net = build_network(config, 3, 2)
    with torch.no_grad():  # random heads: a fresh network's are zero, every root the same
        for parameter in net.parameters():
            parameter.normal_(0.0, 0.5)
    obs = np.random.default_rng(0).normal(size=(64, 3)).astype(np.float32)
    visits = {}
    for rule in ("zero", "parent"):
        plan = Planner(net, config.replace(unvisited_value=rule)).run(obs, noise=False)
        expected = search(
            lambda x: planner_root(net, x),
            lambda latent, action: planner_step(net, latent, action),
            obs,
            num_simulations=16,
            noise=False,
            algorithm="muzero",
            discount=config.discount,
            unvisited_value=rule,
        )
        np.testing.assert_allclose(plan.policy, expected.policy_target, atol=1e-6)
        visits[rule] = expected.root_visit_counts
    assert (visits["zero"] != visits["parent"]).any(axis=1).sum() >= 1


def planner_root(net: torch.nn.Module, obs: np.ndarray):
    with torch.inference_mode():
        latent, value, logits = net.initial_inference(torch.as_tensor(obs))
        return latent, net.codec.to_scalar(value), logits


def planner_step(net: torch.nn.Module, latent: torch.Tensor, action: torch.Tensor):
    with torch.inference_mode():
        nxt, reward, value, logits = net.recurrent_inference(latent, action)
        return nxt, net.codec.to_scalar(reward), net.codec.to_scalar(value), logits
