"""recipe=auto's budget rule at start-up (gan_lab/training/budget_rule.py): batch 16 is timed first,
batch 64 only when its time can change the choice, nothing when the epochs alone decide — and the
choice, with its reason in run.json's config.chosen, is the one the rule made timing both."""

import logging

import pytest
import torch
from conftest import make_cfg

from gan_lab.training import budget_rule, recipe

TEN_MINUTES = "+trainer.max_time=00:00:10:00"
LONG_EPOCHS = "trainer.max_epochs=100000"  # 1,797 images: 2,800,000 steps of batch 64


def chosen(tmp_path, monkeypatch, times, *overrides):
    """data.batch_size as resolve records it for run.json (value, why), and the batches timed."""
    calls = []

    def timed(cfg, size, batches, device):
        calls.append(batches)
        return {b: times[b] for b in batches}

    monkeypatch.setattr(budget_rule, "step_seconds", timed)
    cfg = make_cfg(tmp_path / "run", ["data=folder", *overrides])
    made = recipe.resolve_before_data(cfg) | recipe.resolve(cfg, 1797, 28)
    return made["data.batch_size"], calls


# The reasons below are the ones the rule gave before it skipped anything (both batches timed,
# batch 64 first): where both are timed, a user sees the same words.
BEFORE_64_WINS = (
    "100000 epochs or max_time 600 s at the steps timed here (10 ms at batch 64, 3 ms at batch "
    "16): ~60,000 steps at batch 64 (≥ 50,000)"
)
BEFORE_16_WINS = (
    "100000 epochs or max_time 600 s at the steps timed here (30 ms at batch 64, 10 ms at batch "
    "16): ~20,000 steps at batch 64, fewer than 50,000: batch 16 makes ~60,000 updates"
)


@pytest.mark.parametrize(
    ("times", "expected"),
    [
        ({64: 0.01, 16: 0.01 / 3}, (64, BEFORE_64_WINS)),
        ({64: 0.03, 16: 0.01}, (16, BEFORE_16_WINS)),
    ],
)
def test_where_batch_64s_time_decides_both_are_timed_and_the_reason_is_unchanged(
    tmp_path, monkeypatch, times, expected
):
    made, calls = chosen(tmp_path, monkeypatch, times, LONG_EPOCHS, TEN_MINUTES)
    assert made == expected
    assert calls == [(16,), (64,)]  # batch 16 first: 600 s / 10 ms reach 50,000 steps


def test_batch_64_is_not_timed_when_batch_16_cannot_reach_the_threshold(tmp_path, monkeypatch):
    """100 ms a step of batch 16: 6,000 steps in 10 minutes, so batch 64 — counted at least as slow —
    cannot reach 50,000 either. Before, it was timed (300 ms) and batch 16 chosen all the same."""
    (batch, why), calls = chosen(
        tmp_path, monkeypatch, {64: 0.3, 16: 0.1}, LONG_EPOCHS, TEN_MINUTES
    )
    assert calls == [(16,)] and batch == 16
    assert "100 ms at batch 16; batch 64 not timed" in why
    assert why.endswith(
        "at most ~6,000 steps at batch 64, fewer than 50,000: batch 16 makes ~6,000 updates"
    )


def test_nothing_is_timed_when_the_epochs_already_leave_batch_64_short(tmp_path, monkeypatch):
    """The default 30 epochs: 840 steps of batch 64 whatever max_time allows (before: both timed)."""
    (batch, why), calls = chosen(tmp_path, monkeypatch, {64: 0.3, 16: 0.1}, TEN_MINUTES)
    assert calls == [] and batch == 16
    assert "max_time 600 s not timed: these leave batch 64 fewer than 50,000 steps" in why
    assert "at most ~840 steps at batch 64" in why and "makes at most ~3,360 updates" in why
    # and without max_time there is nothing to time at all, as before
    (batch, why), calls = chosen(tmp_path, monkeypatch, {}, LONG_EPOCHS)
    assert (
        calls == []
        and batch == 64
        and why == "100000 epochs: ~2,800,000 steps at batch 64 (≥ 50,000)"
    )


def test_a_faster_batch_64_is_counted_at_batch_16s_step_time(tmp_path, monkeypatch):
    """A batch-64 step timed faster than a batch-16 one (noise) counts as batch 16's: the rule
    that makes the skip above exact. Where both are timed it cannot change the choice (batch 16
    reached 50,000 steps, so 64 does too), only the count, and the reason says so."""
    times = {64: 0.005, 16: 0.011}
    (batch, why), _ = chosen(tmp_path, monkeypatch, times, LONG_EPOCHS, TEN_MINUTES)
    assert batch == 64 and "(5 ms at batch 64, 11 ms at batch 16; batch 64 counted at" in why
    assert "~54,545 steps at batch 64 (≥ 50,000)" in why  # 600 s / 11 ms, not / 5 ms


def test_the_real_timing_skips_batch_64_and_says_its_start_up_outside_max_time(
    tmp_path, monkeypatch, caplog
):
    """The timing itself, on the chosen 28-px networks: a 1-second budget cannot give batch 16
    50,000 steps, so only batch 16 is timed; the log says how long that took before the run."""
    real, calls = budget_rule.step_seconds, []

    def counted(cfg, size, batches, device):
        calls.append(batches)
        return real(cfg, size, batches, device)

    monkeypatch.setattr(budget_rule, "step_seconds", counted)
    cfg = make_cfg(
        tmp_path / "run",
        [
            "data=folder",
            "data.image_size=28",
            "data.channels=1",
            LONG_EPOCHS,
            "+trainer.max_time=1",
        ],
    )
    recipe.resolve_before_data(cfg)
    with caplog.at_level(logging.INFO, logger=budget_rule.__name__):
        made = recipe.resolve(cfg, 1797, 28)
    assert calls == [(16,)] and made["data.batch_size"][0] == 16
    assert "batch 64 not timed" in made["data.batch_size"][1]
    said = [r.getMessage() for r in caplog.records if r.name == budget_rule.__name__]
    assert len(said) == 1 and "timed 7 steps of batch 16 in" in said[0]
    assert "trainer.max_time counts from the start of training, not this" in said[0]


@pytest.mark.parametrize("too_big", [16, 64])
def test_a_batch_that_does_not_fit_is_not_chosen(tmp_path, monkeypatch, too_big):
    """Out of the device's memory (step_seconds gives None): batch 64 cannot train, so batch 16,
    whatever the epochs allow (the rule chose 64 here before, and the run then ran out of memory
    at its first step); the reason names the batch that did not fit. A batch 16 that did not fit
    is left to fail with the device's own message; max_time is not counted then."""
    calls = []

    def timed(cfg, size, batches, device):
        calls.append(batches)
        return None if too_big in batches else {b: 0.001 for b in batches}

    monkeypatch.setattr(budget_rule, "step_seconds", timed)
    cfg = make_cfg(tmp_path / "run", ["data=folder", LONG_EPOCHS, TEN_MINUTES])
    batch, why = budget_rule.budget_batch(cfg, 1797, 28)
    assert batch == 16 and f"batch {too_big} did not fit in the device's memory" in why
    assert calls == ([(16,)] if too_big == 16 else [(16,), (64,)])
    if too_big == 64:  # batch 16's time counts: 600 s / 1 ms
        assert "(1 ms at batch 16; batch 64 did not fit" in why
        assert why.endswith(
            "0 steps at batch 64, fewer than 50,000: batch 16 makes ~600,000 updates"
        )
    else:
        assert "max_time 600 s not timed: batch 16 did not fit" in why
        assert why.endswith("batch 16 makes at most ~11,200,000 updates")


CPU_OOM = (
    "[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory: you "
    "tried to allocate 8589934592 bytes. Error code 12 (Cannot allocate memory)"
)


@pytest.mark.parametrize(("message", "oom"), [(CPU_OOM, True), ("a bug of ours", False)])
def test_a_cpu_that_runs_out_of_memory_is_a_batch_that_does_not_fit(
    tmp_path, monkeypatch, message, oom
):
    """On a CPU, running out of memory is a plain RuntimeError (CUDA's is torch.OutOfMemoryError):
    the timing reads it as a batch that does not fit; any other error is not hidden."""

    def failing(params, lr, betas=(0.9, 0.999)):
        class Failing(torch.optim.Adam):
            def step(self, closure=None):
                raise RuntimeError(message)

        return Failing(params, lr, betas=betas)

    monkeypatch.setattr(budget_rule, "adam", failing)
    cfg = make_cfg(tmp_path / "run", ["data=folder", "data.image_size=28", "data.channels=1"])
    recipe.resolve_before_data(cfg)
    recipe.resolve(cfg, 1797, 28)  # no max_time: nothing timed here
    if oom:
        assert budget_rule.step_seconds(cfg, 28, (16,), torch.device("cpu")) is None
    else:
        with pytest.raises(RuntimeError, match="a bug of ours"):
            budget_rule.step_seconds(cfg, 28, (16,), torch.device("cpu"))
