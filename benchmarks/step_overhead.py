"""Where the lab's step costs more than the plain loop's (issue 37): three measurements.

    taskset -c 1 python benchmarks/step_overhead.py sides [--case digits28_16] [--rounds 7]
    taskset -c 1 python benchmarks/step_overhead.py pieces [--case digits28_16] [--steps 300]
    taskset -c 1 python benchmarks/step_overhead.py callbacks [--case digits28_16] [--rounds 6]

sides      the plain loop (bench_step's, two G passes), the lab's step() function with plain fused
           Adam (the fast path probe's plain_optimisation, no Lightning) and the lab (Trainer),
           interleaved rounds;
pieces     one run per piece of the module, that piece replaced in every second step (the other
           steps as they are, so both halves see the same machine): Lightning's optimiser,
           manual_backward, the NaN guard, the per-step statistics, all four (the module
           stopped calling toggled_optimizer on 2026-12-07: core.step.toggled; its row in
           benchmarks/README.md was measured before);
callbacks  the lab bare, with the run's callbacks and the CSV logger, and with the progress bar.

Cases and setup are bench_step.py's --per-batch ones (the loop's procedure, bf16 where native,
channels_last, one thread); times are the process's CPU time from one batch's start to the next.
"""

import argparse
import statistics
import time

import bench_step as B
import lightning as L
import torch
from omegaconf import OmegaConf, open_dict

from gan_lab.config import compose
from gan_lab.core.step import Networks, step
from gan_lab.training import fast_path
from gan_lab.training.fast_path_probe import plain_optimisation
from gan_lab.training.module import GAN
from gan_lab.training.train import build_module, make_trainer, settle


def longer(cfg):
    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.trainer.max_epochs = 1000
    return cfg


def plain_step(cfg, dm, steps: int) -> list[float]:
    """gan_lab.core.step.step in a plain loop: the lab's step without Lightning or the module."""
    m = build_module(cfg, dm)
    fast_path.apply(fast_path.FastPath(channels_last=True), [m.generator], m.discriminator)
    opts = {
        "D": B.adam(m.discriminator.parameters(), cfg.model.lr_d, tuple(cfg.model.betas_d)),
        "G": B.adam(m.generator.parameters(), cfg.model.lr_g, tuple(cfg.model.betas_g)),
    }
    nets = Networks(m.generator, m.discriminator, m.generator, m.discriminator, None, m.noise)
    opt, proc, b = plain_optimisation(opts), m.procedure, cfg.data.batch_size
    images = dm.to_model_range(dm.images).contiguous(memory_format=torch.channels_last)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=B.auto_precision("auto") != "32-true")
    times, last = [], None
    for i in range(steps + 1):
        now = time.process_time()
        if last is not None:
            times.append(now - last)
        last = now
        with autocast:
            step(nets, proc, images[(i * b) % (len(images) - b) :][:b], None, opt)
    return times


def sides(cfg, dm, args) -> None:
    runners = {
        "the plain loop": lambda n: B.loop_batch_steps(cfg, dm, n, False),
        "step(), plain torch optimisers": lambda n: plain_step(cfg, dm, n),
        "the lab": lambda n: B.lab_batch_steps(cfg, dm, n, "new"),
    }
    res, names = {k: [] for k in runners}, list(runners)
    for r in range(args.rounds):
        for k in names[r % 3 :] + names[: r % 3]:
            res[k].append(statistics.median(runners[k](35)[5:]) * 1000)
    for k, v in res.items():
        ratios = [a / b for a, b in zip(v, res["the plain loop"], strict=True)]
        print(
            f"  {k:32s} {statistics.median(v):6.2f} ms  × loop {statistics.median(ratios):.3f}"
            f" ({min(ratios):.3f}–{max(ratios):.3f})"
        )


def raw_update(self, opt, loss, phase):
    o = opt.optimizer
    o.zero_grad(set_to_none=True)
    if not self._finite(loss, phase):
        return False
    self.manual_backward(loss)
    o.step()
    return True


PIECES = {
    "Lightning's optimiser → opt.optimizer": {"_update": raw_update},
    "manual_backward → loss.backward()": {"manual_backward": lambda self, loss: loss.backward()},
    "the NaN guard → nothing": {
        "_finite": lambda self, loss, phase: True,
        "_keep_buffers": lambda self: None,
    },
    "the statistics → nothing": {"_record": lambda self, stats, b: None},
}
PIECES["all four"] = {k: v for patch in PIECES.values() for k, v in patch.items()}


class Alternate(L.Callback):
    """Even steps as they are, odd steps with ``patch`` applied to GAN; CPU time of each."""

    def __init__(self, patch: dict, steps: int, original: dict):
        self.patch, self.steps, self.original = patch, steps, original
        self.times, self.last, self.n = ([], []), None, 0

    def on_train_batch_start(self, trainer, *args):
        now = time.process_time()
        if self.last is not None and self.n > 10:
            self.times[(self.n - 1) % 2].append(now - self.last)
        for k, v in self.original.items():
            setattr(GAN, k, v)
        if self.n % 2:
            for k, v in self.patch.items():
                setattr(GAN, k, v)
        self.n, self.last = self.n + 1, now
        trainer.should_stop = self.n > self.steps


def pieces(cfg, dm, args) -> None:
    original = {k: getattr(GAN, k) for patch in PIECES.values() for k in patch}
    for name, patch in PIECES.items():
        alternate = Alternate(patch, args.steps, original)
        try:
            make_trainer(longer(cfg), callbacks=[alternate]).fit(
                build_module(cfg, dm), datamodule=dm
            )
        finally:
            for k, v in original.items():
                setattr(GAN, k, v)
        kept, replaced = (statistics.median(t) * 1000 for t in alternate.times)
        print(
            f"  {name:44s} as is {kept:6.2f} ms, replaced {replaced:6.2f}: {kept - replaced:+.2f}"
        )


def callbacks(overrides: list[str], args) -> None:
    variants = {
        "bare": ["callbacks=none", "logger=none", "trainer.enable_progress_bar=false"],
        "the run's callbacks + CSV": ["logger=csv", "trainer.enable_progress_bar=false"],
        "those + the progress bar": ["logger=csv", "trainer.enable_progress_bar=true"],
    }
    base = overrides + ["seed=0", "trainer.enable_model_summary=false", "metrics=off"]
    settled = {}
    for k, more in variants.items():
        out = B.OUT / f"callbacks_{len(settled)}"
        cfg, _, dm = settle(compose("train", base + more, output_dir=out))
        settled[k] = (cfg, dm)
    res, names = {k: [] for k in variants}, list(variants)
    for r in range(args.rounds):
        for k in names[r % 3 :] + names[: r % 3]:
            cfg, dm = settled[k]
            timer = B.StartToStart(40)
            make_trainer(longer(cfg), callbacks=[timer]).fit(build_module(cfg, dm), datamodule=dm)
            res[k].append(statistics.median(timer.times[5:]) * 1000)
    for k, v in res.items():
        ratios = [a / b for a, b in zip(v, res["bare"], strict=True)]
        print(
            f"  {k:28s} {statistics.median(v):6.2f} ms  × bare {statistics.median(ratios):.3f}"
            f" ({min(ratios):.3f}–{max(ratios):.3f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("what", choices=("sides", "pieces", "callbacks"))
    parser.add_argument("--case", default="digits28_16", choices=list(B.BATCH_CASES))
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(1)
    title, case = B.BATCH_CASES[args.case]
    print(f"{title}; one thread, CPU time")
    if args.what == "callbacks":
        callbacks(case + B.PER_BATCH_WORK, args)
        return
    cfg, dm = B.settled(case + B.PER_BATCH_WORK)
    (sides if args.what == "sides" else pieces)(cfg, dm, args)


if __name__ == "__main__":
    main()
