"""model.g_fakes: the G phase draws new fakes (design §4, a second G pass) or reuses the last D
phase's (one G pass a step, as a plain loop does)."""

import copy
import shutil
from contextlib import contextmanager

import pytest
import torch
from conftest import QUIET, bare, make_cfg
from torch import nn

from gan_lab.core.losses import build_loss
from gan_lab.core.noise import Normal
from gan_lab.core.step import Networks, Optimisation, Procedure, step, toggled
from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.training.train import build, make_trainer, train


def tiny_run(cfg_factory, g_fakes: str, steps: int = 3, *more: str):
    """A bare run of ``steps`` steps; G's forward passes counted on the live generator."""
    cfg = bare(
        cfg_factory(
            "trainer.max_epochs=1",
            f"trainer.limit_train_batches={steps}",
            "trainer.fast_path=off",
            f"model.g_fakes={g_fakes}",
            *QUIET,
            *more,
        )
    )
    module, dm = build(cfg)
    calls = []
    module.generator.register_forward_hook(lambda m, i, o: calls.append(torch.is_grad_enabled()))
    make_trainer(cfg, enable_checkpointing=False).fit(module, datamodule=dm)
    return module, calls


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    def factory(*overrides, tiny=True):
        return make_cfg(
            tmp_path_factory.mktemp("run"), (["debug=tiny"] if tiny else []) + list(overrides)
        )

    return {fakes: tiny_run(factory, fakes) for fakes in ("new", "reuse")}


def test_reuse_runs_g_once_a_step_new_twice(runs):
    _, new = runs["new"]
    _, reuse = runs["reuse"]
    # new: a no-grad pass for D's batch, then one with a graph for the G phase
    assert new == [False, True] * 3
    # reuse: one pass a step, with the graph the G phase backpropagates through
    assert reuse == [True] * 3


def test_reuse_trains_other_weights_than_new(runs):
    g_new, g_reuse = runs["new"][0].generator, runs["reuse"][0].generator
    differ = [
        not torch.equal(a, b) for a, b in zip(g_new.parameters(), g_reuse.parameters(), strict=True)
    ]
    assert any(differ)
    assert all(torch.isfinite(p).all() for p in g_reuse.parameters())


def test_the_default_resolves_to_new_and_says_so(cfg_factory, caplog):
    with caplog.at_level("INFO", logger="gan_lab.training.train"):
        module, _ = build(cfg_factory())
    assert module.g_fakes == "new"
    assert "G phase on new fakes (g_fakes=new)" in caplog.text
    assert cfg_factory("experiment=reference", tiny=False).model.g_fakes == "new"  # 003 §7


class G(nn.Module):
    latent_dim = 3

    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.Linear(8, 4))

    def forward(self, z, y=None):
        return self.net(z)


class D(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(4, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))

    def forward(self, x, y=None):
        return self.net(x).flatten()


def _proc(g_fakes: str, d_steps: int = 1) -> Procedure:
    return Procedure(
        loss=build_loss("hinge"),
        d_steps=d_steps,
        label_noise=0.0,
        real_label=1.0,
        fake_label=0.0,
        g_batch="fake",
        g_fakes=g_fakes,
        r1_gamma=0.0,
        gp_weight=0.0,
        class_loss=0.0,
        diffaug_ops=[],
        ada=None,
    )


@pytest.mark.parametrize("d_steps", [1, 2])
def test_reuse_gives_g_the_gradient_of_ds_verdict_on_the_last_d_phases_fakes(d_steps):
    torch.manual_seed(0)
    g, d = G(), D()
    drawn, seen = [], []  # the z of each G pass; what D saw in each phase
    noise = Normal()
    sample = noise.sample
    noise.sample = lambda n, dim, device="cpu": drawn.append(sample(n, dim, device)) or drawn[-1]
    d.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    nets = Networks(G=g, D=d, generator=g, discriminator=d, ema=None, noise=noise)
    opt_d = torch.optim.SGD(d.parameters(), lr=0.1)
    grads = {}

    @contextmanager
    def phase(name):
        others = d if name == "G" else g
        others.requires_grad_(False)
        try:
            yield
        finally:
            others.requires_grad_(True)

    def update(name, loss):
        if name == "D":
            opt_d.zero_grad()
            loss.backward()
            opt_d.step()
        else:
            grads["G"] = torch.autograd.grad(loss, list(g.parameters()))
        return True

    real = torch.randn(5, 4)
    step(nets, _proc("reuse", d_steps), real, None, Optimisation(phase, lambda: None, update))

    assert len(drawn) == d_steps  # no z drawn for the G phase
    fakes_in_g_phase = seen[-1]
    assert fakes_in_g_phase.grad_fn is not None  # not detached: G's graph reaches the loss
    assert torch.equal(fakes_in_g_phase, seen[-2][5:])  # the last D phase's fakes
    # The same gradient from scratch: G on the last D phase's z, D as updated, G's BatchNorm on
    # that batch again (its running statistics do not enter a train-mode pass).
    expected = torch.autograd.grad(
        build_loss("hinge").g_loss(d(g(drawn[-1]))), list(g.parameters())
    )
    for got, want in zip(grads["G"], expected, strict=True):
        torch.testing.assert_close(got, want)


# Phases inside one autocast region: Lightning runs a whole training_step under autocast, and
# autocast keeps a low-precision copy of each weight it casts until the region ends. A D phase after
# another (model.d_steps ≥ 2) must see the weights the previous phase's update wrote, as a loop with
# one autocast region per phase does.
@pytest.mark.parametrize("d_steps", [2, 3])
def test_each_d_phase_sees_the_weights_the_last_update_wrote(d_steps):
    torch.manual_seed(0)
    g, d = G(), D()  # D: plain layers, every weight a leaf that autocast caches
    seen = []  # (input, output) of every D forward
    d.register_forward_hook(lambda m, i, o: seen.append((i[0].detach(), o.detach())))
    after = []  # D as each D phase's update left it
    opt_d = torch.optim.SGD(d.parameters(), lr=0.5)
    opt_g = torch.optim.SGD(g.parameters(), lr=0.5)

    phase = toggled({"D": opt_d, "G": opt_g})

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
            _proc("new", d_steps),
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


def test_a_checkpoint_without_g_fakes_reads_as_new_and_reuse_is_refused_on_resume(
    trained_run, tmp_path, cfg_factory
):
    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    last = layout.last_checkpoint(run)
    ckpt = torch.load(last, weights_only=True)
    ckpt["gan_lab"]["config"]["model"].pop("g_fakes", None)  # as a checkpoint of an earlier version
    torch.save(ckpt, last)
    changed = [f"ckpt_path={last}", "trainer.max_epochs=3", "model.g_fakes=reuse"]
    with pytest.raises(UserError, match=r"model.g_fakes: 'new' → 'reuse'"):
        train(cfg_factory(*changed, *QUIET, out=run), overrides=changed)
