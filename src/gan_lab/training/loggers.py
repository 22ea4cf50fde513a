"""The run's loggers, built from ``cfg.logger`` (conf/logger/*.yaml: tensorboard, csv, mlflow,
wandb; several at once with ``logger=[tensorboard,csv]``), and what each can take besides the
scalars Lightning sends to all of them: the sample grids (:func:`image_writer`).

Two loggers need a package gan-lab does not install by default; a run that names one without it
stops before training with one paragraph saying which extra to install, rather than Lightning's
ModuleNotFoundError from inside the Trainer's construction. MLflow's default store is a SQLite
file in the run folder (its file store is in maintenance mode and refuses to open by default in
MLflow 3), so a run stays one folder that can be moved or deleted whole.
"""

import importlib.util
import logging
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate
from lightning.pytorch.loggers import Logger, MLFlowLogger, TensorBoardLogger, WandbLogger
from omegaconf import DictConfig

from gan_lab.errors import UserError
from gan_lab.runs import layout

MLFLOW = "lightning.pytorch.loggers.MLFlowLogger"
WANDB = "lightning.pytorch.loggers.WandbLogger"
# A logger's class → (gan-lab's extra that installs what it needs, the modules it imports).
NEEDS = {MLFLOW: ("mlflow", ("mlflow",)), WANDB: ("wandb", ("wandb",))}
# What MLflow opens the run's own store with (a SQLite file); mlflow-skinny does not install them.
MLFLOW_STORE = ("sqlalchemy", "alembic")


def installed(module: str) -> bool:
    """Whether ``module`` can be imported (found, not imported: mlflow takes seconds to import)."""
    return importlib.util.find_spec(module) is not None


def check_installed(name: str, extra: str, modules: tuple[str, ...]) -> None:
    """One paragraph, exit 2, when logger=<name> needs a package that is not installed."""
    missing = [m for m in modules if not installed(m)]
    if missing:
        raise UserError(
            f"logger={name} needs {' and '.join(missing)}, not installed here: "
            f'pip install "gan-lab[{extra}]", then run the same command again; or choose a logger '
            "that needs nothing more: logger=tensorboard, logger=csv or logger=none."
        )


def _mlflow_store(node: dict) -> dict:
    """tracking_uri null → the run's own store in save_dir (a SQLite file and an artifact
    folder); a given URI is MLflow's to resolve (its server picks where artifacts go)."""
    if node.get("tracking_uri") is None and node.get("save_dir"):
        uri, artifacts = layout.mlflow_store(node["save_dir"])
        # "Creating initial MLflow database tables...": the store is the run's, made by this run.
        logging.getLogger("mlflow.store.db.utils").setLevel(logging.WARNING)
        Path(node["save_dir"]).mkdir(parents=True, exist_ok=True)
        node = {**node, "tracking_uri": uri, "artifact_location": str(artifacts)}
    return node


def _build_mlflow(name: str, node: dict) -> MLFlowLogger:
    given = node.get("tracking_uri")
    check_installed(name, "mlflow", ("mlflow", *(MLFLOW_STORE if given is None else ())))
    node = _mlflow_store(node)
    try:
        return instantiate(node)
    except Exception as err:  # noqa: BLE001 — a store MLflow cannot open, said in its words
        cause = err.__cause__ or err  # Hydra's instantiate wraps what the class raised
        if type(cause).__module__.split(".")[0] != "mlflow":
            raise
        said = (str(cause).strip().splitlines() or [type(cause).__name__])[0].strip()
        where = f"tracking_uri={given}" if given else f"save_dir={node.get('save_dir')}"
        raise UserError(
            f"logger.{name}.{where}: MLflow cannot log there: {said} (tracking_uri=null logs into "
            "the run folder's own store)."
        ) from None


def build_loggers(loggers: DictConfig | None) -> list[Logger]:
    """Lightning's loggers of ``cfg.logger`` (name → node; an empty node is no logger)."""
    built = []
    for name, node in (loggers or {}).items():
        if not node:
            continue
        node = dict(node)
        target = str(node.get("_target_"))
        if target == MLFLOW:
            built.append(_build_mlflow(name, node))
            continue
        if target in NEEDS:
            check_installed(name, *NEEDS[target])
        built.append(instantiate(node))
    return built


def log_step(trainer: L.Trainer, values: dict[str, float]) -> None:
    """A training step's values to every logger, as Lightning's own logging of ``self.log(...,
    on_step=True, prog_bar=True)`` writes them — the same step number (Lightning's count of
    batches stepped, before this batch counts), an ``epoch`` column, ``save()`` after each — and
    to its progress-bar, callback and logged metrics, so any progress bar shows them and a
    callback (or train()'s return) finds them in ``trainer.callback_metrics``; without its result
    objects, which cost ~0.3 ms a value per call and more at every batch's end (GAN._record)."""
    step = trainer.fit_loop.epoch_loop._batches_that_stepped
    for logger in trainer.loggers:
        logger.log_metrics({**values, "epoch": trainer.current_epoch}, step=step)
        logger.save()
    kept = trainer._logger_connector  # the dicts behind trainer.*_metrics, as self.log fills them
    tensors = {k: torch.tensor(v) for k, v in values.items()}
    kept._progress_bar_metrics.update(values)
    kept._callback_metrics.update(tensors)
    if trainer.loggers:
        kept._logged_metrics.update(tensors)


class _WandbImages:
    """TensorBoard's add_image for wandb: the grid as a wandb.Image at the batch step."""

    def __init__(self, logger: WandbLogger):
        self.logger = logger

    def add_image(self, tag: str, image, global_step: int) -> None:
        self.logger.log_image(key=tag, images=[image], step=global_step)


class _MlflowImages:
    """TensorBoard's add_image for MLflow: the PNG just written to the run folder, as an artifact
    under the same name (samples/epoch_0010.png), so MLflow's UI shows the run's grids."""

    def __init__(self, logger: MLFlowLogger, path: Path):
        self.logger, self.path = logger, Path(path)

    def add_image(self, tag: str, image, global_step: int) -> None:
        run = self.logger.run_id
        self.logger.experiment.log_artifact(
            run, str(self.path), artifact_path=self.path.parent.name
        )


def image_writer(logger: Logger, path: Path):
    """An object with TensorBoard's ``add_image(tag, image, global_step)`` for each logger that
    takes images (TensorBoard itself, wandb, MLflow); None for one that takes scalars only (CSV).
    ``path`` is the image's file in the run folder (MLflow keeps a copy of the file)."""
    if isinstance(logger, TensorBoardLogger):
        return logger.experiment
    if isinstance(logger, WandbLogger):
        return _WandbImages(logger)
    if isinstance(logger, MLFlowLogger):
        return _MlflowImages(logger, path)
    experiment = getattr(logger, "experiment", None)  # another logger with TensorBoard's writer
    return experiment if hasattr(experiment, "add_image") else None
