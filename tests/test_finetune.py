"""init=<run> (fine-tuning: a new run from another run's networks) and model.freeze_d / freeze_g
(FreezeD: the first blocks keep their weights)."""

import hashlib
import json
import logging
import pickle
import shutil
from pathlib import Path

import pytest
import torch
from conftest import QUIET, TINY, make_cfg
from torch import nn

from gan_lab.cli.args import as_typed
from gan_lab.errors import UserError
from gan_lab.models import Generator
from gan_lab.models.freeze import freeze_first
from gan_lab.runs import layout
from gan_lab.training import finetune
from gan_lab.training.train import build, train

# The source's widths differ from what recipe=auto picks for the built-in set (the fast pair's
# [64,32,16] / [64,128,256]): a fine-tuning run that kept them did not let auto replace them.
SOURCE_NETS = ["generator.channels=[32,16,8]", "discriminator.channels=[16,32,64]"]
# The fine-tuning run keeps run.json (callbacks.report) for its record; no other extras.
LEAN = ["logger=none", "callbacks.samples.gif=false", "callbacks.history.plot=false"]


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    """A 1-epoch tiny run with an EMA (the built-in set's recipe keeps one): the source."""
    out = tmp_path_factory.mktemp("source") / "src"
    train(make_cfg(out, [*TINY, *QUIET, *SOURCE_NETS, "trainer.max_epochs=1"]))
    return out


@pytest.fixture(scope="module")
def finetuned(source, tmp_path_factory) -> Path:
    """1 epoch from the source's networks (its run folder named), D's first 2 blocks frozen."""
    out = tmp_path_factory.mktemp("finetuned") / "ft"
    args = [f"init={source}", "model.freeze_d=2", "trainer.max_epochs=1"]
    train(make_cfg(out, [*TINY, *LEAN, *args]), overrides=args)
    return out


def _state(path: Path) -> dict:
    return torch.load(path, weights_only=True)["state_dict"]


def test_init_from_a_run_folder_starts_from_its_g_d_and_ema(source, tmp_path):
    module, _ = build(make_cfg(tmp_path / "new", [*TINY, *QUIET, f"init={source}"]))
    src = _state(layout.last_checkpoint(source))
    nets = ("generator.", "discriminator.", "generator_ema.module.")
    copied = {k: v for k, v in module.state_dict().items() if k.startswith(nets)}
    assert copied and all(torch.equal(v, src[k]) for k, v in copied.items())
    assert not torch.equal(src["generator.out.0.bias"], src["generator_ema.module.out.0.bias"])
    # the source's shape, not the one recipe=auto chooses for the built-in set
    assert list(module.run_config["generator"]["channels"]) == [32, 16, 8]
    assert list(module.run_config["discriminator"]["channels"]) == [16, 32, 64]
    assert module.run_config["init_source"]["epoch"] == 1


@pytest.mark.parametrize("how", ["restart", "keep"])
def test_init_ema_restarts_the_averages_ramp_or_keeps_the_sources_count(source, tmp_path, how):
    module, _ = build(
        make_cfg(tmp_path / how, [*TINY, *QUIET, f"init={source}", f"init_ema={how}"])
    )
    src = _state(layout.last_checkpoint(source))["generator_ema.n_averaged"]
    assert src > 0
    count = int(module.generator_ema.n_averaged)
    assert count == (0 if how == "restart" else int(src))


def test_a_finetuned_run_trains_and_records_its_source(source, finetuned):
    ckpt = layout.last_checkpoint(source)
    record = json.loads((finetuned / layout.RUN_INFO).read_text())["config"]["init_source"]
    assert record["path"] == str(ckpt.resolve())
    assert record["sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert (record["run"], record["epoch"], record["step"], record["ema"]) == ("src", 1, 4, True)
    assert layout.history(finetuned)[-1][0] == 1  # its own epochs, counted from 0
    page = (finetuned / layout.REPORT).read_text()
    assert "started from (init=)" in page and "first 2 blocks frozen" in page


def _stage_names(net: nn.Module) -> list[set[str]]:
    names = {id(p): n for n, p in net.named_parameters()}
    return [{names[id(p)] for m in stage for p in m.parameters()} for stage in net.stages()]


def test_freeze_d_keeps_the_first_blocks_bit_identical_and_trains_the_rest(source, finetuned):
    before, after = (
        _state(layout.last_checkpoint(source)),
        _state(layout.last_checkpoint(finetuned)),
    )
    module, _ = build(make_cfg(finetuned.parent / "probe", [*TINY, *QUIET, f"init={source}"]))
    stages = _stage_names(module.discriminator)
    assert len(stages) == 4  # 3 conv blocks and the head
    key = lambda n: f"discriminator.{n}"  # noqa: E731
    for stage in stages[:2]:
        assert all(torch.equal(before[key(n)], after[key(n)]) for n in stage)
    for stage in stages[2:]:
        assert any(not torch.equal(before[key(n)], after[key(n)]) for n in stage)
    assert not torch.equal(before["generator.out.0.weight"], after["generator.out.0.weight"])


PAIRS = [
    ("fast", "fast"),
    ("dcgan", "dcgan"),
    ("transposed", "reference"),
    ("upsample", "mnist"),
    ("mnist", "small32"),
    ("small32", "reference"),
]
CONDITIONAL = [
    "generator.num_classes=3",
    "discriminator.num_classes=3",
    "discriminator.class_head=true",
]


@pytest.mark.parametrize(
    "g, d, extra", [(g, d, []) for g, d in PAIRS] + [("fast", "fast", CONDITIONAL)]
)
def test_every_preset_lists_each_weight_in_one_block(g, d, extra, cfg_factory):
    """stages() (what freeze_d/freeze_g count) covers every parameter once, whatever the preset."""
    from gan_lab.config import registry
    from gan_lab.training import recipe

    cfg = cfg_factory(f"generator={g}", f"discriminator={d}", "recipe=fixed", *extra)
    recipe.resolve(cfg, 128, 32)
    for group in ("generator", "discriminator"):
        net = registry.build(group, cfg[group])
        listed = [id(p) for stage in net.stages() for m in stage for p in m.parameters()]
        assert sorted(listed) == sorted(id(p) for p in net.parameters())


def test_a_freeze_that_leaves_nothing_to_train_is_one_paragraph(cfg_factory, caplog):
    g = Generator(image_size=32, base_size=32, channels=[8, 8], start_size=8)
    assert len(g.stages()) == 4  # projection, 2 upsampling blocks, output layer
    with pytest.raises(UserError, match=r"model.freeze_g=4 .* has 4 blocks .* 0 to 3") as err:
        freeze_first(g, 4, "generator")
    assert "\n" not in str(err.value)
    with pytest.raises(UserError, match=r"model.freeze_d=4 .*4 blocks.* 0 to 3"):
        build(cfg_factory(*QUIET, "model.freeze_d=4"))
    assert "model.freeze_d=4 without init=: the frozen blocks keep their RANDOM" in caplog.text


@pytest.mark.parametrize(
    "typed, said",
    [
        (["data.image_size=64"], r"makes 32×32 images with 3 channels; this run's data is 64×64"),
        (["data.channels=1"], r"3 channels; this run's data is 32×32 with 1 channel\. Train at"),
    ],
)
def test_data_that_do_not_fit_the_source_are_one_paragraph(source, tmp_path, typed, said):
    args = [f"init={source}", *typed]
    with pytest.raises(UserError, match=said) as err:
        train(make_cfg(tmp_path / "run", [*TINY, *QUIET, *args]), overrides=args)
    assert "\n" not in str(err.value) and "data.image_size=32 data.channels=3" in str(err.value)
    # refused before anything was written (the run's lock file aside)
    assert [p.name for p in (tmp_path / "run").iterdir()] == [layout.RUN_LOCK]


def test_a_network_setting_typed_with_init_is_refused_not_dropped(source, tmp_path):
    args = [f"init={source}", "generator.channels=[8,8,8]", "discriminator=reference"]
    with pytest.raises(UserError, match=r"generator.channels=\[8,8,8\] discriminator=reference"):
        train(make_cfg(tmp_path / "run", [*TINY, *QUIET, *args]), overrides=args)


def test_the_size_follows_the_source_when_not_typed(source, tmp_path):
    args = [f"init={source}"]  # data.image_size=64 from a preset, not typed: the source's 32
    cfg = make_cfg(tmp_path / "run", [*TINY, *QUIET, *args, "experiment=reference"])
    module, _ = build(cfg)
    assert module.generator.image_shape == (3, 32, 32)


def test_the_command_exits_2_with_the_paragraph(source, tmp_path, gan_lab_cli):
    code, _, err = gan_lab_cli(
        "train",
        *TINY,
        *QUIET,
        f"init={source}",
        "data.channels=1",
        f"hydra.run.dir={tmp_path / 'r'}",
    )
    assert code == 2
    assert "3 channels; this run's data is 32×32 with 1 channel" in " ".join(err.split())


def test_a_conditional_run_from_an_unconditional_source_is_refused(source, cfg_factory):
    with pytest.raises(UserError, match=r"has no classes .* this run's data has 5 classes"):
        build(cfg_factory(*QUIET, f"init={source}", "model.conditional=true"))


def test_a_resume_of_a_finetuned_run_does_not_apply_init_again(
    source, finetuned, tmp_path, monkeypatch, caplog
):
    run = tmp_path / "ft"
    shutil.copytree(finetuned, run)

    def refuse(spec):
        raise AssertionError("init was applied again on a resume")

    monkeypatch.setattr(finetune, "read_source", refuse)
    args = [f"ckpt_path={layout.last_checkpoint(run)}", "trainer.max_epochs=2"]
    with caplog.at_level(logging.INFO):
        train(make_cfg(run, [*TINY, *LEAN, *args]), overrides=args)
    assert "is not applied again" in caplog.text
    assert layout.history(run)[-1][0] == 2
    stored = torch.load(layout.last_checkpoint(run), weights_only=True)["gan_lab"]["config"]
    assert stored["init"] == str(source)  # kept in the config as a record
    assert (
        stored["init_source"]["sha256"]
        == json.loads((finetuned / layout.RUN_INFO).read_text())["config"]["init_source"]["sha256"]
    )
    assert stored["model"]["freeze_d"] == 2


def test_the_same_command_and_ckpt_path_resume_a_run_whose_size_followed_the_source(
    source, tmp_path
):
    # experiment=reference says 64 px; the source's 32 was taken (not typed) and is again
    run = tmp_path / "ft"
    args = [f"init={source}", "experiment=reference", *LEAN]
    train(make_cfg(run, [*TINY, *args, "trainer.max_epochs=1"]), overrides=args)
    again = [*args, f"ckpt_path={layout.last_checkpoint(run)}", "trainer.max_epochs=2"]
    train(make_cfg(run, [*TINY, *again]), overrides=again)
    assert layout.history(run)[-1][0] == 2
    typed = [*again, "data.image_size=64"]  # typed: compared with the stored 32, refused
    with pytest.raises(UserError, match=r"data.image_size: 32 → 64"):
        train(make_cfg(run, [*TINY, *typed]), overrides=typed)


def test_freeze_d_cannot_change_on_a_resume(finetuned, tmp_path):
    # the optimisers' states hold the trained weights only
    args = [f"ckpt_path={layout.last_checkpoint(finetuned)}", "model.freeze_d=1"]
    with pytest.raises(UserError, match=r"model.freeze_d: 2 → 1"):
        train(make_cfg(tmp_path / "run", [*TINY, *LEAN, *args]), overrides=args)


class Code:
    def __reduce__(self):  # what a hostile pickle does when it is loaded
        return (print, ("pwned",))


def test_a_hostile_or_foreign_init_file_is_refused_in_one_paragraph(tmp_path, capsys):
    text = tmp_path / "notes.ckpt"
    text.write_text("not a checkpoint")
    hostile = tmp_path / "hostile.ckpt"
    torch.save({"gan_lab": Code(), "state_dict": {}}, hostile, pickle_module=pickle)
    foreign = tmp_path / "foreign.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}}, foreign)
    for path in (text, hostile, foreign):
        with pytest.raises(UserError) as err:
            finetune.read_source(str(path))
        assert "\n" not in str(err.value) and str(path) in str(err.value)
    assert "pwned" not in capsys.readouterr().out
    with pytest.raises(UserError, match="no such file or folder"):
        finetune.read_source(str(tmp_path / "missing"))
    with pytest.raises(UserError, match="without checkpoints"):
        finetune.read_source(str(tmp_path))


def test_init_takes_a_home_relative_path_with_a_space(source, tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(source, home / "my runs" / "src")
    monkeypatch.setenv("HOME", str(home))
    typed = as_typed(["init=~/my runs/src"])
    assert typed == [f"init='{home}/my runs/src'"]
    cfg = make_cfg(tmp_path / "run", [*TINY, *QUIET, *typed])
    assert finetune.read_source(cfg.init).record["run"] == "src"
    assert finetune.read_source("~/my runs/src").path == layout.last_checkpoint(
        home / "my runs" / "src"
    )


@pytest.mark.slow
def test_a_sweep_over_two_sources_one_with_a_tilde_and_a_space(source, tmp_path):
    """train.py -m init=~/a b/src,<src>: the shell leaves ~ alone after =; each job fine-tunes
    from its own source."""
    import os
    import subprocess
    import sys

    from conftest import ROOT

    home = tmp_path / "home"
    shutil.copytree(source, home / "a b" / "src")
    sweep = tmp_path / "sweep"
    args = ["init=~/a b/src," + str(source), *TINY, *QUIET, "trainer.max_epochs=1"]
    res = subprocess.run(
        [sys.executable, "train.py", "-m", *args, f"hydra.sweep.dir={sweep}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT / "src")},
    )
    assert res.returncode == 0, res.stderr[-3000:]
    runs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert len(runs) == 2
    said = [c for c in res.stdout.splitlines() + res.stderr.splitlines() if "init: networks" in c]
    assert any(f"{home}/a b/src/" in line for line in said), said
    assert any(f"{source}/" in line for line in said), said
    assert all(layout.history(run)[-1][0] == 1 for run in runs)
