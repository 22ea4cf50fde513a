"""DDP's mistakes, and arguments Lightning's Trainer does not take, caught before any process
starts (check_trainer). How DDP starts its ranks
under Hydra (``spawn``, or ``popen`` where a cluster started them) is
gan_lab.hardware.ddp_start_method, a fact of the machine the config's resolver asks for."""


def check_trainer(trainer_cfg: dict) -> None:
    """Catch, before any process starts, what DDP would only report deep inside a rank."""
    import torch

    from gan_lab.errors import UserError

    accelerator = str(trainer_cfg.get("accelerator", "auto"))
    on_cpu = accelerator == "cpu" or (accelerator == "auto" and not torch.cuda.is_available())
    devices = trainer_cfg.get("devices", 1)
    several = (isinstance(devices, int) and not isinstance(devices, bool) and devices > 1) or (
        isinstance(devices, list | tuple) and len(devices) > 1
    )
    if several and trainer_cfg.get("strategy") is None:
        # Lightning's own choice (ddp, popen) re-runs sys.argv per rank, which is not a script
        # here: rank 0 would wait for the others for ever.
        raise UserError(
            f"trainer.devices={devices} starts one process per device, which needs gan-lab's DDP "
            f"settings: add trainer=ddp (gan-lab train trainer=ddp trainer.devices={devices} ...)."
        )
    _check_arguments(trainer_cfg)
    if trainer_cfg.get("sync_batchnorm") and on_cpu:
        raise UserError(
            "trainer.sync_batchnorm=true needs GPUs: PyTorch synchronises BatchNorm only between "
            "GPU processes. On CPU processes leave it false (each rank then normalises its own "
            "shard of the batch), or run on GPUs (trainer.accelerator=gpu)."
        )


# Trainer arguments that gan-lab passes itself (make_trainer): a trainer.* key of the same name
# would be passed twice.
PASSED = ("callbacks", "logger", "plugins")


def _check_arguments(trainer_cfg: dict) -> None:
    """A trainer.* key (+trainer.x=... from the command line) that Lightning's Trainer does not
    take, or one gan-lab passes itself: one paragraph, not Hydra's TypeError after the start."""
    import difflib
    import inspect

    from lightning.pytorch import Trainer

    from gan_lab.errors import UserError

    takes = set(inspect.signature(Trainer.__init__).parameters) - {"self", *PASSED}
    for key in trainer_cfg:
        if key in ("_target_", "fast_path") or key in takes:
            continue
        near = difflib.get_close_matches(str(key), sorted(takes), n=1)
        said = (
            "gan-lab passes it itself (callbacks.*, logger=)"
            if key in PASSED
            else "Lightning's Trainer has no such argument"
            + (f" (did you mean trainer.{near[0]}?)" if near else "")
        )
        raise UserError(f"trainer.{key} cannot be set: {said}.")
