"""gan-lab: a GAN laboratory for small-data experiments.

The commands (``gan-lab train``, ``gan-lab sample``, ...) are the front door for runs; the three
functions here are the one for a notebook or a script, on the same code paths (README "Python";
tests/test_api.py runs that example as written):

    import gan_lab

    run = gan_lab.train(["debug=tiny", "trainer.max_epochs=1"], output_dir="outputs/nb")
    g = gan_lab.load(run.last_checkpoint)  # the EMA generator where the run keeps one
    x = gan_lab.sample(g, 8, seed=0)  # (8, C, H, W) in [0, 1], on g's device

Importing the package stays light (torch, not Lightning or Hydra): each function imports what it
needs when it is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gan_lab.errors import UserError

if TYPE_CHECKING:
    import lightning as L
    import torch
    from torch import nn

    from gan_lab.core.noise import Noise
    from gan_lab.training.checkpoint import LoadedGAN

__all__ = ["TrainedRun", "UserError", "load", "sample", "train"]
__version__ = "0.1.0"


@dataclass(frozen=True)
class TrainedRun:
    """What :func:`train` hands back: the run folder (the same files as a ``gan-lab train`` run:
    checkpoints/, samples/, metrics.csv, report.html) and the final epoch's metrics."""

    dir: Path
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def last_checkpoint(self) -> Path:
        """<dir>/checkpoints/last.ckpt: the file :func:`load` and ``ckpt_path=`` (a resume) take."""
        from gan_lab.runs import layout

        return layout.last_checkpoint(self.dir)


def train(
    overrides: Sequence[str] = (),
    output_dir: str | Path | None = None,
    callbacks: Sequence[L.Callback] = (),
) -> TrainedRun:
    """Train one GAN, as ``gan-lab train <overrides>`` would, and return its folder and metrics.

    ``overrides`` are the command line's ``group=option`` and ``key=value`` arguments, as typed:
    a path value that Hydra's grammar would misread is quoted for it (gan_lab.config.compose),
    so ``data.root=~/my pics (2)`` works here as in a shell. ``output_dir`` is the run folder;
    by default a new ``outputs/<date>/<time>`` in the current folder, as the command's, or the
    checkpoint's own run folder when ``ckpt_path=`` resumes one. ``callbacks`` (Lightning
    callbacks) are added to the config's, to watch a run from a notebook. The metrics are the
    last epoch's means, as logged (``train/d_loss_epoch``, ``train/g_loss_epoch``, ...).
    A bad argument raises :class:`UserError` with the same paragraph the command prints.

    Example::

        run = gan_lab.train(["data=mnist", "trainer.max_time=10m"])
        print(run.dir, run.metrics)
    """
    from datetime import datetime

    from gan_lab.config import compose, run_dir
    from gan_lab.training.train import train as train_config

    typed = [str(a) for a in overrides]
    cfg = compose("train", typed)  # experiment=<a tuned recipe's file> too
    if output_dir is None:  # the command's choice (conf/hydra/default.yaml: run.dir)
        stamp = datetime.now().strftime("outputs/%Y-%m-%d/%H-%M-%S-%f")
        output_dir = run_dir(cfg.get("ckpt_path"), stamp)
    out = Path(output_dir).expanduser().absolute()
    cfg.paths.output_dir = str(out)
    metrics = train_config(cfg, callbacks=list(callbacks), overrides=typed)
    return TrainedRun(dir=out, metrics=metrics)


def load(ckpt: str | Path, device: str = "cpu", ema: bool | None = None) -> LoadedGAN:
    """The generator of a checkpoint, in eval mode on ``device``, with what sampling needs.

    ``ckpt`` is a checkpoint file, a run folder (its last checkpoint) or ``best@<run>`` (the
    best one ``gan-lab score`` found). ``ema=None`` gives the generator the run shows in its
    grids and scores: the moving average (EMA) where the run keeps one, else the live one;
    ``True`` insists on the average (a UserError if the run kept none: ``model.ema=0``),
    ``False`` takes the live generator. ``device``: ``cpu``, ``cuda``, ``auto`` (a GPU when
    there is one).

    The result is a :class:`gan_lab.training.checkpoint.LoadedGAN`, not a bare module, because
    a generator alone cannot be sampled correctly: ``.generator`` (the ``nn.Module``, called as
    ``generator(z)`` or ``generator(z, y)``), ``.noise`` (the run's latent distribution, which
    is not always N(0, 1)), ``.config`` (the run's resolved config), ``.classes`` and
    ``.conditional`` (a conditional run's class names), ``.value_range`` (G's output range).

    Example::

        g = gan_lab.load("outputs/2026-01-01/12-00-00-000000/checkpoints/last.ckpt")
        g.generator.latent_dim, g.classes
    """
    from gan_lab.core.ema import EMA_PREFIX, shown_prefix
    from gan_lab.hardware import pick_device
    from gan_lab.runs import layout
    from gan_lab.training.checkpoint import load_gan

    folder = Path(str(ckpt)).expanduser()
    if folder.is_dir() and layout.is_run(folder):  # a run folder: where training stopped
        ckpt = layout.last_checkpoint(folder)
    gan = load_gan(ckpt, pick_device(str(device)), ema=ema is not False)
    if ema is True and shown_prefix(gan.state_dict) != EMA_PREFIX:
        raise UserError(
            f"{gan.path} holds no averaged (EMA) generator: the run trained with model.ema=0. "
            "Load it with ema=None or ema=False for the live generator."
        )
    return gan


def sample(
    gan: LoadedGAN | str | Path | nn.Module,
    n: int,
    seed: int = 0,
    class_: int | str | None = None,
    batch_size: int = 64,
    noise: Noise | None = None,
    psi: float = 1.0,
) -> torch.Tensor:
    """``n`` generated images as one (n, C, H, W) float tensor in [0, 1], on the generator's
    device; the same ``seed`` gives the same images, and the global RNG is left as it was.

    ``gan`` is what :func:`load` returned (or a checkpoint, loaded on the CPU), or a bare
    generator module with ``noise`` (default N(0, 1): pass ``loaded.noise`` when the run used
    another distribution). The images are drawn as ``gan-lab score`` draws them, whatever G's
    output range ([-1, 1] for tanh). For a conditional generator ``class_`` (an index or a class
    name) asks every image of that class; ``None`` draws seeded random classes among those the
    run trained on. An unconditional generator takes no class (a UserError says so).
    ``batch_size`` bounds the memory; the images are the same in any batches, up to float rounding.
    ``psi`` < 1 is the truncation trick: each z is pulled toward the noise's mean,
    z̄ + ψ (z − z̄), for typical images with less variety (docs/scores.md, "Truncation ψ"); the same
    seed draws the same z at every ψ, so ``psi=1`` and ``psi=0.7`` show the same images pulled in.

    Example::

        x = gan_lab.sample(g, 64, seed=1, class_="circle")
        torchvision.utils.save_image(x, "circles.png", nrow=8)
    """
    from torch import nn

    from gan_lab.metrics.images import generate_unit

    if n < 1:
        raise UserError(f"n={n}: ask for at least one image.")
    if isinstance(gan, (str, Path)):
        gan = load(gan)
    if isinstance(gan, nn.Module):
        from gan_lab.core.noise import Normal

        generator, noise, class_ids = gan, noise or Normal(), None
        if class_ is not None:
            classes = int(getattr(generator, "num_classes", 0) or 0)
            if not isinstance(class_, int) or not 0 <= class_ < classes:
                raise UserError(
                    f"class_={class_!r}: this generator takes "
                    + (f"a class index 0..{classes - 1}" if classes else "no class")
                    + " (class names come with what gan_lab.load returns)."
                )
            class_ids = [class_]
    else:
        generator, noise, class_ids = gan.generator, noise or gan.noise, gan.class_ids
        if class_ is not None:
            class_ids = [gan.class_index(class_)]
    device = next(generator.parameters()).device
    return generate_unit(
        generator, noise, int(n), int(seed), int(batch_size), device, class_ids, float(psi)
    )
