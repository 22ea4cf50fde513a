"""Issue 37's cuts of the step's fixed costs compute what they replaced: the same random numbers,
the same CUDA answer, the same weights."""

import os
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import QUIET, bare

from gan_lab import hardware
from gan_lab.core.noise import Noise, Normal
from gan_lab.core.step import toggled
from gan_lab.training.train import build, make_trainer


@pytest.mark.parametrize("mean,std", [(0.0, 1.0), (0.5, 2.0), (-1.0, 0.3), (2, 1)])
@pytest.mark.parametrize("n,dim", [(1, 3), (16, 64), (17, 33)])
def test_normal_noise_draws_the_numbers_its_distribution_draws(mean, std, n, dim):
    noise = Normal(mean, std)
    torch.manual_seed(3)
    from_distribution = Noise.sample(noise, n, dim)  # torch.distributions.Normal(...).sample
    torch.manual_seed(3)
    fast = noise.sample(n, dim)
    assert fast.shape == (n, dim) and fast.dtype == torch.float32
    assert torch.equal(fast, from_distribution)


def test_an_absent_nvml_is_not_asked_for_again(monkeypatch):
    """Lightning's NVML-based CUDA check tries to load NVML in every optimiser step; where it
    cannot be loaded the runtime's count is asked directly (what torch falls back to)."""
    if not torch.backends.cuda.is_built():
        pytest.skip("a torch without CUDA never asks NVML")
    monkeypatch.setenv(hardware.NVML_CHECK, "1")
    monkeypatch.setattr(hardware, "NVML_LIBRARY", "libgan-lab-no-such-library.so.1")
    before = torch.cuda.is_available()
    assert hardware.skip_absent_nvml() is True
    assert os.environ[hardware.NVML_CHECK] == "0"
    assert torch.cuda.is_available() == before
    assert hardware.skip_absent_nvml() is False  # already asked directly: nothing to change


def test_a_loadable_nvml_keeps_lightnings_check(monkeypatch):
    if not torch.backends.cuda.is_built():
        pytest.skip("a torch without CUDA never asks NVML")
    monkeypatch.setenv(hardware.NVML_CHECK, "1")
    monkeypatch.setattr(hardware.ctypes, "CDLL", lambda name: object())  # NVML loads
    assert hardware.skip_absent_nvml() is False
    assert os.environ[hardware.NVML_CHECK] == "1"


class CountsBackward(L.Callback):
    """A user's callback on the backward pass: the phases must go through Lightning for it."""

    def __init__(self):
        self.calls = 0

    def on_after_backward(self, trainer, pl_module):
        self.calls += 1


def test_direct_updates_train_what_lightnings_wrappers_train(cfg_factory):
    """One device, no scaler, no hook on the backward pass: a phase skips manual_backward and
    LightningOptimizer.step, and the run ends with the same weights and the same global_step as
    through Lightning's wrappers (forced here by a callback with on_after_backward)."""
    steps = 4
    runs = {}
    for name, callbacks in (("direct", []), ("wrapped", [CountsBackward()])):
        cfg = cfg_factory("trainer.max_epochs=1", f"trainer.limit_train_batches={steps}", *QUIET)
        cfg = bare(cfg)
        module, dm = build(cfg)
        if name == "direct":
            start = [p.detach().clone() for p in module.parameters()]
        trainer = make_trainer(cfg, enable_checkpointing=False, callbacks=callbacks)
        trainer.fit(module, datamodule=dm)
        runs[name] = module, trainer, callbacks
    (direct, t_direct, _), (wrapped, t_wrapped, [hook]) = runs["direct"], runs["wrapped"]
    assert direct._direct is True and wrapped._direct is False
    assert hook.calls == 2 * steps  # the user's hook ran on every D and G phase
    assert t_direct.global_step == t_wrapped.global_step == 2 * steps  # both optimisers counted
    for a, b in zip(direct.state_dict().values(), wrapped.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert not all(torch.equal(a, p) for a, p in zip(start, direct.parameters(), strict=True))


@pytest.mark.parametrize("freeze", ["", "model.freeze_d=1", "model.freeze_g=1"])
def test_a_phase_freezes_and_gives_back_what_lightnings_toggled_optimizer_does(cfg_factory, freeze):
    """core.step.toggled, found once an epoch, against Lightning's toggled_optimizer (a dict of
    every weight at each call): the same requires_grad inside each phase and after it, frozen
    blocks (no optimiser holds them) untouched."""
    cfg = bare(
        cfg_factory(
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=1",
            *QUIET,
            *[freeze][: bool(freeze)],
        )
    )
    module, dm = build(cfg)
    make_trainer(cfg, enable_checkpointing=False).fit(module, datamodule=dm)
    params = list(module.parameters())
    before = [p.requires_grad for p in params]
    if freeze:
        assert not all(before)  # the frozen block's weights take no gradients
    opts = dict(zip(("D", "G"), module.optimizers(), strict=True))
    phase = toggled({name: opt.optimizer for name, opt in opts.items()})
    for name in ("D", "G"):
        with module.toggled_optimizer(opts[name]):
            lightning = [p.requires_grad for p in params]
        with phase(name):
            ours = [p.requires_grad for p in params]
        assert ours == lightning and ours != before
        assert [p.requires_grad for p in params] == before


def test_lightnings_per_batch_questions_get_the_same_answers(cfg_factory):
    """module_parts.QuickHooks: the hook name Lightning sets at every call is a plain attribute,
    anything else still goes through nn.Module (a parameter registers), and inspect reads
    training_step's parameters as before."""
    import inspect

    from lightning.pytorch.utilities.signature_utils import is_param_in_hook_signature

    module, _ = build(bare(cfg_factory(*QUIET)))
    module._current_fx_name = "training_step"
    assert module._current_fx_name == "training_step" and "_current_fx_name" in vars(module)
    module.extra = torch.nn.Parameter(torch.zeros(2))
    assert any(p is module.extra for p in module.parameters())
    assert inspect.getfullargspec(module.training_step).args == ["self", "batch", "batch_idx"]
    assert is_param_in_hook_signature(module.training_step, "batch_idx", min_args=2)
    assert not is_param_in_hook_signature(module.training_step, "dataloader_iter", explicit=True)


def test_the_ema_updates_as_averaged_model_does_bit_for_bit():
    """gan_lab.core.ema.Averaged finds its tensors once; every update (the first copy, the
    averages of weights and BatchNorm statistics, the batch counter) equals AveragedModel's, also
    after the networks move to another memory format and the EMA forgets its lists."""
    from functools import partial

    from torch.optim.swa_utils import AveragedModel

    from gan_lab.core.ema import HalfLife, _average, make_ema

    torch.manual_seed(0)
    g = torch.nn.Sequential(
        torch.nn.ConvTranspose2d(4, 3, 3), torch.nn.BatchNorm2d(3), torch.nn.Conv2d(3, 2, 1)
    )
    rule = HalfLife(100, 0.05)
    ours = make_ema(g, rule)
    theirs = AveragedModel(g, multi_avg_fn=partial(_average, rule), use_buffers=True)
    for update in range(6):
        if update == 3:  # a move: new buffer tensors (fast_path.apply does this at setup)
            for m in (g, ours, theirs):
                m.to(memory_format=torch.channels_last)
            ours.forget()
        g(torch.randn(5, 4, 6, 6))  # BatchNorm's running statistics and batch count move
        with torch.no_grad():
            for p in g.parameters():
                p.add_(torch.randn_like(p))
        ours.update_parameters(g)
        theirs.update_parameters(g)
        for a, b in zip(ours.state_dict().values(), theirs.state_dict().values(), strict=True):
            assert torch.equal(a, b)
    assert int(ours.n_averaged) == 6
    live = dict(g.named_buffers())["1.num_batches_tracked"]
    assert int(dict(ours.module.named_buffers())["1.num_batches_tracked"]) <= int(live)
    assert not torch.equal(ours.module[0].weight, g[0].weight)  # an average, not a copy


def test_the_step_values_reach_the_loggers_and_the_progress_bar(cfg_factory):
    """The module writes its step values to the loggers itself (training.loggers.log_step): the
    CSV logger's rows carry them at Lightning's step numbers, and the progress bar shows the last."""
    import csv

    cfg = cfg_factory(
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=4",
        "trainer.log_every_n_steps=2",
        "trainer.enable_progress_bar=true",
        "logger=csv",
    )
    module, dm = build(cfg)
    trainer = make_trainer(cfg, enable_checkpointing=False)
    trainer.fit(module, datamodule=dm)
    assert trainer.progress_bar_callback is not None  # Lightning's own
    assert float(trainer.logged_metrics["train/d_loss_step"]) > 0
    [path] = [p for p in Path(cfg.paths.output_dir).rglob("metrics.csv") if "csv" in p.parts]
    rows = [r for r in csv.DictReader(path.open()) if r.get("train/d_loss_step")]
    assert [int(r["step"]) for r in rows] == [1, 3]  # the 2nd and 4th batches, numbered from 0
    shown = trainer.progress_bar_callback.get_metrics(trainer, module)
    assert shown["train/d_loss_step"] == float(rows[-1]["train/d_loss_step"])
    assert {"train/g_loss_step", "train/d_real_step", "train/d_fake_step"} <= set(shown)


def test_a_callers_own_progress_bar_and_callbacks_see_the_step_values(cfg_factory):
    """The step values reach Lightning's progress-bar and callback metrics as self.log put them
    there: a progress bar the caller passes (any ProgressBar) shows them, and a callback or
    train()'s return finds them in trainer.callback_metrics."""
    from lightning.pytorch.callbacks import TQDMProgressBar

    cfg = cfg_factory(
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=4",
        "trainer.log_every_n_steps=2",
        "trainer.enable_progress_bar=true",
        "logger=none",
    )
    module, dm = build(bare(cfg))
    mine = TQDMProgressBar()
    trainer = make_trainer(cfg, callbacks=[mine], enable_checkpointing=False)
    trainer.fit(module, datamodule=dm)
    assert trainer.progress_bar_callback is mine
    shown = mine.get_metrics(trainer, module)
    names = {"train/d_loss_step", "train/g_loss_step", "train/d_real_step", "train/d_fake_step"}
    assert names <= set(shown)
    kept = trainer.callback_metrics
    assert names <= set(kept) and isinstance(kept["train/d_loss_step"], torch.Tensor)
    assert shown["train/d_loss_step"] == float(kept["train/d_loss_step"])
