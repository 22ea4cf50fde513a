"""Sample grids from the fixed latent vectors: the untrained G at the start, then every N epochs,
and the grids' evolution as an animated GIF at the end (004). A conditional model's grid
has one row of 8 per class.

``psi`` < 1 draws the grids from truncated fixed noise (gan_lab.core.truncation): typical images,
less variety. Such a grid is labelled wherever it goes, since it is not what G samples: the log
says so at the start, each PNG carries ``psi`` in a text chunk (the report's captions read it:
a resume may change ψ, so grids of one run can differ), and TensorBoard shows it under its own
tag. The SSIM curve and the collapse check still read the untruncated fixed noise.

Every file goes through gan_lab.runs.safe_io (written beside its name, renamed; never through a link
in the run folder; a full disk is one paragraph), as a checkpoint does."""

import io
import logging
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image
from torchvision.utils import make_grid

from gan_lab.core.truncation import truncate
from gan_lab.models import to_unit
from gan_lab.runs import files, layout
from gan_lab.runs.safe_io import guard_tensorboard, save_atomic, write_png
from gan_lab.training.loggers import image_writer
from gan_lab.training.schedule import batches_trained, due, epochs_done, logged_step

log = logging.getLogger(__name__)


def _frame(path: Path) -> Image.Image | None:
    """A grid as a GIF frame: a regular file within the size cap that decodes (a resumed run's
    earlier grids may come from someone else's folder); None, with a warning, otherwise."""
    data = files.read_bytes(path)
    try:
        return None if data is None else Image.open(io.BytesIO(data)).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        log.warning("%s is left out of the GIF: %s", path, err)
        return None


def make_gif(
    frames: list[Path], out: Path, ms_per_frame: int = 300, root: Path | None = None
) -> Path | None:
    images = [im for im in map(_frame, frames) if im is not None]
    if not images:
        return None
    # Hold the last frame longer so the end result can be seen.
    durations = [ms_per_frame] * (len(images) - 1) + [ms_per_frame * 5]
    return save_atomic(
        out,
        lambda buffer: images[0].save(
            buffer,
            format="GIF",
            save_all=True,
            append_images=images[1:],
            duration=durations,
            loop=0,
        ),
        root,
    )


class SampleGrid(Callback):
    """``dirpath`` is the run folder; the grids, the GIF and the fixed noise go where the layout
    puts them (gan_lab.runs.layout: samples/epoch_NNNN.png), which is where the report, the sweep
    summary and the roll-back look."""

    def __init__(
        self,
        dirpath: str,
        every_n_epochs: int = 10,
        nrow: int = 8,
        gif: bool = True,
        psi: float = 1.0,
        every_n_steps: int = 0,
    ):
        self.dirpath = Path(dirpath)
        self.every_n_epochs, self.nrow, self.gif = every_n_epochs, nrow, gif
        self.every_n_steps = every_n_steps  # 0: off; else also samples/step_NNNNNN.png
        self.psi = float(psi)

    def grid(self, pl_module) -> torch.Tensor:
        if self.psi == 1.0:
            images = pl_module.generate_fixed()
        else:
            z = truncate(pl_module.fixed_z, pl_module.noise, self.psi)
            images = pl_module.generate(z, pl_module.fixed_y if pl_module.conditional else None)
        return make_grid(to_unit(images, pl_module.value_range).cpu(), nrow=self.nrow, padding=2)

    def write(self, trainer, pl_module, epoch: int, step: int | None = None) -> Path:
        """The grid after ``epoch`` epochs, or with ``step`` after that many iterations (its PNG
        then also names the epoch it was drawn in: a roll-back sets later ones aside)."""
        grid = self.grid(pl_module)
        path = layout.grid_path(self.dirpath, epoch)
        label = {} if self.psi == 1.0 else {layout.GRID_PSI: f"{self.psi:g}"}
        if step is not None:
            path, label = (
                layout.step_grid_path(self.dirpath, step),
                {
                    **label,
                    layout.GRID_EPOCH: str(epochs_done(trainer)),
                },
            )
        if trainer.is_global_zero:
            write_png(path, grid, self.dirpath, label)
            # Its own tag: TensorBoard's slider never mixes grids drawn at different ψ.
            suffix = f"_psi{self.psi:g}" if label else ""
            for logger in trainer.loggers:  # TensorBoard, wandb, MLflow (its file); not CSV
                writer = image_writer(logger, path)
                if writer is not None:
                    step = logged_step(trainer)  # the x-axis of the losses, not the epoch
                    writer.add_image(f"samples/fixed_noise{suffix}", grid, global_step=step)
        return path

    def setup(self, trainer, pl_module, stage: str) -> None:
        if trainer.is_global_zero:  # the grids also go to TensorBoard: a full disk is a paragraph
            guard_tensorboard(trainer.loggers)

    def on_train_start(self, trainer, pl_module) -> None:
        if self.psi != 1.0 and trainer.is_global_zero:
            log.warning(
                "sample grids are drawn at psi=%g (callbacks.samples.psi): the fixed noise pulled "
                "toward the mean latent, so they show typical images with less variety than the "
                "generator's samples; the SSIM curve and the collapse check use the plain noise",
                self.psi,
            )
        if trainer.is_global_zero:  # the fixed noise, stored with the run (and in every checkpoint)
            z = pl_module.fixed_z.cpu()
            save_atomic(
                layout.fixed_noise_path(self.dirpath), lambda b: torch.save(z, b), self.dirpath
            )
        if trainer.current_epoch == 0:  # the untrained generator, once (003 §3); not on resume
            self.write(trainer, pl_module, 0)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        step = batches_trained(trainer)
        if self.every_n_steps > 0 and step % self.every_n_steps == 0:
            self.write(trainer, pl_module, epochs_done(trainer), step=step)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if due(trainer, self.every_n_epochs):
            self.write(trainer, pl_module, epochs_done(trainer))

    def on_train_end(self, trainer, pl_module) -> None:
        if self.gif and trainer.is_global_zero:
            frames = [p for _, p in layout.grids(self.dirpath)]
            make_gif(frames, layout.gif_path(self.dirpath), root=self.dirpath)
