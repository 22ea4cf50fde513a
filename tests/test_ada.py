"""Adaptive augmentation (gan_lab/core/ada.py, design §4.2): p follows the sign of
D's outputs on the reals, the ops apply with probability p, and p is logged, saved and resumed."""

import io

import pytest
import torch
from conftest import bare
from test_trust import assert_same_run
from torch import nn

from gan_lab.config.validate import check_config
from gan_lab.core import ada as ada_mod
from gan_lab.core.ada import P_MAX, AdaptiveAugment, auto_speed
from gan_lab.errors import UserError
from gan_lab.report.plots import training_curves
from gan_lab.runs.files import read_rows
from gan_lab.runs.keys import ADA_P
from gan_lab.runs.layout import METRICS_CSV, REPORT
from gan_lab.training.train import build, make_trainer, train

ADA = ["model.ada.enabled=true", "trainer.fast_path=off"]


def test_p_moves_by_the_images_seen_towards_the_target():
    aug = AdaptiveAugment(["translation"], target=0.6, speed_images=1000, interval=4)
    aug.observe(torch.tensor([5.0, 5.0, 5.0, -5.0]))  # r_t = 0.5 < 0.6: p stays at 0
    aug.adjust(100)
    assert aug.p.item() == 0.0
    for _ in range(3):  # r_t = 1 > 0.6: +100 / 1000 each time
        aug.observe(torch.full((8,), 5.0))
        aug.adjust(100)
    assert aug.p.item() == pytest.approx(0.3)
    aug.observe(torch.full((8,), -5.0))  # D no longer tells the reals: p falls
    aug.adjust(100)
    assert aug.p.item() == pytest.approx(0.2)
    for _ in range(20):
        aug.observe(torch.full((8,), 5.0))
        aug.adjust(100)
    assert aug.p.item() == pytest.approx(P_MAX)  # clamped below 1
    assert aug.signs.tolist() == [0.0, 0.0]  # each adjustment starts a new window


def test_ops_apply_with_probability_p_and_stay_differentiable():
    torch.manual_seed(0)
    aug = AdaptiveAugment(["translation", "color", "cutout"], 0.6, 1000, 4)
    x = torch.rand(64, 3, 16, 16, requires_grad=True)
    assert torch.equal(aug(x), x)  # p = 0: D sees the images as they are
    aug.p.fill_(P_MAX)
    y = aug(x)
    changed = (y - x).flatten(1).abs().amax(1) > 0
    assert changed.float().mean() > 0.9
    (g,) = torch.autograd.grad(y.sum(), x)
    assert g.abs().sum() > 0
    assert auto_speed(300) == 30_000 and auto_speed(10) == 20_000 and auto_speed(10**6) == 500_000


def test_p_stays_0_and_no_op_runs_until_the_warm_up_is_over():
    """start_images=auto: 100 passes over the set before p may move (a short run on thousands of
    images keeps D's view untouched and pays nothing for the ops)."""
    aug = AdaptiveAugment(["translation"], 0.6, 1000, 4, start_images="auto")
    aug.resolve(num_images=10)  # 1,000 images of warm-up
    x = torch.rand(4, 3, 8, 8)
    for _ in range(9):  # D far ahead on the reals, but only 900 images seen
        aug.observe(torch.full((8,), 5.0))
        aug.adjust(100)
    assert aug.p.item() == 0.0 and int(aug.seen) == 900 and aug(x) is x
    aug.adjust(100)  # 1,000: warmed up; from now on p follows r_t
    aug.observe(torch.full((8,), 5.0))
    aug.adjust(100)
    assert aug.p.item() == pytest.approx(0.1)
    again = AdaptiveAugment(["translation"], 0.6, 1000, 4, start_images=1000)
    again.load_state_dict(aug.state_dict())  # a resume knows the warm-up is over
    assert again.warmed_up() and again.p.item() == pytest.approx(0.1)


class ConstantD(nn.Module):
    """D's parameters and structure, but a fixed score for every image."""

    def __init__(self, d: nn.Module, score: float):
        super().__init__()
        self.d, self.score = d, score

    def forward(self, x, y=None, classes=False):
        return self.d(x, y) * 0 + self.score


@pytest.mark.parametrize("score, rises", [(5.0, True), (-5.0, False)])
def test_p_rises_while_d_is_sure_of_the_reals_and_stays_0_otherwise(cfg_factory, score, rises):
    cfg = bare(
        cfg_factory(
            *ADA,
            "model.ada.speed_images=1000",
            "model.ada.start_images=0",
            "model.ada.interval=1",
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=3",
        )
    )
    module, dm = build(cfg)
    module.discriminator = ConstantD(module.discriminator, score)
    make_trainer(cfg, enable_checkpointing=False).fit(module, datamodule=dm)
    # 3 adjustments of 32 images each at speed 1000
    assert module.ada.p.item() == pytest.approx(0.096 if rises else 0.0)


def test_ada_and_diffaug_together_are_refused(cfg_factory):
    cfg = cfg_factory("model.ada.enabled=true", "model.diffaug=[color]")
    with pytest.raises(UserError, match="Choose one"):
        check_config(cfg)


def test_p_is_logged_saved_and_resumed_bit_exactly(cfg_factory, tmp_path, monkeypatch):
    # A D always sure of the reals, as far as ADA is told: p rises every adjustment.
    observe = AdaptiveAugment.observe
    monkeypatch.setattr(ada_mod.AdaptiveAugment, "observe", lambda s, lg: observe(s, lg.abs() + 1))
    args = [
        *ADA,
        "logger=none",
        "callbacks.samples.gif=false",  # the report stays: it shows p
        "model.ada.speed_images=1000",
        "model.ada.start_images=0",
        "model.ada.interval=3",  # the window spans the epochs' end: the sums must resume too
        "data.batch_size=8",
        "trainer.limit_train_batches=2",
        "trainer.deterministic=true",
    ]
    straight, split = tmp_path / "straight", tmp_path / "split"
    train(cfg_factory(*args, "trainer.max_epochs=2", out=straight))
    train(cfg_factory(*args, "trainer.max_epochs=1", out=split))
    last = f"ckpt_path={split}/checkpoints/last.ckpt"
    train(cfg_factory(*args, "trainer.max_epochs=2", last, out=split))
    assert_same_run(straight, split)  # state dicts (ada.p, ada.signs), CSVs, grids
    state = torch.load(straight / "checkpoints" / "last.ckpt", weights_only=True)["state_dict"]
    rows = read_rows(straight / METRICS_CSV)
    # batches of 8, one adjustment after batch 3 (+24 / 1000); batch 4 waits in the sums
    assert [float(r[ADA_P]) for r in rows] == pytest.approx([0.0, 0.024])
    assert state["ada.p"].item() == pytest.approx(0.024) and state["ada.signs"][1] > 0
    assert "augmentation probability p (ADA)" in (straight / REPORT).read_text()


def test_the_training_curves_get_a_panel_for_p_only_when_it_was_logged():
    import numpy as np
    from PIL import Image

    def brown_pixels(png: bytes) -> int:  # p's curve is drawn in tab:brown, nothing else is
        rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
        return int((np.abs(rgb - [140, 86, 75]).sum(-1) < 30).sum())

    rows = [{"epoch": e, "step": 4 * e, "train/d_loss": 1.0, "train/g_loss": 1.0} for e in (1, 2)]
    assert brown_pixels(training_curves(rows, [], [])) == 0
    for r, p in zip(rows, (0.0, 0.1), strict=True):
        r[ADA_P] = p
    assert brown_pixels(training_curves(rows, [], [])) > 50
