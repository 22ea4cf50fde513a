"""Adam's update: torch's default against the fused kernel, in the plain loop's training step.

    python benchmarks/adam_fused.py [--rounds 3] [--steps 60] [--threads 1]

One step of benchmarks/raw_dcgan.py (the digits study's loop: its networks, hinge loss, bf16
autocast where the CPU runs it natively) at batch 16, 28 and 64 px, with
``torch.optim.Adam(..., fused=None)`` (on a CPU: a Python loop over the tensors) and
``fused=True`` (gan_lab.core.step.adam's choice), interleaved round by round. Prints the median
ms per step of each; name the CPU beside any figure from here.
"""

import argparse
import statistics
import time

import torch
from raw_dcgan import discriminator, generator, train_step


def step_ms(size: int, fused: bool | None, steps: int, bf16: bool) -> float:
    torch.manual_seed(0)
    G, D = generator(size), discriminator(size)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.99), fused=fused)
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.99), fused=fused)
    real, times = torch.randn(16, 1, size, size), []
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=bf16)
    for _ in range(steps):
        t0 = time.perf_counter()
        train_step(G, D, opt_g, opt_d, real, autocast)
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times[steps // 6 :])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with open("/proc/cpuinfo") as f:
        bf16 = any(flag in f.read() for flag in ("avx512_bf16", "amx_bf16"))
    for size in (28, 64):
        ms = {None: [], True: []}
        for r in range(args.rounds):
            for fused in (None, True) if r % 2 == 0 else (True, None):
                ms[fused].append(step_ms(size, fused, args.steps, bf16))
        default, fused = statistics.median(ms[None]), statistics.median(ms[True])
        print(
            f"{size} px, batch 16, {'bf16' if bf16 else 'fp32'}, {args.threads} thread(s): "
            f"default Adam {default:.1f} ms, fused {fused:.1f} ms ({fused / default:.2f}×)"
        )


if __name__ == "__main__":
    main()
