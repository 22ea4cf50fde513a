"""The classes a config may build, by name: the networks, the noise and the data.

train.py (from the composed config) and every tool (from a checkpoint's stored config) build them
here, by looking the ``_target_`` name up in this table and calling the class with the node's
settings as keyword arguments. Never through ``hydra.utils.instantiate``: it evaluates
interpolations and would call any name a file chose (design §9).
"""

import inspect
from collections.abc import Mapping

from omegaconf import OmegaConf

from gan_lab.core.noise import Gamma, Normal, Uniform
from gan_lab.data import GANDataModule
from gan_lab.errors import UserError
from gan_lab.models import Discriminator, Generator

# group → {the names conf/ and older checkpoints use: the class}
CLASSES = {
    "generator": {
        "gan_lab.models.Generator": Generator,
        "gan_lab.models.generator.Generator": Generator,
    },
    "discriminator": {
        "gan_lab.models.Discriminator": Discriminator,
        "gan_lab.models.discriminator.Discriminator": Discriminator,
    },
    "noise": {
        "gan_lab.core.noise.Normal": Normal,
        "gan_lab.core.noise.Uniform": Uniform,
        "gan_lab.core.noise.Gamma": Gamma,
        "gan_lab.noise.Normal": Normal,  # the names of checkpoints before gan_lab/core/
        "gan_lab.noise.Uniform": Uniform,
        "gan_lab.noise.Gamma": Gamma,
    },
    "data": {
        "gan_lab.data.GANDataModule": GANDataModule,
        "gan_lab.data.datamodule.GANDataModule": GANDataModule,
    },
}


def build(group: str, node: Mapping, source: str = "the config", **given):
    """``group``'s class named by ``node['_target_']``, called with the node's other keys (and
    ``given``) as keyword arguments. ``source`` names the config in messages (a checkpoint)."""
    settings = (
        OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else dict(node)
    )
    name = settings.pop("_target_", None)
    cls = CLASSES[group].get(name)
    if cls is None:
        raise UserError(
            f"{source} asks to build {name!r} as its {group}, which is not one of gan-lab's own "
            f"classes ({', '.join(CLASSES[group])}); it was not built. A checkpoint must come "
            "from train.py; a config node from conf/."
        )
    accepted = inspect.signature(cls).parameters
    unknown = sorted(k for k in settings if k not in accepted)
    if unknown:
        raise UserError(
            f"{group}.{unknown[0]} (in {source}) is not a setting of {name}; its settings: "
            f"{', '.join(k for k in accepted if k not in given)}."
        )
    return cls(**settings, **given)
