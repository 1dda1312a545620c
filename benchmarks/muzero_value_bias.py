"""What MuZero's value head estimates: the return of the policy that is tested (greedy search)
or of the policy that played in self-play (search with Gumbel noise)?

    python benchmarks/muzero_value_bias.py AGENT_DIR [--temperature 1.0] [--episodes 6]

Plays ``--episodes`` 5-minute episodes of the held-out last 20 % of the 2-hour synthetic market
``compare`` trains on (``signal_market``-like: path 0, 7,200 s, signal strength 1) twice: with
the agent's greedy search, and as self-play acts (noise on, at ``--temperature``: the scale of
the Gumbel noise with ``gumbel_noise`` "temperature"). For both, prints the mean value the
network predicts at each decision, the mean realised discounted return from it (the value's
target without a bootstrap), their correlation, the return per episode and the fills.
"""

from __future__ import annotations

import argparse

import lobzero
import numpy as np
import torch
from lobzero.agents import load_agent
from lobzero.evaluation.report import load_market
from lobzero.evaluation.robustness import run_episodes
from lobzero.muzero.diagnostics import check_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("agent", help="a MuZero agent folder (e.g. runs/compare/agents/...)")
    parser.add_argument("--temperature", type=float, default=1.0)
    parser.add_argument("--episodes", type=int, default=6)
    args = parser.parse_args()
    torch.set_num_threads(1)
    agent = load_agent(args.agent)
    market = load_market(None, 7200.0, seed=0, signal_strength=1.0)
    span = market.end_ns - market.start_ns
    env_config = lobzero.EnvConfig.from_dict(agent.env["env_config"]).replace(
        start_ns=market.start_ns + int(0.8 * span), end_ns=market.end_ns
    )

    class SelfPlayActing:
        action_mode = agent.action_mode

        def act(self, obs: np.ndarray) -> np.ndarray:
            plan = agent.planner.run(
                np.asarray(obs, np.float32), noise=True, temperature=args.temperature
            )
            return plan.action

    players = (("greedy search", agent), (f"self-play, T={args.temperature:g}", SelfPlayActing()))
    for name, player in players:
        envs = [lobzero.TradingEnv(market, env_config) for _ in range(args.episodes)]
        results = run_episodes(player, envs, list(range(args.episodes)), None, record=True)
        checks = [check_model(agent, *r.trace) for r in results]  # type: ignore[misc]
        value = np.mean([np.nanmean(c.predicted_value[:, 0]) for c in checks])
        realised = np.mean([np.nanmean(c.realised_return[:, 0]) for c in checks])
        corr = np.nanmean([c.correlations()["value"][0] for c in checks])
        ret = np.mean([r.metrics.total_return for r in results])
        fills = np.mean([r.metrics.fills for r in results])
        print(
            f"{name}: value {value:+.1f}, realised {realised:+.1f} (quote currency), "
            f"corr {corr:+.2f}; return {ret:+.2%} an episode, {fills:.0f} fills"
        )


if __name__ == "__main__":
    main()
