"""Durations as people type them (``90m``, ``1h30m``, ``45s``, a number of seconds) and as
Lightning reads them (``DD:HH:MM:SS``): trainer.max_time, and gan-lab tune's budget and slice."""

import datetime
import re

from gan_lab.errors import UserError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
# The longest duration taken (about 2,700 years): Lightning's DD:HH:MM:SS becomes a timedelta,
# which overflows past 999,999,999 days; a float inf (max_time=1e400) is no duration either.
MAX_SECONDS = 10**6 * 86400


def parse_duration(value, key: str) -> float:
    """``90m``, ``1h30m``, ``8h``, ``45s``, ``2d`` or a number of seconds → seconds (> 0)."""
    text = str(value).strip().lower().replace(" ", "")
    seconds = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif re.fullmatch(r"\d+(?:\.\d+)?", text):
        seconds = float(text)
    elif text and _PART.sub("", text) == "":
        seconds = sum(float(n) * UNITS[u] for n, u in _PART.findall(text))
    if seconds is None or not 0 < seconds <= MAX_SECONDS:
        raise UserError(
            f"{key}={value} is not a duration: give a positive time (at most 1,000,000 days) "
            "with units s, m, h or d "
            "(45s, 10m, 1h30m, 8h) or a number of seconds."
        )
    return seconds


def max_time_seconds(value, key: str = "trainer.max_time") -> float | None:
    """trainer.max_time in seconds: Lightning's ``DD:HH:MM:SS`` (or a dict of timedelta's
    arguments), a human duration (``10m``, ``1h30m``) or a number of seconds; None for null."""
    if value is None:
        return None
    if isinstance(value, dict) or hasattr(value, "items"):
        try:
            seconds = datetime.timedelta(
                **{k: float(v) for k, v in dict(value).items()}
            ).total_seconds()
        except (TypeError, ValueError, OverflowError):
            seconds = None
        if seconds is None or not 0 < seconds <= MAX_SECONDS:
            raise UserError(f"{key}={dict(value)} is not a duration.") from None
        return seconds
    text = str(value).strip()
    if re.fullmatch(r"\d+(:\d+){1,3}", text):
        parts = [float(p) for p in text.split(":")]
        parts = [0] * (4 - len(parts)) + parts  # HH:MM:SS and MM:SS as well as DD:HH:MM:SS
        seconds = float(parts[0] * 86400 + parts[1] * 3600 + parts[2] * 60 + parts[3])
        if 0 < seconds <= MAX_SECONDS:
            return seconds
    return parse_duration(value, key)


def shown_duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}h{m:02d}m" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def lightning_time(seconds: float) -> str:
    """Lightning's ``max_time`` string DD:HH:MM:SS (whole seconds, at least 1)."""
    total = max(1, int(seconds))
    d, rest = divmod(total, 86400)
    h, rest = divmod(rest, 3600)
    m, s = divmod(rest, 60)
    return f"{d:02d}:{h:02d}:{m:02d}:{s:02d}"
