"""The Python front door (gan_lab.train, load, sample): README's "Python" example runs as written,
sampling is seeded and in [0, 1], load picks the generator the run shows, and a conditional
generator draws the class it is asked for."""

import os
import re

import pytest
import torch
from conftest import ROOT

import gan_lab
from gan_lab.errors import UserError
from gan_lab.runs import layout


def readme_example() -> str:
    section = (ROOT / "README.md").read_text().split("\n## Python\n", 1)[1].split("\n## ", 1)[0]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    return code


@pytest.fixture(scope="module")
def example(tmp_path_factory) -> dict:
    """README's example, run as written in a fresh folder (its run goes to outputs/<date>/<time>
    there, as the command's would): the names it defines."""
    where, here = tmp_path_factory.mktemp("example"), os.getcwd()
    os.chdir(where)
    try:
        names: dict = {}
        exec(readme_example(), names)  # the example itself calls gan_lab.train(
    finally:
        os.chdir(here)
    names["where"] = where
    return names


def test_the_readme_example_trains_loads_and_samples(example):
    run, g, x = example["run"], example["g"], example["x"]
    assert run.dir.is_relative_to(example["where"] / "outputs") and run.dir.is_dir()
    assert run.last_checkpoint == layout.last_checkpoint(run.dir) and run.last_checkpoint.is_file()
    assert run.metrics and all(isinstance(v, float) for v in run.metrics.values())
    data = g.config["data"]
    assert x.shape == (8, data["channels"], data["image_size"], data["image_size"])
    assert x.dtype == torch.float32 and x.min() >= 0 and x.max() <= 1 and x.std() > 0
    assert not g.generator.training and not g.conditional


def test_the_same_seed_gives_the_same_images_and_leaves_the_global_rng(example):
    g = example["g"]
    state = torch.get_rng_state()
    first = gan_lab.sample(g, 8, seed=0)
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(first, example["x"])
    in_threes = gan_lab.sample(g, 8, seed=0, batch_size=3)  # the batch: memory, and rounding
    torch.testing.assert_close(in_threes, first, atol=1e-5, rtol=0)
    assert not torch.equal(gan_lab.sample(g, 8, seed=1), first)
    # What load returned, a checkpoint file, and the bare module with the run's noise agree.
    assert torch.equal(gan_lab.sample(str(example["run"].last_checkpoint), 8), first)
    assert torch.equal(gan_lab.sample(g.generator, 8, noise=g.noise), first)


def test_load_gives_the_generator_the_run_shows(example):
    run = example["run"]
    state = torch.load(run.last_checkpoint, weights_only=True)["state_dict"]

    def weights_of(prefix):
        return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}

    shown, live = weights_of("generator_ema.module."), weights_of("generator.")
    assert shown and live  # the built-in set's run keeps an EMA (model.ema=auto)
    for ema, expected in ((None, shown), (True, shown), (False, live)):
        loaded = gan_lab.load(run.dir, ema=ema).generator.state_dict()  # a run folder: last.ckpt
        assert all(torch.equal(loaded[k], v) for k, v in expected.items()), ema
    with pytest.raises(UserError, match="no class"):
        gan_lab.sample(example["g"], 2, class_=0)


def test_a_conditional_generator_draws_the_class_asked_for(tmp_path):
    run = gan_lab.train(
        ["debug=tiny", "trainer.max_epochs=1", "model.conditional=true", "model.ema=0"],
        output_dir=tmp_path / "run",
    )
    g = gan_lab.load(run.last_checkpoint)
    assert g.conditional and g.classes[1] == "square"
    asked = []
    hook = g.generator.register_forward_pre_hook(lambda m, args: asked.append(args[1].clone()))
    try:
        by_name = gan_lab.sample(g, 6, class_="square")
        assert torch.equal(torch.cat(asked), torch.ones(6, dtype=torch.long))  # every image: 1
        assert torch.equal(gan_lab.sample(g, 6, class_=1), by_name)
        assert not torch.equal(gan_lab.sample(g, 6, class_=0), by_name)  # same z, other class
        asked.clear()
        gan_lab.sample(g, 64)  # no class asked: seeded classes among those the run trained on
        drawn = set(torch.cat(asked).tolist())
        assert len(drawn) > 1 and drawn <= set(g.class_ids)
    finally:
        hook.remove()
    with pytest.raises(UserError, match="not one of this generator's classes"):
        gan_lab.sample(g, 2, class_="hexagon")
    # This run kept no EMA (model.ema=0): its live generator is the one shown, ema=True refuses.
    assert gan_lab.load(run.dir, ema=None).generator.state_dict().keys()
    with pytest.raises(UserError, match="no averaged"):
        gan_lab.load(run.dir, ema=True)


def test_a_bad_argument_is_one_user_error_before_any_folder(tmp_path):
    with pytest.raises(UserError, match="not a key"):
        gan_lab.train(["debug=tiny", "trainer.max_epoch=1"], output_dir=tmp_path / "run")
    assert not (tmp_path / "run").exists()
