"""Which score is best: the one rule behind scores.csv's best mark (``best@<run>``), the report's
best epoch, the sweep table and the tuner (a lower FID/KID, a higher Inception Score)."""

import math


def metric_key(best: str, suffix: str) -> str:
    """val/fid → val/fid_<name> for a custom extractor (its metrics carry its name)."""
    if not suffix or suffix in best:
        return best
    if best.endswith("_std"):
        return best[: -len("_std")] + suffix + "_std"
    return best + suffix


# Scores that grow with quality (each also as <name>_<extractor>): the Inception Score, and
# precision, recall, density and coverage (gan_lab.metrics.prdc); FID, KID, memorisation shrink.
HIGHER_IS_BETTER = ("is", "precision", "recall", "density", "coverage")


def higher_is_better(key: str) -> bool:
    """True for a score that grows with quality (HIGHER_IS_BETTER), False for FID/KID and the
    rest (the sweep table ranks a loss column this way too: lower first)."""
    name = key.split("/")[-1]
    return any(name == h or name.startswith(h + "_") for h in HIGHER_IS_BETTER)


def best_row(rows: list[dict], key: str) -> dict:
    """The row with the best ``key``: the one rule behind scores.csv's best mark (``best@``) and
    the report's best epoch. Rows without a value for ``key`` are not candidates."""
    scored = [r for r in rows if _number(r.get(key)) is not None]
    if not scored:
        raise ValueError(f"no row has a value for {key}")
    pick = max if higher_is_better(key) else min
    return pick(scored, key=lambda r: _number(r[key]))


def best_unflagged(rows: list[dict], key: str, flag: str = "memorising") -> tuple[dict, list[dict]]:
    """The best row among those not flagged (``row[flag]`` "yes": scores.csv's
    ``memorising=yes``), and the flagged rows that ranked better and were skipped for it. When
    every row is flagged, the best of them all (the caller says so): a copy is still the best
    the run has, and naming none would break ``best@``."""
    clean = [r for r in rows if not is_flagged(r, flag) and _number(r.get(key)) is not None]
    if not clean:
        return best_row(rows, key), []
    best = best_row(clean, key)
    sign = -1 if higher_is_better(key) else 1
    better = [
        r
        for r in rows
        if is_flagged(r, flag)
        and _number(r.get(key)) is not None
        and sign * _number(r[key]) < sign * _number(best[key])
    ]
    return best, better


def is_flagged(row: dict, flag: str = "memorising") -> bool:
    """``row[flag]`` is "yes", the one value gan-lab score writes: a table read from a folder may
    say "no", "0" or anything, and only "yes" passes a checkpoint over."""
    return str(row.get(flag) or "").strip().lower() == "yes"


def _number(value) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    # NaN is no score, and neither is ±inf: a table's "-inf" FID would otherwise be the best
    return number if math.isfinite(number) else None
