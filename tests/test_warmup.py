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


# ---- model.warmup: the same procedure on a run's own networks (gan_lab/training/warmup.py) ----
import copy  # noqa: E402
import csv  # noqa: E402
import logging  # noqa: E402

import pytest  # noqa: E402
from conftest import QUIET, TINY, make_cfg  # noqa: E402

from gan_lab.runs import layout  # noqa: E402
from gan_lab.training import warmup  # noqa: E402


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    from gan_lab.training.train import build

    return build(make_cfg(tmp_path_factory.mktemp("warmup") / "run", TINY))


def test_only_the_first_layer_moves_and_the_loss_falls(built):
    module, datamodule = built
    torch.manual_seed(0)
    z = module.noise.sample(8, module.generator.latent_dim)
    g = warmup.settle(copy.deepcopy(module.generator), lambda net: net(z))
    before = {k: v.clone() for k, v in g.state_dict().items()}
    rows = warmup.warm_up_network("G", g, lambda net: net(z).mean() ** 2, 6, 0.01)
    name, _ = warmup.first_layer(g)
    assert name == "project.0"  # the latent's first layer, not the class embedding
    moved = {k for k, v in g.state_dict().items() if not torch.equal(v, before[k])}
    assert moved and all(k.startswith(f"{name}.") for k in moved)  # the rest: bit-identical
    losses = [r.loss for r in rows]
    assert [r.step for r in rows] == list(range(7)) and losses[-1] < losses[0]
    assert all(r.rest_change == 0 for r in rows) and rows[-1].first_change > 0


def test_the_runs_networks_and_random_streams_are_left_alone(built):
    module, datamodule = built
    state = {k: v.clone() for k, v in module.state_dict().items()}
    rng = torch.get_rng_state()
    rows = warmup.warm_up(module, datamodule, 4, 0.01, 0, torch.device("cpu"))
    assert torch.equal(torch.get_rng_state(), rng)
    assert all(torch.equal(v, state[k]) for k, v in module.state_dict().items())
    for net in ("G", "D"):  # the run's own loss (hinge here) falls on the fixed batch
        mine = [r for r in rows if r.network == net]
        assert len(mine) == 5 and mine[-1].loss < mine[0].loss and mine[-1].first_change > 0


def test_a_moving_frozen_layer_is_a_loud_error(built):
    module, _ = built
    g = copy.deepcopy(module.generator)
    z = module.noise.sample(4, g.latent_dim)

    def sneaky(net):  # a "frozen" layer changed behind the optimiser's back
        with torch.no_grad():
            net.out[0].weight.add_(1.0)
        return net(z).mean() ** 2

    with pytest.raises(warmup.WarmupError, match="outside its first layer"):
        warmup.warm_up_network("G", g, sneaky, 2, 0.01)


def test_model_warmup_in_a_run_writes_its_table_and_is_not_repeated_on_resume(tmp_path, caplog):
    from gan_lab.training.train import train

    run = tmp_path / "run"
    cfg = [*TINY, *QUIET, "data.num_images=64", "model.warmup=3"]
    with caplog.at_level(logging.INFO, logger="gan_lab"):
        train(make_cfg(run, [*cfg, "trainer.max_epochs=1"]))
    assert "warm-up (003 §6)" in caplog.text and "|Δ| rest" in caplog.text
    with open(layout.warmup_csv(run)) as f:
        rows = list(csv.DictReader(f))
    assert tuple(rows[0]) == warmup.COLUMNS and len(rows) == 2 * 4
    assert {r["network"] for r in rows} == {"G", "D"}
    assert all(float(r["rest_change"]) == 0 for r in rows)
    written = layout.warmup_csv(run).read_bytes()
    caplog.clear()
    last = f"ckpt_path={layout.last_checkpoint(run)}"
    with caplog.at_level(logging.INFO, logger="gan_lab"):
        train(make_cfg(run, [*cfg, "trainer.max_epochs=2", last]))
    assert "does not repeat it" in caplog.text and "warm-up (003 §6):" not in caplog.text
    assert layout.warmup_csv(run).read_bytes() == written
