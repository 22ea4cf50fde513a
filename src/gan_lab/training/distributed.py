"""DDP's mistakes caught before any process starts (check_trainer). How DDP starts its ranks
under Hydra (``spawn``, or ``popen`` where a cluster started them) is
gan_lab.hardware.ddp_start_method, a fact of the machine the config's resolver asks for."""


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
