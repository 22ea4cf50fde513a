"""The fast path's probe: the run's own training step, timed on each equivalent path.

What is timed is the step that trains (gan_lab.core.step.step, the function GAN.training_step
runs), on deep copies of the run's networks and procedure, on its first batch, its device and its
precision, with plain-torch optimisers that freeze and skip as Lightning's do; the run's weights,
ADA state and random streams are left as they were. Which path to take, and the cache of these
measurements, are gan_lab.training.fast_path's (the choice); this module only measures.
"""

from __future__ import annotations

import copy
import hashlib
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from gan_lab.core import rng
from gan_lab.core.noise import Noise
from gan_lab.core.step import Networks, Optimisation, Procedure, adam, step, toggled
from gan_lab.hardware import device_name

if TYPE_CHECKING:  # the choice imports the probe, never the other way round
    from gan_lab.training.fast_path import FastPath

# Bump when what is timed changes (3: the training step itself): old timings are then unused.
CACHE_VERSION = 3
WARMUP_STEPS, ROUNDS, STEPS_PER_ROUND = 1, 3, 2  # ~18 s for the default run on an AVX2 laptop


def apply(path: FastPath, generators: list[nn.Module], discriminator: nn.Module) -> None:
    """Layout, fusion and threads on the networks themselves (compilation is the caller's)."""
    fmt = torch.channels_last if path.channels_last else torch.contiguous_format
    for g in generators:
        g.to(memory_format=fmt)
        if hasattr(g, "fuse_upsampling"):
            g.fuse_upsampling(path.fuse_upsampling)
    discriminator.to(memory_format=fmt)
    if path.threads:
        torch.set_num_threads(path.threads)


def procedure_key(proc: Procedure) -> str:
    """What changes the step's cost (the fast path's cache key)."""
    parts = [type(proc.loss).__name__, f"d_steps {proc.d_steps}", f"G batch {proc.g_batch}"]
    if proc.g_fakes == "reuse":  # one G pass a step (the key of "new" is the one before the option)
        parts.append("G fakes reused")
    if proc.r1_gamma > 0:
        parts.append("R1")
    if proc.gp_weight > 0:
        parts.append("gradient penalty")
    if proc.class_loss > 0:
        parts.append("class loss")
    if proc.diffaug_ops:
        parts.append("DiffAugment " + "/".join(op.__name__ for op in proc.diffaug_ops))
    if proc.ada is not None:
        parts.append("ADA " + "/".join(op.__name__ for op in proc.ada.ops))
    return ", ".join(parts)


def plain_optimisation(optimisers: dict[str, torch.optim.Optimizer]) -> Optimisation:
    """The Optimisation of plain torch (the fast path's probe): each phase freezes the other
    optimisers' weights as Lightning's toggled_optimizer does, and a NaN/Inf loss skips the
    update after one host sync, as the module's guard does (its cost is part of the step)."""

    def update(name: str, loss: torch.Tensor) -> bool:
        optimisers[name].zero_grad(set_to_none=True)
        if not math.isfinite(loss.item()):  # as GAN._finite on one device
            return False
        loss.backward()
        optimisers[name].step()
        return True

    return Optimisation(phase=toggled(optimisers), keep=lambda: None, update=update)


@dataclass
class Probe:
    """What a timed step needs: the run's networks and procedure (copied per candidate), a real
    batch and its classes (conditional runs; else None) on the device, the latent distribution
    and the precision. The step timed is gan_lab.core.step.step, the one that trains: its loss,
    R1 or gradient penalty, augmentation, class loss, G batch and the EMA of G."""

    generator: nn.Module
    discriminator: nn.Module
    ema: nn.Module | None
    procedure: Procedure
    noise: Noise
    real: torch.Tensor
    labels: torch.Tensor | None
    bf16: bool

    def key(self) -> str:
        """Same machine, torch, precision, networks, procedure and batch shape → same
        measurements."""
        nets = hashlib.sha1(f"{self.generator}\n{self.discriminator}".encode()).hexdigest()[:12]
        shape = "x".join(map(str, self.real.shape))
        precision = "bf16" if self.bf16 else "fp32"
        return (
            f"v{CACHE_VERSION} | {device_name(self.real.device)} | torch {torch.__version__} | "
            f"{torch.get_num_threads()} threads | {precision} | nets {nets} | batch {shape} | "
            f"{'conditional' if self.labels is not None else 'unconditional'} | "
            f"{procedure_key(self.procedure)}" + (" | EMA" if self.ema is not None else "")
        )

    def time(self, path: FastPath) -> tuple[list[float], float]:
        """Median-ready step times (s) of one candidate, and its first step's extra cost (s):
        for a compiled candidate, the compile time."""
        # One deepcopy: the procedure's ADA (its p and sums) is copied too, so timing leaves the
        # run's own state as it was.
        g, d, ema, proc = copy.deepcopy(
            (self.generator, self.discriminator, self.ema, self.procedure)
        )
        threads = torch.get_num_threads()
        apply(path, [g] + ([ema.module] if ema is not None else []), d)
        step = self._step_fn(g, d, ema, proc, path)
        try:
            t0 = _now(self.real.device)
            for _ in range(WARMUP_STEPS):
                step()
            first = _now(self.real.device) - t0
            times = []
            for _ in range(STEPS_PER_ROUND):
                t = _now(self.real.device)
                step()
                times.append(_now(self.real.device) - t)
        finally:
            torch.set_num_threads(threads)
        return times, max(0.0, first - WARMUP_STEPS * statistics.median(times))

    def _step_fn(
        self,
        g: nn.Module,
        d: nn.Module,
        ema: nn.Module | None,
        proc: Procedure,
        path: FastPath,
    ) -> Callable[[], None]:
        """The training step (gan_lab.core.step.step) on copies, with plain Adam optimisers and
        under autocast as Lightning runs it with bf16."""
        opt_d, opt_g = adam(d.parameters(), lr=1e-8), adam(g.parameters(), lr=1e-8)
        fmt = torch.channels_last if path.channels_last else torch.contiguous_format
        real = self.real.contiguous(memory_format=fmt)
        dev = real.device
        nets = Networks(
            G=torch.compile(g, mode=path.compile) if path.compile else g,
            D=torch.compile(d, mode=path.compile) if path.compile else d,
            generator=g,
            discriminator=d,
            ema=ema,
            noise=self.noise,
        )
        optimisation = plain_optimisation({"D": opt_d, "G": opt_g})
        autocast = torch.autocast(dev.type, dtype=torch.bfloat16, enabled=self.bf16)

        def run() -> None:
            with autocast:
                step(nets, proc, real, self.labels, optimisation)

        return run


def probe_for(module, trainer, procedure: Procedure) -> Probe:
    """A probe of the module's step (its ``procedure``) on the first batch of the trainer's
    data."""
    dm, device = trainer.datamodule, trainer.strategy.root_device
    b = min(dm.batch_size, len(dm.images))
    labels = dm.labels[:b].to(device) if module.conditional else None
    return Probe(
        generator=module.generator,
        discriminator=module.discriminator,
        ema=module.generator_ema,
        procedure=procedure,
        noise=module.noise,
        real=dm.to_model_range(dm.images[:b]).to(device),
        labels=labels,
        bf16=str(trainer.precision).startswith("bf16"),
    )


def _now(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return time.perf_counter()


def time_all(probe: Probe, paths: list[FastPath]) -> dict[str, dict]:
    """Each path's median step time, in interleaved rounds (a drifting machine speed hits all
    alike); the run's random streams are left as they were."""
    state = rng.capture()
    samples: dict[FastPath, list[float]] = {p: [] for p in paths}
    first: dict[FastPath, float] = {}
    try:
        for r in range(ROUNDS):
            for path in paths[r % len(paths) :] + paths[: r % len(paths)]:
                times, extra = probe.time(path)
                samples[path] += times
                first[path] = max(first.get(path, 0.0), extra)
    finally:
        rng.restore(state)
    return {
        p.describe(): {
            "ms": round(statistics.median(samples[p]) * 1000, 2),
            "compile_s": round(first[p], 1) if p.compile else 0.0,
            **asdict(p),
        }
        for p in paths
    }
