"""Project an image into the latent space: gradient descent on z, the generator frozen (003 §13).

The loss is MSE(G(z), target) in the generator's own value range (the target is
preprocessed exactly as the training data); MSE values reported are on the [0, 1]
scale, so runs with sigmoid and tanh generators compare directly.
"""

from dataclasses import dataclass

import torch
from torch import nn

from gan_lab.core.noise import Noise
from gan_lab.errors import UserError
from gan_lab.progress import progress


@dataclass
class Inversion:
    z: torch.Tensor  # (1, latent_dim): the best restart's final vector
    mse: float  # final MSE(G(z), target) on the [0, 1] scale
    losses: (
        torch.Tensor
    )  # (steps + 1, restarts): MSE on the [0, 1] scale before each step and at the end
    frames: torch.Tensor  # (n_frames, C, H, W): G(z) of the best restart along the way, model range
    frame_steps: list[int]  # the step each frame was taken at (0 = the random start)
    best: int  # index of the kept restart


def frame_schedule(steps: int, n_frames: int) -> list[int]:
    """Steps at which to keep a frame: geometric spacing, as the image changes most at first."""
    if n_frames <= 1 or steps == 0:
        return [steps]
    ladder = torch.logspace(0, torch.log10(torch.tensor(steps + 1.0)), n_frames - 1) - 1
    return sorted({0, steps, *ladder.round().long().tolist()})


def invert(
    generator: nn.Module,
    target: torch.Tensor,
    noise: Noise,
    value_range: tuple[float, float],
    *,
    steps: int,
    lr: float,
    momentum: float,
    restarts: int,
    n_frames: int,
    reduction: str,
    desc: str = "inversion",
) -> Inversion:
    """Minimise MSE(G(z), target) over z alone; ``restarts`` random starts run as one batch.

    The settings come from conf/invert.yaml (``latent.run.procedure`` maps them), never from
    defaults here that could disagree with it.

    ``target`` is one image (C, H, W) or (1, C, H, W) in the generator's value range; ``desc``
    names it on the progress bar (SGD steps; the restarts run together).
    The generator's weights are not touched: they are frozen for the duration and the
    network stays in eval mode (BatchNorm uses its running statistics, so the restarts
    in the batch do not influence each other).
    """
    device = next(generator.parameters()).device
    target = target.reshape(1, *target.shape[-3:]).to(device)
    z = noise.sample(restarts, generator.latent_dim, device).requires_grad_(True)
    optimizer = torch.optim.SGD([z], lr=lr, momentum=momentum)
    to_unit_scale = 1.0 / (value_range[1] - value_range[0]) ** 2
    keep = set(frame_schedule(steps, n_frames))
    if reduction not in ("sum", "mean"):
        raise UserError(f"loss_reduction must be sum or mean, not '{reduction}'.")
    # The gradient of the per-pixel mean is 1/(C·H·W) of the sum's: with SGD lr 0.01 the mean
    # needs ~10^4 steps (000's student saw it), the sum gets below 1e-5 in ~200.
    pixels = target[0].numel() if reduction == "sum" else 1

    was_training = generator.training
    flags = [p.requires_grad for p in generator.parameters()]
    generator.eval().requires_grad_(False)
    history, snapshots = [], {}
    bar = progress(total=steps, desc=desc, unit="step")
    try:
        for step in range(steps + 1):
            images = generator(z)
            # Sum of per-restart means: each z gets exactly the gradient of its own MSE.
            per_restart = (images - target).pow(2).flatten(1).mean(1)
            history.append(per_restart.detach() * to_unit_scale)
            if step in keep:
                snapshots[step] = images.detach()
            if step == steps:
                break
            optimizer.zero_grad(set_to_none=True)
            (per_restart.sum() * pixels).backward()
            optimizer.step()
            bar.update()
    finally:
        bar.close()
        for p, flag in zip(generator.parameters(), flags, strict=True):
            p.requires_grad_(flag)
        generator.train(was_training)

    losses = torch.stack(history).cpu()
    best = int(losses[-1].argmin())
    frame_steps = sorted(snapshots)
    return Inversion(
        z=z.detach()[best : best + 1].clone(),
        mse=float(losses[-1, best]),
        losses=losses,
        frames=torch.stack([snapshots[s][best] for s in frame_steps]).cpu(),
        frame_steps=frame_steps,
        best=best,
    )
