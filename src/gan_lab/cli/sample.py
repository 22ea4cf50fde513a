"""Write generated images as PNG files, from a checkpoint alone.

gan-lab sample ckpt=<file or best@<run_dir>> n=64 out_dir=<dir> [class=K] [seed=0] [batch_size=64] [device=auto]
"""

from pathlib import Path

from omegaconf import DictConfig

from gan_lab.cli import command
from gan_lab.config.schema import SAMPLE
from gan_lab.config.validate import check_config
from gan_lab.training.sampling import sample

USAGE = __doc__.strip().splitlines()[-1].strip()


@command("sample", USAGE)
def main(cfg: DictConfig) -> None:
    check_config(cfg, SAMPLE)
    files = sample(cfg.ckpt, cfg.n, cfg.out_dir, cfg.seed, cfg.batch_size, cfg.device, cfg["class"])
    print(f"wrote {len(files)} images to {Path(cfg.out_dir).resolve()}")
