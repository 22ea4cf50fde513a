"""Every candidate path of gan-lab's training step vs. a hand-written PyTorch loop, on this machine.

    python benchmarks/bench_step.py [--rounds 3] [--steps 6] [--cases reference,fast,mnist]
                                    [--no-compile] [--no-extras]

Cases: the 003 reference networks (64×64, batch 8), the fast pair of `python train.py` (32×32,
batch 64) and the 004 MNIST pair (28×28, batch 128). Runners, interleaved round by round (each
round starting with the next runner) so all see the same machine state:

  raw fp32            a plain loop of the same networks and procedure (design §4), fp32, default
                      layout: the baseline every ratio is taken against;
  raw channels_last   the same loop with the NHWC layout (what a careful hand-written loop gets);
  lab <path>          the project's LightningModule + Trainer forced onto one fast-path candidate
                      (layout, fused nearest upsampling, torch.compile mode, threads; fp32, or
                      bf16 autocast where the CPU/GPU runs it natively);
  lab default         what a user gets: trainer.fast_path=auto, precision=auto (the chosen path
                      is printed);
  lab +EMA/+DiffAugment/+mixed/-stats   the default path with one of the step's extras changed,
                      to show what each costs besides the two phases.

Times are medians of per-step wall time (D and G phase together) after each block's first
steps (warm-up; compile), the ratios medians of per-round ratios to raw fp32. Name the machine
(CPU flags or GPU) beside any figure taken from here.

    python benchmarks/bench_step.py --per-batch [--rounds 5] [--steps 30] [--batch-cases ...]

Per batch (issue 37): the lab against the plain loop at batch 16 and 64, for the fast pair (32 px)
and the networks recipe=auto picks for data=digits at 28 and 64 px, both sides in the lab's
precision (bf16 autocast where native) and channels_last, with the loop's procedure (BCE with
label noise, no EMA, no augmentation). Two pairs of rows: the loop with two G passes a step
against model.g_fakes=new (design §4's procedure on both sides), and the loop's own one G pass
against g_fakes=reuse. A lab step is timed from one batch's start to the next (Lightning's loop,
data fetching and hooks included), a loop step likewise; on one thread
(torch.set_num_threads(1)) each is the process's CPU time, so that other work on the same core
(a shared machine) does not enter the figure.
"""

import argparse
import dataclasses
import statistics
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from gan_lab.config import compose
from gan_lab.core.step import adam
from gan_lab.hardware import auto_precision, device_name
from gan_lab.training import fast_path
from gan_lab.training.train import build, make_trainer

OUT = Path("/tmp/bench_run")
# The raw loop's procedure everywhere (BCE with label noise, no EMA, D without augmentation):
# the project must be compared with the same work. The extras are measured separately.
SAME_WORK = ["model.loss=bce", "model.ema=0", "model.diffaug=null", "model.label_noise=0.05"]
CASES = {
    "reference": (
        "003 reference, 64×64, batch 8",
        ["experiment=reference", "data.num_images=1024"],
    ),
    "fast": ("fast pair (python train.py), 32×32, batch 64", ["data.num_images=2048"]),
    "mnist": (
        "004 MNIST pair, 28×28, batch 128",
        [
            "generator=mnist",
            "discriminator=mnist",
            "data.image_size=28",
            "data.channels=1",
            "data.batch_size=128",
            "data.num_images=4096",
            "model.g_batch=fake",
        ],
    ),
}


class StepTimer(L.Callback):
    """Per-step wall times; stops the run after ``steps``, so the run keeps its planned length
    (the fast path decides by it) while the benchmark takes only a few steps."""

    def __init__(self, steps: int):
        self.steps, self.times = steps, []

    def on_train_batch_start(self, *args):
        self._t = time.perf_counter()

    def on_train_batch_end(self, trainer, *args):
        if trainer.strategy.root_device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append(time.perf_counter() - self._t)
        trainer.should_stop = len(self.times) >= self.steps


def lab_steps(
    overrides: list[str], steps: int, path: fast_path.FastPath | None, precision: str
) -> tuple[list[float], str]:
    """The project's step; ``path`` None = the default (trainer.fast_path=auto) as a user gets."""
    cfg = compose(
        "train",
        overrides
        + [
            f"trainer.precision={precision}",
            "callbacks=none",  # the bare step: no checkpoints, grids or CSVs
            "logger=none",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "seed=0",
        ],
        output_dir=OUT,
    )
    module, dm = build(cfg)
    if path is not None:
        module.use_stored_fast_path(dataclasses.asdict(path))  # forced, as a resume is
    timer, threads = StepTimer(steps), torch.get_num_threads()
    try:
        make_trainer(cfg, callbacks=[timer]).fit(module, datamodule=dm)
    finally:
        torch.set_num_threads(threads)  # a path with fewer threads must not slow the next runner
    return timer.times, module.fast_path.describe()


def raw_steps(overrides: list[str], steps: int, channels_last: bool) -> list[float]:
    """The same procedure written by hand, fp32, as a user would without gan-lab."""
    cfg = compose("train", overrides + ["seed=0"], output_dir=OUT)
    module, dm = build(cfg)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    G = module.generator.to(device, memory_format=fmt)
    D = module.discriminator.to(device, memory_format=fmt)
    # fused Adam, as the lab's (gan_lab.core.step.adam) since 2026-12-01: the tables below were
    # measured with torch's default Adam in both
    opt_d = adam(D.parameters(), cfg.model.lr_d, tuple(cfg.model.betas_d))
    opt_g = adam(G.parameters(), cfg.model.lr_g, tuple(cfg.model.betas_g))
    b, z_dim = cfg.data.batch_size, G.latent_dim
    images = dm.to_model_range(dm.images).to(device).contiguous(memory_format=fmt)
    ones, zeros = torch.ones(b, device=device), torch.zeros(b, device=device)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        real = images[(i * b) % (len(images) - b) :][:b]
        with torch.no_grad():
            fake = G(torch.randn(b, z_dim, device=device))
        labels = torch.cat([ones, zeros])
        labels = (labels + (torch.rand(2 * b, device=device) * 2 - 1) * 0.05).clamp(0, 1)
        d_loss = F.binary_cross_entropy_with_logits(D(torch.cat([real, fake])).flatten(), labels)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        fake = G(torch.randn(b, z_dim, device=device))
        g_loss = F.binary_cross_entropy_with_logits(D(fake).flatten(), ones)
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - t)
    return times


def runners(case: list[str], args) -> dict:
    """name → (function of steps returning (times, note)): every candidate for this machine."""
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    native = auto_precision("auto")  # bf16-mixed where native, else 32-true
    same = case + SAME_WORK
    cfg = compose("train", same, output_dir=OUT)
    module, _ = build(cfg)
    fusable = module.generator.can_fuse_upsampling()
    paths = fast_path.candidates(None, None, fusable, device)
    if not args.no_compile and fast_path.compiler_available(device):
        # On a CPU only mode "default": autotuning takes many minutes there.
        modes = fast_path.COMPILE_MODES if device.type == "cuda" else fast_path.COMPILE_MODES[:1]
        for mode in modes:
            paths.append(fast_path.FastPath(channels_last=True, compile=mode))
    if device.type == "cpu" and torch.get_num_threads() > 1:
        paths.append(fast_path.FastPath(channels_last=True, threads=torch.get_num_threads() // 2))
    out = {
        "raw fp32": lambda n: (raw_steps(same, n, False), ""),
        "raw channels_last": lambda n: (raw_steps(same, n, True), ""),
    }
    for p in paths:
        out[f"lab fp32 {p.describe()}"] = lambda n, p=p: lab_steps(same, n, p, "32-true")
    if native != "32-true":
        for cl in (False, True):
            p = fast_path.FastPath(channels_last=cl)
            out[f"lab bf16 {p.describe()}"] = lambda n, p=p: lab_steps(same, n, p, native)
    out["lab default"] = lambda n: lab_steps(same, n, None, "auto")
    if not args.no_extras:  # the default path with what the default recipe adds to the step
        extras = {
            "+EMA 0.999": ["model.ema=0.999"],
            "+DiffAugment": ["model.diffaug=[translation,color,cutout]"],
            "+mixed G batch": ["model.g_batch=mixed"],
        }
        for name, more in extras.items():
            out[f"lab default {name}"] = lambda n, more=more: lab_steps(
                same + more, n, None, "auto"
            )
        out["lab default -stats"] = lambda n: _without_stats(same, n)
    return out


def _without_stats(overrides: list[str], steps: int) -> tuple[list[float], str]:
    """The default path without the per-step statistics (the epoch means and logged values)."""
    from gan_lab.training.module import GAN

    record = GAN._record
    GAN._record = lambda self, stats, b: None
    try:
        return lab_steps(overrides, steps, None, "auto")
    finally:
        GAN._record = record


# --per-batch: name → (title, overrides); digits at 28/64 px get recipe=auto's networks (the batch
# named, so the budget rule does not choose it), the fast pair is the built-in set's.
BATCH_CASES = {
    f"{name}{b}": (f"{title}, batch {b}", [*more, f"data.batch_size={b}"])
    for b in (16, 64)
    for name, title, more in (
        ("fast", "fast pair (python train.py), 32×32", ["data.num_images=2048"]),
        (
            "digits28_",
            "digits, recipe=auto's 28-px networks",
            ["data=digits", "data.image_size=28"],
        ),
        (
            "digits64_",
            "digits, recipe=auto's 64-px networks",
            ["data=digits", "data.image_size=64"],
        ),
    )
}
# What both sides do: the loop's procedure (SAME_WORK), no ADA, channels_last, no compilation.
PER_BATCH_WORK = SAME_WORK + [
    "model.ada.enabled=false",
    "model.channels_last=true",
    "model.compile=false",
    "trainer.fast_path=off",
    "model.g_batch=fake",
]


class StartToStart(L.Callback):
    """CPU time from one batch's start to the next: the whole of Lightning's loop per step."""

    def __init__(self, steps: int):
        self.steps, self.times, self.last = steps, [], None

    def on_train_batch_start(self, trainer, *args):
        now = time.process_time()
        if self.last is not None:
            self.times.append(now - self.last)
        self.last = now
        trainer.should_stop = len(self.times) >= self.steps


def settled(overrides: list[str]):
    """(config, data) settled once per case: each runner builds fresh networks from them."""
    from gan_lab.training.train import settle

    cfg = compose(
        "train",
        overrides
        + [
            "callbacks=none",
            "logger=none",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "seed=0",
        ],
        output_dir=OUT,
    )
    cfg, _, dm = settle(cfg)
    return cfg, dm


def lab_fit(cfg, dm, g_fakes: str, callback: L.Callback) -> None:
    """The lab on a fresh module of this case, with ``g_fakes``, until ``callback`` stops it."""
    from omegaconf import OmegaConf, open_dict

    from gan_lab.training.train import build_module

    cfg = cfg.copy()
    OmegaConf.set_readonly(cfg, False)
    with open_dict(cfg):
        cfg.model.g_fakes = g_fakes
        cfg.trainer.max_epochs = 1000
    make_trainer(cfg, callbacks=[callback]).fit(build_module(cfg, dm), datamodule=dm)


def lab_batch_steps(cfg, dm, steps: int, g_fakes: str) -> list[float]:
    timer = StartToStart(steps)
    lab_fit(cfg, dm, g_fakes, timer)
    return timer.times


class PlainLoop:
    """The plain loop on the same networks, precision and layout, one step a call: two G passes a
    step (design §4) or one (reuse the D phase's fakes, as benchmarks/raw_dcgan.py), batches drawn
    as raw_dcgan.py draws them (a permutation an epoch, one gather a batch)."""

    def __init__(self, cfg, dm, reuse: bool):
        from gan_lab.training.train import build_module

        module = build_module(cfg, dm)
        fmt = torch.channels_last
        self.G = module.generator.to(memory_format=fmt)
        self.D = module.discriminator.to(memory_format=fmt)
        self.opt_d = adam(self.D.parameters(), cfg.model.lr_d, tuple(cfg.model.betas_d))
        self.opt_g = adam(self.G.parameters(), cfg.model.lr_g, tuple(cfg.model.betas_g))
        self.b, self.reuse = cfg.data.batch_size, reuse
        self.images = dm.to_model_range(dm.images).contiguous(memory_format=fmt)
        self.ones, self.zeros = torch.ones(self.b), torch.zeros(self.b)
        bf16 = auto_precision("auto") == "bf16-mixed"
        self.autocast = torch.autocast("cpu", torch.bfloat16, enabled=bf16)
        self.batches = iter(())

    def __call__(self) -> None:
        G, D, b = self.G, self.D, self.b
        idx = next(self.batches, None)
        if idx is None or len(idx) < b:
            self.batches = iter(torch.randperm(len(self.images)).split(b))
            idx = next(self.batches)
        real = self.images[idx]
        with self.autocast:
            with torch.set_grad_enabled(self.reuse):
                fake = G(torch.randn(b, G.latent_dim))
            labels = torch.cat([self.ones, self.zeros])
            labels = (labels + (torch.rand(2 * b) * 2 - 1) * 0.05).clamp(0, 1)
            logits = D(torch.cat([real, fake.detach().to(real.dtype)])).flatten().float()
            d_loss = F.binary_cross_entropy_with_logits(logits, labels)
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        D.requires_grad_(False)
        with self.autocast:
            if not self.reuse:
                fake = G(torch.randn(b, G.latent_dim))
            g_loss = F.binary_cross_entropy_with_logits(D(fake).flatten().float(), self.ones)
        self.opt_g.zero_grad()
        g_loss.backward()
        self.opt_g.step()
        D.requires_grad_(True)


def loop_batch_steps(cfg, dm, steps: int, reuse: bool) -> list[float]:
    loop, times = PlainLoop(cfg, dm, reuse), []
    for _ in range(steps):
        start = time.process_time()
        loop()
        times.append(time.process_time() - start)
    return times


class Interleaved(L.Callback):
    """One plain-loop step run and timed at each lab batch's start; the lab's step is the rest of
    its start-to-start cycle. Both sides then see the machine in the same second."""

    def __init__(self, loop: PlainLoop, steps: int):
        self.loop, self.steps = loop, steps
        self.lab, self.plain, self.last = [], [], None

    def on_train_batch_start(self, trainer, *args):
        now = time.process_time()
        if self.last is not None:
            self.lab.append(now - self.last)
        self.loop()
        self.last = time.process_time()
        self.plain.append(self.last - now)
        trainer.should_stop = len(self.lab) >= self.steps


def interleaved_steps(cfg, dm, steps: int, g_fakes: str) -> tuple[list[float], list[float]]:
    """(lab, loop) step times, alternating step by step in one process."""
    pair = Interleaved(PlainLoop(cfg, dm, reuse=g_fakes == "reuse"), steps)
    lab_fit(cfg, dm, g_fakes, pair)
    return pair.lab, pair.plain[: len(pair.lab)]


ROWS = (  # (lab's g_fakes, the loop's row, the lab's row)
    ("new", "loop, two G passes", "lab, g_fakes=new"),
    ("reuse", "loop, one G pass", "lab, g_fakes=reuse"),
)


def per_batch(args) -> None:
    torch.set_num_threads(1)
    print(f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, 1 thread, CPU time")
    for key in args.batch_cases.split(","):
        title, case = BATCH_CASES[key]
        cfg, dm = settled(case + PER_BATCH_WORK)
        rounds = []
        for r in range(args.rounds):
            medians = {}
            for g_fakes, loop_row, lab_row in ROWS[r % 2 :] + ROWS[: r % 2]:
                n = args.steps + 5
                if args.interleave == "step":
                    lab, loop = interleaved_steps(cfg, dm, n, g_fakes)
                elif r % 2:  # blocks: each side's whole run in turn (the tables before 2026-12-07)
                    loop = loop_batch_steps(cfg, dm, n, g_fakes == "reuse")
                    lab = lab_batch_steps(cfg, dm, n, g_fakes)
                else:
                    lab = lab_batch_steps(cfg, dm, n, g_fakes)
                    loop = loop_batch_steps(cfg, dm, n, g_fakes == "reuse")
                medians[loop_row] = statistics.median(loop[5:]) * 1000
                medians[lab_row] = statistics.median(lab[5:]) * 1000
            rounds.append(medians)
        how = "steps interleaved" if args.interleave == "step" else "runs interleaved"
        print(
            f"\n{title}  (median of {args.rounds} rounds × {args.steps} steps, {how})", flush=True
        )
        for _, loop_row, lab_row in ROWS:
            print(f"  {loop_row:24s} {statistics.median(m[loop_row] for m in rounds):8.2f} ms")
            ratios = [m[lab_row] / m[loop_row] for m in rounds]
            ms = statistics.median(m[lab_row] for m in rounds)
            print(
                f"  {lab_row:24s} {ms:8.2f} ms  × loop {statistics.median(ratios):.3f}"
                f"  ({min(ratios):.3f}–{max(ratios):.3f})"
            )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--cases", default="reference,fast,mnist")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile paths")
    parser.add_argument("--no-extras", action="store_true", help="skip EMA/DiffAugment/... costs")
    parser.add_argument("--per-batch", action="store_true", help="issue 37's rows per batch")
    parser.add_argument("--batch-cases", default=",".join(BATCH_CASES))
    parser.add_argument(
        "--interleave",
        choices=("step", "blocks"),
        default="step",
        help="--per-batch: alternate lab and loop step by step (default) or run by run",
    )
    args = parser.parse_args()
    if args.per_batch:
        per_batch(args)
        return
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"{device_name(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads")
    for key in args.cases.split(","):
        title, case = CASES[key]
        table = runners(case, args)
        order = list(table)
        rounds: list[dict[str, float]] = []
        notes: dict[str, str] = {}
        for r in range(args.rounds):
            medians = {}
            for name in order[r % len(order) :] + order[: r % len(order)]:
                times, note = table[name](args.steps + 2)
                medians[name] = statistics.median(times[2:]) * 1000  # after warm-up / compile
                notes[name] = note
            rounds.append(medians)
            print(f"  [{title}: round {r + 1} of {args.rounds} done]", flush=True)
        print(f"\n{title}  (median of {args.rounds} rounds × {args.steps} timed steps)")
        print(f"  {'runner':58s} {'ms/step':>9s} {'× raw fp32':>10s}  rounds")
        for name in order:
            ratios = [m[name] / m["raw fp32"] for m in rounds]
            ms = statistics.median(m[name] for m in rounds)
            label = name + (f" → {notes[name]}" if name == "lab default" else "")
            print(
                f"  {label:58s} {ms:9.1f} {statistics.median(ratios):10.3f}"
                f"  {min(ratios):.3f}–{max(ratios):.3f}"
            )
        candidates = [n for n in order if n.startswith("lab fp32") or n.startswith("lab bf16")]
        fastest = min(candidates, key=lambda n: statistics.median(m[n] for m in rounds))
        print(f"  fastest candidate: {fastest}; the default picked: {notes['lab default']}")


if __name__ == "__main__":
    main()
