"""A study's page (gan-lab tune): the trials sorted by score, each trial's score over its time,
what mattered (Optuna's parameter importances) and the best trials' grids.

Rendered from templates/study.html by the report's one Jinja2 environment (gan_lab.report.page:
every value escaped, a missing key an error); the curves are drawn here and inlined, the grids are
linked relatively, so the page works when the study folder moves.
"""

import base64
import io
import math
import os
from pathlib import Path
from urllib.parse import quote

from gan_lab.report.page import ENV
from gan_lab.runs import layout
from gan_lab.runs.safe_io import write_atomic
from gan_lab.tune import require_optuna

try:  # the tune extra: without it this module still imports, and write_study_report says why
    import optuna
    from optuna.trial import TrialState
except ImportError:
    optuna = TrialState = None

# What the page says of the study's settings: a journal written without some of them (by an older
# gan-lab) shows them blank, as before the page used the report's StrictUndefined environment.
SHOWN_SETTINGS = ("slice", "reports", "pruner", "sampler")
BEST_GRIDS = 3  # the best finished trials whose last grid the page shows


def _href(folder: Path, path: Path) -> str:
    return quote(Path(os.path.relpath(path, folder)).as_posix(), safe="/=,@+-._~")


def _curves(trials: list, name: str, slice_s: float, reports: int) -> bytes:
    """Each trial's intermediate scores against its training time; the best trial in bold."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.6), constrained_layout=True)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    best = min(done, key=lambda t: t.value).number if done else None
    for t in trials:
        steps = sorted(t.intermediate_values)
        if not steps:
            continue
        x = [s * slice_s / reports / 60 for s in steps]
        y = [t.intermediate_values[s] for s in steps]
        bold = t.number == best
        style = "-" if t.state == TrialState.COMPLETE else ":"
        ax.plot(
            x,
            y,
            style,
            lw=2.5 if bold else 1,
            alpha=1 if bold else 0.6,
            marker=".",
            label=f"trial {t.number} (best)" if bold else None,
        )
    ax.set_xlabel("training time (min)")
    ax.set_ylabel(f"{name} (lower is better)")
    ax.set_yscale("log")
    if best is not None:
        ax.legend(loc="upper right")
    ax.set_title("each trial's score at its reports (dotted: pruned or stopped)", fontsize=9)
    out = io.BytesIO()
    fig.savefig(out, format="png", dpi=90)
    plt.close(fig)
    return out.getvalue()


def _importances(study: "optuna.Study") -> list[tuple[str, float]]:
    done = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if len(done) < 3:
        return []
    try:
        return list(optuna.importance.get_param_importances(study).items())
    except (RuntimeError, ValueError, ZeroDivisionError):  # one value everywhere, one param ...
        return []


def _row(t, folder: Path) -> dict:
    value = t.value if t.state == TrialState.COMPLETE else None
    last = t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else None
    run = layout.trial_dir(folder, t.number)
    return {
        "number": t.number,
        "state": t.state.name.lower(),
        "value": "" if value is None else f"{value:.4g}",
        "last": "" if last is None or not math.isfinite(last) else f"{last:.4g}",
        "seconds": f"{t.user_attrs.get('seconds', 0):.0f}",
        "params": ", ".join(f"{k}={v}" for k, v in t.params.items()),
        "note": t.user_attrs.get("note", "")
        + (" (the centre)" if t.user_attrs.get("centre") else ""),
        "run": _href(folder, run) if run.is_dir() else "",
    }


def _confirmation(attrs: dict, done: int) -> dict:
    """tune.confirm_seeds' result (gan_lab.tune.confirm): a table of the two recipes on fresh
    seeds and the sentence with the difference, or the sentence saying it was not confirmed."""
    from gan_lab.tune.confirm import ATTR, UNCONFIRMED, comparison, values

    rec = attrs.get(ATTR)
    said = comparison(rec)
    if said is None:
        return {"line": UNCONFIRMED.format(done=done), "rows": []}
    rows = []
    for who in ("best", "centre"):
        s = said.get(who)
        if s is not None:
            scores = ", ".join(f"{v:.4g}" for v in values(rec, who))
            interval = "" if s.low is None else f"[{s.low:.4g}, {s.high:.4g}]"
            rows.append([who, rec.get(who, ""), s.n, f"{s.mean:.4g}", interval, scores])
    return {"line": said["line"], "rows": rows}


def write_study_report(folder: str | Path) -> Path:
    """<study>/report.html (and curves.png) from the study's journal, at any time."""
    require_optuna("a study's report (gan-lab report <study>)")
    from gan_lab.tune.study import STUDY_NAME, storage

    folder = Path(folder).resolve()
    study = optuna.load_study(study_name=STUDY_NAME, storage=storage(folder))
    trials = study.get_trials(deepcopy=False)
    attrs = study.user_attrs
    settings = attrs.get("settings", {})
    name = attrs.get("objective", settings.get("metric", "score"))
    slice_s, reports = float(settings.get("slice", 1)), int(settings.get("reports", 1))
    order = {TrialState.COMPLETE: 0, TrialState.PRUNED: 1}

    def key(t):
        last = (
            t.intermediate_values[max(t.intermediate_values)] if t.intermediate_values else math.inf
        )
        return (order.get(t.state, 2), t.value if t.state == TrialState.COMPLETE else last)

    ranked = sorted(trials, key=key)
    curves = _curves(trials, name, slice_s, reports)
    write_atomic(folder / layout.STUDY_CURVES, curves)
    grids = []
    for t in [t for t in ranked if t.state == TrialState.COMPLETE][:BEST_GRIDS]:
        found = layout.grids(layout.trial_dir(folder, t.number))
        if found:
            grids.append(
                {"number": t.number, "value": f"{t.value:.4g}", "src": _href(folder, found[-1][1])}
            )
    best = layout.best_recipe(folder)
    page = ENV.get_template("study.html").render(
        confirmation=_confirmation(attrs, sum(t.state == TrialState.COMPLETE for t in trials)),
        folder=str(folder),
        name=name,
        args=" ".join(attrs.get("args", [])) or "(none)",
        settings={**dict.fromkeys(SHOWN_SETTINGS, ""), **settings},
        counts={s.name.lower(): sum(t.state == s for t in trials) for s in TrialState},
        rows=[_row(t, folder) for t in ranked],
        curves="data:image/png;base64," + base64.b64encode(curves).decode("ascii"),
        importances=[(k, f"{v:.2f}", round(100 * v)) for k, v in _importances(study)],
        grids=grids,
        best=_href(folder, best) if best.is_file() else "",
        best_path=str(best),
    )
    path = folder / layout.REPORT
    write_atomic(path, page.encode())
    return path
