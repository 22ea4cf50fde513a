"""The baseline of the digits study: the strongest plain GAN loop we could write, without gan-lab.

    python benchmarks/raw_dcgan.py <image folder> <size> <seconds> <out.pt> [--seed 0]
                                   [--batch 64] [--epochs N] [--ema 0]

DCGAN-style G (transposed convolutions, BatchNorm, ReLU, tanh, z=64), spectral-norm D
(LeakyReLU 0.2), hinge loss, fused Adam(2e-4, β 0/0.99), batch 64, the images as 1 channel, no
augmentation; bf16 autocast where the CPU (or GPU) runs bf16 natively, channels_last (both
measured faster on every CPU we had: benchmarks/README.md, "The training step"). --ema: a
half-life in images for an average of G (0 = none, as in the issue's loop). Trains for <seconds>
of wall time (the loop only) or --epochs passes, then saves 1,000 samples in [0, 1] and the step
count to <out.pt>.
"""

import argparse
import copy
import time

import torch
import torch.nn.functional as F
import torchvision.transforms.v2 as T
from torch import nn
from torch.nn.utils import spectral_norm
from torchvision.datasets import ImageFolder


def generator(size: int, z: int = 64) -> nn.Module:
    start, chans = (7, [128, 64]) if size == 28 else (4, [256, 128, 64, 32])
    layers = [nn.Unflatten(1, (z, 1, 1)), nn.ConvTranspose2d(z, chans[0], start, 1, 0)]
    for c_in, c in zip(chans, chans[1:], strict=False):
        layers += [nn.BatchNorm2d(c_in), nn.ReLU(), nn.ConvTranspose2d(c_in, c, 4, 2, 1)]
    layers += [nn.BatchNorm2d(chans[-1]), nn.ReLU(), nn.ConvTranspose2d(chans[-1], 1, 4, 2, 1)]
    return nn.Sequential(*layers, nn.Tanh())


def discriminator(size: int) -> nn.Module:
    chans = [64, 128] if size == 28 else [32, 64, 128, 256]
    layers, c_in = [], 1
    for c in chans:
        layers += [spectral_norm(nn.Conv2d(c_in, c, 4, 2, 1)), nn.LeakyReLU(0.2)]
        c_in = c
    side = size // 2 ** len(chans)
    return nn.Sequential(*layers, nn.Flatten(), spectral_norm(nn.Linear(c_in * side * side, 1)))


def train_step(G, D, opt_g, opt_d, real: torch.Tensor, autocast) -> None:
    """One hinge step: D on the reals and new fakes, then G through the updated D."""
    with autocast:
        fake = G(torch.randn(len(real), 64))
        d_loss = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake.detach())).mean()
    opt_d.zero_grad()
    d_loss.backward()
    opt_d.step()
    with autocast:
        g_loss = -D(fake).mean()
    opt_g.zero_grad()
    g_loss.backward()
    opt_g.step()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("size", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=0)
    parser.add_argument("--ema", type=float, default=0)
    args = parser.parse_args()
    with open("/proc/cpuinfo") as f:
        bf16 = any(flag in f.read() for flag in ("avx512_bf16", "amx_bf16"))
    torch.manual_seed(args.seed)
    tf = T.Compose(
        [T.Grayscale(), T.Resize(args.size), T.ToImage(), T.ToDtype(torch.float32, scale=True)]
    )
    data = torch.stack([x for x, _ in ImageFolder(args.folder, tf)]) * 2 - 1
    data = data.contiguous(memory_format=torch.channels_last)
    G, D = generator(args.size), discriminator(args.size)
    G, D = G.to(memory_format=torch.channels_last), D.to(memory_format=torch.channels_last)
    G_avg = copy.deepcopy(G).requires_grad_(False)
    # fused: one kernel per update instead of torch's per-tensor loop on a CPU (~10 % of the
    # 64-px step, benchmarks/adam_fused.py); the tables' loop runs before 2026-12-01 22:40 had not
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.99), fused=True)
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.99), fused=True)
    autocast = torch.autocast("cpu", torch.bfloat16, enabled=bf16)
    b, steps, epochs, t0 = args.batch, 0, 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds and (not args.epochs or epochs < args.epochs):
        for idx in torch.randperm(len(data)).split(b):
            if len(idx) < b or time.perf_counter() - t0 >= args.seconds:
                break
            train_step(G, D, opt_g, opt_d, data[idx], autocast)
            steps += 1
            if args.ema:  # a half-life in images, ramped up over the first 5 % of images seen
                decay = 0.5 ** (b / max(min(args.ema, 0.05 * steps * b), 1e-8))
                for p_avg, p in zip(
                    G_avg.state_dict().values(), G.state_dict().values(), strict=True
                ):
                    p_avg.copy_(p_avg * decay + p * (1 - decay) if p.is_floating_point() else p)
        epochs += 1
    shown = G_avg if args.ema else G
    shown.eval()
    with torch.no_grad():
        samples = torch.cat([shown(torch.randn(250, 64)).float() for _ in range(4)])
    torch.save({"samples": (samples + 1) / 2, "steps": steps}, args.out)
    print(f"{steps} steps in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
