"""A run killed with SIGKILL at random moments — some inside a checkpoint write — and resumed
each time ends exactly where an uninterrupted run ends (design §9)."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import ROOT, make_cfg

from gan_lab.runs.files import read_rows
from gan_lab.runs.layout import HISTORY
from gan_lab.training.train import train


def run_args(epochs: int) -> list[str]:
    return [
        "debug=tiny",
        f"trainer.max_epochs={epochs}",
        "trainer.deterministic=true",
        "logger=none",
        "callbacks.samples.gif=false",
        "metrics.ssim_every_n_steps=3",
    ]


def progress(run: Path) -> int:
    """Complete epochs in metrics.csv: a sign that the run got past start-up."""
    return len(read_rows(run / "metrics.csv"))


def kill_and_resume(run: Path, epochs: int, kills: int, seed: int) -> tuple[int, int]:
    """Start, SIGKILL, resume, ... until the run finishes by itself; returns (kills, kills that
    left a half-written file behind)."""
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GAN_LAB_WRITE_DELAY": "0.15"}
    done, in_write = 0, 0
    # The same command every time, the first start included (a requeued job, a restart loop):
    # a last.ckpt that does not exist yet in a run without checkpoints means "start".
    last = run / "checkpoints" / "last.ckpt"
    cmd = [sys.executable, "train.py", *run_args(epochs), f"ckpt_path={last}"]
    while True:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
        )
        if done < kills:
            before, deadline = progress(run), time.monotonic() + 120
            while proc.poll() is None and progress(run) == before and time.monotonic() < deadline:
                time.sleep(0.05)  # start-up: wait for training to make progress
            time.sleep(rng.uniform(0.0, 1.5))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                done += 1
                in_write += any(run.rglob(".*.tmp-*"))
                continue
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()[-2000:]
        return done, in_write


def check_against_uninterrupted(run: Path, reference: Path, epochs: int) -> None:
    # The first session's config and overrides stay; each restart's are kept beside them.
    assert "ckpt_path" in (run / ".hydra" / "overrides.yaml").read_text()
    assert any((run / ".hydra" / "sessions").iterdir())
    for path in (run / "checkpoints").glob("*.ckpt"):
        torch.load(path, weights_only=True)  # every checkpoint loads
    for name in HISTORY:
        seen = [int(r["epoch"]) for r in read_rows(run / name)]
        ref = [int(r["epoch"]) for r in read_rows(reference / name)]
        assert seen == ref, name  # each epoch (and each step) exactly once, in order
    steps = [r["step"] for r in read_rows(run / "steps.csv")]
    assert len(steps) == len(set(steps)) == epochs * 4
    a, b = (
        torch.load(r / "checkpoints" / "last.ckpt", weights_only=True) for r in (run, reference)
    )
    assert all(torch.equal(a["state_dict"][k], b["state_dict"][k]) for k in b["state_dict"])


def uninterrupted(tmp_path: Path, epochs: int) -> Path:
    out = tmp_path / "uninterrupted"
    train(make_cfg(out, run_args(epochs)))
    return out


@pytest.mark.slow
def test_two_random_kills_lose_nothing(tmp_path):
    """The short version: 6 epochs, 2 kills (make test has the kill at every step of a branch
    move in test_resume.py; this one and the 12 kills below start processes)."""
    reference = uninterrupted(tmp_path, 6)
    kills, _ = kill_and_resume(tmp_path / "run", epochs=6, kills=2, seed=1)
    assert kills == 2
    check_against_uninterrupted(tmp_path / "run", reference, 6)


@pytest.mark.slow
def test_twelve_random_kills_some_inside_writes_lose_nothing(tmp_path):
    # Each kill comes after at least one more epoch: 24 epochs leave room for 12 of them.
    reference = uninterrupted(tmp_path, 24)
    kills, in_write = kill_and_resume(tmp_path / "run", epochs=24, kills=12, seed=2)
    assert kills == 12 and in_write >= 1
    check_against_uninterrupted(tmp_path / "run", reference, 24)
