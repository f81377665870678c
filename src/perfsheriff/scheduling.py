"""Which revisions a tracking pass measures: a pure decision over the branch's pushes.

Perfherder's trees measure every push; a nightly project measures the tip once a day; a busy branch
measures every n-th push and lets bisection fill in. ``perfsheriff.toml``'s ``[schedule]`` names the
mode (``ScheduleMode``); :func:`scheduled` applies it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

from perfsheriff.model import Push


class ScheduleMode(enum.StrEnum):
    """Which revisions ``track`` measures."""

    PUSH = "push"  # the tip of every push
    COMMIT = "commit"  # every commit, roll-up members included
    EVERY_N_PUSHES = "every-n-pushes"  # the tip of every n-th push
    NIGHTLY = "nightly"  # the branch tip, once a day


def scheduled(pushes: Sequence[Push], mode: ScheduleMode, every: int | None) -> list[str]:
    """The commits the schedule wants measured, oldest first; every n-th push keeps the newest tip too."""
    if mode is ScheduleMode.COMMIT:
        return [sha for push in pushes for sha in push.commits]
    tips = [push.tip for push in pushes]
    if mode is ScheduleMode.EVERY_N_PUSHES and every:
        chosen = tips[::every]
        return chosen if not tips or chosen[-1] == tips[-1] else [*chosen, tips[-1]]
    if mode is ScheduleMode.NIGHTLY:
        return tips[-1:]
    return tips


GOLDEN = (5**0.5 - 1) / 2


def spread_order(count: int) -> list[int]:
    """Positions ``0 .. count-1`` in the order a backfill measures them: run ``j`` goes to the rank of
    ``frac(j · φ)`` (the golden-ratio sequence, whose points split the widest gaps first; Weyl 1916).

    Measured in history order, a machine that slowly warms up, or a neighbour that keeps it busy for
    minutes, lines up with consecutive commits and looks like a trend or a step in the code. In this order
    any ``k`` consecutive runs land about ``count / k`` commits apart or more (at least a fifth of that,
    anywhere in the pass: the three-gap theorem), so the machine's drift becomes scattered noise, which the
    detector's rank tests tolerate, instead of a shift between neighbours. A pass cut short after ``m``
    runs leaves no gap wider than about ``2 · count / m``, not one end of history unmeasured.
    """
    steps = sorted(range(count), key=lambda j: (j * GOLDEN) % 1.0)
    order = [0] * count
    for position, step in enumerate(steps):
        order[step] = position
    return order


def interleaved(counts: Sequence[tuple[str, int]]) -> list[str]:
    """Runs of several revisions in A B B A order: rounds of one run each, every other round reversed.

    Measured as A A A A B B B B, a machine that slows down over the minutes the runs take makes B look
    slower than A, which a comparison of the two reads as a regression. In A B B A A B B A order a linear
    drift adds the same to both sides' means (exactly, for an even and equal count of runs), and runs of A
    and B that follow each other are taken close together in time.
    """
    names = [name for name, _ in counts]
    left = [runs for _, runs in counts]
    order: list[str] = []
    forward = True
    while any(runs > 0 for runs in left):
        for i in range(len(names)) if forward else reversed(range(len(names))):
            if left[i] > 0:
                order.append(names[i])
                left[i] -= 1
        forward = not forward
    return order
