"""Train the feature extractor for FID/KID/IS on your own labelled images, in one command.

gan-lab extractor data=<builtin|mnist|folder|...> out=<file.pt> [epochs=8] [name=<label>] [data.<key>=...]

Then train with metrics.extractor=<file.pt>; its metrics are logged as val/fid_<name>,
val/kid_<name>, val/is_<name> (name defaults to the file's stem). The classes come from the data
set: the built-in shapes, the digits, or the sub-folders of a folder set.
"""

from pathlib import Path

from omegaconf import DictConfig

from gan_lab.cli import command
from gan_lab.config.schema import EXTRACTOR
from gan_lab.config.validate import check_config
from gan_lab.metrics.classifier import train_extractor

USAGE = __doc__.strip().splitlines()[2].strip()


@command("extractor", USAGE)
def main(cfg: DictConfig) -> None:
    check_config(cfg)  # the data.* keys
    check_config(cfg, EXTRACTOR)
    keys = ("epochs", "batch_size", "lr", "seed", "name", "holdout", "augment")
    args = {k: cfg[k] for k in keys}
    extractor = train_extractor(cfg.data, cfg.out, **args)
    out = Path(cfg.out).resolve()
    print(
        f"wrote {out}: {len(extractor.classes)} classes, held-out accuracy "
        f"{extractor.accuracy:.1%}. Use it with metrics.extractor={out} "
        f"(logged as val/fid_{extractor.name}, val/kid_{extractor.name}, val/is_{extractor.name})."
    )
