"""The warm-up of 003 §6 on the run's own networks (``model.warmup=N``): before the real loop,
N SGD steps in which only the FIRST layer of G, then of D, takes gradients, on the same input.

003 §6 asks for this on a toy (two dense layers, any differentiable "loss" of the output, e.g.
its mean minus 42; the same input every step): the loss must fall and the second layer must not
change. Here it runs on copies of the networks the run just built, with the run's own inputs
and its own loss (model.loss): G's first layer on the G phase's loss of a fixed latent batch
through D (D wholly frozen, as in the G phase of design §4), D's first layer on the D phase's
loss of a fixed batch of the run's first real images and of G's fakes of that latent batch. Every other
parameter is frozen (``requires_grad_(False)``: its gradient is never even computed, which is
checked) and not given to the optimiser; after every step every parameter is compared with its
start, and a change anywhere but the first layer is an error: the freeze mechanics that the
real step's two phases (design §4) rely on would be broken. The pseudo-loss (mean − 42)² of the
toy is not used: G's pixels are bounded by its output activation, so its mean barely moves
towards 42 and the table would show nothing.

Copies, not the run's networks: N steps on one batch, one layer at a time, are a check of the
mechanics, not training; keeping them would change the user's experiment. Nothing here draws
from the run's random streams either (torch.random.fork_rng; the same seed before every
forward, so dropout masks repeat like the input), so a run with ``model.warmup=20`` trains
exactly as the same run without it. The networks run in train mode, as in a training step:
BatchNorm's running statistics and spectral norm's power-iteration vectors (buffers, not
weights) move on the copies, the parameters do not. The table is logged and written to the run
folder (``layout.warmup_csv``); a resume does not repeat it.
"""

import copy
import csv
import io
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gan_lab.runs import layout
from gan_lab.runs.safe_io import write_atomic

log = logging.getLogger(__name__)

WARMUP_KEYS = ("warmup", "warmup_lr")  # model.*: read here, not by the LightningModule
COLUMNS = ("network", "layer", "step", "loss", "first_change", "rest_change")
SHOWN_ROWS = 11  # per network in the log; the CSV holds every step
SETTLE_ROUNDS = 10  # forwards that fit BatchNorm's statistics and spectral norm's σ to the input
BATCH = (
    8  # 003 §6's "small batch" (and the reference preset's batch of 8): at most this many inputs
)


class WarmupError(RuntimeError):
    """A parameter outside the first layer changed or got a gradient: the freeze is broken."""


@dataclass
class Row:
    network: str  # G or D
    layer: str  # the first layer's name in the module tree, e.g. project.0 or features.0
    step: int  # SGD steps done: 0 = the network as built
    loss: float  # the run's G or D loss on the fixed batch after ``step`` steps
    first_change: float  # largest |Δ| of the first layer's parameters since step 0
    rest_change: float  # largest |Δ| of every other parameter since step 0: must stay 0


def first_layer(net: nn.Module) -> tuple[str, nn.Module]:
    """The first module in the module tree that holds weights of its own: the layer the input
    meets first (G's projection, D's first convolution). A class embedding is skipped: it is a
    side input (a conditional network's label), not the first layer of the image or latent path."""
    for name, module in net.named_modules():
        if isinstance(module, nn.Embedding) or module is net:
            continue
        if next(module.parameters(recurse=False), None) is not None:
            return name, module
    raise ValueError(f"{type(net).__name__} has no layer with parameters")


def settle(net: nn.Module, forward, rounds: int = SETTLE_ROUNDS) -> nn.Module:
    """Put ``net`` (a copy) in eval mode with buffers that fit the fixed input: BatchNorm's
    running statistics become this batch's (a cumulative average over ``rounds`` identical
    batches), spectral norm's power iteration runs ``rounds`` times (its vectors start random:
    in eval mode before any training, a layer would be divided by a wrong σ). After this the
    network is a fixed function of its weights, as 003's toy is: no dropout, no buffer moves."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average: equal batches give exactly their statistics
    net.train()
    with torch.no_grad():
        for _ in range(rounds):
            forward(net)
    for m, momentum in zip(norms, saved, strict=True):
        m.momentum = momentum
    return net.eval()


def _largest_change(net: nn.Module, start: dict, names: set[str], inside: bool) -> float:
    """max |now − start| over the state (parameters and buffers) in ``names`` (inside) or
    outside them; an integer buffer that changed counts as infinite."""
    largest = 0.0
    for key, value in net.state_dict(keep_vars=True).items():
        if (key in names) != inside or not value.numel():
            continue
        value = value.detach()
        if value.dtype.is_floating_point:
            largest = max(largest, (value - start[key]).abs().max().item())
        elif not torch.equal(value, start[key]):
            largest = math.inf
    return largest


def warm_up_network(label: str, net: nn.Module, loss_of, steps: int, lr: float) -> list[Row]:
    """``steps`` SGD steps on ``net`` (a settled copy) with only its first layer trainable;
    ``loss_of(net)`` is the loss of the fixed input. One row per state (0 .. steps)."""
    name, first = first_layer(net)
    net.requires_grad_(False)
    first.requires_grad_(True)
    trained = {f"{name}.{k}" for k, _ in first.named_parameters()}
    opt = torch.optim.SGD(first.parameters(), lr=lr)
    start = {k: v.detach().clone() for k, v in net.state_dict(keep_vars=True).items()}
    rows = []
    for step in range(steps + 1):
        loss = loss_of(net)
        rows.append(
            Row(
                label,
                name,
                step,
                loss.item(),
                _largest_change(net, start, trained, inside=True),
                _largest_change(net, start, trained, inside=False),
            )
        )
        if rows[-1].rest_change != 0:
            raise WarmupError(
                f"warm-up: after {step} steps a tensor of {label} outside its first layer "
                f"({name}) changed by {rows[-1].rest_change:.3g}; only the first layer may move."
            )
        if step == steps:
            break
        opt.zero_grad(set_to_none=True)
        loss.backward()
        stray = [k for k, p in net.named_parameters() if p.grad is not None and k not in trained]
        if stray:  # frozen means not even computed (003 §6), as in the real step's phases
            raise WarmupError(f"warm-up: gradients were computed for frozen {label}: {stray[:3]}")
        opt.step()
    return rows


def warm_up(module, datamodule, steps: int, lr: float, seed: int | None, device) -> list[Row]:
    """003 §6 on copies of the run's G and D (module.generator, module.discriminator) with the
    run's loss (module.loss): G's first layer through a frozen D, then D's first layer."""
    n = max(1, min(BATCH, int(datamodule.batch_size), len(datamodule.images)))
    real = datamodule.to_model_range(datamodule.images[:n]).to(device)
    y = datamodule.labels[:n].long().to(device) if module.conditional else None
    y2 = torch.cat([y, y]) if y is not None else None
    targets = torch.cat(
        [torch.full((n,), float(module.real_label)), torch.full((n,), float(module.fake_label))]
    ).to(device)

    def call(net, x, labels):
        return net(x, labels) if labels is not None else net(x)

    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(0 if seed is None else int(seed))  # the run's streams stay untouched
        z = module.noise.sample(n, module.generator.latent_dim).to(device)
        g = settle(copy.deepcopy(module.generator).to(device), lambda net: call(net, z, y))
        with torch.no_grad():  # D's input: the real batch and G's fakes as built, fixed
            both = torch.cat([real, call(g, z, y)])
        d = settle(copy.deepcopy(module.discriminator).to(device), lambda n: call(n, both, y2))
        d_frozen = copy.deepcopy(d).requires_grad_(
            False
        )  # the G phase: D wholly frozen (design §4)

        def g_loss(net):
            return module.loss.g_loss(call(d_frozen, call(net, z, y), y))

        def d_loss(net):
            return module.loss.d_loss(call(net, both, y2), targets)

        return warm_up_network("G", g, g_loss, steps, lr) + warm_up_network(
            "D", d, d_loss, steps, lr
        )


def table(rows: list[Row]) -> str:
    """The rows as the log shows them: at most SHOWN_ROWS per network, the first and the last."""
    lines = [f"{'net':<4}{'step':>6}{'loss':>14}{'|Δ| first layer':>17}{'|Δ| rest':>10}"]
    for label in dict.fromkeys(r.network for r in rows):
        mine = [r for r in rows if r.network == label]
        every = max(1, math.ceil((len(mine) - 1) / (SHOWN_ROWS - 1)))
        shown = [r for r in mine if r.step % every == 0 or r is mine[-1]]
        lines += [
            f"{r.network:<4}{r.step:>6}{r.loss:>14.7g}{r.first_change:>17.3g}{r.rest_change:>10.3g}"
            for r in shown
        ]
    return "\n".join(lines)


def write_csv(rows: list[Row], run_dir: Path) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.network,
                r.layer,
                r.step,
                f"{r.loss:.8g}",
                f"{r.first_change:.6g}",
                f"{r.rest_change:.6g}",
            ]
        )
    path = layout.warmup_csv(run_dir)
    return write_atomic(path, out.getvalue().encode(), run_dir)


def run_warmup(module, datamodule, cfg, run_dir: Path, device, resumed: bool) -> list[Row]:
    """model.warmup=N before trainer.fit: the table in the log and in warmup.csv; skipped (and
    said) on a resume, whose run had its warm-up when it started."""
    steps = int(cfg.model.get("warmup", 0) or 0)
    if steps <= 0:
        return []
    if resumed:
        log.info(
            "model.warmup=%d: the warm-up of 003 §6 ran when this run started (%s); a resume "
            "does not repeat it",
            steps,
            layout.warmup_csv(run_dir),
        )
        return []
    lr = float(cfg.model.warmup_lr)
    rows = warm_up(module, datamodule, steps, lr, cfg.get("seed"), device)
    path = write_csv(rows, run_dir)
    falls = {
        label: rows_[-1].loss < rows_[0].loss
        for label in ("G", "D")
        if (rows_ := [r for r in rows if r.network == label])
    }
    log.info(
        "warm-up (003 §6): %d SGD steps (lr %g) on copies of G and of D, only the first layer "
        "of each taking gradients, the run's %s loss on the same batch every step; every other "
        "parameter stayed bit-identical. The run trains from the networks as built.\n%s\n"
        "(every step: %s)",
        steps,
        lr,
        cfg.model.loss,
        table(rows),
        path,
    )
    for label, fell in falls.items():
        if not fell:
            log.warning(
                "warm-up: the pseudo-loss of %s did not fall in %d steps (lr %g); a smaller "
                "model.warmup_lr takes smaller steps",
                label,
                steps,
                lr,
            )
    return rows
