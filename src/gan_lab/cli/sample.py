"""Write generated images as PNG files, from a checkpoint alone.

gan-lab sample ckpt=<file or best@<run_dir>> n=64 out_dir=<dir> [class=K] [psi=1.0] [seed=0] [batch_size=64] [device=auto]
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
    psi = cfg.psi
    files = sample(
        cfg.ckpt, cfg.n, cfg.out_dir, cfg.seed, cfg.batch_size, cfg.device, cfg["class"], psi
    )
    # Truncated samples are not the generator's distribution: said with the count, every time.
    how = "" if psi == 1 else f" at psi={psi} (truncated toward the mean latent: less variety)"
    print(f"wrote {len(files)} images{how} to {Path(cfg.out_dir).resolve()}")
