"""The trainer group's keys (conf/trainer/): Lightning's Trainer arguments gan-lab sets, plus
trainer.fast_path (gan_lab.training.fast_path) and the DDP strategy."""

from gan_lab.config.schema.rules import (
    Rule,
    choice,
    either,
    flag,
    number,
    target,
    text,
    whole,
    wholes,
)
from gan_lab.errors import UserError

# Lightning's *-true precisions other than 32 (bf16-true, 16-true, 64-true) cast the networks but
# not the batch, which the data module makes float32 after the transfer: the first step stops with
# "Input type (float) and bias type (...) should be the same". Only what trains is offered.
PRECISIONS = (
    "auto",
    "32-true",
    "bf16-mixed",
    "16-mixed",
    "32",
    "16",
    "bf16",
    32,
    16,
)


def _duration(v) -> bool:
    from gan_lab.config.durations import max_time_seconds

    try:
        return not isinstance(v, bool) and max_time_seconds(v) > 0
    except UserError:
        return False


TRAINER = {
    "trainer._target_": target("lightning.pytorch.Trainer"),
    "trainer.accelerator": text("cpu, gpu, mps, ... or auto"),
    "trainer.devices": either(
        "devices per machine (more than 1 needs trainer=ddp)",
        whole("", low=1),
        choice("", ("auto",)),
        wholes("", low=0, example="[0,1]"),
    ),
    "trainer.num_nodes": whole("machines", low=1),
    "trainer.fast_path": choice(
        "auto = time equivalent paths once and take the fastest; off = plain", ("auto", "off")
    ),
    "trainer.precision": choice("numeric precision; auto = bf16-mixed where native", PRECISIONS),
    "trainer.max_epochs": whole("epochs to train", low=1),
    "trainer.max_steps": whole(
        "stop after this many training iterations (batches: D and G steps each), or max_epochs "
        "or max_time, whichever first; null = no limit",
        low=1,
        null=True,
    ),
    "trainer.max_time": Rule(
        _duration,
        "a duration: 10m, 1h30m, 45s, a number of seconds or DD:HH:MM:SS",
        "stop after this much training time (or max_epochs, whichever first); null = no limit",
        null=True,
    ),
    "trainer.log_every_n_steps": whole("steps between logged loss values", low=1),
    "trainer.limit_train_batches": either(
        "a fraction of each epoch's batches, or a number of batches",
        number("", 0, 1, low_open=True),
        whole("", low=1),
    ),
    "trainer.enable_model_summary": flag("print the networks' summary"),
    "trainer.enable_progress_bar": flag("Lightning's progress bar"),
    "trainer.num_sanity_val_steps": whole("Lightning's sanity steps (no validation here)"),
    "trainer.enable_checkpointing": flag(
        "Lightning's own checkpoints (callbacks.checkpoint writes gan-lab's)"
    ),
    "trainer.deterministic": flag("bit-repeatable CPU runs at some speed cost"),
    "trainer.sync_batchnorm": flag("BatchNorm statistics over the global batch (GPUs)"),
    "trainer.strategy._target_": target("lightning.pytorch.strategies.DDPStrategy"),
    "trainer.strategy.start_method": choice(
        "how DDP starts its ranks", ("spawn", "popen", "fork", "forkserver")
    ),
    "trainer.strategy.find_unused_parameters": flag("each backward reaches one network only"),
}
