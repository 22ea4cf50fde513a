"""How Lightning's DDP should start its ranks, so that multi-device training works under Hydra.

Plain ``ddp`` (start method ``popen``) re-runs ``sys.argv`` once per extra rank: under Hydra
multirun that re-launches the whole sweep (STYLE.md, known traps). ``spawn`` starts the ranks
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
