"""Training of the order-book encoder: early stopping, the checkpoint, the command line."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from lobzero import synth_market
from lobzero.encoder import EncoderConfig, build_dataset, load_encoder
from lobzero.encoder.samples import book_samples, features
from lobzero.encoder.train import build_model, evaluate_loss, fit, save_checkpoint

TINY = EncoderConfig(
    step_ms=200,
    window=5,
    horizons=(3, 6),
    levels=3,
    width=4,
    hidden=8,
    batch_size=64,
    torch_threads=1,
)


@pytest.fixture(scope="module")
def tiny():
    torch.set_num_threads(1)
    market = synth_market(seconds=150, seed=3)
    return market, build_dataset(market, TINY)


def test_early_stopping_restores_the_best_weights(tiny, tmp_path) -> None:
    """A planted worse epoch: after epoch 2 the weights are scrambled, so every later
    validation loss is worse; training stops after ``patience`` epochs and the model holds the
    best epoch's weights (those of the checkpoint), not the scrambled-then-trained ones. Without
    the restore the final validation loss would be the scrambled run's."""
    _, data = tiny
    config = TINY.replace(epochs=8, patience=2, lr=1e-4)
    model = build_model(config, 3)
    snapshots: dict[int, dict[str, torch.Tensor]] = {}
    saved: list[int] = []
    path = tmp_path / "enc.pt"

    def save(m, epoch, val_loss):
        saved.append(epoch)
        save_checkpoint(path, m, config, data.normaliser, data.regime_rule, epoch, val_loss)

    def plant(epoch, m):
        snapshots[epoch] = {k: v.clone() for k, v in m.state_dict().items()}
        if epoch == 2:
            with torch.no_grad():
                for p in m.parameters():
                    p.add_(torch.randn_like(p) * 3.0)

    result = fit(model, data, config, save=save, on_epoch_end=plant)
    assert result.best_epoch <= 2 and result.stopped_early
    assert len(result.history) == 2 + config.patience
    worse = [r["val_loss"] for r in result.history[2:]]
    assert min(worse) > result.best_val_loss
    best = snapshots[result.best_epoch]
    for k, v in model.state_dict().items():
        assert torch.equal(v, best[k]), k
    assert evaluate_loss(model, data, data.split.val, config, "cpu")["loss"] == pytest.approx(
        result.best_val_loss, rel=1e-6
    )
    assert saved[-1] == result.best_epoch
    loaded = load_encoder(path)
    for k, v in loaded.model.state_dict().items():
        assert torch.equal(v, best[k]), k


def test_checkpoint_round_trip_is_identical(tiny, tmp_path) -> None:
    """Save then load gives the same weights, buffers (volatility scale), configuration,
    normaliser and regime rule, and the same outputs bit for bit (a checkpoint that dropped the
    buffers or the normaliser would differ)."""
    _, data = tiny
    config = TINY.replace(epochs=1, arch="transformer", width=16)
    model = build_model(config, 3)
    fit(model, data, config)
    path = save_checkpoint(
        tmp_path / "e.pt", model, config, data.normaliser, data.regime_rule, 1, 0.5
    )
    loaded = load_encoder(path)
    assert loaded.config == config and loaded.epoch == 1 and loaded.val_loss == 0.5
    np.testing.assert_array_equal(loaded.normaliser.mean, data.normaliser.mean)
    np.testing.assert_array_equal(loaded.normaliser.std, data.normaliser.std)
    assert loaded.regime_rule == data.regime_rule
    assert model.state_dict().keys() == loaded.model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.model.state_dict()[k]), k
    x = torch.from_numpy(data.windows(data.split.test[:16]))
    model.eval()
    with torch.no_grad():
        a, b = model(x), loaded.model(x)
    for u, v in zip(a, b, strict=True):
        assert torch.equal(u, v)


def test_inputs_do_not_look_ahead() -> None:
    """The samples and trade flow up to a time are the same whether or not the market goes on
    after it (a builder that read the next event's book or flow would differ)."""
    market = synth_market(seconds=60, seed=4)
    cut = market.start_ns + 30 * 10**9 + 123
    short = market.slice_time(end_ns=cut)
    a = features(book_samples(market, 100.0, 4))
    b = features(book_samples(short, 100.0, 4))
    assert len(b) > 250
    np.testing.assert_array_equal(a[: len(b)], b)


def test_train_encoder_command_runs_end_to_end(tmp_path, capsys) -> None:
    """`lobzero train-encoder` on the synthetic market: a progress bar per epoch, the
    checkpoint, the metrics JSON with encoder and baselines on validation, test and new data,
    the figures; load_encoder reads it."""
    from lobzero.cli import main

    new = synth_market(seconds=100, seed=9)
    new_path = new.save(tmp_path / "later.parquet")
    save = tmp_path / "run" / "encoder.pt"
    code = main(
        [
            "train-encoder",
            "--synth-seconds",
            "150",
            "--epochs",
            "2",
            "--window",
            "5",
            "--horizons",
            "3,6",
            "--levels",
            "3",
            "--width",
            "4",
            "--hidden",
            "8",
            "--step-ms",
            "200",
            "--torch-threads",
            "1",
            "--save-path",
            str(save),
            "--test-data",
            str(new_path),
        ]
    )
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out
    assert "does NOT beat" in out or "beats" in out
    # a progress bar per epoch (off a terminal: its line at the epoch's end, with the
    # validation loss), on stderr
    for epoch in (1, 2):
        assert f"epoch {epoch}/2: " in captured.err and f"epoch {epoch} loss " in captured.err
    assert " val " in captured.err
    metrics = json.loads((save.parent / "metrics.json").read_text())
    assert set(metrics["scores"]) == {"validation", "test", "new:later"}
    assert set(metrics["scores"]["test"]) == {"encoder", "logistic", "majority", "chance"}
    h3 = metrics["scores"]["test"]["encoder"]["signal"]["3"]
    assert set(h3) >= {"accuracy", "macro_f1", "f1", "confusion"}
    for name in ("learning_curves.png", "confusion_test.png", "confusion_new:later.png"):
        assert (save.parent / name).stat().st_size > 1000
    assert load_encoder(save).config.horizons == (3, 6)
    import lobzero

    assert lobzero.load_encoder is load_encoder


def test_bad_settings_are_config_errors() -> None:
    from lobzero import ConfigError

    with pytest.raises(ConfigError, match="val_split"):
        EncoderConfig(val_split=1.0)
    with pytest.raises(ConfigError, match="horizons"):
        EncoderConfig(horizons=())
    with pytest.raises(ConfigError, match="decisions"):
        build_dataset(synth_market(seconds=5, seed=1), EncoderConfig(step_ms=1000))


def test_class_weights_balance_the_training_labels() -> None:
    """Inverse frequency, mean 1 over the labels, 0 for an absent class (a weight from the
    wrong axis or an unnormalised count would break one of these)."""
    from lobzero.encoder.train import class_weights

    w = class_weights(np.array([[0, 2], [0, 2], [0, 1], [1, 1]]))
    np.testing.assert_allclose(w[0], [4 / 6, 2.0, 0.0])
    np.testing.assert_allclose(w[1], [0.0, 1.0, 1.0])
    np.testing.assert_allclose(class_weights(np.array([0, 0, 2])), [0.75, 0.0, 1.5])


def test_the_monitored_loss_picks_the_epoch(tiny) -> None:
    """With ``monitor = "signal"`` the kept epoch is the one of the lowest validation signal
    loss, whatever the total (a monitor that was ignored would pick the total's best)."""
    _, data = tiny
    config = TINY.replace(epochs=4, patience=4, monitor="signal")
    result = fit(build_model(config, 3), data, config)
    losses = [r["val_signal_loss"] for r in result.history]
    assert result.best_epoch == 1 + int(np.argmin(losses))
    assert result.best_val_loss == min(losses)
