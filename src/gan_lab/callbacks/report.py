"""The run's report (design §5): what no CSV holds, recorded when training starts, and
report.html written when it ends — finished, stopped by a warning's action, or crashed.

At the start (rank 0): run.json gets the networks (parameters, layer shapes), the data (images,
classes, batch), the grid's rows and a new session (device, precision, start time); the data
preview (003 §4) and the augmentation check (003 §5.1) go to preview/ once. At the end the
session is closed and ``gan_lab.report`` writes report.html from the run folder's files alone —
the same page ``gan-lab report <run>`` writes at any time.
"""

import datetime
import logging
import socket
from pathlib import Path

import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torchvision.utils import make_grid

from gan_lab.data.augment import augment_grid
from gan_lab.hardware import device_name
from gan_lab.runs import layout
from gan_lab.runs.files import read_info, write_info
from gan_lab.runs.safe_io import write_png

log = logging.getLogger(__name__)


def now() -> str:
    return datetime.datetime.now().astimezone().isoformat(timespec="seconds")


def _leaves(net: nn.Module):
    """Modules without sub-modules (a parametrized Conv counts as one: its spectral norm is part
    of the layer, not a layer of its own)."""
    for name, module in net.named_modules():
        children = [n for n, _ in module.named_children() if n != "parametrizations"]
        if name and not children and "parametrizations" not in name:
            yield name, module


@torch.no_grad()
def layer_table(net: nn.Module, *inputs: torch.Tensor) -> list[list]:
    """[name, layer type, output shape, parameters] of every leaf, from one eval-mode forward
    pass of a single example (no running statistics or power iterations move in eval mode)."""
    rows, hooks = [], []
    for name, module in _leaves(net):

        def hook(module, args, output, name=name):
            shape = list(output.shape[1:]) if isinstance(output, torch.Tensor) else []
            params = sum(p.numel() for p in module.parameters())
            rows.append([name, type(module).__name__, shape, params])

        hooks.append(module.register_forward_hook(hook))
    was_training = net.training
    try:
        net.eval()
        net(*inputs)
    finally:
        net.train(was_training)
        for h in hooks:
            h.remove()
    return rows


def network_info(net: nn.Module, *inputs: torch.Tensor) -> dict:
    params = list(net.parameters())
    return {
        "class": type(net).__name__,
        "parameters": sum(p.numel() for p in params),
        "trainable": sum(p.numel() for p in params if p.requires_grad),
        "layers": layer_table(net, *inputs),
        "text": repr(net),
    }


class RunReport(Callback):
    def __init__(
        self,
        dirpath: str,
        preview_images: int = 32,
        augment_images: int = 4,
        augment_copies: int = 8,
        seed: int = 0,
    ):
        self.dirpath = Path(dirpath)
        self.preview_images, self.seed = preview_images, seed
        self.augment_images, self.augment_copies = augment_images, augment_copies
        self._closed = False

    # ---- the start: facts and previews --------------------------------------------------
    def on_train_start(self, trainer, pl_module) -> None:
        # Here, not in on_fit_start: a resumed run's epoch counter is restored only by now.
        self._closed = False
        if not trainer.is_global_zero:
            return
        info = read_info(self.dirpath)
        info["format"] = 1
        try:
            info["networks"] = self.networks(pl_module)
        except Exception as err:  # noqa: BLE001 — a network the layer table cannot trace still trains
            log.warning(
                "the report will not show the layer shapes: %s: %s", type(err).__name__, err
            )
            info["networks"] = {}
        dm = trainer.datamodule
        if dm is not None and getattr(dm, "images", None) is not None:
            info["data"] = self.data(dm, trainer)
            self.previews(dm, fresh=trainer.current_epoch == 0)
        info["grid"] = self.grid(pl_module)
        info["config"] = pl_module.run_config  # resolved; a resume's is the checkpoint's
        device = pl_module.device
        info.setdefault("sessions", []).append(
            {
                "started": now(),
                "ended": None,
                "status": "running",
                "start_epoch": trainer.current_epoch,
                "end_epoch": None,
                "device": str(device),
                "device_name": device_name(device),
                "devices": trainer.world_size,
                "precision": str(trainer.precision),
                "host": socket.gethostname(),
            }
        )
        write_info(self.dirpath, info)

    def networks(self, pl_module) -> dict:
        g, d = pl_module.generator, pl_module.discriminator
        device = next(g.parameters()).device
        z = torch.zeros(1, g.latent_dim, device=device)
        y = torch.zeros(1, dtype=torch.long, device=device) if pl_module.conditional else None
        image = torch.zeros(1, *g.image_shape, device=device)
        generator = network_info(g, z, y)
        generator.update(input=[g.latent_dim], output=list(g.image_shape))
        generator["ema"] = getattr(pl_module, "generator_ema", None) is not None
        discriminator = network_info(d, image, y)
        discriminator.update(input=list(g.image_shape), output=[1])
        return {"generator": generator, "discriminator": discriminator}

    def data(self, dm, trainer) -> dict:
        counts = torch.bincount(dm.labels, minlength=len(dm.classes)).tolist()
        return {
            "name": dm.name,
            "source": dm.source,
            "root": str(dm.root) if dm.root else None,
            "images": len(dm.images),
            "image_shape": list(dm.images.shape[1:]),
            "classes": list(dm.classes),
            "per_class": {c: n for c, n in zip(dm.classes, counts, strict=False) if n},
            "batch_size": dm.batch_size,
            "global_batch": min(dm.batch_size, len(dm.images)) * trainer.world_size,
            "augment": {
                "flip": dm.augment.flip,
                "zoom": dm.augment.zoom,
                "rotate": dm.augment.rotate,
            },
        }

    def grid(self, pl_module) -> dict:
        """How the fixed-noise grids are laid out: 8 a row, and a conditional run's class per row."""
        n = len(pl_module.fixed_z)
        rows = None
        if pl_module.conditional:
            classes = list(pl_module.run_config.get("classes", []))
            labels = pl_module.fixed_y.tolist()[::8]
            rows = [classes[i] if i < len(classes) else str(i) for i in labels]
        return {"n": n, "nrow": 8, "rows": rows}

    def previews(self, dm, fresh: bool) -> None:
        """A batch of training images and the augmentation check, when a run starts (a resume
        keeps them). The global random streams are left untouched: a resumed or repeated run
        must draw exactly what it would have drawn without this picture (design §9)."""
        folder = layout.preview_dir(self.dirpath)
        if not fresh and (folder / layout.PREVIEW_BATCH).exists():
            return
        g = torch.Generator().manual_seed(self.seed)
        pick = torch.randperm(len(dm.images), generator=g)
        images = dm.images[pick[: self.preview_images]]
        batch = make_grid(images.float() / 255.0, nrow=8, padding=2)
        write_png(folder / layout.PREVIEW_BATCH, batch, self.dirpath)
        if dm.augment.active:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(self.seed)
                shown = dm.images[pick[: self.augment_images]].cpu()
                grid = augment_grid(shown, dm.augment, self.augment_copies)
            write_png(folder / layout.PREVIEW_AUGMENT, grid, self.dirpath)

    # ---- the end: close the session, write the page -------------------------------------
    def close(self, trainer, status: str) -> None:
        if self._closed or not trainer.is_global_zero:
            return
        self._closed = True
        info = read_info(self.dirpath)
        sessions = info.get("sessions") or [{}]
        sessions[-1].update(ended=now(), status=status, end_epoch=trainer.current_epoch)
        info["sessions"] = sessions
        write_info(self.dirpath, info)
        from gan_lab.report import write_run_report  # matplotlib is loaded only when it is used

        root = getattr(trainer.datamodule, "root", None) if trainer.datamodule else None
        path = write_run_report(self.dirpath, data_root=root)
        log.info("report of the run: %s", path)

    def _close_safely(self, trainer, status: str) -> None:
        """The run's own work is saved by now: a page that cannot be written is a warning that
        says how to write it later, never a failed run (nor a hidden training error)."""
        try:
            self.close(trainer, status)
        except Exception as err:  # noqa: BLE001 — see above
            log.warning(
                "%s could not be written (%s: %s); write it with gan-lab report %s",
                layout.REPORT,
                type(err).__name__,
                err,
                self.dirpath,
            )

    def on_fit_end(self, trainer, pl_module) -> None:
        self._close_safely(trainer, "finished")

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        # The page of a stopped run is the most useful one: it says why and where it stopped.
        status = f"stopped: {type(exception).__name__}: {exception}".strip().rstrip(":")
        self._close_safely(trainer, status.splitlines()[0][:300])
