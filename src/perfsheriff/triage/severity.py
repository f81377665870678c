"""How urgent an alert is: one number that orders the sheriffs' queues.

    severity = weight * confidence * min(|log2(1 + relative_change)|, 10)

- **Magnitude in doublings**, ``|log2(after / before)|``: a 2x slowdown and a
  2x speed-up are the same size of change (1.0), and a drop can be as large as
  a rise (a relative change is bounded below by -100 %, a log ratio is not).
  Past ten doublings (a thousand-fold change, or a value that fell to zero or
  changed sign) the number means nothing more, and the cap keeps it finite.
- **Confidence** multiplies: the product is the expected size of the change if
  a false alert counts as no change at all.
- **Weight** multiplies: GHC's lesson that "a 25 % regression on T9872c for
  1 % on compiling Cabal is a good trade" is a statement about weights: with
  weights 10 and 0.1, the 1 % on Cabal (0.14) outranks the 25 % on T9872c (0.03).

Severity is monotone in each of the three (property-tested) and does not
depend on the kind: an improvement needs a sheriff's look as much as a
regression does (is it real? did a test stop running?). A summary is as severe
as its worst alert; summing would rank a change seen on twenty machines above
a larger one seen on one.

Benchmark tags stay out on purpose: a tag's importance is what the weight
already expresses, and a per-tag mean over a summary's alerts would average
only the series that moved (the others raised no alert), overstating the
change with no interval. Per-tag summaries with intervals belong to
comparisons (:func:`perfsheriff.stats.suite.summarize_tags`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from perfsheriff.errors import InputError
from perfsheriff.triage.grouping import Alert

#: Magnitudes are capped at this many doublings (a factor of 1024).
MAX_DOUBLINGS = 10.0


def doublings(relative_change: float) -> float:
    """The size of a change as ``|log2(after / before)|``, capped at :data:`MAX_DOUBLINGS`.

    A change to zero or below (possible for units that may be negative) has no
    log ratio and counts as the cap.
    """
    if not math.isfinite(relative_change):
        raise InputError(f"relative change must be finite, got {relative_change!r}")
    ratio = 1.0 + relative_change
    if ratio <= 0.0:
        return MAX_DOUBLINGS
    return min(abs(math.log2(ratio)), MAX_DOUBLINGS)


def severity(relative_change: float, confidence: float, weight: float = 1.0) -> float:
    """``weight * confidence * doublings(relative_change)``; see the module docstring for why."""
    if not 0.0 <= confidence <= 1.0:
        raise InputError(f"confidence must lie in [0, 1], got {confidence!r}")
    if not (math.isfinite(weight) and weight >= 0.0):
        raise InputError(f"weight must be a finite number >= 0, got {weight!r}")
    return weight * confidence * doublings(relative_change)


def alert_severity(alert: Alert) -> float:
    """The severity of one alert, from its own change, confidence and benchmark weight."""
    return severity(alert.relative_change, alert.confidence, alert.weight)


def summary_severity(alerts: Iterable[Alert]) -> float:
    """A summary's severity: its worst alert's (0 for a summary without alerts)."""
    return max((alert_severity(a) for a in alerts), default=0.0)
