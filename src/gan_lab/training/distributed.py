"""How Lightning's DDP should start its ranks, so that multi-device training works under Hydra.

Plain ``ddp`` (start method ``popen``) re-runs ``sys.argv`` once per extra rank: under Hydra
multirun that re-launches the whole sweep (docs/design.md, "Known traps"). ``spawn`` starts the ranks
with torch.multiprocessing inside the running job instead. Where a cluster already started one
process per device (SLURM tasks, torchrun, LSF), Lightning launches nothing with
``popen``, while ``spawn`` would start devices × tasks processes — so there ``popen`` is right.
"""


def ddp_start_method() -> str:
    """``popen`` inside a cluster job that started the ranks itself, else ``spawn``."""
    # Imported here: config resolvers are registered by tools that never train.
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    external = (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment)
    return "popen" if any(env.detect() for env in external) else "spawn"


def check_trainer(trainer_cfg: dict) -> None:
    """Catch, before any process starts, what DDP would only report deep inside a rank."""
    import torch

    from gan_lab.errors import UserError

    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    if trainer_cfg.get("sync_batchnorm") and on_cpu:
        raise UserError(
            "trainer.sync_batchnorm=true needs GPUs: PyTorch synchronises BatchNorm only between "
            "GPU processes. On CPU processes leave it false (each rank then normalises its own "
            "shard of the batch), or run on GPUs (trainer.accelerator=gpu)."
        )
