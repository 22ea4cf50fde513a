"""A run folder's files, read once into plain data: the CSVs, run.json (written by the RunReport
callback), the config, the grids and checkpoints. Everything the run's page shows starts here, so
the page can be written at any time: at the end of training, after a crash, or mid-run.
"""

import math
import re
import statistics
from dataclasses import dataclass
from pathlib import Path

from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.runs.files import read_bytes, read_info, read_rows, read_yaml
from gan_lab.runs.sweep import FAILED, parse_overrides, run_status
from gan_lab.training.checkpoint import read_checkpoint


def number(value) -> float | None:
    """A CSV cell as a finite float, or None (empty, text, nan, inf)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def fmt(value, digits: int = 4) -> str:
    """A value as the page shows it: whole numbers without a point, others to ``digits``."""
    x = number(value)
    if x is None:
        return "" if value is None else str(value)
    if x == int(x) and abs(x) < 1e9:
        return str(int(x))
    return f"{x:.{digits}g}"


# ``${data.channels}``: a plain reference to another key of the same record.
REFERENCE = re.compile(r"\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)*)\}")


def _lookup(root: dict, dotted: str):
    node = root
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def resolved(node, root: dict):
    """Hydra's record with each plain reference to another key (``${data.channels}``) replaced by
    that key's value, looked up as data (a chain of them up to 8 long). Nothing is evaluated: a
    resolver (``${oc.env:HOME}``, ``${hydra:runtime.output_dir}``) or text around a reference
    stays as written — the record may come from someone else, and a resolver would put this
    machine's values (an environment variable) on the page."""
    if isinstance(node, dict):
        return {k: resolved(v, root) for k, v in node.items()}
    if isinstance(node, list):
        return [resolved(v, root) for v in node]
    for _ in range(8):
        found = REFERENCE.fullmatch(node) if isinstance(node, str) else None
        value = _lookup(root, found.group(1)) if found else None
        if value is None or isinstance(value, dict | list):
            break
        node = value
    return node


def run_config(run: Path, info: dict) -> dict:
    """The config the run trained with: as run.json recorded it when training started (resolved,
    and after a resume the checkpoint's networks and data), else Hydra's record, else the one
    stored in the newest checkpoint."""
    if info.get("config"):
        return info["config"]
    raw = read_yaml(layout.hydra_config(run))  # plain data: no alias, nothing evaluated
    if isinstance(raw, dict):
        if isinstance(raw.get("paths"), dict):  # ${hydra:runtime.output_dir} is this folder
            raw["paths"]["output_dir"] = str(run)
        return resolved(raw, raw)
    for path in [layout.last_checkpoint(run), *reversed([p for _, p in layout.history(run)])]:
        if path.is_file():
            try:
                return dict(read_checkpoint(path)["gan_lab"]["config"])
            except UserError:
                continue
    return {}


def status(run: Path, info: dict, epochs: list[dict]) -> str:
    """How the run ended as its last session recorded it; the sweep's rule when it recorded none
    (or when a sweep marked the job failed)."""
    sessions = info.get("sessions") or []
    if (run / FAILED).exists() or not sessions:
        return run_status(run, epochs)
    said = sessions[-1].get("status", "")
    if said == "running":
        return "running (or killed before it could record its end)"
    if said == "finished":
        return run_status(run, epochs)
    return said


def scores_key(run: Path) -> str | None:
    """The metric gan_lab.score ranked by, as its scores.md states it."""
    data = read_bytes(run / layout.SCORES_MD, 2**20)
    found = re.search(r"best by `([^`]+)`", data.decode("utf-8", "replace")) if data else None
    return found.group(1) if found else None


@dataclass
class RunFolder:
    """The files of one run folder, read once (``RunFolder.read``)."""

    dir: Path
    epochs: list[dict]  # metrics.csv
    steps: list[dict]  # steps.csv
    ssim: list[dict]  # ssim.csv
    warnings: list[dict]  # warnings.csv
    classes: list[dict]  # classes.csv: per scored epoch and class, data and sample shares
    audit: list[dict]  # data_audit.csv
    scores: list[dict] | None  # scores.csv of gan_lab.score; None when it was not run
    scores_key: str | None  # the metric scores.csv was ranked by
    info: dict  # run.json
    config: dict
    status: str
    grids: list[tuple[int, Path]]
    checkpoints: list[tuple[int, Path]]  # the history checkpoints (epoch_NNNN)
    overrides: dict | None  # the command line's overrides; None when not started by train.py
    # The data folder this process trained on (the live run's report): its files may be shown.
    # Never read from the folder itself, whose paths are someone else's data.
    data_root: Path | None = None

    @classmethod
    def read(cls, run: Path) -> "RunFolder":
        info = read_info(run)
        epochs = read_rows(run / layout.METRICS_CSV)
        scores = run / layout.SCORES_CSV
        return cls(
            dir=run,
            epochs=epochs,
            steps=read_rows(run / layout.STEPS_CSV),
            ssim=read_rows(run / layout.SSIM_CSV),
            warnings=read_rows(run / layout.WARNINGS_CSV),
            classes=read_rows(run / layout.CLASSES_CSV),
            audit=read_rows(run / layout.AUDIT_CSV),
            scores=read_rows(scores) if scores.is_file() else None,
            scores_key=scores_key(run),
            info=info,
            config=run_config(run, info),
            status=status(run, info, epochs),
            overrides=parse_overrides(run),
            grids=layout.grids(run),
            checkpoints=layout.history(run),
        )

    def cfg(self, dotted: str, default=None):
        node = self.config
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def last(self) -> dict:
        return self.epochs[-1] if self.epochs else {}

    def images_per_second(self) -> float | None:
        """The median over epochs of images seen ÷ the epoch's seconds (warm-up epochs and a
        machine busy with other work move the mean more than the median)."""
        batch = (self.info.get("data") or {}).get("global_batch") or self.cfg("data.batch_size")
        rates, previous = [], 0
        for row in self.epochs:
            step, seconds = number(row.get("step")), number(row.get("epoch_seconds"))
            if step is not None and seconds:
                rates.append((step - previous) * batch / seconds if batch else None)
                previous = step
        rates = [r for r in rates if r]
        return statistics.median(rates) if rates else None
