"""How the audit's near-duplicate search grows with the set: 1,000, 10,000 and 100,000 images.

    python benchmarks/audit_scaling.py [--sizes 1000 10000 100000]

Generates distinct smooth random pictures (their 32×32 thumbnails, what the audit compares; the
decode is a separate, linear cost: benchmarks/data_cache.py), plants 1 % copies shifted by one
thumbnail pixel and re-toned, and times audit_records. Prints a Markdown table: seconds, candidate
pairs, growth per ×10, and how many planted copies were found.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from gan_lab.data.audit import audit_records
from gan_lab.data.dedup import THUMB, candidate_pairs
from gan_lab.data.folder import FileRecord


def make_set(n: int, seed: int = 0) -> tuple[np.ndarray, set[int]]:
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 1, 6, 6, generator=g)
    fine = torch.rand(n, 1, THUMB, THUMB, generator=g) * 0.15
    x = torch.nn.functional.interpolate(coarse, size=THUMB, mode="bicubic", align_corners=False)
    thumbs = ((x + fine).clamp(0, 1.15) / 1.15 * 255).round().to(torch.uint8)[:, 0].numpy()
    copies = set(range(n - n // 100, n))
    src = np.arange(len(copies))
    shifted = np.roll(thumbs[src], 1, axis=2).astype(np.float32)
    thumbs[sorted(copies)] = (255 * (shifted / 255) ** 0.8).round().astype(np.uint8)  # re-toned
    return thumbs, copies


def main(sizes: list[int]) -> None:
    rows, last = [], None
    for n in sizes:
        thumbs, copies = make_set(n)
        records = [
            FileRecord(Path(f"{i:06d}.png"), mode="RGB", size=(64, 64), sha1=str(i))
            for i in range(n)
        ]
        t0 = time.perf_counter()
        problems = audit_records(records, thumbs)
        seconds = time.perf_counter() - t0
        pairs = len(candidate_pairs(thumbs))
        found = {int(p.path.stem) for p in problems if p.kind == "near_duplicate"}
        growth = f"×{seconds / last:.1f}" if last else ""
        rows.append(
            f"| {n:,} | {seconds:.1f} | {growth} | {pairs:,} | {len(found & copies)} of {len(copies)} "
            f"| {len(found - copies)} |"
        )
        last = seconds
        print(rows[-1], flush=True)
    print(
        "\n| images | audit s | growth per ×10 | candidate pairs | copies found | distinct flagged |"
    )
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    main(parser.parse_args().sizes)
