"""TensorBoard as users read it: grids, warnings and scalars on one x-axis, the HParams tab, and
Lightning's own GAN.load_from_checkpoint; and gan-lab sample's progress bar, on the same run."""

from types import SimpleNamespace
from unittest.mock import Mock

import pytest
import torch
from conftest import TINY, make_cfg
from lightning.pytorch.loggers import CSVLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from gan_lab import progress
from gan_lab.callbacks import HParams
from gan_lab.errors import UserError
from gan_lab.training.checkpoint import load_gan
from gan_lab.training.module import GAN
from gan_lab.training.sampling import sample
from gan_lab.training.train import train

# 2 epochs of 2 batches; fp32 and the plain path, the quickest on any CPU for so few steps.
SHORT = [
    "trainer.max_epochs=2",
    "data.num_images=64",
    "trainer.precision=32-true",
    "trainer.fast_path=off",
]
# "D wins" by these thresholds at once: one warning, at the end of epoch 1.
WARN_AT_ONCE = [
    "callbacks.balance.patience=1",
    "callbacks.balance.d_real_above=0",
    "callbacks.balance.d_fake_below=1",
]


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("tensorboard") / "run"
    train(make_cfg(out, [*TINY, *SHORT, *WARN_AT_ONCE]))
    events = EventAccumulator(str(out / "tensorboard"), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    return out, events


def test_grids_and_warnings_sit_at_the_scalars_steps(short_run):
    _, events = short_run
    scalar_steps = {e.step for tag in events.Tags()["scalars"] for e in events.Scalars(tag)}
    epoch_ends = [e.step for e in events.Scalars("train/d_loss_epoch")]
    assert epoch_ends == [1, 3]  # batches 2 and 4 of 4: Lightning counts batches, not optimisers
    grids = [e.step for e in events.Images("samples/fixed_noise")]
    assert grids == [0, *epoch_ends]  # the untrained G, then each epoch's grid beside its means
    assert grids[-1] == max(scalar_steps)
    texts = [t for t in events.Tags()["tensors"] if t.startswith("warnings/d_wins")]
    assert [e.step for e in events.Tensors(texts[0])] == epoch_ends[:1]


def test_hparams_tab_holds_the_settings_and_the_final_metrics(short_run):
    out, events = short_run
    content = events.PluginTagToContent("hparams")
    start = HParamsPluginData.FromString(content["_hparams_/session_start_info"])
    hparams = start.session_start_info.hparams
    assert hparams["model/lr_d"].number_value == pytest.approx(2e-4)
    assert hparams["model/loss"].string_value == "hinge"
    assert hparams["data/batch_size"].number_value == 32
    assert hparams["trainer/max_epochs"].number_value == 2
    assert hparams["noise/class"].string_value == "Normal"
    assert hparams["seed"].number_value == 0
    assert not any(name.startswith(("paths/", "callbacks/", "logger/")) for name in hparams)
    experiment = HParamsPluginData.FromString(content["_hparams_/experiment"]).experiment
    tags = {m.name.tag for m in experiment.metric_infos}
    assert {"final/train/d_loss", "final/train/g_loss", "final/train/diversity"} <= tags
    (final,) = events.Scalars("final/train/d_loss")
    (last,) = events.Scalars("train/d_loss_epoch")[-1:]
    assert (final.step, final.value) == (last.step, last.value)
    assert "run_config" in (out / "tensorboard" / "hparams.yaml").read_text()


def test_lightning_load_from_checkpoint_rebuilds_the_networks(short_run):
    out, _ = short_run
    path = out / "checkpoints" / "last.ckpt"
    module = GAN.load_from_checkpoint(path, map_location="cpu")
    stored = load_gan(path)  # gan-lab's own loader: the shown (EMA) generator
    assert module.hparams.lr_g == pytest.approx(2e-4) and torch.equal(
        module.fixed_z, stored.fixed_z
    )
    assert torch.equal(module.generate(stored.fixed_z), stored.generator(stored.fixed_z))
    live = {
        k[len("generator.") :]: v
        for k, v in stored.state_dict.items()
        if k.startswith("generator.")
    }
    assert all(torch.equal(module.generator.state_dict()[k], v) for k, v in live.items())
    with pytest.raises(UserError, match="needs a generator or a run_config"):
        GAN(**{**module.hparams, "run_config": None})


def _epoch_end(cb: HParams, **values: float) -> None:
    metrics = {k.replace("__", "/"): torch.tensor(v) for k, v in values.items()}
    cb.on_train_epoch_end(SimpleNamespace(callback_metrics=metrics), None)


def test_best_scores_skip_nan_and_survive_a_resume():
    cb = HParams()
    _epoch_end(cb, val__fid=5.0, val__is=1.0, val__is_std=9.0, train__d_loss_epoch=0.1)
    _epoch_end(cb, val__fid=3.0, val__is=2.0)
    _epoch_end(cb, val__fid=float("nan"), val__is=1.5)
    resumed = HParams()
    resumed.load_state_dict(cb.state_dict())
    _epoch_end(resumed, val__fid=4.0, val__is=1.5)
    assert resumed.best == {"val/fid": 3.0, "val/is": 2.0}  # FID lower, IS higher is better
    trainer = SimpleNamespace(callback_metrics={"val/fid": torch.tensor(4.0)})
    assert resumed.final_metrics(trainer) == {
        "final/val/fid": 4.0,
        "best/val/fid": 3.0,
        "best/val/is": 2.0,
    }


def test_without_a_tensorboard_logger_the_final_metrics_are_scalars(monkeypatch):
    """A logger without an HParams tab (CSV, MLflow, wandb) got the settings at the start."""
    other = Mock(spec=CSVLogger)
    trainer = SimpleNamespace(loggers=[other], callback_metrics={"val/fid": torch.tensor(1.0)})
    monkeypatch.setattr("gan_lab.callbacks.hparams.logged_step", lambda trainer: 7)
    HParams().on_train_end(trainer, SimpleNamespace(run_config={}))
    other.log_hyperparams.assert_not_called()
    other.log_metrics.assert_called_once_with({"final/val/fid": 1.0}, step=7)


def test_sampling_counts_its_batches(short_run, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0)  # the real delay hides work this short
    out, _ = short_run
    files = sample(str(out / "checkpoints" / "last.ckpt"), 5, tmp_path, batch_size=2)
    assert len(files) == 5
    err = capsys.readouterr().err
    assert f"sampling {tmp_path}" in err and "3/3" in err
