"""Reanalysis in a worker (the body of a Ray reanalyse actor, run here without Ray): for the
same weights and positions its targets are the local reanalyser's, bit for bit; a worker that
kept stale weights (the planted defect: the broadcast not loaded) computes other targets."""

from __future__ import annotations

import numpy as np
import torch
from lobzero.distributed.reanalyse import REANALYSE_SEED_OFFSET, ReanalyseWorker, cpu_weights
from lobzero.muzero.agent import build_network
from lobzero.muzero.planner import Planner

from tests.muzero.test_train import TINY

CONFIG = TINY.replace(torch_threads=1)
OBS_DIM, ACTIONS = 6, 3


def _trained_a_little(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    net = build_network(CONFIG, OBS_DIM, ACTIONS)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net


def test_a_reanalyse_worker_computes_the_local_reanalysers_targets() -> None:
    torch.set_num_threads(1)
    net = _trained_a_little(1)
    seed = 7 + REANALYSE_SEED_OFFSET
    local = Planner(net, CONFIG, seed=seed)
    stale = cpu_weights(build_network(CONFIG, OBS_DIM, ACTIONS))
    worker = ReanalyseWorker(CONFIG, OBS_DIM, ACTIONS, 1, None, stale, seed=seed)
    obs = np.random.default_rng(3).normal(size=(40, OBS_DIM)).astype(np.float32)
    # the planted defect: the learner's weights not loaded before the search
    policy, value = worker.search(obs, None)
    want_policy, want_value = local.search_fn(obs)
    assert not np.array_equal(value, want_value)
    # the broadcast loaded: the same targets, bit for bit, twice in a row
    for _ in range(2):
        policy, value = worker.search(obs, cpu_weights(net))
        want_policy, want_value = local.search_fn(obs)
        np.testing.assert_array_equal(policy, want_policy)
        np.testing.assert_array_equal(value, want_value)
    empty_policy, empty_value = worker.search(obs[:0], None)
    assert empty_policy.shape == (0, ACTIONS) and empty_value.shape == (0,)
