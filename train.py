"""Train a GAN: python train.py [group=option ...] [key=value ...]   (see README.md)"""

import hydra
from omegaconf import DictConfig

import gan_lab.config  # noqa: F401  (registers the resolvers used by conf/)
from gan_lab.errors import friendly
from gan_lab.train import train


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
@friendly
def main(cfg: DictConfig) -> None:
    train(cfg)


if __name__ == "__main__":
    main()
