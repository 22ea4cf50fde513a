"""The report's plots, drawn with matplotlib (Agg, object API: no pyplot state, no display) and
returned as PNG bytes to be inlined.

A long run has tens of thousands of steps: per-step curves are drawn as the min–max band of
each of at most ~1,500 bins, which shows every spike and costs the same for any run length.
"""

import io
import math

import numpy as np
from matplotlib.figure import Figure

from gan_lab.runs import keys

MAX_POINTS = 3000  # more per-step points than this are drawn as a min–max band per bin
D_COLOR, G_COLOR = "tab:blue", "tab:orange"
WARNING_COLORS = {"d_wins": "tab:red", "collapse": "tab:purple", "memorisation": "tab:brown"}


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, legend_rows: int = 0):
    """A figure with fixed margins in inches. Matplotlib's constrained layout would find them by
    drawing every text twice, which doubles the time of a report (most of it is tick labels)."""
    fig = Figure(figsize=(width, height))
    bottom = 0.55 + 0.22 * legend_rows
    fig.subplots_adjust(
        left=0.75 / width,
        right=1 - 0.2 / width,
        bottom=bottom / height,
        top=1 - 0.35 / height,
        wspace=0.45,
        hspace=0.6,
    )
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    return fig, axes


def to_png(fig: Figure, dpi: int = 90) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def number(value) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def column(rows: list[dict], key: str) -> np.ndarray:
    return np.array([number(r.get(key)) for r in rows], dtype=float)


def per_step(ax, x: np.ndarray, y: np.ndarray, color: str, label: str | None = None) -> None:
    """Faint per-step values: the line itself, or for long runs each bin's min–max band."""
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(y) == 0:
        return
    if len(y) <= MAX_POINTS:
        ax.plot(x, y, color=color, alpha=0.3, lw=0.7, label=label)
        return
    bins = math.ceil(len(y) / (MAX_POINTS // 2))
    n = len(y) // bins * bins
    xs = x[:n].reshape(-1, bins).mean(1)
    lo, hi = y[:n].reshape(-1, bins).min(1), y[:n].reshape(-1, bins).max(1)
    ax.fill_between(xs, lo, hi, color=color, alpha=0.25, lw=0, label=label)


def mark_warnings(axes, warnings: list[dict]) -> None:
    """A vertical line at the epoch of each imbalance/collapse warning, once in the legend."""
    seen = set()
    for w in warnings:
        kind = w.get("kind", "warning")
        epoch = number(w.get("epoch"))
        if not math.isfinite(epoch):
            continue
        color = WARNING_COLORS.get(kind, "tab:gray")
        for ax in axes:
            label = f"warning: {kind}" if kind not in seen else None
            ax.axvline(epoch, color=color, ls=":", lw=1.5, label=label)
        seen.add(kind)


def step_epochs(steps: list[dict], epochs: list[dict], offset: int = 1) -> np.ndarray:
    """Each step's position in epochs (steps.csv's step k, counted from 0, of a run with S steps
    an epoch ends at (k+1)/S; ssim.csv counts steps done: offset 0), so per-step and per-epoch
    curves and the warnings share one time axis."""
    last = epochs[-1] if epochs else {}
    per_epoch = max(number(last.get("step")) / max(number(last.get("epoch")), 1.0), 1.0)
    if not math.isfinite(per_epoch):
        per_epoch = 1.0
    return (column(steps, "step") + offset) / per_epoch


def training_curves(epochs: list[dict], steps: list[dict], warnings: list[dict]) -> bytes:
    """Losses of D and G, and D's outputs D(x), D(G(z)), per step (faint) and per epoch (bold);
    the sample diversity and ADA's augmentation probability p when the run logged them; warnings
    marked on the shared epoch axis."""
    has_div = any(math.isfinite(number(r.get(keys.DIVERSITY))) for r in epochs)
    has_ada = any(math.isfinite(number(r.get(keys.ADA_P))) for r in epochs)
    panels = 2 + has_div + has_ada
    fig, axes = new_figure(12.5 if panels <= 3 else 16.5, 3.9, 1, panels)
    ax_loss, ax_prob = axes[0], axes[1]
    x_epoch = column(epochs, "epoch")
    x_step = step_epochs(steps, epochs)
    for key, color in ((keys.D_LOSS, D_COLOR), (keys.G_LOSS, G_COLOR)):
        name = keys.short(key)
        per_step(ax_loss, x_step, column(steps, name), color, f"{name} per step")
        ax_loss.plot(x_epoch, column(epochs, key), color=color, lw=2, label=f"{name}, epoch mean")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="losses of D and G")
    for key, color, label in (
        (keys.D_REAL, "tab:green", "D(x)"),
        (keys.D_FAKE, "tab:red", "D(G(z))"),
    ):
        per_step(ax_prob, x_step, column(steps, keys.short(key)), color)
        ax_prob.plot(x_epoch, column(epochs, key), color=color, lw=2, label=f"{label}, epoch mean")
    ax_prob.set(
        xlabel="epoch", ylabel="mean probability 'real'", ylim=(-0.02, 1.02), title="D's outputs"
    )
    if has_ada:
        ax_ada = axes[-1]
        ax_ada.plot(x_epoch, column(epochs, keys.ADA_P), color="tab:brown", lw=2, marker=".")
        ax_ada.set(
            xlabel="epoch",
            ylabel="p at the epoch's end",
            ylim=(-0.02, 1.02),
            title="augmentation probability (ADA)",
        )
    if has_div:
        ax_div = axes[2]
        ax_div.plot(x_epoch, column(epochs, keys.DIVERSITY), color="tab:purple", lw=2, marker=".")
        ax_div.set(
            xlabel="epoch",
            ylabel="spread ÷ the data's spread",
            title="sample diversity (collapse check)",
        )
    mark_warnings(axes, warnings)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.set_xlim(left=0)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    return to_png(fig)


def score_curves(
    series: dict[str, tuple[list[float], list[float]]],
    best_epoch: float | None,
    best_key: str,
    ssim: tuple[list[dict], list[dict]] = ([], []),
    floors: dict[str, tuple[list[float], list[float]]] | None = None,
) -> bytes:
    """One panel per score (FID, KID, IS, ...) over the epochs, and SSIM from ``ssim`` (ssim.csv's
    rows, metrics.csv's rows: its steps put on the epoch axis); the best epoch (by ``best_key``)
    as a dashed line in every panel and a star on its own curve; a score's real-vs-real floor
    (``floors``: name → epochs, values) as a grey dashed line in its panel."""
    ssim_rows, epochs = ssim
    if ssim_rows:
        x = step_epochs(ssim_rows, epochs, offset=0).tolist()
        series = {**series, keys.SSIM: (x, column(ssim_rows, "ssim").tolist())}
    names = list(series)
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    fig, axes = new_figure(4.2 * ncols, 3.2 * nrows, nrows, ncols)
    for ax in axes[len(names) :]:
        ax.axis("off")
    for ax, name in zip(axes, names, strict=False):
        x, y = series[name]
        ax.plot(x, y, marker="o", ms=3, lw=1.5, color="tab:blue", label=name)
        if (floors or {}).get(name, ([], []))[0]:
            fx, fy = floors[name]
            ax.plot(fx, fy, color="tab:gray", ls="--", lw=1.2, label="real-vs-real floor")
        if best_epoch is not None:
            ax.axvline(
                best_epoch, color="tab:green", ls="--", lw=1.2, label=f"best epoch {best_epoch:g}"
            )
            if name == best_key and best_epoch in x:
                ax.plot(
                    [best_epoch], [y[x.index(best_epoch)]], marker="*", ms=14, color="tab:green"
                )
        better = "higher is better" if name.split("/")[-1].startswith("is") else "lower is better"
        if name.endswith("ssim"):
            better = "near 1: copies of training images"
        ax.set(xlabel="epoch", ylabel=name, title=f"{name} ({better})")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return to_png(fig)


def overlay(
    runs: list[tuple[str, list[dict]]], names: list[str], evaluated: list[list[dict]]
) -> bytes:
    """The runs of a sweep on shared axes: one panel per quantity, one line per run; the scores
    (``val/*``) from each run's ``evaluated`` rows only (the epochs they were computed at)."""
    ncols = min(len(names), 3)
    nrows = math.ceil(len(names) / ncols)
    legend_rows = math.ceil(len(runs) / 3)
    fig, axes = new_figure(4.4 * ncols, 3.3 * nrows + 0.25 * legend_rows, nrows, ncols, legend_rows)
    for ax in axes[len(names) :]:
        ax.axis("off")
    colors = [f"C{i % 10}" for i in range(len(runs))]
    for ax, name in zip(axes, names, strict=False):
        for (label, rows), scored, color in zip(runs, evaluated, colors, strict=True):
            shown = scored if name.startswith("val/") else rows
            x, y = column(shown, "epoch"), column(shown, name)
            keep = np.isfinite(y)
            if keep.any():
                ax.plot(
                    x[keep],
                    y[keep],
                    color=color,
                    lw=1.6,
                    marker="." if keep.sum() < 40 else None,
                    label=label,
                )
        ax.set(xlabel="epoch", ylabel=keys.short(name), title=name)
        ax.set_xlim(left=0)  # every panel from the start, whatever epochs it was computed at
        ax.grid(alpha=0.3)
    handles, labels = axes[0].get_legend_handles_labels()
    if handles:
        fig.legend(
            handles, labels, loc="outside lower center", ncols=min(len(labels), 4), fontsize=8
        )
    return to_png(fig)


def inversion_losses(curves: dict[str, list[float]], title: str) -> bytes:
    """MSE per SGD step on a log scale, one line per inversion (or restart)."""
    fig, (ax,) = new_figure(6.4, 3.6)
    for label, values in curves.items():
        y = np.array(values, dtype=float)
        ax.plot(np.arange(len(y)), np.clip(y, 1e-12, None), lw=1.2, label=label)
    ax.set_yscale("log")
    ax.set(xlabel="SGD step", ylabel="MSE on the [0, 1] scale", title=title)
    ax.grid(True, which="both", alpha=0.3)
    if len(curves) > 1:
        ax.legend(fontsize=8)
    return to_png(fig)


def prdc_curves(series: dict[str, tuple[list[float], list[float]]]) -> bytes:
    """Precision, recall, density and coverage over the epochs on one axis (each is a share of
    images, density a ratio near 1): fidelity (precision, density) beside diversity (recall,
    coverage), so a run that drops modes shows as two curves high and two low."""
    fig, (ax,) = new_figure(6.4, 3.6)
    styles = {"precision": "tab:blue", "density": "tab:cyan", "recall": "tab:red"}
    top = 1.0
    for name, (x, y) in series.items():
        color = next((c for k, c in styles.items() if k in name.split("/")[-1]), "tab:orange")
        ax.plot(x, y, marker="o", ms=3, lw=1.5, color=color, label=name)
        top = max([top, *y])
    ax.set(xlabel="epoch", ylabel="share (density: ratio)", ylim=(-0.02, top * 1.05))
    ax.set_title("fidelity (precision, density) and diversity (recall, coverage)")
    ax.grid(alpha=0.3)
    ax.set_xlim(left=0)
    ax.legend(fontsize=8)
    return to_png(fig)


def class_shares(names: list[str], data: list[float], samples: list[float], title: str) -> bytes:
    """Each class's share of the training data beside its share of the samples: a class the
    generator drops has a bar beside nothing."""
    fig, (ax,) = new_figure(max(5.0, 0.5 * len(names) + 2.0), 3.8)
    x = np.arange(len(names))
    ax.bar(x - 0.2, data, width=0.4, color="tab:gray", label="training data")
    ax.bar(x + 0.2, samples, width=0.4, color="tab:blue", label="samples")
    ax.set_xticks(x, names, rotation=45 if len(names) > 6 else 0, ha="right", fontsize=8)
    ax.set(ylabel="share of images", title=title)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    return to_png(fig)
