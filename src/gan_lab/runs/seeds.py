"""A sweep's runs pooled per setting (every override but ``seed``): n, mean, standard deviation and
95 % interval of each score column, the settings ranked by one of them, and each setting's
difference to the best one said to be inside the seeds' noise or not (design §6).

GAN runs of one recipe scatter 1.5–2× in FID between seeds: a sweep with one run per setting
ranks lucky seeds as often as better recipes. The test is Welch's t interval (95 %) of the
difference of the two settings' means (gan_lab.runs.stats): "not distinguishable" when it holds
0. k settings compared with the best are k tests at 5 % each, so about k × 5 % of them raise a
false alarm; the p-values are also given Holm-corrected (p_holm < 0.05: a difference that holds
for the whole family at 5 %). The best is the best *mean*, picked from the same runs: its lead is
optimistic, which the comparison of seeds cannot undo — more seeds can.

Only runs whose status is ``ok`` are pooled (an unfinished or failed run's last values are not
its result); the others are counted in ``left_out``. Reading and arithmetic only: the tables are
written by gan_lab.runs.sweep, the page by gan_lab.report.sweep.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from gan_lab.runs.keys import best_column
from gan_lab.runs.stats import Difference, Spread, holm, spread, welch

SEED = "seed"  # the one override pooled over
RAW = "_raw"  # a run row's unrounded values (gan_lab.runs.sweep.summarize_run): the statistics'
AUTO = "auto"  # sweep.metric=auto: the runs' metrics.best column (with the extractor's suffix)
ONE_SEED = "one seed: no interval; add -m seed=0,1,2 (or sweep.seeds=3)"
NOT_DISTINGUISHABLE = "not distinguishable"
BEST_ONE_SEED = "not compared: the best has one seed (add seeds to it)"
WORSE = "worse"
BEST = "best"


@dataclass
class Setting:
    values: dict[str, str]  # the overrides that differ, seed left out
    seeds: list[str]
    left_out: int
    spreads: dict[str, Spread]  # score column → its spread over the pooled runs
    rank: int | None = None
    versus: Difference | None = None  # this setting's metric − the best's (Welch)
    p_holm: float | None = None
    verdict: str = ""
    samples: dict[str, list[float]] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.seeds)


def score_columns(rows: list[dict]) -> list[str]:
    """The columns pooled: every numeric value a run row has (losses, D's outputs, balance, the
    val/* scores and their floor ratios), in the per-run table's order."""
    seen = dict.fromkeys(k for r in rows for k in r.get(RAW, {}))
    return list(seen)


def pick_metric(wanted: str, best: str, columns: list[str]) -> tuple[str | None, str]:
    """(the column the settings are ranked by, or None; a sentence saying which and why).
    ``wanted``: sweep.metric (``auto`` or a column); ``best``: the runs' metrics.best."""
    if wanted != AUTO:
        if wanted in columns:
            return wanted, f"ranked by {wanted}, as asked (sweep.metric, or summarize's metric=)"
        return None, (
            f"{wanted} was asked for (sweep.metric, or summarize's metric=), but no run has this "
            f"column, so the settings are not ranked; the columns are "
            f"{', '.join(columns) or 'none'}."
        )
    column = best_column(best, columns)
    if column is not None:
        return column, f"ranked by {column} (sweep.metric=auto: the runs' metrics.best, {best})"
    return None, (
        f"no run has a {best} column (metrics off, or Inception's weights absent?), so the "
        "settings are not ranked; sweep.metric=<column> ranks them by another (e.g. "
        "sweep.metric=val/kid, or a loss: sweep.metric=g_loss)."
    )


def pool(rows: list[dict], varied: list[str]) -> list[Setting]:
    """The run rows grouped by setting (first appearance order), seeds pooled."""
    keys = [k for k in varied if k != SEED]
    groups: dict[tuple, list[dict]] = {}
    for row in rows:
        groups.setdefault(tuple(str(row.get(k, "")) for k in keys), []).append(row)
    columns = score_columns(rows)
    settings = []
    for values, members in groups.items():
        ok = [r for r in members if r.get("status") == "ok"]
        samples = {
            c: [r[RAW][c] for r in ok if c in r.get(RAW, {}) and math.isfinite(r[RAW][c])]
            for c in columns
        }
        settings.append(
            Setting(
                values=dict(zip(keys, values, strict=True)),
                seeds=[str(r.get(SEED, "")) for r in ok],
                left_out=len(members) - len(ok),
                spreads={c: spread(v) for c, v in samples.items() if v},
                samples={c: v for c, v in samples.items() if v},
            )
        )
    return settings


def rank(settings: list[Setting], metric: str | None, higher_is_better: Callable) -> list[Setting]:
    """The settings best first by their mean ``metric`` (those without it last, unranked), each
    compared with the best: Welch's interval, its p-value, Holm's correction, the verdict."""
    if metric is None:
        return settings
    scored = [s for s in settings if metric in s.spreads]
    rest = [s for s in settings if metric not in s.spreads]
    sign = -1.0 if higher_is_better(metric) else 1.0
    scored.sort(key=lambda s: sign * s.spreads[metric].mean)
    for i, s in enumerate(scored, 1):
        s.rank = i
    for s in rest:
        s.verdict = f"no {metric}"
    if not scored:
        return rest
    best, compared = scored[0], []
    seeds = {id(s): s.spreads[metric].n for s in scored}  # the runs with a value for metric
    best.verdict = BEST if seeds[id(best)] > 1 else f"{BEST} ({ONE_SEED})"
    for s in scored[1:]:
        if seeds[id(s)] < 2 or seeds[id(best)] < 2:
            # said of the side that has one: a 3-seed setting behind a 1-seed best is no "one seed"
            s.verdict = ONE_SEED if seeds[id(s)] < 2 else BEST_ONE_SEED
            continue
        s.versus = welch(s.samples[metric], best.samples[metric])
        s.verdict = NOT_DISTINGUISHABLE if s.versus.noise else WORSE
        compared.append(s)
    for s, p in zip(compared, holm([s.versus.p for s in compared]), strict=True):
        s.p_holm = p
    return scored + rest


def caveat(settings: list[Setting], metric: str | None) -> str:
    """The sentence under every settings table: the test, and what many comparisons mean."""
    k = sum(s.versus is not None for s in settings)
    text = (
        "Each setting pools its seeds: mean [95 % interval of the mean, Student t]. Against the "
        "best mean: Welch's 95 % interval of the difference of means; 'not distinguishable' when "
        "it holds 0 (the difference is inside the seeds' noise)."
    )
    if k > 1:
        text += (
            f" {k} comparisons at 5 % each expect {k * 5} % false alarms between them: p_holm "
            "(Holm-corrected) < 0.05 keeps the chance of any false alarm at 5 %."
        )
    if metric is not None:
        text += " The best is picked from these same runs, so its lead is optimistic."
    if any(s.n < 2 for s in settings):
        text += f" A setting of {ONE_SEED}."
    return text


def _g(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}g}"


def shown(s: Spread | None) -> str:
    """``mean [low, high]``, or the mean alone for one seed."""
    if s is None:
        return ""
    if s.low is None:
        return _g(s.mean, 4)
    return f"{_g(s.mean, 4)} [{_g(s.low, 4)}, {_g(s.high, 4)}]"


def _diff(d: Difference | None) -> str:
    return "" if d is None else f"{d.diff:+.4g} [{d.low:+.4g}, {d.high:+.4g}]"


def header(settings: list[Setting], metric: str | None, columns: list[str]) -> list[str]:
    keys = list(settings[0].values) if settings else []
    others = [c for c in columns if c != metric]
    ranked = ["rank", *keys, "n", metric, "vs best", "p_holm", "verdict"] if metric else keys
    return [*ranked, *([] if metric else ["n"]), *others]


def text_rows(settings: list[Setting], metric: str | None, columns: list[str]) -> list[list[str]]:
    """Each setting's cells as the markdown table and the page show them (header's order)."""
    out = []
    for s in settings:
        n = f"{s.n}" + (f" (+{s.left_out} not ok)" if s.left_out else "")
        others = [shown(s.spreads.get(c)) for c in columns if c != metric]
        if metric:
            cells = [str(s.rank or ""), *s.values.values(), n, shown(s.spreads.get(metric))]
            cells += [_diff(s.versus), _g(s.p_holm, 2), s.verdict]
        else:
            cells = [*s.values.values(), n]
        out.append([*cells, *others])
    return out


def csv_rows(settings: list[Setting], metric: str | None, columns: list[str]) -> list[dict]:
    """Each setting as settings.csv's row: every number at 6 significant digits."""
    out = []
    for s in settings:
        row: dict = {"rank": s.rank or "", **s.values, "n": s.n, "seeds": " ".join(s.seeds)}
        row["left_out"] = s.left_out
        d = s.versus
        row.update(
            {
                "metric": metric or "",
                "diff_to_best": _g(d.diff if d else None, 6),
                "diff_low": _g(d.low if d else None, 6),
                "diff_high": _g(d.high if d else None, 6),
                "p": _g(d.p if d else None, 4),
                "p_holm": _g(s.p_holm, 4),
                "verdict": s.verdict,
            }
        )
        for c in columns:
            sp = s.spreads.get(c)
            for name, value in (
                ("mean", sp and sp.mean),
                ("sd", sp and sp.sd),
                ("low", sp and sp.low),
                ("high", sp and sp.high),
            ):
                row[f"{name}({c})"] = _g(value, 6)
        out.append(row)
    return out


@dataclass
class Pooled:
    """A sweep's settings table: the settings (ranked where ``metric``), the columns pooled, the
    sentence saying what ranks them and the caveat (the test, many comparisons)."""

    settings: list[Setting]
    metric: str | None
    columns: list[str]
    choice: str
    caveat: str

    def header(self) -> list[str]:
        return header(self.settings, self.metric, self.columns)

    def text_rows(self) -> list[list[str]]:
        return text_rows(self.settings, self.metric, self.columns)

    def csv_rows(self) -> list[dict]:
        return csv_rows(self.settings, self.metric, self.columns)


def pooled(
    rows: list[dict], varied: list[str], wanted: str, best: str, higher_is_better: Callable
) -> Pooled:
    """The run rows (gan_lab.runs.sweep.summarize_run) pooled per setting and ranked by
    ``wanted`` (sweep.metric; ``auto``: the runs' metrics.best column, ``best``)."""
    columns = score_columns(rows)
    metric, choice = pick_metric(wanted, best, columns)
    settings = rank(pool(rows, varied), metric, higher_is_better)
    return Pooled(settings, metric, columns, choice, caveat(settings, metric))
