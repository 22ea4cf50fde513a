"""The baseline of the digits study: a plain, modern GAN loop written by hand, without gan-lab.

    python benchmarks/raw_dcgan.py <image folder> <size> <seconds> <out.pt> [--seed 0]

DCGAN-style G (transposed convolutions, BatchNorm, ReLU, tanh, z=64), spectral-norm D
(LeakyReLU 0.2), hinge loss, Adam(2e-4, β 0/0.99), batch 64, the images as 1 channel, no
augmentation, no weight averaging. Trains for <seconds> of wall time (the loop only), then saves
1,000 samples in [0, 1] and the step count to <out.pt>.
"""

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("size", type=int)
    parser.add_argument("seconds", type=float)
    parser.add_argument("out")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    tf = T.Compose(
        [T.Grayscale(), T.Resize(args.size), T.ToImage(), T.ToDtype(torch.float32, scale=True)]
    )
    data = torch.stack([x for x, _ in ImageFolder(args.folder, tf)]) * 2 - 1
    G, D = generator(args.size), discriminator(args.size)
    opt_g = torch.optim.Adam(G.parameters(), 2e-4, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.0, 0.99))
    b, steps, t0 = 64, 0, time.perf_counter()
    while time.perf_counter() - t0 < args.seconds:
        for idx in torch.randperm(len(data)).split(b):
            if len(idx) < b or time.perf_counter() - t0 >= args.seconds:
                break
            real = data[idx]
            fake = G(torch.randn(b, 64))
            d_loss = F.relu(1 - D(real)).mean() + F.relu(1 + D(fake.detach())).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
            g_loss = -D(fake).mean()
            opt_g.zero_grad()
            g_loss.backward()
            opt_g.step()
            steps += 1
    G.eval()
    with torch.no_grad():
        samples = torch.cat([G(torch.randn(250, 64)) for _ in range(4)])
    torch.save({"samples": (samples + 1) / 2, "steps": steps}, args.out)
    print(f"{steps} steps in {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
