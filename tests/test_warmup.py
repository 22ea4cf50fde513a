"""003 §6: partial gradients on a toy — the living proof of the freeze mechanics.

Two dense layers, a pseudo-loss (mean(output) − 42)², gradients and SGD steps for the
first layer only, on the same input: the loss falls, the second layer never changes.
"""

import torch
from torch import nn


def test_first_layer_trained_alone():
    torch.manual_seed(0)
    first, second = nn.Linear(3, 3), nn.Linear(3, 2)
    second.requires_grad_(False)  # the same mechanism toggled_optimizer uses for the idle network
    opt = torch.optim.SGD(first.parameters(), lr=0.01)
    x = torch.tensor([[1.0, 2.0, 3.0]])
    frozen = [p.clone() for p in second.parameters()]
    before = first.weight.clone()
    losses = []
    for _ in range(20):
        loss = (second(first(x)).mean() - 42.0) ** 2
        opt.zero_grad()
        loss.backward()
        assert all(p.grad is None for p in second.parameters())  # not even computed
        assert first.weight.grad is not None and first.weight.grad.abs().sum() > 0
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5
    assert all(a < b for a, b in zip(losses[1:], losses[:-1], strict=False))
    assert all(torch.equal(p, q) for p, q in zip(second.parameters(), frozen, strict=True))
    assert not torch.equal(first.weight, before)
