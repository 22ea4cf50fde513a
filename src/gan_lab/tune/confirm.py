"""tune.confirm_seeds=N: after the search, the best recipe and the centre (the study's first trial:
what recipe=auto chooses for the set and the arguments) trained again on N fresh seeds each, one
slice per run, scored as the trials are, and their difference given with Welch's 95 % interval.

Why: every trial ran on one seed, and the best is the luckiest of many — GAN runs of one recipe
scatter 1.5–2× in FID between seeds, so the best trial's lead over the centre is optimistic
(the winner's curse). Fresh seeds (the study's seed + 1 … + N, never the seed the best was picked
on) give its lead without the luck of the pick. The cost: 2·N slices of training after the budget.

The runs go to <study>/confirm/<best|centre>_seed<k>/; each score is kept in the study's journal
as it is made, so a stopped confirmation goes on where it stopped (for the same best trial).
"""

import math
import time
from collections.abc import Callable
from pathlib import Path

import optuna
from lightning.pytorch.callbacks import Callback
from omegaconf import DictConfig
from optuna.trial import TrialState

from gan_lab.errors import UserError
from gan_lab.runs import layout
from gan_lab.runs.stats import Difference, spread, welch
from gan_lab.tune.objective import Judge
from gan_lab.tune.study import TRIAL_ARGS

ATTR = "confirm"  # the study's user attribute: what was confirmed, and each run's score
WHO = ("best", "centre")
# What the command's last line and the study page say when no confirmation was made.
UNCONFIRMED = (
    "not confirmed: the best trial ran on one seed and is the best of {done}, so its lead over "
    "the centre is optimistic; tune.confirm_seeds=3 re-trains both on 3 fresh seeds (6 slices)."
)


class FinalScore(Callback):
    """The run's score at its end, as the trials' last report (gan_lab.tune.objective.Judge)."""

    def __init__(self, judge: Judge):
        self.judge, self.value = judge, None

    def on_train_end(self, trainer, pl_module) -> None:
        self.value = self.judge.score(pl_module, trainer.datamodule.images)


def seeds_of(args: list[str], n: int) -> list[int]:
    """The fresh seeds: the study's own seed (seed= in its arguments, else 0) + 1 … + n."""
    given = [a.partition("=")[2] for a in args if a.lstrip("+").startswith("seed=")]
    base = int(given[-1]) if given and given[-1].lstrip("-").isdigit() else 0
    return [base + k for k in range(1, n + 1)]


def pair(study: optuna.Study) -> tuple | None:
    """(the best finished trial, the centre trial), or None while either is missing."""
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    centres = [t for t in study.get_trials(deepcopy=False) if t.user_attrs.get("centre")]
    centres = [t for t in centres if "keep" in t.user_attrs]  # it trained (maybe pruned)
    if not done or not centres:
        return None
    return min(done, key=lambda t: t.value), centres[0]


def _without_seed(args: list[str]) -> list[str]:
    return [a for a in args if not a.lstrip("+").startswith("seed=")]


def confirm(
    study: optuna.Study,
    study_dir: Path,
    n: int,
    judge: Judge,
    compose_trial: Callable[[list[str], Path], DictConfig],
    say: Callable[[str], None] = print,
) -> dict | None:
    """Train and score the best and the centre on ``n`` fresh seeds each (the runs already in the
    journal for the same best trial are kept); returns the record (:func:`record`)."""
    from gan_lab.training.train import train

    found = pair(study)
    if n < 1 or found is None:
        return None
    best, centre = found
    keep = {"best": best.user_attrs["keep"], "centre": centre.user_attrs["keep"]}
    seeds = seeds_of(keep["best"], n)
    old = study.user_attrs.get(ATTR) or {}
    same = old.get("best") == best.number and old.get("centre") == centre.number
    rec = {
        "best": best.number,
        "centre": centre.number,
        "metric": judge.name,
        "scores": old.get("scores", {}) if same else {},
    }
    if best.number == centre.number:
        rec["note"] = "the best trial is the centre: nothing to compare"
        study.set_user_attr(ATTR, rec)
        return rec
    for who in WHO:
        for seed in seeds:
            key = f"{who}:{seed}"
            if key in rec["scores"]:
                continue
            run_dir = layout.confirm_dir(study_dir, who, seed)
            score = FinalScore(judge)
            t0, args = time.monotonic(), [*_without_seed(keep[who]), f"seed={seed}"]
            try:
                train(compose_trial([*args, *TRIAL_ARGS], run_dir), callbacks=[score])
            except UserError as err:  # as a trial's: said, and the run counts as no score
                say(f"confirm {who} seed {seed}: failed: {str(err).strip().splitlines()[0]}")
            value = score.value if score.value is not None else math.nan
            rec["scores"][key] = value
            study.set_user_attr(ATTR, rec)  # kept as it is made: a stop loses one run at most
            say(
                f"confirm {who} (trial {best.number if who == 'best' else centre.number}) seed "
                f"{seed}: {judge.name} {value:.4g} in {time.monotonic() - t0:.0f} s"
            )
    rec["seeds"] = seeds
    study.set_user_attr(ATTR, rec)
    return rec


def values(rec: dict, who: str) -> list[float]:
    """``who``'s finite scores in the record; the journal is a study folder's data, so anything
    that is not a number (a string, null, a list) counts as no score, never a TypeError."""
    scores = rec.get("scores") if isinstance(rec, dict) else None
    if not isinstance(scores, dict):
        return []
    return [
        float(v)
        for k, v in sorted(scores.items())
        if str(k).startswith(who + ":")
        and isinstance(v, int | float)
        and not isinstance(v, bool)
        and math.isfinite(v)
    ]


def comparison(rec: dict | None) -> dict | None:
    """The record read back: each side's spread, the difference best − centre (Welch), a verdict
    and one line saying it (the study page and the command's last lines show these)."""
    if not rec or not isinstance(rec, dict):  # a journal's value of another shape: no record
        return None
    if rec.get("note"):
        return {"line": f"confirmation: {rec['note']}.", "verdict": rec["note"]}
    best, centre = values(rec, "best"), values(rec, "centre")
    name = rec.get("metric", "score")
    out: dict = {
        "best": spread(best) if best else None,
        "centre": spread(centre) if centre else None,
    }
    head = f"confirmation on {min(len(best), len(centre))} fresh seeds: {name}"
    if len(best) < 2 or len(centre) < 2:
        out["verdict"] = "fewer than two seeds a side: no interval"
        out["line"] = f"{head}: {out['verdict']} (tune.confirm_seeds=3 gives one)."
        return out
    d: Difference = welch(best, centre)
    if d.noise:
        verdict = "not distinguishable: the best's lead is inside the seeds' noise"
    elif d.high < 0:
        verdict = "the best is better"
    else:
        verdict = "the centre is better: the best trial's lead was luck"
    out.update({"diff": d, "verdict": verdict})
    b, c = out["best"], out["centre"]
    out["line"] = (
        f"{head} best (trial {rec.get('best')}) {b.mean:.4g} [{b.low:.4g}, {b.high:.4g}], centre "
        f"(trial {rec.get('centre')}) {c.mean:.4g} [{c.low:.4g}, {c.high:.4g}]; best − centre "
        f"{d.diff:+.4g} [{d.low:+.4g}, {d.high:+.4g}] (Welch 95 %): {verdict}."
    )
    return out
