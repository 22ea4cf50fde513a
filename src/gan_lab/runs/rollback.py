"""Going back to the last stable moment (003 §9.2): reload the newest good checkpoint into the
running module and optimisers, and lower the learning rates so the same failure is less likely.

Used by the run guard (NaN/Inf) and by the imbalance watch (D wins, collapse). The epoch count
goes on: a roll-back replaces the weights, optimiser states and EMA, not the epoch number. What
the abandoned path left in the run folder (its grids, CSV rows, later checkpoints) moves to
``abandoned/<time>/`` as a resume from an earlier checkpoint does (design §9), so the run's
history shows only the path it went on from.
"""

import logging
import os
import shutil
import time
from pathlib import Path

import torch
import torch.distributed as dist

from gan_lab.errors import load_torch_file
from gan_lab.runs import files, layout
from gan_lab.runs.safe_io import refuse_links, write_atomic

log = logging.getLogger(__name__)


def last_good(run_dir: str | Path, before_epoch: int | None = None) -> Path | None:
    """The run's newest history checkpoint (strictly before ``before_epoch`` when given)."""
    usable = [p for e, p in layout.history(run_dir) if before_epoch is None or e < before_epoch]
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


def marked_destination(run_dir: Path) -> Path | None:
    """The folder an interrupted move named (layout.MOVING_MARK), if the mark names one folder
    directly under abandoned/ — the only thing gan-lab writes there. A mark is the folder's data,
    which may come from someone else: one naming ``../victim`` or an absolute path would move the
    run's files out of it, so any other mark is ignored with a warning (a fresh folder is used)."""
    mark = run_dir / layout.MOVING_MARK
    data = files.read_bytes(mark, 4096)
    if data is None:
        return None
    text = data.decode("utf-8", errors="replace").strip()
    parts = Path(text).parts
    name = parts[-1] if len(parts) == 2 and parts[0] == layout.ABANDONED else ""
    if name in ("", ".", "..") or "\0" in name or "\\" in name:
        log.warning(
            "%s names %r, which is not a folder directly under %s; ignored (a new folder is used)",
            mark,
            text[:200],
            layout.abandoned_dir(run_dir),
        )
        return None
    return layout.abandoned_dir(run_dir, name)


def set_aside(
    run_dir: str | Path,
    epoch: int,
    name: str,
    keep: Path | None = None,
    last_becomes: Path | None = None,
) -> Path:
    """Move what the run wrote after ``epoch`` to ``abandoned/<name>/``: later history
    checkpoints, grids and memorisation galleries, last.ckpt (unless it is ``keep``, the
    checkpoint a resume starts from), scores and the GIF (and at epoch 0, a new run, the warm-up
    table), and full copies of the CSVs, whose later rows are then cut. With ``last_becomes`` (a
    roll-back), last.ckpt is kept there and replaced by that checkpoint, so a kill before the
    epoch ends resumes from the roll-back, not from the abandoned path.

    One owner for a resume's branch and a roll-back (design §9), in an order a kill at any
    instant cannot break: the destination is named first (layout.MOVING_MARK), the CSVs are copied
    before anything moves, files move one by one (a moved file is no longer there to move), the
    CSVs are cut last and the mark removed; a restart finishes the same move. Returns the folder.
    """
    run_dir = Path(run_dir)
    mark = run_dir / layout.MOVING_MARK
    dest = marked_destination(run_dir)  # a move that a kill interrupted: finish it there
    if dest is None:
        dest = layout.abandoned_dir(run_dir, name)
        n = 1
        while dest.exists():  # two in one second keep two folders
            n += 1
            dest = layout.abandoned_dir(run_dir, f"{name}_{n}")
        write_atomic(mark, str(dest.relative_to(run_dir)).encode())
    refuse_links(dest, run_dir)  # never a move into a folder elsewhere
    dest.mkdir(parents=True, exist_ok=True)
    for csv_name in layout.HISTORY:  # full copies first: rows are never only in a moved file
        data = files.read_bytes(run_dir / csv_name, None)
        if data is not None and not (dest / csv_name).exists():
            write_atomic(dest / csv_name, data, run_dir)
    last = layout.last_checkpoint(run_dir)
    moved = [p for e, p in layout.history(run_dir) if e > epoch]
    moved += [p for e, p in layout.grids(run_dir) if e > epoch]
    moved += [p for _, p in layout.step_grids(run_dir) if _drawn_in(p) > epoch]
    moved += [  # the memorisation gallery of the epochs set aside (gan_lab.metrics.memorisation)
        p
        for p in (run_dir / layout.MEMORISATION).glob(f"{layout.EPOCH_PREFIX}*")
        if (e := layout.epoch_of(p)) is not None and e > epoch
    ]
    moved += [run_dir / layout.SCORES_CSV, run_dir / layout.SCORES_MD, layout.gif_path(run_dir)]
    if epoch == 0:  # a new run in an old folder: the old run's warm-up table is not its own
        moved.append(layout.warmup_csv(run_dir))
    if last_becomes is not None and last.exists():
        layout.checkpoints_dir(dest).mkdir(parents=True, exist_ok=True)
        _link(last, layout.last_checkpoint(dest))  # the abandoned path's newest state
        _link(last_becomes, last)
    elif last.exists() and (keep is None or last.resolve() != Path(keep).resolve()):
        moved.append(last)
    for path in moved:
        if path.exists():
            target = refuse_links(dest / path.relative_to(run_dir), run_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
    for csv_name in layout.HISTORY:
        files.truncate_after(run_dir / csv_name, epoch)
    mark.unlink(missing_ok=True)
    return dest


def roll_back(
    trainer, module, path: Path, lr_factor: float, reason: str, run_dir: str | Path | None = None
) -> str:
    """Load ``path`` into the running module and optimisers, multiply every lr by ``lr_factor``;
    returns the one-line account for the caller to log.

    The module and callbacks drop what they gathered this epoch before the roll-back
    (``on_roll_back``), so the epoch's rows hold only the steps taken from the checkpoint on; with
    ``run_dir``, the abandoned path's files there are set aside (:func:`set_aside`).
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
        stamp = time.strftime("%Y-%m-%d_%H-%M-%S")
        dest = set_aside(run_dir, epoch, f"{stamp}_rollback", last_becomes=Path(path))
        aside = f" The later grids, rows and checkpoints are kept in {dest}."
    return (
        f"{reason} Rolled back to {path.name} (epoch {epoch}): weights, "
        f"optimiser states and EMA; learning rates ×{lr_factor:g}, now D {lrs[0]:.3g}, "
        f"G {lrs[-1]:.3g}.{aside}"
    ).strip()


def _drawn_in(grid: Path) -> int:
    """The epoch a step grid was drawn in (its PNG text chunk); one that cannot be read is set
    aside with the path it may belong to."""
    from PIL import Image

    try:
        with Image.open(grid) as image:
            return int(image.text.get(layout.GRID_EPOCH, ""))
    except (OSError, ValueError, AttributeError):
        return 1 << 62
