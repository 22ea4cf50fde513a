"""Frozen blocks: FreezeD (Mo et al. 2020, "Freeze the Discriminator") and its generator twin.

Fine-tuning a GAN on a few images, keeping the discriminator's first blocks (the image side: its
low-level features) as the source run learnt them and training only the rest works better than
fine-tuning all of D, which forgets its features and overfits the few images. ``model.freeze_d=K``
freezes D's first K blocks, ``model.freeze_g=K`` G's first K from the latent side. A block is what
each network's ``stages()`` lists (a conv block with its norm and activation; the head or the
projection with the class embedding).

A frozen block's parameters get no gradient and are in no optimiser (the training module leaves
them out), so the phase toggle (``core.step.toggled``, as Lightning's ``toggled_optimizer``),
which toggles only the parameters of the optimisers, never turns them on again. Its buffers move
as in any training forward pass: the running statistics of a BatchNorm (D uses batch statistics
in training; FreezeD's own code does the same) and the power-iteration vector of a spectral norm
(which only sharpens its estimate of the fixed weight's largest singular value).

Holding G near its source without freezing it: ``model.anchor_g`` keeps a frozen copy of the
source G (``frozen_copy``; in every checkpoint, so a resumed run pulls towards the same source) and
after each G update moves G's trained weights a share of the way back to it (``pull_back`` in
``gan_lab.core.step``).
"""

import copy

import torch
from torch import nn

from gan_lab.errors import UserError

# What the user names: the key and the network it freezes, and where its blocks start.
KEYS = {
    "generator": ("model.freeze_g", "the latent side"),
    "discriminator": ("model.freeze_d", "the image side"),
}


def freeze_first(net: nn.Module, k: int, network: str) -> int:
    """Freeze ``net``'s first ``k`` blocks (``net.stages()``); returns how many blocks it has.
    Freezing every block would leave the network nothing to train: one paragraph, exit 2."""
    key, side = KEYS[network]
    stages = net.stages()
    if not 0 <= k <= len(stages) - 1:
        raise UserError(
            f"{key}={k} cannot be: this {network} has {len(stages)} blocks (counted from {side}, "
            f"the last one {'the head' if network == 'discriminator' else 'the output layer'}), and "
            f"at least the last must train, so {key} can be 0 to {len(stages) - 1}. FreezeD "
            "usually freezes the first few blocks of D (e.g. model.freeze_d=2)."
        )
    for stage in stages[:k]:
        for module in stage:
            module.requires_grad_(False)
    return len(stages)


def trained(net: nn.Module) -> list[nn.Parameter]:
    """The parameters an optimiser updates: all but those of frozen blocks."""
    return [p for p in net.parameters() if p.requires_grad]


def frozen_copy(net: nn.Module) -> nn.Module:
    """A copy of ``net`` that no gradient or optimiser reaches: model.anchor_g's source G."""
    twin = copy.deepcopy(net)
    twin.requires_grad_(False)
    return twin


def anchored(net: nn.Module, source: nn.Module) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The trained parameters of ``net`` and the same parameters of ``source`` (its frozen copy),
    in one order: what ``gan_lab.core.step.pull_back`` moves and where to."""
    pairs = [
        (p, s)
        for p, s in zip(net.parameters(), source.parameters(), strict=True)
        if p.requires_grad
    ]
    return [p for p, _ in pairs], [s for _, s in pairs]
