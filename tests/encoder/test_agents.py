"""The encoder in front of SB3: observations carry the window, the extractor encodes it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lobzero import EnvConfig, VecTradingEnv, synth_market
from lobzero.encoder import EncoderConfig, build_dataset, load_encoder
from lobzero.encoder.train import build_model, save_checkpoint

pytest.importorskip("stable_baselines3")

CONFIG = EncoderConfig(
    step_ms=200, window=5, horizons=(3, 6), levels=3, width=4, hidden=8, torch_threads=1
)


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    torch.set_num_threads(1)
    market = synth_market(seconds=120, seed=5)
    data = build_dataset(market, CONFIG)
    path = tmp_path_factory.mktemp("enc") / "encoder.pt"
    save_checkpoint(path, build_model(CONFIG, 3), CONFIG, data.normaliser, data.regime_rule, 1, 1.0)
    return market, data, path


def test_observations_carry_the_window_of_the_decision_time(setup) -> None:
    """The appended window is the encoder's window ending at the last sample at or before each
    environment's time (one that ended after it would look ahead; one off by a sample would
    not equal the dataset's window)."""
    from lobzero.encoder.agents import BookWindowVecEnv

    market, data, path = setup
    encoder = load_encoder(path)
    venv = BookWindowVecEnv(VecTradingEnv(market, 2, EnvConfig()), market, encoder)
    obs, infos = venv.reset(seed=0)
    base = venv.obs_dim
    assert obs.shape == (2, base + 5 * 3 * 7)
    for _ in range(30):
        obs, _, _, _, infos = venv.step(np.zeros(2, dtype=np.int64))
    ts = venv.windows.ts_ns
    for i in range(2):
        k = np.searchsorted(ts, infos["ts_ns"][i], side="right") - 1
        assert ts[k] <= infos["ts_ns"][i]
        expect = data.x[k - 4 : k + 1].reshape(-1)
        np.testing.assert_array_equal(obs[i, base:], expect)


@pytest.mark.parametrize("freeze", [True, False])
def test_ppo_trains_through_the_features_extractor(setup, freeze) -> None:
    """PPO learns with the extractor: frozen, the encoder's weights stay as loaded; fine-tuned,
    they move (a freeze that did not hold, or a trunk cut off from the loss, fails)."""
    from lobzero.encoder.agents import BookWindowVecEnv, EncoderFeaturesExtractor
    from lobzero.envs.sb3 import Sb3VecEnv
    from stable_baselines3 import PPO

    market, _, path = setup
    encoder = load_encoder(path)
    before = {k: v.clone() for k, v in encoder.model.state_dict().items()}
    venv = BookWindowVecEnv(VecTradingEnv(market, 2, EnvConfig()), market, encoder)
    model = PPO(
        "MlpPolicy",
        Sb3VecEnv(venv),
        n_steps=16,
        batch_size=16,
        n_epochs=1,
        seed=0,
        device="cpu",
        policy_kwargs={
            "features_extractor_class": EncoderFeaturesExtractor,
            "features_extractor_kwargs": {
                "encoder": encoder,
                "obs_dim": venv.obs_dim,
                "freeze": freeze,
            },
            "share_features_extractor": True,
        },
    )
    model.learn(32)
    trunk = model.policy.features_extractor.trunk
    changed = any(not torch.equal(v, before[k]) for k, v in trunk.state_dict().items())
    assert changed is (not freeze)
    # the policy trains its own copy: the loaded encoder is left as it was
    assert all(torch.equal(v, before[k]) for k, v in encoder.model.state_dict().items())
