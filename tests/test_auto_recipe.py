"""recipe=auto (gan_lab/training/recipe.py): what it chooses for a set, and that a key the user sets wins."""

import pytest
import torch
from conftest import make_cfg
from omegaconf import OmegaConf

from gan_lab.config.validate import check_config
from gan_lab.core.ema import HalfLife
from gan_lab.models import Discriminator, Generator
from gan_lab.training import budget_rule, recipe


def resolved(tmp_path, *overrides, images=1797, size=None):
    cfg = make_cfg(tmp_path / "run", list(overrides))
    made = recipe.resolve_before_data(cfg)
    made |= recipe.resolve(cfg, images, size or int(cfg.data.image_size))
    return cfg, made


def build_pair(cfg):
    g = OmegaConf.to_container(cfg.generator, resolve=True)
    d = OmegaConf.to_container(cfg.discriminator, resolve=True)
    g.pop("_target_"), d.pop("_target_")
    return Generator(**g), Discriminator(**d)


def test_the_builtin_main_job_keeps_its_fixed_recipe(tmp_path):
    """python train.py: the fast pair and the model preset's values, as before recipe=auto."""
    cfg, made = resolved(tmp_path, images=2048)
    fixed = make_cfg(tmp_path / "fixed", ["generator=fast", "discriminator=fast"])
    for node in ("generator", "discriminator"):
        assert OmegaConf.to_container(cfg[node]) == OmegaConf.to_container(fixed[node])
    assert cfg.model.betas_g == [0.5, 0.999] and cfg.model.ema == 0.999
    assert cfg.model.ada.enabled is False and cfg.data.batch_size == 64
    assert all(why for _, why in made.values())  # every choice says why
    assert not recipe.left_at_auto(cfg)


@pytest.mark.parametrize(
    ("size", "g_widths", "d_widths"),
    [(28, [128, 64], [64, 128]), (64, [256, 128, 64, 32], [32, 64, 128, 256])],
)
def test_a_folder_gets_the_plain_loops_networks_sized_for_its_resolution(
    tmp_path, size, g_widths, d_widths
):
    cfg, made = resolved(tmp_path, "data=folder", f"data.image_size={size}", "data.channels=1")
    assert [cfg.generator.project_channels, *cfg.generator.channels] == g_widths
    assert list(cfg.discriminator.channels) == d_widths
    assert cfg.generator.upsample == "transposed" and cfg.discriminator.spectral_norm is True
    assert cfg.model.betas_d == [0.0, 0.99] and cfg.model.ema == recipe.HALF_LIFE
    # the default budget (30 epochs: 840 steps of batch 64) is short: batch 16, faster rates
    assert cfg.data.batch_size == 16 and (cfg.model.lr_g, cfg.model.lr_d) == (4e-4, 5e-4)
    assert cfg.model.ada.enabled is True and cfg.model.ema_images == 5_000  # batch 16
    assert cfg.data.augment.flip is False and cfg.data.augment.rotate == 0.0  # ADA instead
    assert not recipe.left_at_auto(cfg)
    check_config(cfg)
    g, d = build_pair(cfg)
    images = g(torch.randn(3, g.latent_dim))
    assert images.shape == (3, 1, size, size)
    assert d(images).shape == (3,)
    why = made["data.batch_size"][1]  # each choice says why
    assert "~840 steps at batch 64, fewer than 50,000: batch 16 makes ~3,360 updates" in why


def test_the_batch_follows_the_size_of_the_set(tmp_path):
    long = "trainer.max_epochs=100000"  # a budget long enough for batch 64 at every size
    sizes = {
        n: resolved(tmp_path, "data=folder", long, images=n)[0].data.batch_size
        for n in (200, 300, 5000)
    }
    assert sizes == {200: 16, 300: 32, 5000: 64}
    why = resolved(tmp_path, "data=folder", long, images=300)[1]["data.batch_size"][1]
    assert why.endswith("300 images cap it at 32")


def test_the_epochs_asked_for_choose_the_batch_and_the_rates(tmp_path):
    """1,797 images: 28 steps of batch 64 an epoch. 1,785 epochs are 49,980 steps (short: batch
    16 and the tune study's rates); 1,786 are 50,008 (batch 64, the plain loop's 2e-4)."""
    short, made = resolved(tmp_path, "data=folder", "trainer.max_epochs=1785")
    assert short.data.batch_size == 16 and (short.model.lr_g, short.model.lr_d) == (4e-4, 5e-4)
    assert "~199,920 updates" in made["data.batch_size"][1]  # 1,785 × 112 steps of batch 16
    assert "short budget" in made["model.lr_g"][1]
    long, _ = resolved(tmp_path, "data=folder", "trainer.max_epochs=1786")
    assert long.data.batch_size == 64 and (long.model.lr_g, long.model.lr_d) == (2e-4, 2e-4)
    # limit_train_batches caps the steps of an epoch: 5 × 1,786 steps of either batch
    capped, made = resolved(
        tmp_path, "data=folder", "trainer.max_epochs=1786", "trainer.limit_train_batches=5"
    )
    assert capped.data.batch_size == 16 and "~8,930 updates" in made["data.batch_size"][1]


def test_max_time_counts_steps_at_the_step_times_timed_here(tmp_path, monkeypatch):
    """Ten minutes: at 300 ms a step of batch 64 that is 2,000 steps (short); at 10 ms, 60,000."""
    timings = []

    def timed(cfg, size, batches, device):
        timings.append(batches)
        return {b: {64: per_step, 16: per_step / 3}[b] for b in batches}

    monkeypatch.setattr(budget_rule, "step_seconds", timed)
    args = ["data=folder", "trainer.max_epochs=100000", "+trainer.max_time=00:00:10:00"]
    per_step = 0.3
    cfg, made = resolved(tmp_path, *args)
    assert cfg.data.batch_size == 16 and cfg.model.lr_g == 4e-4
    assert "max_time 600 s" in made["data.batch_size"][1]
    assert "100 ms at batch 16; batch 64 not timed" in made["data.batch_size"][1]  # 6,000 steps
    assert "~6,000 updates" in made["data.batch_size"][1]
    per_step = 0.01
    cfg, _ = resolved(tmp_path, *args)
    assert cfg.data.batch_size == 64 and cfg.model.lr_g == 2e-4
    assert timings == [(16,), (16,), (64,)]  # batch 16 first; 64 only when it can reach 50,000
    # DDP ranks would time (and choose) apart: not timed, the epochs decide
    cfg, made = resolved(tmp_path, *args, "trainer.devices=2")
    assert len(timings) == 3 and cfg.data.batch_size == 64
    assert "not timed: the DDP ranks must agree" in made["data.batch_size"][1]
    assert "at most ~" in made["data.batch_size"][1]  # max_time can only lower the counts


def test_the_step_is_timed_on_the_chosen_networks_without_touching_the_runs_randomness(
    tmp_path,
):
    cfg, _ = resolved(tmp_path, "data=folder", "data.image_size=32", "data.channels=1")
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    times = budget_rule.step_seconds(cfg, 32, (8, 2), torch.device("cpu"))
    assert torch.equal(torch.rand(3), expected)  # the streams are as they were
    assert set(times) == {8, 2} and all(0 < t < 30 for t in times.values())


def test_a_batch_or_a_rate_the_user_sets_is_kept(tmp_path):
    cfg, made = resolved(tmp_path, "data=folder", "data.batch_size=16")
    assert (cfg.model.lr_g, cfg.model.lr_d) == (2e-4, 2e-4)  # the rates of a set batch: plain
    assert "the batch is set" in made["model.lr_g"][1]
    cfg, made = resolved(tmp_path, "data=folder", "model.lr_g=1e-3")
    assert cfg.data.batch_size == 16 and (cfg.model.lr_g, cfg.model.lr_d) == (1e-3, 5e-4)
    assert "model.lr_g" not in made
    cfg, _ = resolved(tmp_path, "data=folder", "recipe=fixed")
    assert (cfg.model.lr_g, cfg.model.lr_d) == (2e-4, 2e-4)


def test_every_key_the_user_sets_is_kept(tmp_path):
    cfg, made = resolved(
        tmp_path,
        "data=folder",
        "data.batch_size=8",
        "data.augment.flip=true",
        "generator.channels=[96,48,24]",
        "model.ema=0.99",
        "model.ada.enabled=false",
    )
    assert cfg.data.batch_size == 8 and cfg.data.augment.flip is True
    assert list(cfg.generator.channels) == [96, 48, 24] and cfg.model.ema == 0.99
    assert cfg.model.ada.enabled is False
    assert not {"data.batch_size", "generator.channels", "model.ema", "model.ada.enabled"} & set(
        made
    )
    assert cfg.generator.project_channels == 256  # what was not set is still chosen


def test_another_preset_and_recipe_fixed_choose_nothing_of_theirs(tmp_path):
    cfg, _ = resolved(tmp_path, "data=folder", "generator=upsample")
    assert cfg.generator.upsample == "nearest"  # the preset's whole node, not the DCGAN G
    cfg, _ = resolved(tmp_path, "data=folder", "recipe=fixed")
    assert cfg.data.batch_size == 8 and cfg.data.augment.flip is True  # 003's folder defaults
    assert cfg.model.betas_g == [0.5, 0.999] and cfg.model.ada.enabled is False
    cfg, _ = resolved(tmp_path, "data=folder", "experiment=small_data")
    assert cfg.data.batch_size == 8 and cfg.model.ema == 0.999 and cfg.model.ada.enabled is False


def test_a_conditional_folder_run_gets_class_batchnorm_and_the_class_loss(tmp_path):
    cfg, _ = resolved(tmp_path, "data=folder", "model.conditional=true")
    assert cfg.generator.conditioning == "batchnorm" and cfg.model.class_loss == 1.0


def test_the_ema_half_life_ramps_up_with_the_images_seen():
    rule = HalfLife(images=20_000, rampup=0.05)
    rule.images_per_update = 64
    early, late = rule(10), rule(100_000)
    # After 11 updates (704 images) the half-life is 5 % of them: the average follows quickly.
    assert early == pytest.approx(0.5 ** (64 / (11 * 64 * 0.05)))
    assert late == pytest.approx(0.5 ** (64 / 20_000))  # then the full half-life
    assert early < late < 1


def test_a_folder_run_says_what_auto_chose_and_resumes_with_it(tmp_path, caplog):
    """The log line, run.json and the report name the choices; the checkpoint holds the values,
    so a resume trains the same networks without choosing again."""
    import json

    from test_data import write_mixed_folder

    from gan_lab.training.checkpoint import read_checkpoint
    from gan_lab.training.train import train

    write_mixed_folder(tmp_path / "pictures")
    args = [
        "data=folder",
        f"data.root={tmp_path / 'pictures'}",
        "data.audit.max_skipped_share=1",
        "data.image_size=32",
        "trainer.max_epochs=1",
    ]
    with caplog.at_level("INFO", logger="gan_lab.training.train"):
        train(make_cfg(tmp_path / "run", ["debug=tiny", *args]))
    said = [r.getMessage() for r in caplog.records if "recipe=auto for" in r.getMessage()]
    # debug=tiny sets the batch (32): kept, not chosen
    assert len(said) == 1 and "batch 32" in said[0] and "ADA on" in said[0]
    assert "32 px, 1 epoch: G" in said[0]  # the budget as set
    chosen = json.loads((tmp_path / "run" / "run.json").read_text())["config"]["chosen"]
    assert "data.batch_size" not in chosen and chosen["model.ada.enabled"]["value"] is True
    assert chosen["model.ema"] == {"value": "half_life", "why": chosen["model.ema"]["why"]}
    assert "recipe=auto chose" in (tmp_path / "run" / "report.html").read_text()
    stored = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.ckpt")["gan_lab"]["config"]
    assert not recipe.left_at_auto(stored) and stored["generator"]["channels"] == [128, 64]


def test_the_log_line_names_every_limit_that_is_set():
    limits = {"max_epochs": 100000, "max_steps": 3000, "max_time": None}
    cfg = OmegaConf.create({"trainer": limits})
    assert recipe.budget(cfg) == "100000 epochs or max_steps 3000"
    cfg.trainer.max_time, cfg.trainer.max_steps = "00:00:03:00", -1
    assert recipe.budget(cfg) == "100000 epochs or max_time 00:00:03:00"
    # a trainer section without the keys (as before this line named them): no error
    assert recipe.budget(OmegaConf.create({"trainer": {"max_epochs": 1}})) == "1 epoch"


def test_a_fine_tune_starts_ada_at_once_and_a_run_from_nothing_waits(tmp_path):
    # init= only needs to be set here: resolve reads the key, not the source (finetune.py does)
    # (data.channels: what init= takes from the source before resolve, in a real run)
    tuned, made = resolved(tmp_path, "data=folder", "data.channels=1", "init=/some/run", images=50)
    assert tuned.model.ada.start_images == 0
    assert made["model.ada.start_images"][1] == recipe.FINE_TUNE_ADA_WHY
    fresh, _ = resolved(tmp_path, "data=folder", images=50)
    assert fresh.model.ada.start_images == "auto"  # 100 passes (gan_lab/core/ada.py)
    kept, _ = resolved(
        tmp_path, "data=folder", "data.channels=1", "init=/some/run", "model.ada.start_images=500"
    )
    assert kept.model.ada.start_images == 500


@pytest.mark.parametrize(
    ("args", "target", "why"),
    [
        (("init=/some/run",), 0.2, "init=: the source's D is sure of a few images"),
        ((), 0.6, "ADA's own"),
        (("init=/some/run", "model.ada.target=0.5"), 0.5, None),  # typed: kept, no reason
        (("recipe=fixed",), 0.6, "recipe=fixed"),
    ],
)
def test_adas_target_is_lower_for_a_fine_tune_only(tmp_path, args, target, why):
    """model.ada.target=auto: 0.2 for init= (the 64-px study: a fine-tune's D never passed 0.6
    and p stayed ~0 while G collapsed), ADA's 0.6 for everything else; a typed value is kept."""
    cfg, made = resolved(tmp_path, "data=folder", "data.channels=1", *args, images=50)
    assert cfg.model.ada.target == target
    if why is None:
        assert "model.ada.target" not in made
    else:
        assert made["model.ada.target"][1].startswith(why)


def test_a_fine_tune_freezes_ds_first_two_blocks_and_nothing_else_does(tmp_path):
    """model.freeze_d=auto: FreezeD's 2 blocks for init= under recipe=auto (the 64-px study),
    fewer for a shallow D so that a conv block and the head still train; 0 everywhere else."""
    tune = ("data=folder", "data.channels=1", "init=/some/run")
    tuned, made = resolved(tmp_path, *tune, images=50)  # 64 px: 4 conv blocks and the head
    assert tuned.model.freeze_d == 2 and "D's first 2 of 5 blocks" in made["model.freeze_d"][1]
    shallow, _ = resolved(tmp_path, *tune, "discriminator.channels=[32,64]", images=50)
    assert shallow.model.freeze_d == 1  # 2 conv blocks and the head: one kept, two train
    shallower, made = resolved(tmp_path, *tune, "discriminator.channels=[32]", images=50)
    assert shallower.model.freeze_d == 0 and "all train" in made["model.freeze_d"][1]
    assert resolved(tmp_path, *tune, "model.freeze_d=0", images=50)[0].model.freeze_d == 0
    assert resolved(tmp_path, "data=folder", images=50)[0].model.freeze_d == 0
    fixed, made = resolved(tmp_path, *tune, "recipe=fixed", images=50)
    assert fixed.model.freeze_d == 0 and made["model.freeze_d"][1] == "recipe=fixed"
    preset, _ = resolved(tmp_path, *tune, "model=dcgan", images=50)
    assert preset.model.freeze_d == 0  # a preset is the procedure as written


@pytest.mark.parametrize(
    ("args", "anchor", "why"),
    [
        (("init=/some/run",), 1e-3, "init=: G moves 0.1 % of the way back"),
        ((), 0.0, "a run from nothing"),
        (("init=/some/run", "model.anchor_g=0"), 0, None),  # typed: kept, no reason
        (("init=/some/run", "recipe=fixed"), 0.0, "recipe=fixed"),
        (("init=/some/run", "model=dcgan"), 0, None),  # a preset is the procedure as written
        (("init=/some/run", "model.ema=0"), 1e-3, "init=: G moves"),  # with or without an EMA
        (("init=/some/run", "data.image_size=32"), 0.0, "under 64 px"),  # it held G back there
        (("init=/some/run", "data.image_size=96"), 1e-3, "init=: G moves"),
        (("init=/some/run", "data.image_size=128"), 0.0, "128 px or more"),  # no gain there
    ],
)
def test_a_fine_tune_pulls_g_back_to_its_source_and_nothing_else_does(tmp_path, args, anchor, why):
    """model.anchor_g=auto: 0.001 for init= under recipe=auto from 64 px to under 128
    (the 64-px study: better on every seed than without it; at 32 px worse), 0 for everything
    else; a typed value is kept."""
    cfg, made = resolved(tmp_path, "data=folder", "data.channels=1", *args, images=50)
    assert cfg.model.anchor_g == anchor
    if why is None:
        assert "model.anchor_g" not in made
    else:
        assert made["model.anchor_g"][1].startswith(why)
