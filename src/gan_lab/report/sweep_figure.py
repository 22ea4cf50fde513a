"""The sweep summary's picture (summary.png): every run's last sample grid side by side, captioned
with the overrides that make it differ, so 001's and 002's comparisons are one image to look at.

Drawing only, from the rows gan_lab.runs.sweep reads (their ``samples`` column names each grid);
gan_lab.report.sweep_summary writes it beside the two tables.
"""

from pathlib import Path


def caption(row: dict, varied: list[str]) -> str:
    text = "\n".join(f"{k}={row[k]}" for k in varied) or row["folder"]
    return f"#{row['run']}\n{text}" + ("" if row["status"] == "ok" else f"\n[{row['status']}]")


def write_image(rows: list[dict], varied: list[str], sweep_dir: Path, path: Path) -> None:
    """Every run's last grid side by side (up to 4 a row), its overrides as the caption."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from PIL import Image

    ncols = min(len(rows), 4)
    nrows = -(-len(rows) // ncols)
    first = next((sweep_dir / r["samples"] for r in rows if r["samples"]), None)
    aspect = 1.0
    if first:
        with Image.open(first) as im:
            aspect = im.height / im.width
    # Room for the grid at its own aspect ratio plus one caption line per override.
    panel_h = 3.2 * aspect + 0.2 * (len(varied) + 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, panel_h * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, row in zip(axes.flat, rows, strict=False):
        if row["samples"]:
            with Image.open(sweep_dir / row["samples"]) as im:
                ax.imshow(im.convert("RGB"))
        else:
            ax.text(0.5, 0.5, "no sample grid", ha="center", va="center")
        ax.set_title(caption(row, varied), fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
