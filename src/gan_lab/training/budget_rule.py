"""recipe=auto's budget rule: batch 64 or 16 (and Adam's rates with it) from the steps the run gets.

What a short GAN run lacks is updates, not images. ``budget_batch`` counts the run's steps at
batch 64 and 16 — from the epochs asked for (with ``limit_train_batches`` and the DDP shard), and
from ``trainer.max_time`` at the step times ``step_seconds`` measures here and now, on the run's
device and precision (a few steps of the chosen networks, ~2 s for the 64-px pair on a CPU core;
batch 16 first, batch 64 only when its time can change the choice, none when the epochs alone
decide: the timing is start-up the user waits for, outside max_time, a minute at 256 px).
Under DDP, or on an accelerator other than CPU/CUDA, the epochs decide: ranks that timed apart
could choose apart. A batch 64 whose timing ran out of the device's memory is not chosen (its
run would fail at its first step). A budget that leaves batch 64 fewer than ``MIN_UPDATES``
steps trains with batch 16 and ``SHORT_LR``; a longer one with batch 64 and the plain loop's
``LONG_LR`` (benchmarks/README.md, "recipe=auto with the budget rule", has the runs that set it).
"""

import logging
import math
import statistics
import time

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf

from gan_lab.config import registry
from gan_lab.config.durations import max_time_seconds
from gan_lab.core.step import adam
from gan_lab.errors import UserError
from gan_lab.hardware import auto_precision, out_of_memory
from gan_lab.training.fast_path import resolve_planned_steps

log = logging.getLogger(__name__)

# The budget: a run that batch 64 leaves fewer updates than this trains with SHORT_BATCH and the
# learning rates the tune study found for it (benchmarks/README.md, "gan-lab tune"). Batch 16 won
# in every cell measured, up to ~15,500 steps of batch 64 (30 minutes of one CPU core at 28 px:
# FD 6.94 against 9.76; benchmarks/README.md, "The 30-minute cells"), so the threshold sits
# above every budget measured (a budget of over 3× those steps — hours of CPU, a GPU's fast steps —
# crosses it; where batch 64 wins back is not measured).
MIN_UPDATES = 50_000
LONG_BATCH, SHORT_BATCH = 64, 16
LONG_LR = {"lr_g": 2e-4, "lr_d": 2e-4}
SHORT_LR = {"lr_g": 4e-4, "lr_d": 5e-4}
WARMUP_STEPS, TIMED_STEPS = 2, 5  # per batch size: ~2 s for both at 64 px on a CPU core


def max_seconds(cfg: DictConfig) -> float | None:
    """trainer.max_time in seconds (gan_lab.tune.wall_time.max_time_seconds: 10m, 1h30m, seconds,
    Lightning's "DD:HH:MM:SS" or a dict of timedelta's arguments), or None without one."""
    try:
        return max_time_seconds(cfg.trainer.get("max_time"))
    except UserError:
        return None


def processes(cfg: DictConfig) -> int | None:
    """How many training processes the trainer starts (devices × nodes), or None when that is not
    known here."""
    devices, accelerator = cfg.trainer.get("devices", 1), cfg.trainer.get("accelerator", "auto")
    try:
        if OmegaConf.is_list(devices) or isinstance(devices, list | tuple):
            count = len(devices)
        elif devices == "auto":  # Lightning: every GPU there is, or one CPU process
            gpus = torch.cuda.device_count() if accelerator in ("auto", "gpu", "cuda") else 0
            count = max(1, gpus)
        else:
            count = int(devices)
        return count * int(cfg.trainer.get("num_nodes", 1) or 1)
    except (TypeError, ValueError):
        return None


def timing_device(cfg: DictConfig) -> torch.device | None:
    """The device the run trains on, for a timing in this process; None for an accelerator the
    timing does not know (the epochs decide then)."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    if accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        devices = cfg.trainer.get("devices", 1)
        listed = OmegaConf.is_list(devices) or isinstance(devices, list | tuple)
        return torch.device("cuda", int(devices[0]) if listed else 0)
    return None


def step_seconds(
    cfg: DictConfig, size: int, batches: tuple[int, ...], device: torch.device
) -> dict[int, float] | None:
    """Seconds per training step of the chosen networks at each batch size, timed here on
    ``device`` at the run's precision: model.d_steps hinge updates of D, then one of G, with Adam;
    the median of TIMED_STEPS after WARMUP_STEPS. Not timed: R1 or the gradient penalty, ADA's ops,
    the EMA and the data loading (a few % at the sizes measured). None when a batch does not fit
    in the device's memory. The run's random streams are left as they were."""
    accelerator = str(cfg.trainer.get("accelerator", "auto"))
    precision = str(cfg.trainer.get("precision", "auto"))
    bf16 = (auto_precision(accelerator) if precision == "auto" else precision).startswith("bf16")
    d_steps = max(1, int(cfg.model.get("d_steps", 1)))
    cuda = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=cuda, device_type="cuda"):
        g = registry.build("generator", cfg.generator).to(device)
        d = registry.build("discriminator", cfg.discriminator).to(device)
        opt_g, opt_d = adam(g.parameters(), 1e-3), adam(d.parameters(), 1e-3)
        autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16)
        times = {}
        try:
            for b in batches:
                real = torch.randn(b, int(cfg.data.channels), size, size, device=device)
                samples = []
                for _ in range(WARMUP_STEPS + TIMED_STEPS):
                    t0 = time.perf_counter()
                    for _ in range(d_steps):
                        with autocast:
                            fake = g(torch.randn(b, g.latent_dim, device=device))
                            loss_d = (
                                F.relu(1 - d(real)).mean() + F.relu(1 + d(fake.detach())).mean()
                            )
                        opt_d.zero_grad(set_to_none=True)
                        loss_d.backward()
                        opt_d.step()
                    with autocast:
                        loss_g = -d(fake).mean()
                    opt_g.zero_grad(set_to_none=True)
                    loss_g.backward()
                    opt_g.step()
                    if cuda:
                        torch.cuda.synchronize(device)
                    samples.append(time.perf_counter() - t0)
                times[b] = statistics.median(samples[WARMUP_STEPS:])
        except RuntimeError as err:  # torch.OutOfMemoryError (CUDA) is one too
            if not out_of_memory(err):
                raise
            return None
    return times


def budget_batch(cfg: DictConfig, num_images: int, size: int) -> tuple[int, str]:
    """LONG_BATCH or SHORT_BATCH for the run's budget, and why (with the steps each would get)."""
    epochs = cfg.trainer.get("max_epochs")
    epochs = math.inf if epochs is None or epochs < 0 else epochs
    ranks = processes(cfg)
    per_rank = math.ceil(num_images / (ranks or 1))  # DDP: each rank trains on its shard
    limit = cfg.trainer.get("limit_train_batches", 1.0)
    steps = {  # per epoch (the DataModule drops the last partial batch), then the epochs
        b: resolve_planned_steps(per_rank, b, 1, limit) * epochs for b in (LONG_BATCH, SHORT_BATCH)
    }
    how = f"{epochs} epochs" if epochs != math.inf else "no epoch limit"
    max_steps = cfg.trainer.get("max_steps")  # batches, whatever their size (schedule.StepLimit)
    if max_steps:
        steps = {b: min(steps[b], max_steps) for b in steps}
        how = f"{how} or max_steps {max_steps}"
    seconds, device = max_seconds(cfg), timing_device(cfg)
    bound = set()  # the batches whose count is a bound (a step time left untimed): "at most"
    if seconds is None:
        pass
    elif ranks != 1 or device is None:  # max_time can only lower the counts: they are bounds
        bound = {LONG_BATCH, SHORT_BATCH}
        why = (
            "the DDP ranks must agree"
            if ranks != 1
            else f"trainer.accelerator={cfg.trainer.get('accelerator')} is not timed"
        )
        how = f"{how} (max_time {seconds:.0f} s not timed: {why})"
    elif steps[LONG_BATCH] < MIN_UPDATES:
        # max_time only ever lowers a count (min below): the epochs and max_steps alone leave
        # batch 64 short, so no step time can change the choice — nothing to time (a minute of
        # a 256-px run's start on a CPU core; benchmarks/README.md, "Start-up at 256 px").
        bound = {LONG_BATCH, SHORT_BATCH}
        how = (
            f"{how} (max_time {seconds:.0f} s not timed: these leave batch {LONG_BATCH} fewer "
            f"than {MIN_UPDATES:,} steps at any step time)"
        )
    else:
        how, bound, steps = _timed_budget(cfg, size, device, seconds, how, steps)
    counted = f"{how}: {_count(steps, LONG_BATCH, bound)} steps at batch {LONG_BATCH}"
    if steps[LONG_BATCH] >= MIN_UPDATES:
        return LONG_BATCH, f"{counted} (≥ {MIN_UPDATES:,})"
    return SHORT_BATCH, (
        f"{counted}, fewer than {MIN_UPDATES:,}: batch {SHORT_BATCH} makes "
        f"{_count(steps, SHORT_BATCH, bound)} updates"
    )


def _timed_budget(
    cfg: DictConfig, size: int, device: torch.device, seconds: float, how: str, steps: dict
) -> tuple[str, set, dict]:
    """The counts within ``seconds`` at the step times timed here: batch 16 first, batch 64 only
    when its time can change the choice.

    The rule counts a step of batch 64 as at least as slow as one of batch 16 (the max below: the
    same networks on 4× the images, 4-5× the time at 256 px on a CPU core; a faster batch 64 is a
    timing's noise). That makes the skip exact: when batch 16 cannot reach MIN_UPDATES steps in
    ``seconds``, batch 64 cannot either, whatever it would time. Against timing both as before,
    only one choice can differ: batch 64 timed *faster* than 16 and reaching MIN_UPDATES where 16
    does not — that one is now batch 16. Where both are timed the max changes no choice (16
    reached MIN_UPDATES, so 64 does), at most a count, and the reason then says so. (Also
    batch 16 now where batch 64 ran out of the device's memory: before, the epochs decided.)
    Returns the budget's words, the batches whose count is a bound, and the counts."""
    started = time.perf_counter()
    short = step_seconds(cfg, size, (SHORT_BATCH,), device)
    skip = short is not None and seconds / short[SHORT_BATCH] < MIN_UPDATES
    long = None if short is None or skip else step_seconds(cfg, size, (LONG_BATCH,), device)
    timed = [b for b, t in ((SHORT_BATCH, short), (LONG_BATCH, long)) if t]
    if timed:  # start-up the user waits for: said, since max_time does not hold it
        log.info(
            "recipe=auto: the budget rule timed %d steps of batch %s in %.0f s before the run "
            "(trainer.max_time counts from the start of training, not this)",
            WARMUP_STEPS + TIMED_STEPS,
            " and of ".join(map(str, timed)),
            time.perf_counter() - started,
        )
    if short is None:  # batch 16 is chosen and fails with the device's own message
        steps = {LONG_BATCH: 0, SHORT_BATCH: steps[SHORT_BATCH]}
        why = f"batch {SHORT_BATCH} did not fit in the device's memory"
        return f"{how} (max_time {seconds:.0f} s not timed: {why})", {SHORT_BATCH}, steps
    if long is None and not skip:  # a batch that does not fit makes no step: not chosen
        t = short[SHORT_BATCH]
        steps = {LONG_BATCH: 0, SHORT_BATCH: min(steps[SHORT_BATCH], seconds / t)}
        return (
            f"{how} or max_time {seconds:.0f} s at the steps timed here ({t * 1000:.0f} ms at "
            f"batch {SHORT_BATCH}; batch {LONG_BATCH} did not fit in the device's memory)",
            set(),
            steps,
        )
    if skip:
        t = short[SHORT_BATCH]
        steps = {b: min(steps[b], seconds / t) for b in steps}
        return (
            f"{how} or max_time {seconds:.0f} s at the steps timed here ({t * 1000:.0f} ms at "
            f"batch {SHORT_BATCH}; batch {LONG_BATCH} not timed: a step of it is counted as at "
            f"least as slow, so it cannot reach {MIN_UPDATES:,} either)",
            {LONG_BATCH},
            steps,
        )
    times = {LONG_BATCH: long[LONG_BATCH], SHORT_BATCH: short[SHORT_BATCH]}
    counted = {LONG_BATCH: max(times.values()), SHORT_BATCH: times[SHORT_BATCH]}
    steps = {b: min(steps[b], seconds / counted[b]) for b in steps}
    ms = ", ".join(f"{times[b] * 1000:.0f} ms at batch {b}" for b in times)
    if counted[LONG_BATCH] > times[LONG_BATCH]:
        ms += f"; batch {LONG_BATCH} counted at batch {SHORT_BATCH}'s time"
    return f"{how} or max_time {seconds:.0f} s at the steps timed here ({ms})", set(), steps


def _count(steps: dict, batch: int, bound: set) -> str:
    """A batch's count as the reason says it: ~N, "at most ~N" for a bound, or "unlimited"."""
    if steps[batch] == math.inf:
        return "unlimited"
    return f"{'at most ' * (batch in bound)}~{round(steps[batch]):,}"
