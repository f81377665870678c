"""How long to wait before trying an unreachable server again: exponential backoff with jitter.

The delay doubles from ``base`` with each consecutive failure up to ``cap``,
and a random share of it is dropped ("equal jitter": the delay lies in
``[d/2, d]``), so that agents cut off by the same outage do not all come back
in the same instant, while each still waits at least half its step and a dead
server is not hammered. See M. Brooker, "Exponential Backoff And Jitter",
AWS Architecture Blog, 2015.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

BASE_S = 0.5
CAP_S = 30.0


def backoff_delay(failures: int, jitter: float, *, base: float = BASE_S, cap: float = CAP_S) -> float:
    """Seconds to wait after ``failures`` consecutive failures (>= 1); ``jitter`` in [0, 1) picks within the step.

    Pure: the caller supplies the randomness, so the schedule can be tested.
    """
    if failures < 1:
        raise ValueError(f"failures must be >= 1, got {failures}")
    if not 0.0 <= jitter < 1.0:
        raise ValueError(f"jitter must be in [0, 1), got {jitter}")
    if not 0 < base <= cap:
        raise ValueError(f"expected 0 < base <= cap, got base={base} and cap={cap}")
    # 2**(failures - 1) overflows a float for absurd counts; the cap is reached long before.
    step = cap if failures > 64 else min(cap, base * 2.0 ** (failures - 1))
    return step / 2 * (1 + jitter)


@dataclass(slots=True)
class Backoff:
    """The failures in a row so far against one server, and the next delay; ``reset`` after a success."""

    base: float = BASE_S
    cap: float = CAP_S
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def next_delay(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        self.failures += 1
        return backoff_delay(self.failures, self.rng.random(), base=self.base, cap=self.cap)

    def reset(self) -> None:
        self.failures = 0
