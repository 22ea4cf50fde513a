"""Every key of every command with its default, what it may hold and what it does — from the one
schema (gan_lab.config.schema), so that ``gan-lab <command> --help`` and the docs' command
reference (docs/reference.md, written by ``make docs``) never disagree with the checks.

A command's keys are its schema table's (train: TRAIN, sample: SAMPLE, ...); its defaults come
from composing its config with no arguments; a train group lists its options (conf/<group>/).
A command without a table of its own (invert, audit, summarize, cost) shows its YAML's keys with
their comments, which are its reference.
"""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from gan_lab.config import CONF_DIR, compose, schema
from gan_lab.config.validate import MISSING, lookup

# command → (its config, its schema table(s)); a tool's data.* keys are train's.
TABLES = {
    "train": ("train", [schema.TRAIN]),
    "sample": ("sample", [schema.SAMPLE]),
    "score": ("score", [schema.SCORE]),
    "preview": ("preview", [schema.PREVIEW, schema.DATA]),
    "extractor": ("extractor", [schema.EXTRACTOR, schema.DATA]),
    "audit": ("audit", [schema.DATA]),
    "tune": ("tune", [schema.TUNE]),
}
# The groups a train command line chooses from, in conf/train.yaml's order.
TRAIN_GROUPS = (
    "data",
    "generator",
    "discriminator",
    "noise",
    "model",
    "trainer",
    "callbacks",
    "metrics",
    "logger",
    "experiment",
    "debug",
)


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))


def _default(cfg: DictConfig | None, key: str) -> str:
    if cfg is None:
        return ""
    try:
        value = lookup(cfg, key)
    except Exception:  # noqa: BLE001 — an interpolation only a running app resolves
        node = OmegaConf.select(cfg, key, default=None, throw_on_resolution_failure=False)
        return "" if node is None else str(node)
    return "" if value is MISSING else schema.shown(value)


def rows(command: str) -> list[tuple[str, str, str, str]]:
    """(key, default, what it may hold, what it does) of every key of ``command``'s tables."""
    name, tables = TABLES[command]
    try:
        cfg = compose(name)
    except Exception:  # noqa: BLE001 — a command whose required keys are missing (???)
        cfg = None
    out, seen = [], set()
    for table in tables:
        for key, rule in table.items():
            if key in seen or key.endswith("_target_"):
                continue
            seen.add(key)
            null = " or null" if rule.null else ""
            out.append((key, _default(cfg, key), f"{rule.what}{null}", rule.meaning))
    return out


def help_text(command: str, doc: str | None) -> str:
    """``gan-lab <command> --help``: what it does, its groups (train), its keys from the schema."""
    parts = [(doc or "").strip()]
    if command == "train":
        groups = "\n".join(f"  {g:<14} {' | '.join(group_options(g))}" for g in TRAIN_GROUPS)
        parts.append(f"Groups (group=option):\n{groups}")
    if command in TABLES:
        lines = []
        for key, default, what, meaning in rows(command):
            shown = f" = {default}" if default != "" else ""
            lines.append(f"  {key}{shown}\n      {meaning}. ({what})")
        parts.append(
            "Keys (key=value; a path may start with ~ and hold spaces):\n" + "\n".join(lines)
        )
    else:
        yaml = CONF_DIR / f"{command}.yaml"
        if yaml.is_file():
            parts.append(f"Options (key=value; conf/{command}.yaml):\n\n{yaml.read_text()}")
    parts.append(
        "--cfg job prints the composed config and exits; --version prints gan-lab's version."
    )
    return "\n\n".join(p for p in parts if p)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown() -> str:
    """The docs' command reference: every command's keys as one table each."""
    out = [
        "# Command reference",
        "",
        "Every key of every command: its default, what it may hold and what it does. Generated "
        "from the schema that checks them (`gan_lab/config/schema/`) by `make docs`; "
        "`gan-lab <command> --help` prints the same.",
        "",
    ]
    for command in TABLES:
        out += [f"## gan-lab {command}", ""]
        if command == "train":
            out += ["| group | options |", "| --- | --- |"]
            out += [f"| `{g}` | {', '.join(group_options(g))} |" for g in TRAIN_GROUPS]
            out.append("")
        out += ["| key | default | may hold | meaning |", "| --- | --- | --- | --- |"]
        for key, default, what, meaning in rows(command):
            out.append(f"| `{key}` | {_cell(default)} | {_cell(what)} | {_cell(meaning)} |")
        out.append("")
    return "\n".join(out)


def write_markdown(path: str | Path) -> Path:
    path = Path(path)
    path.write_text(markdown() + "\n", encoding="utf-8")
    return path
