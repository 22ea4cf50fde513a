"""Going back to the last stable moment (003 §9.2): reload the newest good checkpoint into the
running module and optimisers, and lower the learning rates so the same failure is less likely.

Used by the run guard (NaN/Inf) and by the imbalance watch (D wins, collapse). The epoch count
goes on: a roll-back replaces the weights, optimiser states and EMA, not the epoch number. What
the abandoned path left in the run folder (its grids, CSV rows, later checkpoints) moves to
``abandoned/<time>/`` as a resume from an earlier checkpoint does (design §9), so the run's
history shows only the path it went on from.
"""

import os
import shutil
import time
from pathlib import Path

import torch
import torch.distributed as dist

from gan_lab import run_files
from gan_lab.errors import load_torch_file


def history(dirpath: str | Path, suffix: str = ".ckpt") -> list[tuple[int, Path]]:
    """(epoch, path) of the run's history checkpoints (or grids: ``suffix=".png"``), oldest first."""
    found = []
    for path in Path(dirpath).glob(f"epoch_*{suffix}"):
        digits = path.stem.removeprefix("epoch_")
        if digits.isdigit():
            found.append((int(digits), path))
    return sorted(found)


def last_good(dirpath: str | Path, before_epoch: int | None = None) -> Path | None:
    """The newest history checkpoint (strictly before ``before_epoch`` when given)."""
    usable = [p for e, p in history(dirpath) if before_epoch is None or e < before_epoch]
    return usable[-1] if usable else None


def all_finite(state: dict) -> bool:
    return all(
        torch.isfinite(v).all()
        for v in state.values()
        if isinstance(v, torch.Tensor) and v.is_floating_point()
    )


def any_rank(flags: torch.Tensor) -> list[bool]:
    """Each flag, true where it is true on any DDP rank: one all_reduce (nothing on one process).

    Every decision to skip a step, roll back or stop goes through here, because DDP ranks must
    take the same branch: a rank that skips its backward leaves the others waiting forever in
    theirs for its gradients.
    """
    flags = flags.detach().float().flatten()
    if dist.is_available() and dist.is_initialized():
        dist.all_reduce(flags, op=dist.ReduceOp.MAX)
    return [bool(f) for f in flags.tolist()]


def _link(src: Path, dst: Path) -> None:
    """``dst`` becomes the same file as ``src`` at once (a hard link renamed over it, so a kill
    leaves the old ``dst`` or the new one); a copy where the file system has no links."""
    tmp = dst.with_name(f".{dst.name}.tmp-{os.getpid()}")  # safe_io.TMP_GLOB: swept on resume
    tmp.unlink(missing_ok=True)
    try:
        os.link(src, tmp)
    except OSError:
        shutil.copy2(src, tmp)
    os.replace(tmp, dst)


def abandon_after(run_dir: str | Path, checkpoint: Path, epoch: int) -> Path:
    """Set aside what the run wrote after ``epoch`` (the epochs completed in ``checkpoint``):
    grids, later history checkpoints and the CSVs' later rows; last.ckpt becomes ``checkpoint``.

    In an order a kill cannot break: first the full CSVs and the old last.ckpt are copied to the
    new ``abandoned/`` folder, then files move, then the CSVs are cut. Returns that folder.
    """
    run_dir = Path(run_dir)
    stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
    dest = run_dir / "abandoned" / f"{stamp}_rollback"
    n = 1
    while dest.exists():  # two roll-backs in one second keep two folders
        n += 1
        dest = run_dir / "abandoned" / f"{stamp}_rollback_{n}"
    (dest / "checkpoints").mkdir(parents=True)
    for name in run_files.HISTORY:
        if (run_dir / name).exists():
            shutil.copy2(run_dir / name, dest / name)
    last = checkpoint.parent / "last.ckpt"
    if last.exists():  # the abandoned path's newest state, kept like a branch's (design §9)
        _link(last, dest / "checkpoints" / "last.ckpt")
        _link(checkpoint, last)  # a resume from last.ckpt goes on from the roll-back
    later = [p for e, p in history(checkpoint.parent) if e > epoch]
    later += [p for e, p in history(run_dir / "samples", ".png") if e > epoch]
    for path in later:
        target = dest / path.relative_to(run_dir)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(path), target)
    for name in run_files.HISTORY:
        run_files.truncate_after(run_dir / name, epoch)
    return dest


def roll_back(
    trainer, module, path: Path, lr_factor: float, reason: str, run_dir: str | Path | None = None
) -> str:
    """Load ``path`` into the running module and optimisers, multiply every lr by ``lr_factor``;
    returns the one-line account for the caller to log.

    The module and callbacks drop what they gathered this epoch before the roll-back
    (``on_roll_back``), so the epoch's rows hold only the steps taken from the checkpoint on; with
    ``run_dir``, the abandoned path's files there are set aside (:func:`abandon_after`).
    """
    ckpt = load_torch_file(path, "checkpoint")
    module.load_state_dict(ckpt["state_dict"])
    lrs = []
    for opt, state in zip(trainer.optimizers, ckpt["optimizer_states"], strict=True):
        opt.load_state_dict(state)
        for group in opt.param_groups:
            group["lr"] *= lr_factor
            lrs.append(group["lr"])
    epoch = ckpt.get("epoch", -1) + 1
    for part in (module, *trainer.callbacks):
        forget = getattr(part, "on_roll_back", None)
        if callable(forget):
            forget()
    aside = ""
    if run_dir is not None and trainer.is_global_zero:
        dest = abandon_after(run_dir, Path(path), epoch)
        aside = f" The later grids, rows and checkpoints are kept in {dest}."
    return (
        f"{reason} Rolled back to {path.name} (epoch {epoch}): weights, "
        f"optimiser states and EMA; learning rates ×{lr_factor:g}, now D {lrs[0]:.3g}, "
        f"G {lrs[-1]:.3g}.{aside}"
    ).strip()
