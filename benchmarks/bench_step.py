"""gan-lab's training step vs. a hand-written PyTorch loop of the same networks and procedure.

    python benchmarks/bench_step.py [--rounds 6] [--steps 8]

For the 003 reference networks (64×64, batch 8) and the 004 MNIST pair (28×28, batch 128),
in one process, interleaved round by round (each round starting with the next runner) so
all see the same machine state:
  raw fp32        — a plain loop: concat real+fake, BCE with label noise, Adam on D; fresh
                    fakes, BCE, Adam on G with D frozen (design §4), fp32, default memory layout;
  gan-lab fp32    — the project's LightningModule + Trainer, precision=32-true, no channels_last;
  gan-lab default — the same with the default fast path (precision=auto, channels_last).
Times are medians of per-step wall time (the D and G phase together), after a warm-up round;
the ratios are medians of the per-round ratios, as runs side by side in time see the same machine.
"""

import argparse
import statistics
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F

from gan_lab.cli import compose
from gan_lab.train import build, make_trainer

OUT = Path("/tmp/bench_run")

CASES = {
    "003 reference, 64×64, batch 8": ["experiment=reference", "data.num_images=4096"],
    "004 MNIST pair, 28×28, batch 128": [
        "generator=mnist",
        "discriminator=mnist",
        "data.image_size=28",
        "data.channels=1",
        "data.batch_size=128",
        "data.num_images=8192",
        "model.g_batch=fake",
        "model.label_noise=0.05",
        # The hand-written loop's procedure (and 004's): BCE, no weight averaging. The default
        # recipe's hinge loss and EMA of G would be extra work the raw loop does not do.
        "model.loss=bce",
        "model.ema=0",
    ],
}


class StepTimer(L.Callback):
    def __init__(self):
        self.times: list[float] = []

    def on_train_batch_start(self, *args):
        self._t = time.perf_counter()

    def on_train_batch_end(self, *args):
        self.times.append(time.perf_counter() - self._t)


def project_steps(overrides: list[str], steps: int, fast: bool) -> list[float]:
    extra = [] if fast else ["trainer.precision=32-true", "model.channels_last=false"]
    cfg = compose(
        "train",
        overrides
        + extra
        + [
            "callbacks=none",  # the bare step: no checkpoints, grids or CSVs
            "logger=none",
            f"trainer.limit_train_batches={steps}",
            "trainer.max_epochs=1",
            "trainer.enable_progress_bar=false",
            "trainer.enable_model_summary=false",
            "seed=0",
        ],
        output_dir=OUT,
    )
    module, dm = build(cfg)
    timer = StepTimer()
    make_trainer(cfg, callbacks=[timer]).fit(module, datamodule=dm)
    return timer.times


def raw_steps(overrides: list[str], steps: int) -> list[float]:
    """The same procedure written by hand, fp32, as a user would without gan-lab."""
    cfg = compose("train", overrides + ["seed=0"], output_dir=OUT)
    module, dm = build(cfg)
    G, D = module.generator, module.discriminator
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.model.lr_d, betas=tuple(cfg.model.betas_d))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.model.lr_g, betas=tuple(cfg.model.betas_g))
    b, z_dim = cfg.data.batch_size, G.latent_dim
    images = dm.to_model_range(dm.images)
    times = []
    for i in range(steps):
        t = time.perf_counter()
        real = images[i * b : (i + 1) * b]
        with torch.no_grad():
            fake = G(torch.randn(b, z_dim))
        labels = torch.cat([torch.ones(b), torch.zeros(b)])
        labels = (labels + (torch.rand(2 * b) * 2 - 1) * cfg.model.label_noise).clamp(0, 1)
        d_loss = F.binary_cross_entropy_with_logits(D(torch.cat([real, fake])), labels)
        opt_d.zero_grad()
        d_loss.backward()
        opt_d.step()
        D.requires_grad_(False)
        g_loss = F.binary_cross_entropy_with_logits(D(G(torch.randn(b, z_dim))), torch.ones(b))
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        D.requires_grad_(True)
        times.append(time.perf_counter() - t)
    return times


RUNNERS = {
    "raw fp32": (raw_steps, {}),
    "gan-lab fp32": (project_steps, {"fast": False}),
    "gan-lab default": (project_steps, {"fast": True}),
}


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    order = list(RUNNERS)
    for name, overrides in CASES.items():
        rounds: list[dict[str, float]] = []  # per round: each runner's median ms/step
        for r in range(args.rounds + 1):  # round 0 warms up caches and allocators, not counted
            medians = {}
            # Each round starts with a different runner, so no runner always follows the same one.
            for key in order[r % len(order) :] + order[: r % len(order)]:
                fn, kwargs = RUNNERS[key]
                t = fn(overrides, args.steps, **kwargs)[
                    1:
                ]  # a block's first step pays one-off costs
                medians[key] = statistics.median(t) * 1000
            if r > 0:
                rounds.append(medians)
        print(f"\n{name}  (median over {args.rounds} rounds of {args.steps - 1} timed steps)")
        for key in order:
            print(f"  {key:16s} {statistics.median(m[key] for m in rounds):8.1f} ms/step")
        # The machine's speed drifts between rounds; ratios within a round are paired in time.
        for key in ("gan-lab fp32", "gan-lab default"):
            ratios = [m[key] / m["raw fp32"] for m in rounds]
            print(
                f"  {key} / raw fp32 = {statistics.median(ratios):.3f}"
                f"  (rounds: {min(ratios):.3f}–{max(ratios):.3f})"
            )


if __name__ == "__main__":
    main()
