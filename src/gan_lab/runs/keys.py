"""The names a run logs under: one owner for every metric name, scoped by `/`.

The module logs each training statistic per step (``<key>_step``) and as the epoch mean
(``<key>_epoch``); ``metrics.csv`` and the sweep summary store the epoch means under the bare key.
"""

D_LOSS, G_LOSS = "train/d_loss", "train/g_loss"
D_REAL, D_FAKE = "train/d_real", "train/d_fake"  # mean D(x) and mean D(G(z)) of the D phase
# What training_step reports, in this order.
STAT_KEYS = (D_LOSS, G_LOSS, D_REAL, D_FAKE)
ADA_P = "train/ada_p"  # the adaptive augmentation's probability p (model.ada), at the epoch's end
DIVERSITY = "train/diversity"  # spread of the fixed-noise samples ÷ the data's (collapse check)
SSIM = "val/ssim"  # best SSIM of the fixed-noise samples against training images (004)


def epoch_key(key: str) -> str:
    return f"{key}_epoch"


def step_key(key: str) -> str:
    return f"{key}_step"


def short(key: str) -> str:
    """``train/d_loss`` → ``d_loss``: the column names of steps.csv and the sweep summary."""
    return key.split("/")[-1]


def best_column(best: str, columns) -> str | None:
    """metrics.best (val/fid) as a table spells it (metrics.csv, scores.csv, a sweep's rows): the
    column itself, else the first val/fid_<extractor name> — never its _std, its _floor or a
    sweep's _over_floor ratio. The report's best epoch and the sweep's ranking both ask here."""
    if best in columns:
        return best
    named = sorted(
        c
        for c in columns
        if c.startswith(best + "_") and not c.endswith(("_std", "_floor", "_over_floor"))
    )
    return named[0] if named else None
