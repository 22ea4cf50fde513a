"""What a checkpoint's stored logger settings may do (gan_lab.config.validate.read_stored): every
logger writes inside the run folder, names its subfolders with plain names, and logs nowhere else.

A stored config is someone else's file. Its folders are confined to the run folder and its names
must be names (validate's CONFINED and PLAIN_NAMES take these tables); and the settings that
would send the run to a server — an MLflow tracking server, wandb's cloud — are put back to the
run folder's own (:func:`keep_local`), so resuming someone's checkpoint never logs this machine's
run to a place its author chose. The command line may set them again on a resume (the logger is
one of the keys a resume may change).
"""

import logging

log = logging.getLogger(__name__)

LOGGERS = ("tensorboard", "csv", "mlflow", "wandb")  # conf/logger/*.yaml
# Each logger's folder: <run>/tensorboard, <run>/csv, <run>/mlruns, <run>/wandb.
LOGGER_DIRS = tuple(f"logger.{name}.save_dir" for name in LOGGERS)
# Names that become subfolders of it (MLflow's and wandb's names are not folder names).
LOGGER_NAMES = tuple(
    f"logger.{name}.{key}" for name in ("tensorboard", "csv") for key in ("name", "version")
)
# key → the value a stored config holds there: the run's own store, wandb offline.
LOCAL_ONLY = {"logger.mlflow.tracking_uri": None, "logger.wandb.offline": True}


def keep_local(config: dict, source) -> dict:
    """``config`` (a stored run config, already a copy) with every LOCAL_ONLY key that would log
    elsewhere put back, each with a warning naming it."""
    for key, local in LOCAL_ONLY.items():
        *parents, last = key.split(".")
        node = config
        for part in parents:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(last, local) != local:
            log.warning(
                "%s: its stored %s=%r would log this run elsewhere; set to %r (the run folder). "
                "Repeat %s=... on the command line to log there",
                source,
                key,
                node[last],
                local,
                key,
            )
            node[last] = local
    return config
