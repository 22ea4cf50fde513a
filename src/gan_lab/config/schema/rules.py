"""What one key may hold (:class:`Rule`) and the builders the tables use: a whole number, a number
in a range, a flag, one of some choices, a text, a path, a size, a list; and the upper bounds of
sizes and counts. Every group's table (the other modules of gan_lab.config.schema) is written with
these, so a rule is worded the same way in every message, whichever group it belongs to.
"""

import math
from collections.abc import Callable
from dataclasses import dataclass

from gan_lab.data.decoded import parse_size
from gan_lab.errors import UserError

# Upper bounds of sizes and counts (design §9): generous for real use (StyleGAN's widest layer has
# 512 filters, its latent 512 values, FID's usual sample 50,000 images), small enough that a value
# typed by mistake or stored in someone else's checkpoint cannot ask for absurd memory (one
# generator.channels=10**9 would be a 10**18-weight convolution). A key's rule states its bound.
MAX_IMAGE_SIZE = 1024  # px
MAX_WIDTH = 4096  # filters of one layer, latent and embedding sizes
MAX_BLOCKS = 16  # entries of a channel/stride list: 2**10 px from 1 px takes 10
MAX_KERNEL = 15
MAX_CLASSES = 10_000
MAX_BATCH = 8192  # images per step or forward pass
MAX_IMAGES = 1_000_000  # images drawn, generated or scored at once
MAX_GRID = 4096  # images in a grid, a preview or the fixed noise
MAX_WEIGHTS = 500_000_000  # per network (2 GB of float32); StyleGAN2's 1024 px G has 30 million


@dataclass(frozen=True)
class Rule:
    """What one key may hold: ``test`` says whether a value fits, ``what`` says it in words."""

    test: Callable[[object], bool]
    what: str
    meaning: str
    null: bool = False  # null (YAML's ~) is a valid value: "off", "none" or "the default"

    def ok(self, value) -> bool:
        if value is None:
            return self.null
        try:
            return bool(self.test(value))
        except (TypeError, ValueError):
            return False


def shown(value) -> str:
    """A value as it is typed on the command line (true, null, 0.5, abc)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list | tuple):
        return "[" + ",".join(shown(v) for v in value) + "]"
    return str(value)


def is_whole(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_number(v) -> bool:
    """A finite int or float; never a bool (YAML's true is not 1)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _same(v, option) -> bool:
    """Equal and of the same type: YAML's true is not 1, and 1 is not "1"."""
    return type(v) is type(option) and v == option


def whole(meaning: str, low: int = 0, high: int | None = None, null: bool = False) -> Rule:
    top = "" if high is None else f" and ≤ {high}"
    return Rule(
        lambda v: is_whole(v) and v >= low and (high is None or v <= high),
        f"a whole number ≥ {low}{top}",
        meaning,
        null,
    )


def number(
    meaning: str,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    null: bool = False,
) -> Rule:
    def test(v) -> bool:
        if not is_number(v):
            return False
        above = low is None or (v > low if low_open else v >= low)
        below = high is None or (v < high if high_open else v <= high)
        return above and below

    if low is not None and high is not None:
        what = f"a number in {'(' if low_open else '['}{low}, {high}{')' if high_open else ']'}"
    elif low is not None:
        what = f"a number {'>' if low_open else '≥'} {low}"
    else:
        what = "a number"
    return Rule(test, what, meaning, null)


def flag(meaning: str) -> Rule:
    return Rule(lambda v: isinstance(v, bool), "true or false", meaning)


def choice(meaning: str, options, null: bool = False) -> Rule:
    options = tuple(options)
    words = " | ".join(dict.fromkeys(shown(o) for o in options))
    return Rule(lambda v: any(_same(v, o) for o in options), f"one of {words}", meaning, null)


def text(meaning: str, null: bool = False) -> Rule:
    return Rule(lambda v: isinstance(v, str), "a text", meaning, null)


def path(meaning: str, null: bool = True) -> Rule:
    return Rule(lambda v: isinstance(v, str) and v != "", "a file or folder path", meaning, null)


def _size(v) -> bool:
    try:
        return parse_size(v) >= 0
    except (UserError, ValueError):
        return False


def size(meaning: str) -> Rule:
    return Rule(
        lambda v: not isinstance(v, bool) and _size(v),
        "a size, e.g. 4GB, 512MB or 1e9 (bytes)",
        meaning,
        null=True,
    )


def wholes(
    meaning: str,
    low: int = 1,
    null: bool = False,
    example: str = "[64,32,16]",
    high: int | None = None,
    longest: int = MAX_BLOCKS,
) -> Rule:
    top = "" if high is None else f" and ≤ {high}"
    return Rule(
        lambda v: (
            isinstance(v, list | tuple)
            and 0 < len(v) <= longest
            and all(is_whole(x) and x >= low and (high is None or x <= high) for x in v)
        ),
        f"a list of 1 to {longest} whole numbers ≥ {low}{top}, e.g. {example}",
        meaning,
        null,
    )


def either(meaning: str, *rules: Rule, null: bool = False) -> Rule:
    return Rule(
        lambda v: any(r.ok(v) for r in rules), " or ".join(r.what for r in rules), meaning, null
    )


def target(*names: str) -> Rule:
    return choice("the class this node builds (gan-lab's own; never a stored choice)", names)


BETAS = Rule(
    lambda v: isinstance(v, list | tuple) and len(v) == 2 and all(_number_in_unit(b) for b in v),
    "two numbers in [0, 1), e.g. [0.5, 0.999]",
    "Adam's (β1, β2)",
)


def _number_in_unit(v) -> bool:
    return is_number(v) and 0 <= v < 1
