"""The fastest way to run this run's training step on this machine — measured, not assumed.

What is fastest depends on the hardware in ways that detection cannot know: channels_last speeds
up the fast pair and the MNIST pair on an AVX2 laptop CPU by 15–20 % but not the 64×64 reference
networks there, the fused upsampling helps in one layout and not the other, and whether
``torch.compile`` pays depends on the CPU or GPU and on how long the run is
(benchmarks/README.md, "The training step"). So, with
``trainer.fast_path=auto`` (the default), a run times a few steps of each candidate before
training — the training step itself (gan_lab.core.step.step, the function GAN.training_step runs),
on copies of its networks, on its batch shape and device, with its precision (the probe:
gan_lab.training.fast_path_probe) — and takes the fastest. The measurements are cached per
machine, torch version, precision, network structure, procedure and batch shape
(``$XDG_CACHE_HOME/gan-lab/fast_path.json``), so a machine pays for them once, and a resume picks
what the run picked (``choose_for``). One log line says what was chosen and why.

Every candidate computes the same thing (same weights, same procedure; results equal up to float
rounding): the memory layout (``model.channels_last``), the fused nearest-upsampling convolution
(``UpsampledConv2d``), compilation (``model.compile``: mode ``default`` on a CPU, where autotuning
takes many minutes; also ``max-autotune-no-cudagraphs`` and ``reduce-overhead`` — CUDA graphs — on
a GPU) and, on CPUs with 4+ cores, the number of threads. Precision is not a candidate:
``trainer.precision=auto`` picks bf16 by detection (gan_lab.hardware), since it changes the
numbers. A key set to true/false is kept as given and not timed; ``trainer.fast_path=off`` times
nothing and runs the plain path (contiguous, eager, unfused) except for what is set explicitly.

Compile time counts: compiled candidates are timed only for runs whose eager training would take
at least ``COMPILE_MIN_RUN_S`` (the planned epochs, or ``trainer.max_time`` when that is shorter),
and chosen only when the time they save over the run exceeds their compile time (paid again by
every run). The timing itself is skipped for runs under ``TIMING_SHARE`` times its cost.
"""

import itertools
import json
import logging
import os
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Timer

from gan_lab.core.step import Procedure
from gan_lab.data.decoded import cache_dir_for
from gan_lab.errors import UserError
from gan_lab.runs.safe_io import write_atomic

# The probe (timing) is gan_lab.training.fast_path_probe; its names stay importable from here.
from gan_lab.training.fast_path_probe import CACHE_VERSION as CACHE_VERSION
from gan_lab.training.fast_path_probe import (
    ROUNDS,
    STEPS_PER_ROUND,
    WARMUP_STEPS,
    Probe,
    probe_for,
    time_all,
)
from gan_lab.training.fast_path_probe import apply as apply
from gan_lab.training.fast_path_probe import plain_optimisation as plain_optimisation
from gan_lab.training.fast_path_probe import procedure_key as procedure_key
from gan_lab.training.schedule import StepLimit

log = logging.getLogger(__name__)

MODES = ("auto", "off")
COMPILE_MODES = ("default", "max-autotune-no-cudagraphs", "reduce-overhead")
# Shorter runs never time compiled paths (compiling takes minutes on a CPU).
COMPILE_MIN_RUN_S = 60 * 60
# Timing costs ~(WARMUP + STEPS) × ROUNDS steps per candidate: runs shorter than this many times
# that cost (≤ 5 %) take the cache, or the guess below, rather than spend it.
TIMING_SHARE = 20
# Without a measurement: channels_last, eager — faster than contiguous on every machine measured
# (AVX-512 BF16 and AVX2 CPUs, benchmarks/README.md) except the reference networks on AVX2, where
# it is even.
GUESS = {"channels_last": True, "fuse_upsampling": False, "compile": None, "threads": None}


@dataclass(frozen=True)
class FastPath:
    channels_last: bool = False
    fuse_upsampling: bool = False
    compile: str | None = None  # a torch.compile mode, or None for eager
    threads: int | None = None  # torch.set_num_threads; None = torch's default

    def describe(self) -> str:
        parts = ["channels_last" if self.channels_last else "contiguous"]
        if self.fuse_upsampling:
            parts.append("fused upsampling")
        parts.append(f"compile({self.compile})" if self.compile else "eager")
        if self.threads:
            parts.append(f"{self.threads} threads")
        return ", ".join(parts)


PLAIN = FastPath()
MAX_THREADS = 1024


def stored_path(stored: object, source: str | Path = "the checkpoint") -> FastPath:
    """The fast path a checkpoint recorded (``asdict`` of a FastPath), read as data (design §9):
    only FastPath's own keys, each of its type and range, or one UserError naming ``source``. A
    crafted file must not reach ``FastPath(**stored)`` with other keywords, nor hand
    ``torch.compile`` a mode or ``torch.set_num_threads`` a count of its choosing."""
    checks = {
        "channels_last": (lambda v: isinstance(v, bool), "true or false"),
        "fuse_upsampling": (lambda v: isinstance(v, bool), "true or false"),
        "compile": (
            lambda v: v is None or v in COMPILE_MODES,
            f"null or {', '.join(COMPILE_MODES)}",
        ),
        "threads": (
            lambda v: (
                v is None
                or (isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_THREADS)
            ),
            f"null or a whole number in [1, {MAX_THREADS}]",
        ),
    }
    if not isinstance(stored, dict):
        why = f"it is {type(stored).__name__}, not a group of {', '.join(checks)}"
    elif unknown := [k for k in stored if k not in checks]:
        why = f"{', '.join(repr(k)[:60] for k in unknown[:3])} is not one of {', '.join(checks)}"
    else:
        wrong = [(k, what) for k, (ok, what) in checks.items() if k in stored and not ok(stored[k])]
        why = f"{wrong[0][0]}={stored[wrong[0][0]]!r:.60} must be {wrong[0][1]}" if wrong else ""
    if why:
        raise UserError(
            f"{source}: its stored fast_path is not valid ({why}); the file was not loaded. Use a "
            "checkpoint written by train.py."
        )
    return FastPath(**stored)


def parse_compile(value) -> str | None | bool:
    """model.compile: false/true/a mode/auto → None, "default", the mode, or True (= time it)."""
    if value in (False, None, "false"):
        return None
    if value in (True, "true"):
        return "default"
    if value == "auto":
        return True
    if value in COMPILE_MODES:
        return value
    raise UserError(
        f"model.compile must be auto, true, false or one of {', '.join(COMPILE_MODES)}, "
        f"not '{value}'."
    )


def parse_layout(value) -> bool | None:
    """model.channels_last: true/false, or auto (None: timed)."""
    if value in (True, False):
        return value
    if value == "auto":
        return None
    raise UserError(f"model.channels_last must be auto, true or false, not '{value}'.")


def candidates(
    channels_last: bool | None,
    compile_: str | None | bool,
    fusable: bool,
    device: torch.device,
) -> list[FastPath]:
    """Every path worth timing; the first is the plain one (the reference of the log line)."""
    layouts = [False, True] if channels_last is None else [channels_last]
    fusions = [False, True] if fusable else [False]
    if compile_ is True:  # auto
        compiles = [None]
        if compiler_available(device):
            compiles.append("default")
            if device.type == "cuda":  # on a CPU autotuning takes many minutes per network
                compiles.append("max-autotune-no-cudagraphs")
                compiles.append("reduce-overhead")  # CUDA graphs: one launch for the whole step
    else:
        compiles = [compile_]
    threads = [None]
    cores = os.cpu_count() or 1
    if device.type == "cpu" and cores >= 4 and "OMP_NUM_THREADS" not in os.environ:
        threads.append(max(1, torch.get_num_threads() // 2))  # small nets may not scale
    return [
        FastPath(cl, fu, co, th)
        for cl, fu, co, th in itertools.product(layouts, fusions, compiles, threads)
    ]


def compiler_available(device: torch.device) -> bool:
    """torch.compile on a CPU builds C++: without a compiler it would fail mid-run."""
    return device.type == "cuda" or any(shutil.which(c) for c in ("c++", "g++", "clang++"))


# --- choosing -----------------------------------------------------------------------------------


def cache_file() -> Path:
    return cache_dir_for(True, None) / "fast_path.json"


def _read_cache(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}  # no cache yet, or a damaged one: measure again


def choose_for(module, trainer, procedure: Procedure) -> tuple[FastPath, str]:
    """The path a GAN module (gan_lab.training.module) with its step's ``procedure`` runs on under
    ``trainer``, and why: the one stored in the checkpoint it resumes from, the plain one
    (trainer.fast_path=off), or the fastest measured (``choose``)."""
    if module.stored_fast_path is not None:
        return module.stored_fast_path, "as stored in the checkpoint this run resumes"
    if module.fast_path_mode == "off":
        cl = bool(module.channels_last)
        co = None if module.compile is True else module.compile
        return FastPath(channels_last=cl, compile=co), "trainer.fast_path=off"
    fusable = getattr(module.generator, "can_fuse_upsampling", lambda: False)()
    dm, device = trainer.datamodule, trainer.strategy.root_device
    options = candidates(module.channels_last, module.compile, fusable, device)
    planned = resolve_planned_steps(
        len(dm.images), dm.batch_size, trainer.max_epochs or 1, trainer.limit_train_batches
    )
    limit = next((c for c in trainer.callbacks if isinstance(c, StepLimit)), None)
    planned = planned if limit is None else min(planned, limit.max_steps)  # trainer.max_steps
    timer = next((c for c in trainer.callbacks if isinstance(c, Timer)), None)
    # DDP ranks must agree on the layout: they read the cache but never time.
    return choose(
        probe_for(module, trainer, procedure),
        options,
        planned,
        timing=trainer.world_size == 1,
        max_seconds=getattr(timer, "_duration", None),  # trainer.max_time
    )


def choose(
    probe: Probe,
    options: list[FastPath],
    planned_steps: int,
    *,
    timing: bool = True,
    max_seconds: float | None = None,
) -> tuple[FastPath, str]:
    """The fastest of ``options`` for this run, and the log line that says why.

    Measurements come from the cache where it has them; the rest are timed now (and cached)
    unless ``timing`` is false (DDP ranks must not disagree: they use the cache or the first
    option). Compiled paths are timed only when the eager ones show a run of at least
    ``COMPILE_MIN_RUN_S``, and must repay their compile time within the run: ``planned_steps``,
    or as many as fit in ``max_seconds`` (trainer.max_time) when that comes first.
    """
    if len(options) == 1:
        return options[0], "the only candidate the config leaves"
    file, key = cache_file(), probe.key()
    known = _read_cache(file).get(key, {})
    spent = 0.0
    eager = [p for p in options if not p.compile]
    compiled = [p for p in options if p.compile]
    # What timing the eager paths costs (compiled ones are timed only for hour-long runs).
    timing_cost = len(eager or compiled) * ROUNDS * (WARMUP_STEPS + STEPS_PER_ROUND)
    short = planned_steps < TIMING_SHARE * timing_cost
    timing = timing and not short

    def measure(paths: list[FastPath]) -> None:
        nonlocal spent
        todo = [p for p in paths if p.describe() not in known]
        if todo and timing:
            t0 = time.perf_counter()
            known.update(time_all(probe, todo))
            spent += time.perf_counter() - t0
            _write_cache(file, key, known)

    def cost_s(path: FastPath) -> float:  # the whole run's step time, compile included
        m = known[path.describe()]
        return m["ms"] / 1000 * steps() + m["compile_s"]

    def steps() -> float:  # the planned steps, or those the time limit leaves room for
        if max_seconds is None:
            return planned_steps
        fastest = min(known[p.describe()]["ms"] for p in options if p.describe() in known)
        return min(planned_steps, max_seconds / (fastest / 1000))

    measure(eager)
    eager_known = [p for p in eager if p.describe() in known]
    if compiled and (not eager or min(map(cost_s, eager_known), default=0) >= COMPILE_MIN_RUN_S):
        measure(compiled)
    measured = [p for p in options if p.describe() in known]
    if not measured:
        guess = min(options, key=lambda p: sum(asdict(p)[k] != v for k, v in GUESS.items()))
        why = (
            f"a run of {planned_steps} steps is too short to repay ~{timing_cost} timed steps"
            if short
            else "DDP ranks only read the cache"
        )
        return guess, f"not timed ({why}; nothing cached for these networks), guessed"
    best = min(measured, key=cost_s)
    table = "; ".join(f"{p.describe()} {known[p.describe()]['ms']:.0f} ms" for p in measured)
    how = f"timed in {spent:.1f} s" if spent else "measured earlier"
    return best, f"{how}, cached in {file}: {table} per step"


def _write_cache(file: Path, key: str, entries: dict) -> None:
    cache = _read_cache(file)  # another run may have written meanwhile
    cache[key] = {**cache.get(key, {}), **entries}
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(file, json.dumps(cache, indent=1).encode())
    except OSError as err:
        log.warning("fast path: could not cache the timings in %s (%s)", file, err)


def resolve_planned_steps(
    n_images: int, batch_size: int, max_epochs: int, limit: float | int
) -> int:
    """Steps the run plans: epochs × batches (drop_last, as the DataModule), within the limit."""
    per_epoch = max(1, n_images // batch_size) if n_images > batch_size else 1
    if isinstance(limit, int) and not isinstance(limit, bool):
        per_epoch = min(per_epoch, limit)
    elif isinstance(limit, float):
        per_epoch = max(1, int(per_epoch * limit))
    return per_epoch * max(1, max_epochs)
