"""generator.slope / discriminator.slope: LeakyReLU's negative slope, 0.2 by default (the networks
of every earlier run, so their checkpoints resume); a slope no LeakyReLU would use is refused."""

import shutil

import pytest
import torch
from conftest import QUIET
from torch import nn

from gan_lab.config.validate import check_config
from gan_lab.errors import UserError
from gan_lab.models import Discriminator, Generator
from gan_lab.runs import layout
from gan_lab.training.train import train


def slopes(net: nn.Module) -> set[float]:
    return {m.negative_slope for m in net.modules() if isinstance(m, nn.LeakyReLU)}


def test_the_slope_reaches_every_leaky_relu_and_defaults_to_0_2():
    assert slopes(Discriminator(image_size=32, base_size=32)) == {0.2}
    assert slopes(Discriminator(image_size=32, base_size=32, slope=0.1)) == {0.1}
    assert slopes(Generator(image_size=32, base_size=32, slope=0.3)) == {0.3}
    torch.manual_seed(0)
    before = Discriminator(image_size=32, base_size=32).eval()
    torch.manual_seed(0)
    same = Discriminator(image_size=32, base_size=32, slope=0.2).eval()
    x = torch.randn(2, 3, 32, 32)
    assert torch.equal(before(x), same(x))


def test_a_slope_without_leaky_relu_or_out_of_range_is_refused(cfg_factory):
    with pytest.raises(UserError, match=r"generator.slope=0.1 .*activation_name=relu"):
        Generator(image_size=32, base_size=32, activation_name="relu", slope=0.1)
    with pytest.raises(UserError, match="discriminator.slope"):
        check_config(cfg_factory("discriminator.slope=1.5"))


def test_a_checkpoint_without_slope_resumes_and_a_new_slope_is_refused(
    trained_run, tmp_path, cfg_factory
):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = layout.last_checkpoint(run)
    ckpt = torch.load(last, weights_only=True)
    for net in ("generator", "discriminator"):  # as a checkpoint of an earlier version
        ckpt["gan_lab"]["config"][net].pop("slope", None)
    torch.save(ckpt, last)
    changed = [f"ckpt_path={last}", "trainer.max_epochs=3", "discriminator.slope=0.3"]
    with pytest.raises(UserError, match=r"discriminator.slope: 0.2 → 0.3"):
        train(cfg_factory(*changed, *QUIET, out=run), overrides=changed)
    longer = [f"ckpt_path={last}", "trainer.max_epochs=3"]
    train(cfg_factory(*longer, *QUIET, out=run), overrides=longer)
    assert layout.history(run)[-1] == (3, layout.checkpoint_path(run, 3))
