"""The LightningDataModule: any source → one in-memory uint8 tensor → scaled, augmented batches.

Small sets are decoded once and kept in memory as uint8; scaling to the
generator's range and augmentation happen per batch on the training device,
so an epoch costs no decoding and no worker start-up.
"""

import logging
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from gan_lab.data.audit import (
    MAX_SKIPPED_SHARE,
    audit_decoded,
    check_share,
    skipped_files,
    summarize,
    write_report,
)
from gan_lab.data.augment import BatchAugment
from gan_lab.data.builtin import CLASSES, make_shapes
from gan_lab.data.decoded import cache_dir_for, decode_folder, parse_size
from gan_lab.data.digits import write_digits
from gan_lab.data.fingerprint import fingerprint
from gan_lab.data.mnist import load_mnist
from gan_lab.data.sampler import EpochShuffle, InMemory
from gan_lab.errors import UserError

log = logging.getLogger(__name__)


def _inside(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).as_posix()


def decode_channels(channels: int | str) -> int:
    """Channels to decode a folder with: data.channels=auto decodes RGB, then looks (a set of
    grey images becomes 1-channel: GANDataModule._grey_or_colour)."""
    return 3 if channels == "auto" else int(channels)


class GANDataModule(L.LightningDataModule):
    def __init__(
        self,
        name: str = "builtin",
        source: str = "builtin",
        root: str | None = None,
        hint: str = "",
        image_size: int = 32,
        channels: int | str = 3,
        batch_size: int = 64,
        num_images: int = 2048,
        classes: list | None = None,
        seed: int = 0,
        augment: dict | None = None,
        audit: dict | None = None,
        audit_report: str | None = None,
        cache: bool = True,
        cache_dir: str | None = None,
        memory_budget: str | int | None = "4GB",
        value_range: tuple[float, float] = (0.0, 1.0),
    ):
        super().__init__()
        self.name, self.source, self.hint = name, source, hint
        self.root = Path(root).expanduser().resolve() if root else None
        self.image_size, self.channels, self.batch_size = image_size, channels, batch_size
        self.num_images, self.seed = num_images, seed
        self.class_filter = list(classes) if classes else None
        self.augment = BatchAugment(**(augment or {}))
        self.audit_rules = dict(audit or {})
        self.audit_report = Path(audit_report) if audit_report else None
        self.cache_dir = cache_dir_for(cache, cache_dir)  # None: data.cache=false
        self.sets_dir = cache_dir  # data=digits writes its PNGs under it, cache or not
        self.memory_budget = parse_size(memory_budget)
        self.decoded = None  # the folder's DecodedFolder: keeps a memory-mapped set's file open
        self.problems: list = []
        self.original_sizes: list[tuple[int, int]] = []  # (width, height) before resizing
        self.value_range = tuple(value_range)
        self.images: torch.Tensor | None = None
        self.labels: torch.Tensor | None = None
        self.classes: list[str] = []
        self.names: list[str] = []  # each image's name: its path in data.root, or #<index>
        # Drawn from the run's seeded stream: the same shuffles for the same seed, resumed or not.
        self.shuffle_seed = int(torch.randint(2**31 - 1, (1,)))

    # ---- loading -------------------------------------------------------------------------
    def _missing(self, what: str) -> UserError:
        return UserError(
            f"data={self.name}: {what}. {self.hint.strip()} "
            f"To use another location, pass data.root=/path/to/folder; to train on any folder "
            f"of images, use data=folder data.root=/path/to/folder."
        )

    def load(self) -> None:
        """Decode the whole set once; later calls are free."""
        if self.images is not None:
            return
        if self.source == "builtin":
            self.channels = 3 if self.channels == "auto" else self.channels
            images, labels = make_shapes(self.num_images, self.image_size, self.channels, self.seed)
            classes = list(CLASSES)
            self.names = [f"#{i}" for i in range(len(images))]
        elif self.source == "mnist":
            if self.root is None:
                raise self._missing("data.root is not set")
            loaded = load_mnist(self.root)
            if loaded is None:
                raise self._missing(
                    f"no MNIST IDX files (train-images-idx3-ubyte, train-labels-idx1-ubyte) in {self.root}"
                )
            images, labels = loaded
            if images.shape[-1] != self.image_size:
                images = torch.nn.functional.interpolate(
                    images.float(), size=self.image_size, mode="bilinear"
                )
                images = images.round().clamp(0, 255).to(torch.uint8)
            classes = [str(d) for d in range(10)]
            self.names = [f"#{i}" for i in range(len(images))]
            self.channels = 1 if self.channels == "auto" else self.channels
        elif self.source in ("folder", "digits"):
            if self.source == "digits":  # scikit-learn's digits as PNGs, written on first use
                self.root = write_digits(self.root, self.sets_dir)
            if self.root is None:
                raise self._missing("data.root is not set")
            if not self.root.is_dir():
                raise self._missing(f"the folder {self.root} does not exist")
            images, labels, classes = self._load_folder()
        else:
            raise UserError(
                f"unknown data.source '{self.source}': use builtin, folder, digits or mnist."
            )
        if not self.original_sizes:
            self.original_sizes = [tuple(images.shape[-1:-3:-1])] * len(images)
        images, labels = self._filter_classes(images, labels, classes)
        self.images, self.labels, self.classes = images, labels, classes
        log.info(
            "data=%r: %d images of %s, %d classes",
            self.name,
            len(images),
            tuple(images.shape[1:]),
            len(classes),
        )

    def _load_folder(self):
        """Decode once (or read the cache), audit the same records (003's broken files), keep
        only the good ones; stop before training if the audit would drop too much (design §3.1)."""
        rules = dict(self.audit_rules)
        max_share = float(rules.pop("max_skipped_share", MAX_SKIPPED_SHARE))
        dec = decode_folder(
            self.root,
            self.image_size,
            decode_channels(self.channels),
            cache_dir=self.cache_dir,
            memory_budget=self.memory_budget,
        )
        self.decoded = dec
        scan, records = dec.scan, dec.records
        n_files = len(records) + len(scan.others)
        log.info(
            "data %r: %d files, %d decoded now, %d from the cache%s (%.1f s)",
            str(self.root),
            len(records),
            dec.decoded,
            len(records) - dec.decoded,
            f" {dec.cache}" if dec.cache else "",
            dec.seconds,
        )
        self.problems = audit_decoded(dec, **rules)
        bad = skipped_files(self.problems)
        keep = [i for i, r in enumerate(records) if r.path not in bad]
        summary = summarize(self.problems, n_files)
        if self.audit_report is not None and self.problems:
            write_report(self.problems, self.audit_report)
            summary += f"; each one listed in {self.audit_report}"
        (log.warning if bad else log.info)("data audit of %r: %s", str(self.root), summary)
        check_share(self.problems, n_files, max_share, self.audit_report)
        if not keep:
            raise self._missing(f"no usable images in {self.root} ({summary})")
        rows = dec.rows(keep)
        images = torch.from_numpy(rows)
        images = images.permute(0, 3, 1, 2)  # (N, H, W, C) rows → (N, C, H, W), no copy
        if not dec.on_disk:
            images = images.contiguous()
        else:
            log.warning(
                "data %r: %d images of %s bytes are over data.memory_budget: streamed from the "
                "memory-mapped file %s",
                str(self.root),
                len(keep),
                rows[0].nbytes,
                rows.filename,
            )
        labels = torch.tensor([scan.labels[i] for i in keep], dtype=torch.long)
        self.names = [_inside(records[i].path, self.root) for i in keep]
        self.original_sizes = [records[i].size for i in keep]
        if self.channels == "auto":
            images = self._grey_or_colour(images)
        return images, labels, scan.classes

    def _grey_or_colour(self, images: torch.Tensor) -> torch.Tensor:
        """data.channels=auto: a set whose every image is grey (R = G = B: scanned digits, X-rays)
        trains a 1-channel model — one channel to learn instead of three equal ones, and less
        work in the first and last layers (benchmarks/README.md, "Digits study"). Said loudly;
        data.channels=3 keeps RGB."""
        grey = all(
            bool((chunk[:, 0] == chunk[:, 1]).all() and (chunk[:, 1] == chunk[:, 2]).all())
            for chunk in images.split(4096)  # a memory-mapped set is read in pieces
        )
        self.channels = 1 if grey else 3
        if not grey:
            return images
        log.warning(
            "data %r: every one of the %d images is grey (R = G = B), so the networks get 1 "
            "channel instead of 3 (data.channels=auto); pass data.channels=3 to train in RGB",
            str(self.root),
            len(images),
        )
        return images[:, :1].contiguous()

    def _filter_classes(self, images, labels, classes):
        if not self.class_filter:
            return images, labels
        wanted = []
        for c in self.class_filter:
            if isinstance(c, int) and 0 <= c < len(classes):
                wanted.append(c)
            elif str(c) in classes:
                wanted.append(classes.index(str(c)))
            else:
                raise UserError(
                    f"data.classes: '{c}' is not a class of data={self.name} (classes: {classes})."
                )
        keep = torch.isin(labels, torch.tensor(wanted))
        self.names = [n for n, k in zip(self.names, keep.tolist(), strict=True) if k]
        self.original_sizes = [
            s for s, k in zip(self.original_sizes, keep.tolist(), strict=True) if k
        ]
        return images[keep], labels[keep]

    def fingerprint(self) -> dict:
        """The set as it trains: class names, and each image's name, label and pixel digest
        (gan_lab.data.fingerprint); a resume compares it with the checkpoint's."""
        self.load()
        classes = self.classes
        if self.source == "folder" and not any("/" in n for n in self.names):
            classes = ["."] * len(classes)  # a flat folder's one class is its own name: it may move
        return fingerprint(self.images, self.labels, self.names, classes)

    # ---- Lightning hooks ------------------------------------------------------------------
    def setup(self, stage: str | None = None) -> None:
        self.load()

    def train_dataloader(self) -> DataLoader:
        self.load()
        n = len(self.images)
        # A last batch of one image would break BatchNorm; drop it when there is more than one batch.
        return DataLoader(
            InMemory(self.images, self.labels),
            batch_size=min(self.batch_size, n),
            sampler=EpochShuffle(n, self.shuffle_seed),
            drop_last=n > self.batch_size,
            collate_fn=InMemory.collate,
            generator=torch.Generator(),  # its worker seed must not draw from the global stream
        )

    def to_model_range(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 [0, 255] → float in the generator's range."""
        lo, hi = self.value_range
        return images.float().div_(255.0).mul_(hi - lo).add_(lo)  # in place: the same numbers

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        images, labels = batch
        x = self.to_model_range(images)
        if self.augment.active and self.trainer is not None and self.trainer.training:
            x = self.augment(x)
        return x, labels
