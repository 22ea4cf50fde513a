"""model.anchor_g: a fine-tune's G is pulled back towards its source G's weights after each update
(L2-SP as a decay towards the source; gan_lab/models/freeze.py).

What a user would notice: the source's weights travel with the run (a resume pulls towards the same
source and never reads init= again), G still trains but ends nearer the source than without the
pull, the start-up paragraph and the report say so, and a run without init= is told, not trained
towards a random "source".
"""

import html
import logging
import shutil
from pathlib import Path

import pytest
import torch
from conftest import QUIET, TINY, make_cfg

from gan_lab.core import step as step_module
from gan_lab.core.step import pull_back
from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.training import finetune
from gan_lab.training.train import build, train

LEAN = ["logger=none", "callbacks.samples.gif=false", "callbacks.history.plot=false"]
# strong enough to be seen in 8 steps of the tiny set (recipe=auto's 0.001 is for thousands)
ANCHOR = "model.anchor_g=0.2"
LIVE = "generator.out.0.weight"  # G's output conv: trained, never frozen


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("source") / "src"
    train(make_cfg(out, [*TINY, *QUIET, "trainer.max_epochs=1"]))
    return out


def _finetune(source: Path, out: Path, *extra: str) -> Path:
    args = [f"init={source}", "trainer.max_epochs=2", *extra]
    train(make_cfg(out, [*TINY, *LEAN, *args]), overrides=args)
    return out


@pytest.fixture(scope="module")
def pulled(source, tmp_path_factory) -> Path:
    return _finetune(source, tmp_path_factory.mktemp("pulled") / "ft", ANCHOR)


def _state(run: Path) -> dict:
    return torch.load(layout.last_checkpoint(run), weights_only=True)["state_dict"]


def _distance(run: Path, source: Path) -> float:
    """How far G's trained weights moved from the source's (all of G trains in these runs)."""
    after, before = _state(run), _state(source)
    return (
        sum(
            (after[k].float() - before[k].float()).norm().item() ** 2
            for k in before
            if k.startswith("generator.") and k.endswith((".weight", ".bias"))
        )
        ** 0.5
    )


def test_pull_back_moves_each_weight_that_share_of_the_way():
    live, source = (
        [torch.tensor([1.0, 3.0]), torch.tensor([[-2.0]])],
        [torch.zeros(2), torch.ones(1, 1)],
    )
    pull_back(live, source, 0.25)
    assert torch.equal(live[0], torch.tensor([0.75, 2.25]))
    assert torch.equal(live[1], torch.tensor([[-1.25]]))
    assert torch.equal(source[0], torch.zeros(2))  # the source never moves


def test_the_source_travels_with_the_run_unchanged_while_g_trains_nearer_to_it(
    source, pulled, tmp_path
):
    before, after = _state(source), _state(pulled)
    kept = {
        k.removeprefix("source_generator."): v for k, v in after.items() if k.startswith("source_")
    }
    weights = {k: v for k, v in kept.items() if k.endswith((".weight", ".bias"))}
    assert weights and all(torch.equal(v, before[f"generator.{k}"]) for k, v in weights.items())
    assert not torch.equal(before[LIVE], after[LIVE])  # G trains
    free = _finetune(source, tmp_path / "free", "model.anchor_g=0")
    assert not any(k.startswith("source_") for k in _state(free))  # no copy when off
    # the same seed, data and steps: the pulled G ends nearer the source than the free one
    assert _distance(pulled, source) < 0.8 * _distance(free, source)


def test_a_resume_pulls_towards_the_stored_source_without_reading_init_again(
    pulled, tmp_path, monkeypatch
):
    run = tmp_path / "ft"
    shutil.copytree(pulled, run)
    stored = _state(run)

    def refuse(spec):
        raise AssertionError("init was read again on a resume")

    pulls = []

    def counted(live, source, share):
        pulls.append(share)
        pull_back(live, source, share)

    monkeypatch.setattr(finetune, "read_source", refuse)
    monkeypatch.setattr(step_module, "pull_back", counted)
    args = [f"ckpt_path={layout.last_checkpoint(run)}", "trainer.max_epochs=3"]
    train(make_cfg(run, [*TINY, *LEAN, *args]), overrides=args)
    resumed = _state(run)
    assert layout.history(run)[-1][0] == 3
    assert torch.equal(resumed[f"source_{LIVE}"], stored[f"source_{LIVE}"])
    assert not torch.equal(resumed[LIVE], stored[LIVE])
    assert pulls == [0.2] * 4  # the resumed epoch's 4 G updates each pulled G back


def test_the_start_up_paragraph_and_the_report_say_so(source, pulled, tmp_path, caplog):
    page = html.unescape((pulled / layout.REPORT).read_text())
    assert "G pulled back to the source's weights (model.anchor_g=0.2 a step)" in page
    with caplog.at_level(logging.INFO):
        _finetune(source, tmp_path / "again", ANCHOR, "trainer.max_epochs=1")
    assert "G pulled 20% of the way back to the source's weights each step" in caplog.text


def test_without_init_it_is_one_paragraph(tmp_path, gan_lab_cli):
    with pytest.raises(UserError, match=r"model.anchor_g=0.2 needs init=<run>"):
        build(make_cfg(tmp_path / "r", [*TINY, *QUIET, ANCHOR]))
    code, _, err = gan_lab_cli(
        "train", *TINY, *QUIET, ANCHOR, f"paths.output_dir={tmp_path / 'cli'}"
    )
    assert code == 2 and "needs init=<run>" in err
    assert not list((tmp_path / "cli").glob("[!.]*"))  # nothing written but the folder's lock


def test_anchor_g_cannot_change_on_a_resume(pulled, tmp_path):
    args = [f"ckpt_path={layout.last_checkpoint(pulled)}", "model.anchor_g=0.01"]
    with pytest.raises(UserError, match=r"model.anchor_g: 0.2 → 0.01"):
        train(make_cfg(tmp_path / "run", [*TINY, *LEAN, *args]), overrides=args)


@pytest.mark.parametrize(
    ("edit", "said"),
    [
        ("strip", r"builds source_generator\.\S+ of shape \(\d+, \d+\), but its weights lack it"),
        ("unset", r"builds no source_generator\.\S+, but its weights hold it"),
    ],
)
def test_a_checkpoint_whose_weights_and_config_disagree_is_one_paragraph(
    pulled, tmp_path, edit, said
):
    """Someone else's file: its config asks for the pull and its weights lack the source G, or
    its weights hold a source G its config does not build."""
    run = tmp_path / "ft"
    shutil.copytree(pulled, run)
    ckpt = layout.last_checkpoint(run)
    blob = torch.load(ckpt, weights_only=True)
    if edit == "strip":
        blob["state_dict"] = {k: v for k, v in blob["state_dict"].items() if "source_" not in k}
    else:
        blob["gan_lab"]["config"]["model"]["anchor_g"] = 0.0
        blob["hyper_parameters"]["anchor_g"] = 0.0
    torch.save(blob, ckpt)
    args = [f"ckpt_path={ckpt}", "trainer.max_epochs=3"]
    with pytest.raises(UserError, match=said) as err:
        train(make_cfg(run, [*TINY, *LEAN, *args]), overrides=args)
    assert "it was not resumed" in str(err.value)
    assert layout.history(run)[-1][0] == 2  # nothing was trained or written over
