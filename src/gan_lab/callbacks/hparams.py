"""The run's hyper-parameters and its final and best scores in TensorBoard's HParams tab.

A sweep's runs then compare in one table (``tensorboard --logdir multirun/...``): one row per run,
a column per setting (learning rates, betas, batch, loss, widths, noise, seed, epochs, ...) and per
metric. Written once, when training ends, through the TensorBoard logger's ``log_hyperparams``;
the metrics (``final/...``, ``best/...``) go in at the last scalar step, the end of the curves they
summarise. The other loggers have no HParams tab (CSV, MLflow, wandb): they get the settings as
their params (hparams.yaml, MLflow's params, wandb's config) when training starts, so a run still
going or one that crashed shows them too, and the final and best metrics as scalars at its end.
Without a logger (``logger=none``) this callback does nothing.
"""

import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import TensorBoardLogger

from gan_lab.metrics.best import higher_is_better
from gan_lab.runs import keys
from gan_lab.training.schedule import logged_step

# The parts of the run config that define the experiment; paths, callbacks and loggers do not.
GROUPS = ("data", "generator", "discriminator", "noise", "model", "trainer", "metrics")
# Scores with a best value worth a column of its own (their ``_std`` companions are not).
SCORES = ("val/fid", "val/kid", "val/is")


def run_hparams(config: dict) -> dict:
    """The experiment's settings from a run config: ``seed`` and each group's keys, nested (the
    logger flattens them to ``model/lr_d``); a group's ``_target_`` becomes its class name."""
    params: dict = {"seed": config.get("seed")}
    for group in GROUPS:
        node = config.get(group)
        if not isinstance(node, dict):
            continue
        params[group] = {
            ("class" if key == "_target_" else key): (
                str(value).rsplit(".", 1)[-1] if key == "_target_" else value
            )
            for key, value in node.items()
        }
    return params


def is_score(key: str) -> bool:
    return key.startswith(SCORES) and not key.endswith("_std")


class HParams(Callback):
    def __init__(self):
        # The best value of each score so far; kept in checkpoints, so a resumed run's best
        # covers the epochs before the resume too.
        self.best: dict[str, float] = {}

    def state_dict(self) -> dict:
        return {"best": dict(self.best)}

    def load_state_dict(self, state: dict) -> None:
        self.best = {k: float(v) for k, v in state.get("best", {}).items()}

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        # Every rank reads: with DDP the read reduces values logged with sync_dist (a collective).
        for key, value in trainer.callback_metrics.items():
            if not is_score(key) or float(value) != float(value):  # NaN is no score
                continue
            value, old = float(value), self.best.get(key)
            better = max if higher_is_better(key) else min
            self.best[key] = value if old is None else better(old, value)

    def final_metrics(self, trainer) -> dict[str, float]:
        """``final/<name>``: every epoch-level value logged last (the epoch means, diversity,
        scores); ``best/<name>``: the best of each score. Tags of their own: the curves they
        summarise keep one point per step."""
        final = {
            f"final/{key.removesuffix(keys.epoch_key(''))}": float(value)
            for key, value in trainer.callback_metrics.items()
            if isinstance(value, torch.Tensor)
            and value.numel() == 1
            and not key.endswith(keys.step_key(""))
        }
        return {**final, **{f"best/{key}": value for key, value in self.best.items()}}

    def on_train_start(self, trainer, pl_module) -> None:
        others = [lg for lg in trainer.loggers if not isinstance(lg, TensorBoardLogger)]
        if others:
            params = run_hparams(getattr(pl_module, "run_config", {}))
            for logger in others:
                logger.log_hyperparams(params)

    def on_train_end(self, trainer, pl_module) -> None:
        metrics = self.final_metrics(trainer)
        if not trainer.loggers or not metrics:  # no logger, or a session that trained no batch
            return
        params = run_hparams(getattr(pl_module, "run_config", {}))
        for logger in trainer.loggers:
            if isinstance(logger, TensorBoardLogger):
                logger.log_hyperparams(params, metrics, step=logged_step(trainer))
            else:  # their settings went in at the start
                logger.log_metrics(metrics, step=logged_step(trainer))
