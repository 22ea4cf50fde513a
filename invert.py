"""Project images into a generator's latent space, edit, interpolate, compare (see README.md):

python invert.py ckpt=<run>/checkpoints/last.ckpt target=cake.jpg
python invert.py mode=edit ckpt=... z=<inversion>/z.pt coords=[3,17] amounts=[-2,-1,0,1,2]
python invert.py mode=interpolate ckpt=... target=a.jpg target_b=b.jpg interp_steps=8 spherical=true
python invert.py mode=compare ckpt=<run A>/... ckpt_b=<run B>/... target=cake.jpg
"""

import hydra
from omegaconf import DictConfig

import gan_lab.config  # noqa: F401  (registers the resolvers used by conf/)
from gan_lab.config import to_dict
from gan_lab.errors import friendly
from gan_lab.latent.run import run


@hydra.main(version_base="1.3", config_path="conf", config_name="invert")
@friendly
def main(cfg: DictConfig) -> None:
    run(to_dict(cfg))


if __name__ == "__main__":
    main()
