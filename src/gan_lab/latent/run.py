"""The modes of invert.py: invert, edit, interpolate, compare (design §7, 003 §13–17) and
jitter (000's random small changes of a vector).

Everything comes from the checkpoint alone (gan_lab.training.checkpoint.load_gan): the
generator, its noise distribution, its data preprocessing.
"""

import csv
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch

from gan_lab.errors import UserError
from gan_lab.hardware import pick_device
from gan_lab.latent import figures, jitter
from gan_lab.latent.edits import check_coords, edit_vectors
from gan_lab.latent.images import load_target, load_z, save_z
from gan_lab.latent.interpolation import interpolate
from gan_lab.latent.inversion import Inversion, invert
from gan_lab.models import to_unit
from gan_lab.runs import layout
from gan_lab.runs.layout import INVERSION_JSON, JITTER_CSV, JITTER_PNG, JITTER_Z, LOSS_CSV
from gan_lab.runs.safe_io import write_atomic
from gan_lab.training.checkpoint import LoadedGAN, load_gan

MODES = ("invert", "edit", "interpolate", "compare", "jitter")
# The keys of conf/invert.yaml an inversion's report shows.
RECORDED = (
    "mode", "ckpt", "ckpt_b", "target", "target_b", "z", "z_b", "class", "steps", "lr",
    "momentum", "loss_reduction", "restarts", "seed", "coords", "amounts", "interp_steps",
    "spherical", "frames", "jitter",
)  # fmt: skip


@dataclass
class Inverted:
    """One target through one generator, as written to disk."""

    target: torch.Tensor  # (1, C, H, W), model range
    result: Inversion


def _load(ckpt, cfg: dict, key: str = "ckpt") -> LoadedGAN:
    if not ckpt:
        raise UserError(
            f"{key}= is required: a checkpoint written by train.py "
            f"({layout.last_checkpoint('<run>')})."
        )
    gan = load_gan(ckpt, pick_device(cfg["device"]))
    if gan.conditional:
        if cfg.get("class") is None:
            raise UserError(
                f"{gan.path} is a conditional generator: choose its class with class=<index or name> (classes: {gan.classes})."
            )
        gan.generator = ForClass(gan.generator, gan.class_index(cfg["class"]))
    elif cfg.get("class") is not None:
        gan.class_index(cfg["class"])  # raises: this generator takes no class
    return gan


class ForClass(torch.nn.Module):
    """A conditional generator with its class fixed: the latent tools then only see z."""

    def __init__(self, generator: torch.nn.Module, label: int):
        super().__init__()
        self.inner, self.label = generator, label
        self.latent_dim, self.value_range = generator.latent_dim, generator.value_range

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = torch.full((len(z),), self.label, dtype=torch.long, device=z.device)
        return self.inner(z, y)


def procedure(cfg) -> dict:
    """The keyword arguments of ``inversion.invert`` from conf/invert.yaml's keys."""
    names = {"steps": "steps", "lr": "lr", "momentum": "momentum", "restarts": "restarts"}
    return {
        **{arg: cfg[key] for key, arg in names.items()},
        "n_frames": cfg["frames"],
        "reduction": cfg["loss_reduction"],
    }


def invert_file(gan: LoadedGAN, path, cfg: dict, out: Path, prefix: str = "") -> Inverted:
    """Invert one image and write its evolution (PNG strip + GIF), z, target|G(z) and loss curve."""
    target = load_target(path, gan)
    if cfg["seed"] is not None:
        torch.manual_seed(cfg["seed"])
    desc = f"inverting {prefix}{Path(path).name}"
    result = invert(gan.generator, target, gan.noise, gan.value_range, **procedure(cfg), desc=desc)
    frames = to_unit(result.frames, gan.value_range)
    steps = [f"step {s}" for s in result.frame_steps]
    figures.save_table([list(frames)], out / f"{prefix}evolution.png", [""], steps, [steps])
    figures.save_gif(frames, out / f"{prefix}{layout.GIF}", cfg["zoom"], cfg["frame_ms"])
    save_z(result.z, out / f"{prefix}z.pt")
    figures.save_pair(
        to_unit(target[0], gan.value_range).cpu(),
        frames[-1],
        result.mse,
        out / f"{prefix}target_vs_reconstruction.png",
    )
    curves = {f"restart {i}": result.losses[:, i] for i in range(result.losses.shape[1])}
    figures.save_loss_curves(curves, out / f"{prefix}loss.png")
    save_losses(result.losses, out / f"{prefix}{LOSS_CSV}")
    who = f"{prefix.rstrip('_')}: " if prefix else ""
    print(f"{who}{path}: final MSE {result.mse:.3e} on the [0, 1] scale after {cfg['steps']} steps")
    return Inverted(target, result)


def save_losses(losses: torch.Tensor, path: Path) -> Path:
    """One row per step (0 = the random starts), one column per restart; the lowest value of the
    last row is the inversion's final MSE."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["step", *(f"restart_{i}" for i in range(losses.shape[1]))])
    for step, row in enumerate(losses.tolist()):
        writer.writerow([step, *(f"{v:.6g}" for v in row)])
    return write_atomic(path, out.getvalue().encode())


def _vector(
    gan: LoadedGAN, cfg: dict, out: Path, z_key: str, target_key: str, prefix: str
) -> torch.Tensor:
    """A saved vector if given, else the inversion of the target image."""
    if cfg[z_key]:
        return load_z(cfg[z_key], gan.generator.latent_dim).to(gan.fixed_z.device)
    if cfg[target_key]:
        return invert_file(gan, cfg[target_key], cfg, out, prefix).result.z
    raise UserError(f"mode={cfg['mode']} needs {z_key}=<saved z.pt> or {target_key}=<image>.")


@torch.no_grad()
def _render(gan: LoadedGAN, z: torch.Tensor) -> torch.Tensor:
    """One vector at a time, so that a frame is bit-identical to G(z) of that vector alone."""
    return torch.cat([to_unit(gan.generator(v[None]), gan.value_range).cpu() for v in z])


def run_invert(cfg: dict, out: Path) -> dict:
    if not cfg["target"]:
        raise UserError("mode=invert needs target=<image>.")
    gan = _load(cfg["ckpt"], cfg)
    return {"mse": invert_file(gan, cfg["target"], cfg, out).result.mse}


def run_edit(cfg: dict, out: Path) -> dict:
    gan = _load(cfg["ckpt"], cfg)
    coords, amounts = (
        [v] if not isinstance(v, list) else v for v in (cfg["coords"], cfg["amounts"])
    )
    check_coords(coords, amounts, gan.generator.latent_dim)
    z = _vector(gan, cfg, out, "z", "target", "")
    images = _render(gan, edit_vectors(z, coords, amounts))
    rows = [list(images[r * len(amounts) : (r + 1) * len(amounts)]) for r in range(len(coords))]
    figures.save_table(
        rows,
        out / "edits.png",
        row_labels=[f"z[{c}]" for c in coords],
        col_labels=[f"{a:+g}" for a in amounts],
    )
    print(f"edits: {len(coords)} coordinates × {len(amounts)} amounts → {out / 'edits.png'}")
    return {"edits": images}


def run_interpolate(cfg: dict, out: Path) -> dict:
    gan = _load(cfg["ckpt"], cfg)
    z_a = _vector(gan, cfg, out, "z", "target", "a_")
    z_b = _vector(gan, cfg, out, "z_b", "target_b", "b_")
    path = interpolate(z_a, z_b, cfg["interp_steps"], cfg["spherical"])
    frames = _render(gan, path)
    figures.save_strip(frames, out / "interpolation.png", cfg["zoom"])
    figures.save_gif(frames, out / "interpolation.gif", cfg["zoom"], cfg["frame_ms"])
    torch.save(path.cpu(), out / "interpolation_z.pt")
    kind = "spherical" if cfg["spherical"] else "linear"
    print(f"interpolation: {len(path)} vectors ({kind}) → {out / 'interpolation.png'}")
    return {"z": path, "frames": frames}


def run_jitter(cfg: dict, out: Path) -> dict:
    """000's experiment: K variants of one vector (z=, the inversion of target=, else a random
    vector of the run's noise drawn with ``seed``), each with random coordinates changed by
    about jitter.amount; the original first, then the variants, with each one's distance."""
    gan = _load(cfg["ckpt"], cfg)
    jitter.check(cfg["jitter"], gan.generator.latent_dim)
    if cfg["z"] or cfg["target"]:
        z = _vector(gan, cfg, out, "z", "target", "")
    else:
        if cfg["seed"] is not None:
            torch.manual_seed(cfg["seed"])
        z = gan.noise.sample(1, gan.generator.latent_dim).to(gan.fixed_z.device)
    changed, delta = jitter.variants(z, cfg["jitter"])
    vectors = torch.cat([z.reshape(1, -1), changed])
    images = _render(gan, vectors)
    pixels = jitter.distances(images[0], images[1:])
    titles = ["original"] + [f"#{i} MSE {m:.1e}" for i, (m, _) in enumerate(pixels, start=1)]
    per_row = 9
    cells = [list(images[i : i + per_row]) for i in range(0, len(images), per_row)]
    rows = [titles[i : i + per_row] for i in range(0, len(titles), per_row)]
    blank = torch.ones_like(images[0])
    cells[-1] += [blank] * (len(cells[0]) - len(cells[-1]))
    rows[-1] += [""] * (len(rows[0]) - len(rows[-1]))
    figures.save_table(cells, out / JITTER_PNG, [""] * len(cells), [], titles=rows)
    save_z(vectors, out / JITTER_Z)
    jitter.save_table(delta, pixels, out / JITTER_CSV)
    j = cfg["jitter"]
    which = "every coordinate" if j["coords"] is None else f"{j['coords']} random coordinates"
    mean = sum(m for m, _ in pixels) / len(pixels)
    print(
        f"jitter: {j['n']} variants, {which} changed by {j['noise']} noise of size {j['amount']:g}"
        f": mean pixel MSE to the original {mean:.3e} → {out / JITTER_PNG}"
    )
    return {"z": vectors, "images": images, "delta": delta, "pixels": pixels}


def run_compare(cfg: dict, out: Path) -> dict:
    targets = cfg["target"] if isinstance(cfg["target"], list) else [cfg["target"]]
    if not targets or not all(targets):
        raise UserError("mode=compare needs target=<image> (or target=[a.jpg,b.jpg]).")
    gans = {"A": _load(cfg["ckpt"], cfg), "B": _load(cfg["ckpt_b"], cfg, "ckpt_b")}
    cells, titles, mses, curves = [], [], {"A": [], "B": []}, {}
    for i, target in enumerate(targets):
        row, row_titles = [], []
        for label, gan in gans.items():
            inverted = invert_file(gan, target, cfg, out, f"{label}_{i}_")
            if not row:
                row.append(to_unit(inverted.target[0], gan.value_range).cpu())
                row_titles.append(Path(target).name)
            row.append(to_unit(inverted.result.frames[-1], gan.value_range))
            kind = gan.config["generator"].get("upsample", "")
            row_titles.append(f"{label}: {kind} ep {gan.epoch}\nMSE {inverted.result.mse:.2e}")
            mses[label].append(inverted.result.mse)
            curves[f"{label}, {Path(target).name}"] = inverted.result.losses[
                :, inverted.result.best
            ]
        cells.append(row)
        titles.append(row_titles)
    figures.save_table(
        cells, out / "compare.png", row_labels=[""] * len(cells), col_labels=[], titles=titles
    )
    figures.save_loss_curves(curves, out / "compare_loss.png")
    for label, gan in gans.items():
        mean = sum(mses[label]) / len(mses[label])
        print(f"{label} = {gan.path}: mean final MSE {mean:.3e} over {len(targets)} target(s)")
    return {"mse": mses}


def _check(cfg: dict) -> None:
    if cfg["mode"] not in MODES:
        raise UserError(f"mode={cfg['mode']} is not one of {', '.join(MODES)}.")
    # The highs bound what one batch or one picture holds (restarts=10**8 asked for 25 GB).
    for key, low, high in (
        ("steps", 0, None),
        ("restarts", 1, 1024),
        ("frames", 1, 1000),
        ("zoom", 1, 32),
        ("interp_steps", 2, 1000),
        ("frame_ms", 1, 60_000),
    ):
        value = cfg[key]
        if (
            not isinstance(value, int)
            or isinstance(value, bool)
            or value < low
            or (high is not None and value > high)
        ):
            upto = f" and ≤ {high:,}" if high is not None else ""
            raise UserError(f"{key} must be a whole number ≥ {low}{upto}, not {value!r}.")
    for key, ok, what in (
        ("lr", lambda v: 0 < v < math.inf, "a number > 0"),
        ("momentum", lambda v: 0 <= v < 1, "a number in [0, 1)"),
    ):
        value = cfg[key]
        if not isinstance(value, int | float) or isinstance(value, bool) or not ok(value):
            raise UserError(f"{key} must be {what}, not {value!r}.")
    if cfg["mode"] == "jitter":
        jitter.check(cfg.get("jitter") or {})
    single = ["target_b", "z", "z_b", "ckpt", "ckpt_b"] + (
        ["target"] if cfg["mode"] != "compare" else []
    )
    for key in single:
        if isinstance(cfg[key], list):
            raise UserError(
                f"{key}= takes one file here; only mode=compare takes a list of targets."
            )


def run(cfg: dict) -> dict:
    """Dispatch on cfg['mode']; every file goes to cfg['out_dir']."""
    _check(cfg)
    mode = cfg["mode"]
    out = Path(cfg["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "invert": run_invert,
        "edit": run_edit,
        "interpolate": run_interpolate,
        "compare": run_compare,
        "jitter": run_jitter,
    }[mode](cfg, out)
    record = {key: cfg.get(key) for key in RECORDED}
    write_atomic(out / INVERSION_JSON, (json.dumps(record, indent=1, default=str) + "\n").encode())
    from gan_lab.report import write_inversion_report  # matplotlib is loaded only when it is used

    print(f"files in {out.resolve()}; the report: {write_inversion_report(out)}")
    return result
