"""The training set's fingerprint: what a resume compares before it goes on (design §9).

A checkpoint continues an experiment on particular images with particular labels. When the folder
changes between two sessions — images added or deleted, a class folder added (which renumbers
every class after it), an image edited — the same command would silently continue on another
set, and a conditional model would learn its classes under new numbers. So every checkpoint
stores the set's fingerprint: the class names in order and, for each training image, its name
(the path inside data.root), its label and a digest of its decoded pixels (what trains, so a
folder moved or copied elsewhere — new paths, new file times — is the same set). A resume on
changed data says what changed and is refused, unless ``allow_data_change=true`` is given.
"""

import hashlib
import logging

from gan_lab.errors import UserError

log = logging.getLogger(__name__)

# A hostile checkpoint's fingerprint is data like the rest of it: bounded before it is used.
MAX_IMAGES = 10_000_000
MAX_CLASSES = 100_000
SHOWN = 5  # names listed per kind of change


def fingerprint(images, labels, names: list[str], classes: list[str]) -> dict:
    """{classes, images: [[name, label, digest], ...]} of the set as it trains (uint8 pixels)."""
    rows = []
    for image, label, name in zip(images, labels.tolist(), names, strict=True):
        digest = hashlib.blake2b(image.numpy().tobytes(), digest_size=8).hexdigest()
        rows.append([str(name), int(label), digest])
    return {"classes": [str(c) for c in classes], "images": rows}


def read(value: object, source) -> dict | None:
    """A stored fingerprint checked as data; None for a checkpoint written before fingerprints."""
    if value is None:
        return None

    def bad(why: str) -> UserError:
        return UserError(
            f"{source}: its stored data fingerprint is not readable ({why}); it was not written "
            "by gan-lab train. Use a checkpoint from a run's checkpoints/ folder."
        )

    if not isinstance(value, dict):
        raise bad("not a mapping")
    classes, images = value.get("classes"), value.get("images")
    if not isinstance(classes, list) or len(classes) > MAX_CLASSES:
        raise bad("classes")
    if not all(isinstance(c, str) for c in classes):
        raise bad("class names")
    if not isinstance(images, list) or len(images) > MAX_IMAGES:
        raise bad("images")
    for row in images:
        ok = isinstance(row, list | tuple) and len(row) == 3
        if not ok or not (
            isinstance(row[0], str) and type(row[1]) is int and isinstance(row[2], str)
        ):
            raise bad("an image row")
    return {"classes": list(classes), "images": [list(r) for r in images]}


def _listed(names: list[str]) -> str:
    more = f", … {len(names) - SHOWN} more" if len(names) > SHOWN else ""
    return ", ".join(repr(n) for n in names[:SHOWN]) + more


def differences(old: dict, new: dict) -> list[str]:
    """What changed from ``old`` to ``new``, in words; [] for the same set."""
    said = []
    if old["classes"] != new["classes"]:
        said.append(f"the classes were {old['classes']}, now {new['classes']}")
    before = {name: (label, digest) for name, label, digest in old["images"]}
    after = {name: (label, digest) for name, label, digest in new["images"]}
    added = [n for n in after if n not in before]
    removed = [n for n in before if n not in after]
    common = [n for n in after if n in before]
    edited = [n for n in common if before[n][1] != after[n][1]]
    # A label is the class's number: a new class folder that sorts first renumbers the others.
    relabelled = [
        n
        for n in common
        if before[n][0] != after[n][0]
        or _class(old["classes"], before[n][0]) != _class(new["classes"], after[n][0])
    ]
    for words, names in (
        ("added", added),
        ("removed", removed),
        ("with other pixels", edited),
        ("relabelled", relabelled),
    ):
        if names:
            said.append(f"{len(names)} image(s) {words} ({_listed(names)})")
    if not said and [r[0] for r in old["images"]] != [r[0] for r in new["images"]]:
        said.append("the images are in another order")
    return said


def _class(classes: list[str], label: int) -> str | int:
    return classes[label] if 0 <= label < len(classes) else label


def check_same_data(stored: dict | None, now: dict, allow: bool, source, conditional: bool) -> None:
    """Refuse a resume on another training set (module docstring) with what changed; with
    ``allow`` (allow_data_change=true) say it loudly and go on — unless a conditional model's
    class count changed, which its networks cannot take."""
    if stored is None:
        log.warning(
            "%s holds no data fingerprint (written by an earlier gan-lab): the training set was "
            "not compared with the one it trained on",
            source,
        )
        return
    said = differences(stored, now)
    if not said:
        return
    what = "; ".join(said)
    if conditional and len(stored["classes"]) != len(now["classes"]):
        raise UserError(
            f"the training set changed since {source}: {what}. This conditional model was built "
            f"for {len(stored['classes'])} classes and the data now have {len(now['classes'])}; "
            "restore the folder as it was, or start a new run on the new set."
        )
    if allow:
        log.warning(
            "the training set changed since %s: %s; going on because allow_data_change=true "
            "(the checkpoints from here on record the new set)",
            source,
            what,
        )
        return
    raise UserError(
        f"the training set changed since {source}: {what}. A resume continues the same "
        "experiment on the same images; restore the folder as it was, or start a new run. To go "
        "on training on the changed set knowingly, add allow_data_change=true (docs/training.md, Resume)."
    )
