"""The run's first two sections: what was run and how it went overall ("run"), and the networks
and procedure it trained ("networks"). Templates: run/overview.html.j2, run/networks.html.j2."""

import yaml

from gan_lab.report.run import columns, memorisation
from gan_lab.report.run.best import best_choice
from gan_lab.report.run.folder import RunFolder, fmt, number
from gan_lab.report.run.training import beside_floors
from gan_lab.runs import layout


def overview(run: RunFolder) -> dict:
    planned = run.cfg("trainer.max_epochs")
    done = fmt(run.last.get("epoch")) or "0"
    seconds = [number(x.get("epoch_seconds")) for x in run.epochs]
    train_s = sum(s for s in seconds if s)
    sessions = run.info.get("sessions") or []
    devices = sorted(
        {f"{s.get('device_name') or s.get('device')} ×{s.get('devices', 1)}" for s in sessions}
    )
    precisions = sorted({str(s.get("precision")) for s in sessions})
    overrides = None
    if run.overrides is not None:
        overrides = [f"{k}={v}" if v != "" else k for k, v in run.overrides.items()]
    rate = run.images_per_second()
    facts = [
        ("epochs", f"{done} of {fmt(planned)}" if planned else done),
        ("steps", fmt(run.last.get("step")) or "0"),
        (
            "training time",
            f"{train_s / 60:.1f} min (sum of the epochs' seconds in {layout.METRICS_CSV})",
        ),
        ("images / s", f"{rate:,.0f} (median over epochs)" if rate else "not recorded"),
        ("device", ", ".join(devices) if devices else "not recorded"),
        (
            "precision",
            ", ".join(precisions) if precisions else run.cfg("trainer.precision", "not recorded"),
        ),
        ("seed", run.cfg("seed", "")),
    ]
    if chosen := recipe_choices(run):
        facts.append(("recipe=auto chose", chosen))
    if source := started_from(run):
        facts.append(("started from (init=)", source))
    for i, s in enumerate(sessions):
        end = s.get("end_epoch") if s.get("end_epoch") is not None else "…"
        span = f"epochs {s.get('start_epoch')}→{end}"
        text = f"{s.get('started')} → {s.get('ended') or '…'}, {span}, {s.get('status')}"
        facts.append((f"session {i + 1}", text))
    if scored := at_best(run):
        facts.append(scored)
    return {
        "status": run.status,
        "folder": str(run.dir),
        "overrides": overrides,
        "facts": facts,
        "alerts": memorisation.warnings(run),  # [epoch, message]: shown above everything
    }


def at_best(run: RunFolder) -> tuple[str, str] | None:
    """("scores at epoch N", "FID 2.4 (1.9× the real-vs-real floor 1.26); ...") at the epoch the
    scores section calls best, for the scores the run measured a floor of; None without floors."""
    best = best_choice(run)
    if best is None:
        return None
    row = next((x for x in best.rows if number(x.get("epoch")) == best.epoch), {})
    names = [n for n in columns.values([row]) if columns.family(n) != "coverage"]
    shown = beside_floors(row, names)
    return (f"scores at the best epoch ({fmt(best.epoch)})", "; ".join(shown)) if shown else None


def started_from(run: RunFolder) -> str | None:
    """A fine-tuning run's source (init=; config.init_source, gan_lab/training/finetune.py), its
    frozen blocks and G's pull back to the source, in words; None for a run from nothing. Read as
    data: run.json may be anyone's."""
    config = run.config or {}
    source = config.get("init_source")
    if not isinstance(source, dict):
        return None
    model = config.get("model") if isinstance(config.get("model"), dict) else {}
    said = (
        f"{source.get('path')} (run {source.get('run')}, epoch {source.get('epoch')}, step "
        f"{source.get('step')}; sha256 {str(source.get('sha256'))[:16]}…)"
    )
    frozen = [
        f"{net}'s first {model[key]} blocks frozen"
        for key, net in (("freeze_d", "D"), ("freeze_g", "G"))
        if isinstance(model.get(key), int) and model[key] > 0
    ]
    held = [f"{', '.join(frozen)} (FreezeD)"] if frozen else []
    anchor = model.get("anchor_g")
    if isinstance(anchor, int | float) and not isinstance(anchor, bool) and anchor > 0:
        held.append(f"G pulled back to the source's weights (model.anchor_g={anchor:g} a step)")
    return said + (f"; {', '.join(held)}" if held else "")


def recipe_choices(run: RunFolder) -> str:
    """What recipe=auto chose at the start (gan_lab/training/recipe.py), grouped by its reason; the
    networks' keys counted rather than listed (the networks section shows them)."""
    chosen = (run.config or {}).get("chosen") or {}
    by_why: dict[str, list[str]] = {}
    for key, made in chosen.items():
        node = key.split(".")[0]
        shown = node + ".*" if node in ("generator", "discriminator") else f"{key}={made['value']}"
        if shown not in by_why.setdefault(made["why"], []):
            by_why[made["why"]].append(shown)
    return "; ".join(f"{', '.join(keys)} ({why})" for why, keys in by_why.items())


def networks(run: RunFolder) -> dict:
    nets = run.info.get("networks") or {}
    rows = []
    for name in ("generator", "discriminator"):
        net, cfg = nets.get(name) or {}, run.cfg(name, {}) or {}
        preset = cfg.get("_target_", "").rsplit(".", 1)[-1]
        shape_in, shape_out = net.get("input"), net.get("output")
        settings = ", ".join(
            f"{k}={v}"
            for k, v in cfg.items()
            if not k.startswith("_") and not isinstance(v, dict | list)
        )
        rows.append(
            [
                name,
                net.get("class") or preset or "?",
                f"{net['parameters']:,}" if "parameters" in net else "not recorded",
                f"{net['trainable']:,}" if "trainable" in net else "",
                f"{shape_in} → {shape_out}" if shape_in else "",
                settings,
            ]
        )
    procedure = run.cfg("model", {}) or {}
    layers = [
        (name, [[n, t, "×".join(map(str, s)), f"{p:,}"] for n, t, s, p in net["layers"]])
        for name in ("generator", "discriminator")
        if (net := nets.get(name) or {}).get("layers")
    ]
    return {
        "rows": rows,
        "ema": bool(nets.get("generator", {}).get("ema")),
        "procedure": (
            ", ".join(f"{k}={v}" for k, v in procedure.items() if not isinstance(v, dict))
            if procedure
            else None
        ),
        "layers": layers,
        "recorded": bool(nets),
        "config": yaml.safe_dump(run.config, sort_keys=False, allow_unicode=True)
        if run.config
        else "",
    }
