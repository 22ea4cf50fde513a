"""Sample grids from the fixed latent vectors: the untrained G at the start, then every N epochs,
and the grids' evolution as an animated GIF at the end (004). A conditional model's grid
has one row of 8 per class."""

from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from PIL import Image
from torchvision.utils import make_grid, save_image

from gan_lab.models import to_unit
from gan_lab.runs import layout
from gan_lab.schedule import due, epochs_done, logged_step


def make_gif(frames: list[Path], out: Path, ms_per_frame: int = 300) -> Path | None:
    if not frames:
        return None
    images = [Image.open(f).convert("RGB") for f in frames]
    # Hold the last frame longer so the end result can be seen.
    durations = [ms_per_frame] * (len(images) - 1) + [ms_per_frame * 5]
    images[0].save(out, save_all=True, append_images=images[1:], duration=durations, loop=0)
    return out


class SampleGrid(Callback):
    """``dirpath`` is the run folder; the grids, the GIF and the fixed noise go where the layout
    puts them (gan_lab.runs.layout: samples/epoch_NNNN.png), which is where the report, the sweep
    summary and the roll-back look."""

    def __init__(self, dirpath: str, every_n_epochs: int = 10, nrow: int = 8, gif: bool = True):
        self.dirpath = Path(dirpath)
        self.every_n_epochs, self.nrow, self.gif = every_n_epochs, nrow, gif

    def grid(self, pl_module) -> torch.Tensor:
        images = pl_module.generate_fixed()
        return make_grid(to_unit(images, pl_module.value_range).cpu(), nrow=self.nrow, padding=2)

    def write(self, trainer, pl_module, epoch: int) -> Path:
        grid = self.grid(pl_module)
        path = layout.grid_path(self.dirpath, epoch)
        if trainer.is_global_zero:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_image(grid, path)
            for logger in trainer.loggers:
                if hasattr(logger.experiment, "add_image"):
                    step = logged_step(trainer)  # the x-axis of the losses, not the epoch
                    logger.experiment.add_image("samples/fixed_noise", grid, global_step=step)
        return path

    def on_train_start(self, trainer, pl_module) -> None:
        if trainer.is_global_zero:  # the fixed noise, stored with the run (and in every checkpoint)
            path = layout.fixed_noise_path(self.dirpath)
            path.parent.mkdir(parents=True, exist_ok=True)
            torch.save(pl_module.fixed_z.cpu(), path)
        if trainer.current_epoch == 0:  # the untrained generator, once (003 §3); not on resume
            self.write(trainer, pl_module, 0)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if due(trainer, self.every_n_epochs):
            self.write(trainer, pl_module, epochs_done(trainer))

    def on_train_end(self, trainer, pl_module) -> None:
        if self.gif and trainer.is_global_zero:
            frames = [p for _, p in layout.grids(self.dirpath)]
            make_gif(frames, layout.gif_path(self.dirpath))
