"""The run's own keys (seed, resume), where it writes (logger, paths), and the groups of the train
config: the keys that are neither data, networks, procedure, trainer, callbacks nor metrics."""

from gan_lab.config.schema.rules import choice, either, flag, path, target, text, whole
from gan_lab.runs import layout

# The mappings of the train config: a stored config must hold a mapping (or null) there, never a
# string (OmegaConf would parse a string as YAML: design §9).
GROUPS = (
    "data",
    "data.augment",
    "data.audit",
    "generator",
    "discriminator",
    "noise",
    "model",
    "model.ada",
    "trainer",
    "trainer.strategy",
    "callbacks",
    "callbacks.samples",
    "callbacks.balance",
    "callbacks.metrics",
    "callbacks.ssim",
    "callbacks.history",
    "callbacks.hparams",
    "callbacks.guard",
    "callbacks.checkpoint",
    "callbacks.report",
    "metrics",
    "logger",
    "logger.tensorboard",
    "logger.csv",
    "logger.mlflow",
    "logger.wandb",
    "paths",
    "sweep",
)

RUN = {
    "seed": whole(
        "seeds torch, numpy and python; the fixed noise follows it; null = random", null=True
    ),
    "ckpt_path": path(
        f"resume from this checkpoint (or {layout.BEST}<run>) into its own run folder"
    ),
    "init": path(
        f"a new run from this run's networks: a checkpoint, {layout.BEST}<run> or a run folder"
    ),
    "init_ema": choice(
        "with init= and an EMA: restart its ramp with the fine-tune, or keep the source's count",
        ("restart", "keep"),
    ),
    "allow_data_change": flag(
        "resume on a training set that changed since the checkpoint (added, removed, relabelled)"
    ),
}

# How a -m sweep is compared (gan_lab.runs.seeds): sweep.seeds is read before Hydra starts
# (gan_lab.cli.args.seed_axis) and stays in the run's config as a record.
SWEEP = {
    "sweep.seeds": whole("with -m: adds the axis seed=0,…,N-1; 0 = off", low=0, high=1000),
    "sweep.metric": text(
        "the column the sweep summary ranks settings by; auto = metrics.best", null=False
    ),
}

OUTPUT = {
    # logger
    "logger.tensorboard._target_": target("lightning.pytorch.loggers.TensorBoardLogger"),
    "logger.tensorboard.save_dir": path("TensorBoard's folder (the run folder)", null=False),
    "logger.tensorboard.name": text("its subfolder"),
    "logger.tensorboard.version": text("one folder per run"),
    "logger.tensorboard.default_hp_metric": flag("Lightning's hp_metric"),
    "logger.csv._target_": target("lightning.pytorch.loggers.CSVLogger"),
    "logger.csv.save_dir": path("the CSV logger's folder (the run folder)", null=False),
    "logger.csv.name": text("its subfolder"),
    "logger.csv.version": either(
        "the session's subfolder; null: version_0, version_1, ... (a resume adds one)",
        whole("", 0),
        text(""),
        null=True,
    ),
    "logger.mlflow._target_": target("lightning.pytorch.loggers.MLFlowLogger"),
    "logger.mlflow.experiment_name": text("the MLflow experiment this run's sessions join"),
    "logger.mlflow.run_name": text("the MLflow run's name; null: MLflow chooses", null=True),
    "logger.mlflow.tracking_uri": text(
        "where MLflow logs (a server, e.g. http://localhost:5000); null: the run's own store",
        null=True,
    ),
    "logger.mlflow.save_dir": path(
        f"the run's own MLflow store (<run>/{layout.MLRUNS}) when tracking_uri is null", null=False
    ),
    "logger.wandb._target_": target("lightning.pytorch.loggers.WandbLogger"),
    "logger.wandb.save_dir": path(
        f"where wandb writes its {layout.WANDB}/ folder (the run folder)", null=False
    ),
    "logger.wandb.offline": flag("write to the run folder only (wandb sync uploads it later)"),
    "logger.wandb.project": text("the wandb project"),
    "logger.wandb.name": text("the wandb run's name; null: wandb chooses", null=True),
    # paths
    "paths.root_dir": path("the gan-lab checkout", null=False),
    "paths.data_dir": path("where the named sets live", null=False),
    "paths.output_dir": path("this run's folder", null=False),
}
