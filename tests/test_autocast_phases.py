"""Phases inside one autocast region: Lightning runs a whole training_step under autocast, and
autocast keeps a low-precision copy of each weight it casts until the region ends. A D phase after
another (model.d_steps ≥ 2) must see the weights the previous phase's update wrote, as a loop with
one autocast region per phase does."""

import copy
from contextlib import contextmanager

import pytest
import torch
from torch import nn

from gan_lab.core.losses import build_loss
from gan_lab.core.noise import Normal
from gan_lab.core.step import Networks, Optimisation, Procedure, step


class G(nn.Module):
    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, z, y=None):
        return self.net(z)


class D(nn.Module):  # plain layers: every weight a leaf that autocast caches
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 16), nn.LeakyReLU(0.2), nn.Linear(16, 1))

    def forward(self, x, y=None):
        return self.net(x).flatten()


def procedure(d_steps: int) -> Procedure:
    return Procedure(
        loss=build_loss("hinge"),
        d_steps=d_steps,
        label_noise=0.0,
        real_label=1.0,
        fake_label=0.0,
        g_batch="fake",
        g_fakes="new",
        r1_gamma=0.0,
        gp_weight=0.0,
        class_loss=0.0,
        diffaug_ops=[],
        ada=None,
    )


@pytest.mark.parametrize("d_steps", [2, 3])
def test_each_d_phase_sees_the_weights_the_last_update_wrote(d_steps):
    torch.manual_seed(0)
    g, d = G(), D()
    seen = []  # (input, output) of every D forward
    d.register_forward_hook(lambda m, i, o: seen.append((i[0].detach(), o.detach())))
    after = []  # D as each D phase's update left it
    opt_d = torch.optim.SGD(d.parameters(), lr=0.5)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.5)

    @contextmanager
    def phase(name):
        others = d if name == "G" else g
        others.requires_grad_(False)
        try:
            yield
        finally:
            others.requires_grad_(True)

    def update(name, loss):
        opt = opt_d if name == "D" else opt_g
        opt.zero_grad()
        loss.backward()
        opt.step()
        if name == "D":
            after.append(copy.deepcopy(d))
        return True

    before = copy.deepcopy(d)
    nets = Networks(G=g, D=d, generator=g, discriminator=d, ema=None, noise=Normal())
    with torch.autocast("cpu", dtype=torch.bfloat16):  # one region, as Lightning's bf16-mixed
        step(
            nets,
            procedure(d_steps),
            torch.randn(8, 4),
            None,
            Optimisation(phase, lambda: None, update),
        )

    assert len(seen) == d_steps + 1  # d_steps D phases, then the G phase
    for k in range(1, d_steps):
        x, got = seen[k]
        with torch.autocast("cpu", dtype=torch.bfloat16):  # a region of its own, as a plain loop
            want = after[k - 1](x)
        torch.testing.assert_close(got, want.detach(), rtol=0, atol=0)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # not the weights the step began with
            assert not torch.equal(got, before(x).detach())
