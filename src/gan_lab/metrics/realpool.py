"""The real images' features, computed once per data set and feature space and kept on disk.

Every score of a run compares generated images with the same real images: a seeded permutation
of the training set, whose first ``n`` images are the real subset of FID/KID and PRDC, the next
``n`` the held-out images of the real-vs-real floor, and whose first ``n_train`` images the
memorisation check searches. Their features are one tensor (the "pool"), stored under the user
cache ($XDG_CACHE_HOME/gan-lab/features/, or data.cache_dir) by a key made of the training set's
fingerprint (gan_lab.data.fingerprint: each image's name, label and pixel digest), a digest of the
extractor's weights, n, n_train and the seed: a changed folder or another extractor file is
another key, never stale features. Files are written atomically and read back with the bounded
loader (gan_lab.errors.load_torch_file); one that does not match is computed again.
"""

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_lab.errors import UserError, load_torch_file
from gan_lab.metrics.images import as_unit, permutation, rows_per_chunk  # real_subset's order
from gan_lab.runs.safe_io import save_atomic

log = logging.getLogger(__name__)

KIND = "gan_lab.real_features/1"
FOLDER = "features"  # inside the cache folder


@dataclass
class RealPool:
    """Features (float64) of ``images[index]``: the seeded permutation's first P images."""

    feats: torch.Tensor  # P × D
    logits: torch.Tensor  # P × K
    index: torch.Tensor  # P indices into the training set
    n: int  # the scored subset: rows [0, n)
    m: int  # the floor: rows [0, m) against the held-out rows [m, 2m)
    n_train: int  # the memorisation reference: rows [0, n_train)

    @property
    def scored(self) -> torch.Tensor:
        return self.feats[: self.n]

    @property
    def floor_pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.feats[: self.m], self.feats[self.m : 2 * self.m]


def sizes(total: int, n: int, n_train: int) -> tuple[int, int, int, int]:
    """(n, m, n_train, P) for a set of ``total`` images: the floor compares n real images with n
    others when the set has 2n, else its two halves (m = total // 2)."""
    n = min(n, total)
    m = min(n, total // 2)
    n_train = min(n_train, total) if n_train > 0 else 0
    return n, m, n_train, min(total, max(n, 2 * m, n_train))


def data_digest(datamodule, images: torch.Tensor) -> str:
    """The training set's fingerprint as one digest; a datamodule without one: its pixels."""
    if hasattr(datamodule, "fingerprint"):
        text = json.dumps(datamodule.fingerprint(), sort_keys=True).encode()
        return hashlib.blake2b(text, digest_size=16).hexdigest()
    h = hashlib.blake2b(digest_size=16)
    for chunk in images.split(1024):
        h.update(chunk.contiguous().numpy().tobytes())
    return h.hexdigest()


def extractor_digest(extractor: torch.nn.Module) -> str:
    """A digest of the extractor's weights (and name): its identity, wherever its file lies."""
    h = hashlib.blake2b(digest_size=16)
    h.update(str(getattr(extractor, "suffix", "")).encode())
    for name, tensor in sorted(extractor.state_dict().items()):
        h.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def cache_file(cache_dir: Path, *parts) -> Path:
    key = hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=16).hexdigest()
    return Path(cache_dir) / FOLDER / f"{key}.pt"


def _load(path: Path, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The cached features if the file is ours and holds exactly these images' rows; else None."""
    try:
        blob = load_torch_file(path, "cached real-image features")
    except UserError as err:
        log.warning("%s; computing the features again", err)
        return None
    ok = (
        isinstance(blob, dict)
        and blob.get("kind") == KIND
        and isinstance(blob.get("index"), torch.Tensor)
        and torch.equal(blob["index"], index)
        and all(
            isinstance(blob.get(k), torch.Tensor)
            and blob[k].dtype == torch.float64
            and blob[k].dim() == 2
            and len(blob[k]) == len(index)
            # an extractor's features are finite; NaN in a cache file would be every score's NaN
            and bool(torch.isfinite(blob[k]).all())
            for k in ("feats", "logits")
        )
    )
    if not ok:
        log.warning("%s does not hold these images' features; computing them again", path)
        return None
    return blob["feats"], blob["logits"]


def pool_chunk(image_shape, batch_size: int) -> int:
    """Training images converted to float and encoded at a time: as many whole extractor batches
    as ``rows_per_chunk`` allows, at least one (at batch 100: 100 images, 79 MB, at 256 px; 300
    at 64 px). A scorer with no batch size: ``rows_per_chunk`` images."""
    return batch_size * max(1, rows_per_chunk(image_shape) // batch_size)


def real_pool(
    scorer,
    images: torch.Tensor,
    n: int,
    n_train: int,
    seed: int,
    data_key: str,
    cache_dir: str | Path | None,
) -> RealPool:
    """The pool of ``images`` (uint8, the training set) through ``scorer``'s extractor: read from
    the cache when the same set, extractor, sizes and seed were seen before, else computed (and
    stored, when ``cache_dir`` is not None)."""
    n, m, n_train, total = sizes(len(images), n, n_train)
    index = permutation(len(images), seed)[:total]
    path = None
    loaded = None
    if cache_dir is not None:
        ident = getattr(scorer, "identity", None) or extractor_digest(scorer.extractor)
        path = cache_file(cache_dir, KIND, data_key, ident, n, n_train, seed, total)
        if path.is_file():
            loaded = _load(path, index)
    if loaded is not None:
        feats, logits = loaded
        log.info("real-image features of %d images read from the cache %s", total, path)
    else:
        # A few batches of the extractor at a time (2,000 images of 256 px as floats would be
        # 1.5 GB; 500, 0.4 GB): whole batches, so the extractor sees the batches it always saw.
        parts = [
            scorer.features(as_unit(images[chunk]), "real images")
            for chunk in index.split(pool_chunk(images.shape[1:], getattr(scorer, "batch_size", 1)))
        ]
        feats, logits = (torch.cat(p) for p in zip(*parts, strict=True))
        if path is not None:
            blob = {"kind": KIND, "index": index, "feats": feats.cpu(), "logits": logits.cpu()}
            try:
                save_atomic(path, lambda buffer: torch.save(blob, buffer))
            except UserError as err:  # a full or read-only cache costs time, never the run
                log.warning("%s (the real-image features are not cached)", err)
    device = scorer.device
    return RealPool(feats.to(device), logits.to(device), index, n, m, n_train)
