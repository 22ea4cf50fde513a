"""init=<checkpoint | best@<run> | run folder>: a NEW run that starts from another run's networks.

Fine-tuning (docs/training.md, "Fine-tuning: start from another run"). What comes from where:

- **From the source**: the generator's and the discriminator's settings (their shape: presets,
  widths, latent size, image size, channels, conditioning, slope ...) and their weights, and the
  EMA generator's weights where both runs keep one (where only the new run keeps one, it starts
  from the source's live G). A run folder means its newest checkpoint.
- **From the command line**: the procedure (``model.*``: learning rates, loss, EMA, ADA,
  augmentation, ``model.freeze_d``), the data, the trainer, the callbacks, the seed.
- **Fresh**: optimiser states, epoch and step counts, schedules, random streams, fixed noise.

The data must fit the source networks: the image size and the channels (taken from the source
when the command line leaves them to it: ``data.image_size`` not typed, ``data.channels=auto``),
and, for a conditional source, a conditional run with as many classes. Anything else is one
paragraph, exit 2, before the run folder is touched.

A resume of a fine-tuned run (``ckpt_path=``) is a resume: its weights come from its own
checkpoint, init is not applied again (its stored value stays in the config, as a record).
"""

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from omegaconf import DictConfig, OmegaConf, open_dict

from gan_lab.config.resume import INIT_RECORD, typed_keys
from gan_lab.core.ema import EMA_PREFIX, LIVE_PREFIX
from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.training.checkpoint import epochs_done_in, newest, read_checkpoint, resolve_checkpoint

log = logging.getLogger(__name__)

NETWORKS = ("generator", "discriminator")
D_PREFIX = "discriminator."
# Where the run's record of its source lives in its config (so in run.json, every checkpoint,
# the report): path, sha256, run, epoch, step, ema. A derived record, not a setting.
RECORD = INIT_RECORD
# D's auxiliary classifier follows this run's model.class_loss, not the source's: a head one run
# has and the other has not is left out of the copy (a new head starts from its initialisation).
OPTIONAL = ("classify.",)


@dataclass
class Source:
    """The checkpoint a fine-tuning run starts from, read once (as data, never as code)."""

    path: Path
    config: dict  # its stored run config (gan_lab.config.validate.read_stored)
    state: dict  # its state dict
    record: dict  # what run.json and the report show (RECORD)

    def size(self) -> tuple[int, int]:
        g = self.config["generator"]
        return int(g["image_size"]), int(g["out_channels"])

    def classes(self) -> int:
        return int(self.config["generator"].get("num_classes") or 0)

    def describe(self) -> str:
        g, d = self.config["generator"], self.config["discriminator"]
        size, channels = self.size()
        net = lambda c: str(c.get("_target_", "?")).rsplit(".", 1)[-1]  # noqa: E731
        widths = f"G {g.get('channels')}, D {d.get('channels')}, z {g.get('latent_dim')}"
        classes = f", {self.classes()} classes" if self.classes() else ""
        ema = "live and EMA G" if self.record["ema"] else "live G (no EMA)"
        return (
            f"init: networks from {self.path} (run {self.record['run']}, epoch "
            f"{self.record['epoch']}, step {self.record['step']}; {net(g)} + {net(d)}, {widths}, "
            f"{size} px, {channels} channel{'s' * (channels != 1)}{classes}; {ema}); the "
            "procedure, data and trainer come from this command, optimisers and counts start fresh"
        )


def checkpoint_of(spec: str) -> tuple[Path, dict]:
    """init's value → the checkpoint file and its contents (read_checkpoint's, read once): a file,
    best@<run>, or a run folder's newest one."""
    text = str(spec)
    if layout.parse_best(text) is not None:
        path = resolve_checkpoint(text)
        return path, read_checkpoint(path)
    path = Path(text).expanduser()
    if not path.exists():
        raise UserError(
            f"init={text}: no such file or folder. Name a checkpoint "
            f"({layout.last_checkpoint('<run>')}), {layout.BEST}<run>, or a run folder (its newest "
            "checkpoint is used)."
        )
    if path.is_dir():
        folder = path if path.name == layout.CHECKPOINTS else layout.checkpoints_dir(path)
        found = newest(folder / layout.LAST) if folder.is_dir() else None
        if found is None:
            raise UserError(
                f"init={text} is a folder without checkpoints ({folder} holds none); name a run "
                f"folder that has trained at least one epoch, or a checkpoint file."
            )
        return found
    return path, read_checkpoint(path)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _steps(ckpt: dict) -> int | None:
    """Training batches the source ran (Lightning's batch progress: one per batch, not per
    optimiser step), or None where the checkpoint does not say."""
    try:
        loop = ckpt["loops"]["fit_loop"]["epoch_loop.batch_progress"]
        return int(loop["total"]["completed"])
    except (KeyError, TypeError, ValueError):
        return None


def read_source(spec: str) -> Source:
    """The source checkpoint, read as data (gan_lab.training.checkpoint.read_checkpoint: weights
    only, bounded, its config checked against the schema); a UserError for anything else."""
    path, ckpt = checkpoint_of(spec)
    state, config = ckpt["state_dict"], ckpt["gan_lab"]["config"]
    if not isinstance(state, dict) or not any(k.startswith(LIVE_PREFIX) for k in state):
        raise UserError(f"init={spec}: {path} holds no generator weights; it was not used.")
    record = {
        "path": str(path.resolve()),
        "sha256": _sha256(path),
        "run": layout.run_of(path).name,
        "epoch": epochs_done_in(ckpt),
        "step": _steps(ckpt),
        "ema": any(k.startswith(EMA_PREFIX) for k in state),
    }
    return Source(path=path, config=config, state=state, record=record)


def take_networks(cfg: DictConfig, source: Source, overrides: list[str] | None) -> None:
    """The source's generator and discriminator settings replace the composed ones (their keys
    that follow the data — image size, channels — stay linked to data.*), and the data's size
    and channels follow the source where the command line leaves them to it. Before the data
    load: the value range and recipe=auto read these."""
    typed = [o for o in overrides or () if re.split(r"[.=@]", o.lstrip("+~"))[0] in NETWORKS]
    if typed:  # never dropped silently: the source's weights fit the source's settings only
        raise UserError(
            f"init: {' '.join(typed)} cannot be chosen on this run: with init= the generator's and "
            f"the discriminator's settings are the source's ({source.path}), the only ones its "
            "weights fit. Leave them out to fine-tune, or train from nothing without init=."
        )
    size, channels = source.size()
    with open_dict(cfg):
        for name in NETWORKS:
            composed = cfg[name]
            linked = {
                k: composed._get_node(k)._value()
                for k in composed
                if OmegaConf.is_interpolation(composed, k)
            }
            cfg[name] = OmegaConf.create({**source.config[name], **linked})
        followed = []
        typed_data = typed_keys(cfg, overrides) if overrides is not None else set()
        if "data.image_size" not in typed_data and cfg.data.image_size != size:
            cfg.data.image_size = size
            followed.append(f"data.image_size={size}")
        if cfg.data.get("channels") == "auto":
            cfg.data.channels = channels
            followed.append(f"data.channels={channels}")
        cfg[RECORD] = source.record
    log.info(source.describe())
    if followed:
        log.info(
            "init: %s follow the source's networks (type data.image_size= or data.channels= to "
            "choose them; another value than the source's is refused)",
            " and ".join(followed),
        )


def check_fits(cfg: DictConfig, source: Source, images: int, classes: int) -> None:
    """The loaded data fit the source networks, or one paragraph naming both sides."""
    size, channels = source.size()
    data_size, data_channels = int(cfg.data.image_size), int(cfg.data.channels)
    if (size, channels) != (data_size, data_channels):
        ch = lambda n: f"{n} channel{'s' * (n != 1)}"  # noqa: E731
        raise UserError(
            f"init: the source generator ({source.path}) makes {size}×{size} images with "
            f"{ch(channels)}; this run's data is {data_size}×{data_size} with "
            f"{ch(data_channels)}. Train at the source's size with data.image_size={size} "
            f"data.channels={channels}, or start from a source trained at {data_size} px with "
            f"{ch(data_channels)}."
        )
    wanted = source.classes()
    conditional = bool(cfg.model.get("conditional"))
    if wanted and not conditional:
        raise UserError(
            f"init: the source ({source.path}) is a conditional GAN of {wanted} classes, and this "
            "run is not conditional. Add model.conditional=true (with data of as many classes), "
            "or start from an unconditional source."
        )
    if conditional and wanted != classes:
        have = f"{wanted} classes" if wanted else "no classes (it is unconditional)"
        raise UserError(
            f"init: the source ({source.path}) has {have}; this run's data has {classes} classes "
            f"in {images} images. Fine-tune a conditional source on data of the same number of "
            "classes, or train without model.conditional=true."
        )


def _part(state: dict, prefix: str) -> dict:
    return {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix)}


def _load(net, weights: dict, what: str, source: Source) -> None:
    missing, unexpected = net.load_state_dict(weights, strict=False)
    wrong = [k for k in [*missing, *unexpected] if not k.startswith(OPTIONAL)]
    if wrong:  # the stored settings built a network that does not hold the stored weights
        raise UserError(
            f"init: {source.path}'s {what} weights do not fit its stored settings "
            f"({', '.join(wrong[:3])}...); it was not used. Use a checkpoint written by train.py."
        )
    if missing or unexpected:
        log.info("init: D's class head starts fresh (model.class_loss differs from the source's)")


def load_weights(module, source: Source, ema: str = "restart") -> None:
    """The source's weights into a freshly built module: G, D, and the EMA generator from the
    source's EMA or, where the source keeps none, from its live G. ``ema`` (init_ema): restart =
    the average's update count starts at 0, so its ramp (gan_lab/core/ema.py) starts again and it
    follows the fine-tuned G from the first step; keep = the source's count, its half-life at
    full length from the start. On 50 nines the kept average lagged: FD 7.3 against the live G's
    2.4 after 3 minutes (benchmarks/README.md, "Fine-tuning")."""
    live = _part(source.state, LIVE_PREFIX)
    try:
        _load(module.generator, live, "generator", source)
        if getattr(module, "source_generator", None) is not None:  # model.anchor_g's target
            _load(module.source_generator, live, "generator", source)
        _load(module.discriminator, _part(source.state, D_PREFIX), "discriminator", source)
        if module.generator_ema is not None:
            averaged = _part(source.state, EMA_PREFIX) or live
            _load(module.generator_ema.module, averaged, "EMA generator", source)
            count = source.state.get("generator_ema.n_averaged")
            if ema == "keep" and source.record["ema"] and count is not None:
                module.generator_ema.n_averaged.copy_(count)
    except RuntimeError as err:  # a shape the stored config does not build
        said = " ".join(str(err).split())
        raise UserError(
            f"init: {source.path}'s weights do not fit its stored settings ({said:.300}); it was "
            "not used. Use a checkpoint written by train.py."
        ) from None


def frozen(module) -> str:
    """What holds the networks near the source, in words for the start-up paragraph ("" when
    nothing does): "D's first 2 of 4 blocks frozen (FreezeD), G pulled 0.1% of the way back to
    the source's weights each step (model.anchor_g=0.001)"."""
    said = []
    for key, name, net in (("freeze_d", "D", "discriminator"), ("freeze_g", "G", "generator")):
        k = getattr(module, key, 0) if module is not None else 0
        if k:
            blocks = len(getattr(module, net).stages())
            said.append(f"{name}'s first {k} of {blocks} blocks frozen")
    words = ", ".join(said) + (" (FreezeD)" if said else "")
    if anchor := getattr(module, "anchor_g", 0) if module is not None else 0:
        words += ", " * bool(said) + f"G pulled {anchor * 100:g}% of the way back to the source's "
        words += f"weights each step (model.anchor_g={anchor:g})"
    return words
