"""One schema owns every user-facing key (gan_lab.config.schema): bad values stop before any work with
one paragraph naming the key, for the command line and for stored configs alike."""

import subprocess
import sys

import pytest
from conftest import ROOT, TINY, make_cfg
from omegaconf import OmegaConf

from gan_lab.config.schema import EXTRACTOR, GROUPS, PREVIEW, SAMPLE, SCORE, TRAIN
from gan_lab.config.validate import check_config
from gan_lab.errors import UserError

# (arguments, the key the message must name)
BAD = [
    (["data.num_images=0"], "data.num_images"),
    (["generator.kernel_size=0"], "generator.kernel_size"),
    (["noise.std=-1"], "noise.std"),
    (["noise=uniform", "noise.low=1", "noise.high=0"], "noise.low"),
    (["generator.latent_dim=-1"], "generator.latent_dim"),
    (["trainer.precision=foo"], "trainer.precision"),
    (["trainer.devices=0"], "trainer.devices"),
    (["seed=-1"], "seed"),
    (["data.batch_size=true"], "data.batch_size"),
    (["callbacks.samples.nrow=0"], "callbacks.samples.nrow"),
    (["data.augment.zoom=abc"], "data.augment.zoom"),
    (["data=folder", "data.memory_budget=1.2.3GB"], "data.memory_budget"),
    (["data=folder", "data.audit.min_size=abc"], "data.audit.min_size"),
    (["callbacks.balance.patience=0"], "callbacks.balance.patience"),
    (["trainer.limit_train_batches=-1"], "trainer.limit_train_batches"),
    (["generator.channels=[]"], "generator.channels"),
    # the enum checks that used to live in the networks, the losses and the callbacks
    (["generator.project=dense"], "generator.project"),
    (["generator.upsample=bilinear"], "generator.upsample"),
    (["discriminator.head=mlp"], "discriminator.head"),
    (["discriminator.activation_name=gelu"], "discriminator.activation_name"),
    (["generator.init=xavier"], "generator.init"),
    (["model.loss=wasserstein"], "model.loss"),
    (["model.diffaug=[color,blur]"], "model.diffaug"),
    (["callbacks.balance.action=panic"], "callbacks.balance.action"),
    (
        [
            "model.conditional=true",
            "generator.batch_norm=false",
            "generator.conditioning=batchnorm",
        ],
        "generator.conditioning=batchnorm",
    ),
]


@pytest.mark.parametrize(("args", "key"), BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_values_are_one_paragraph_naming_the_key(tmp_path, args, key):
    with pytest.raises(UserError) as err:
        check_config(make_cfg(tmp_path, TINY + args))
    said = str(err.value)
    assert key in said and "\n" not in said


def test_the_shipped_presets_pass(tmp_path):
    for args in (
        [],
        ["data=folder"],
        ["data=mnist"],
        ["experiment=reference"],
        ["noise=gamma"],
        ["generator=mnist", "discriminator=mnist"],
        ["trainer=ddp"],
        ["callbacks=none"],
    ):
        check_config(make_cfg(tmp_path, args))


def test_every_key_of_every_preset_is_in_the_schema(tmp_path):
    """The schema is the list of user-facing keys: a key added to conf/ needs its line there."""
    from conftest import CONF

    found = set()

    def walk(node, prefix=""):
        for k, v in node.items():
            key = f"{prefix}.{k}" if prefix else k
            (walk(v, key) if isinstance(v, dict) and key in GROUPS else found.add(key))

    for group in ("data", "generator", "discriminator", "noise", "model", "trainer", "metrics"):
        for option in sorted((CONF / group).glob("*.yaml")):
            walk(OmegaConf.to_container(make_cfg(tmp_path, [f"{group}={option.stem}"])))
    assert sorted(found - set(TRAIN)) == []
    assert all(rule.meaning for rule in TRAIN.values())
    for table, name in ((SAMPLE, "sample"), (SCORE, "score"), (EXTRACTOR, "extractor")):
        given = set(OmegaConf.load(CONF / f"{name}.yaml")) - {"defaults"}
        assert given == set(table), name
    given = OmegaConf.load(CONF / "preview.yaml").preview
    assert {f"preview.{k}" for k in given} == set(PREVIEW)


def test_the_schema_choices_are_what_the_code_acts_on():
    from gan_lab.config.schema import NONFINITE as SCHEMA_NONFINITE
    from gan_lab.training.module import NONFINITE

    assert SCHEMA_NONFINITE == NONFINITE


@pytest.mark.parametrize(
    "args",
    [
        ["generator.kernel_size=0"],
        ["noise=uniform", "noise.low=1", "noise.high=0"],
        ["data.audit.min_size=abc"],  # a key the built-in set does not have: one paragraph too
    ],
    ids=["schema", "cross-check", "unknown key"],
)
def test_through_train_py_exit_2_and_no_traceback(tmp_path, args, gan_lab_cli):
    """The first case starts train.py itself (warnings, logging and Hydra's own output all land in
    the one real stderr); the others take the same path in-process (`gan-lab train`)."""
    if args == ["generator.kernel_size=0"]:
        res = subprocess.run(
            [sys.executable, "train.py", *args, f"hydra.run.dir={tmp_path}"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        code, stderr = res.returncode, res.stderr
    else:
        code, _, stderr = gan_lab_cli("train", *args, f"hydra.run.dir={tmp_path}")
    assert code == 2 and "Traceback" not in stderr, stderr
    assert args[-1].split("=")[0] in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr  # one paragraph
    assert not (tmp_path / "checkpoints").exists()


def test_the_other_tools_check_their_keys_with_the_same_schema(tmp_path, capsys):
    from gan_lab.cli.extractor import main as extractor_main
    from gan_lab.cli.preview import preview

    with pytest.raises(UserError, match=r"preview\.n=0"):
        preview(["preview.n=0", f"preview.out_dir={tmp_path / 'p'}"])
    with pytest.raises(UserError, match=r"data\.augment\.zoom=abc"):
        preview(["data.augment.zoom=abc", f"preview.out_dir={tmp_path / 'p'}"])
    with pytest.raises(SystemExit) as err:
        extractor_main([f"out={tmp_path / 'x.pt'}", "holdout=1"])
    assert err.value.code == 2 and "holdout=1" in capsys.readouterr().err
    assert not (tmp_path / "p").exists() and not (tmp_path / "x.pt").exists()
