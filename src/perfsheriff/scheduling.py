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
