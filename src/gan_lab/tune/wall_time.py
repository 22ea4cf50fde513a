"""A study's budget is wall time, not a trial count: the time during which at least one worker
was running, summed over every session (a killed study started again goes on spending the same
budget; two workers at once spend it once)."""

from gan_lab.config.durations import lightning_time, parse_duration, shown_duration

__all__ = ["lightning_time", "parse_duration", "shown_duration", "spent"]


def spent(sessions: list[tuple[float, float]]) -> float:
    """Seconds covered by the union of the sessions' [start, last sign of life] intervals."""
    total, end = 0.0, None
    for start, stop in sorted(sessions):
        if end is None or start > end:
            total += stop - start
            end = stop
        elif stop > end:
            total += stop - end
            end = stop
    return total
