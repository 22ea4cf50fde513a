"""The run guard (design §9): a skipped step leaves no trace, a roll-back leaves the run folder
with one history, and DDP ranks decide together."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import QUIET, ROOT, TINY, make_cfg

from gan_lab.runs.files import read_rows
from gan_lab.training.train import train


def poison(module, phases: tuple[str, ...]) -> None:
    """Make the next losses of ``phases`` ("d", "g") NaN, as a blow-up would."""
    for phase in phases:
        original = getattr(type(module.loss), f"{phase}_loss").__get__(module.loss)

        def nan(*args, original=original):
            return original(*args) * float("nan")

        setattr(module.loss, f"{phase}_loss", nan)


def heal(module) -> None:
    for phase in ("d", "g"):
        module.loss.__dict__.pop(f"{phase}_loss", None)  # back to the class's methods


class NaNStep(L.Callback):
    """Both phases of one step have a NaN loss; keeps the whole state before and after it."""

    def __init__(self, at_step: int, phases: tuple[str, ...] = ("d", "g")):
        self.at_step, self.phases = at_step, phases
        self.before: dict | None = None
        self.after: dict | None = None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if trainer.fit_loop.epoch_loop.batch_progress.total.completed + 1 == self.at_step:
            self.before = {k: v.clone() for k, v in module.state_dict().items()}
            poison(module, self.phases)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if self.before is not None and self.after is None:
            self.after = {k: v.clone() for k, v in module.state_dict().items()}
            heal(module)


def test_a_skipped_step_leaves_weights_buffers_and_ema_bit_identical(tmp_path):
    # BatchNorm in both networks, spectral norm's u/v vectors in D, and an EMA of G: all of it
    # moved in the step's forward passes before the loss was known to be NaN.
    cfg = make_cfg(
        tmp_path / "run",
        [
            *TINY,
            *QUIET,
            "trainer.max_epochs=1",
            "trainer.limit_train_batches=2",  # the spy looks at step 2 only
            "discriminator.spectral_norm=true",
            "model.ema=0.999",
        ],
    )
    spy = NaNStep(at_step=2)
    train(cfg, callbacks=[spy])
    buffers = [k for k in spy.before if k.endswith(("running_mean", "weight_u", "n_averaged"))]
    assert any("discriminator" in k for k in buffers) and any("generator." in k for k in buffers)
    assert any("weight_u" in k for k in buffers) and any("generator_ema" in k for k in buffers)
    changed = [k for k in spy.before if not torch.equal(spy.before[k], spy.after[k])]
    assert changed == []


def test_a_step_after_a_skipped_one_still_trains(tmp_path):
    """The control of the test above: the same kind of step, finite, moves all of it."""
    overrides = ["trainer.max_epochs=1", "trainer.limit_train_batches=2", "model.ema=0.999"]
    cfg = make_cfg(tmp_path / "run", [*TINY, *QUIET, *overrides])
    spy = NaNStep(at_step=2, phases=())
    train(cfg, callbacks=[spy])
    changed = {k for k in spy.before if not torch.equal(spy.before[k], spy.after[k])}
    assert any(k.endswith("running_mean") for k in changed)
    assert any(k.startswith("generator_ema") for k in changed)


def test_a_rollback_at_epoch_end_sets_that_epochs_grid_and_rows_aside(nan_runs):
    """warn: epoch 2's NaN step is applied, its grid and rows are written, then the epoch-end
    check rolls back to epoch 1: the run folder no longer shows epoch 2 as its history."""
    run = nan_runs["warn"]["dir"]  # NaNStep(at_step=6, phases=("d",)), 3 epochs (conftest)
    assert [r["epoch"] for r in read_rows(run / "metrics.csv")] == ["1", "3"]
    assert {r["epoch"] for r in read_rows(run / "steps.csv")} == {"1", "3"}
    grids = sorted(p.name for p in (run / "samples").glob("epoch_*.png"))
    assert grids == ["epoch_0000.png", "epoch_0001.png", "epoch_0003.png"]
    (aside,) = (run / "abandoned").iterdir()
    assert [p.name for p in (aside / "samples").iterdir()] == ["epoch_0002.png"]
    assert [r["epoch"] for r in read_rows(aside / "metrics.csv")] == ["1", "2"]
    assert (aside / "checkpoints" / "last.ckpt").is_file()  # the abandoned path's newest state
    last = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert last["epoch"] == 2  # written again after epoch 3, from the rolled-back path


def test_a_rollback_within_an_epoch_keeps_only_the_steps_after_it(nan_runs):
    """rollback at step 6 (epoch 2's second): steps 5 and 6 were the abandoned path's, so
    epoch 2's rows hold steps 7 and 8 only (steps.csv counts from 0), and its means no NaN."""
    run = nan_runs["rollback"]["dir"]  # NaNStep(at_step=6, phases=("d",)), 3 epochs (conftest)
    steps = [int(r["step"]) for r in read_rows(run / "steps.csv")]
    assert steps == [0, 1, 2, 3, 6, 7, 8, 9, 10, 11]
    rows = read_rows(run / "metrics.csv")
    assert [r["epoch"] for r in rows] == ["1", "2", "3"]
    assert all(float(r["train/d_loss"]) == float(r["train/d_loss"]) for r in rows)  # no NaN


# DDP: two CPU ranks over gloo, rank 1 alone sees a NaN in its D phase.


class NaNOnRankOne(L.Callback):
    """Rank 1's D loss is NaN at step 1; each rank writes what its D did to ``out``/rank_N.json."""

    def __init__(self, out: str):
        self.out, self.before = out, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        if batch_idx == 0:
            self.before = [p.detach().clone() for p in module.discriminator.parameters()]
            if trainer.global_rank == 1:
                poison(module, ("d",))

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx):
        if batch_idx == 0:
            heal(module)
            after = list(module.discriminator.parameters())
            moved = any(not torch.equal(a, b) for a, b in zip(self.before, after, strict=True))
            report = {"d_moved": moved, "events": [e[2] for e in module.nonfinite_events]}
            Path(self.out, f"rank_{trainer.global_rank}.json").write_text(json.dumps(report))


def ddp_run(run_dir: str, out: str) -> None:
    """Called in a separate process by the test below (a hang must not take pytest with it)."""
    overrides = [*TINY, *QUIET, "trainer=ddp", "trainer.accelerator=cpu", "trainer.max_epochs=1"]
    overrides += [f"callbacks.{name}=null" for name in ("report", "balance", "ssim", "samples")]
    train(make_cfg(Path(run_dir), overrides), callbacks=[NaNOnRankOne(out)])


@pytest.mark.slow  # two spawned ranks importing torch and Lightning: over a minute on a busy 2-core CPU
def test_ddp_ranks_skip_together_when_one_rank_sees_a_nan(tmp_path):
    """Without agreement rank 0 would run its D backward and wait forever for rank 1's."""
    out = tmp_path / "ranks"
    out.mkdir()
    code = f"import test_guard; test_guard.ddp_run({str(tmp_path / 'run')!r}, {str(out)!r})"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT / "tests")])}
    # A session of its own, so that a hang can be ended with every rank it started.
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    t0 = time.monotonic()
    try:
        text, _ = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        text, _ = proc.communicate()
        pytest.fail(f"the DDP run hung ({time.monotonic() - t0:.0f} s):\n{text[-3000:]}")
    assert proc.returncode == 0, text[-3000:]
    ranks = [json.loads((out / f"rank_{r}.json").read_text()) for r in (0, 1)]
    assert ranks == [{"d_moved": False, "events": ["D"]}] * 2
