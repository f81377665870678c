"""A revision's level and spread as ``perfsheriff show`` prints them, in plain Python: count, median, MAD,
minimum and maximum of its finite samples.

:func:`perfsheriff.stats.summary.summarize` gives the same figures and more (mean, standard deviation, IQR)
with numpy, whose import cost ``show`` about a third of its time for a series of a few samples per revision.
The arithmetic here is the arithmetic numpy does for these figures (the mean of the middle value or two,
a sum that starts at +0.0; ``|x - median|`` per sample), so the results are equal bit for bit
(``tests/unit/stats/test_revision_levels.py`` checks it against ``summarize`` with hypothesis). Samples with a
-0.0 among them go to ``summarize`` itself: which of two equal zeros numpy calls the minimum depends on the
order of its vectorised loops.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RevisionLevels:
    """Count, median, unscaled median absolute deviation, minimum and maximum of the finite samples."""

    n: int
    median: float
    mad: float
    min: float
    max: float


def revision_levels(samples: Iterable[float]) -> RevisionLevels | None:
    """The level and spread of the finite ``samples``; None when none is finite (non-finite ones are dropped,
    as :func:`perfsheriff.stats.summary.summarize` drops them).

    Method: order statistics; the median of an even count is the mean of the two middle values, the MAD the
    median of ``|x - median|`` (Hampel 1974, "The influence curve and its role in robust estimation", JASA
    69(346)). No distributional assumption. Meant for the few samples of one revision: it sorts twice.
    """
    finite = [value for value in map(float, samples) if math.isfinite(value)]
    if not finite:
        return None
    if any(value == 0.0 and math.copysign(1.0, value) < 0.0 for value in finite):
        return _summarized(finite)  # in the order given: numpy's choice between equal zeros depends on it
    ordered = sorted(finite)
    middle = len(ordered) // 2
    # numpy's median is the mean of the middle value(s), a sum that starts at +0.0: -0.0 comes out as 0.0.
    median = 0.0 + ordered[middle] if len(ordered) % 2 else (0.0 + ordered[middle - 1] + ordered[middle]) / 2.0
    deviations = sorted(abs(value - median) for value in ordered)  # summary.sorted_median's, as summarize
    mad = deviations[middle] if len(ordered) % 2 else (deviations[middle - 1] + deviations[middle]) / 2.0
    return RevisionLevels(len(ordered), median, mad, ordered[0], ordered[-1])


def _summarized(values: list[float]) -> RevisionLevels:
    """:func:`revision_levels` by ``summarize`` itself: for samples holding a -0.0, where numpy's minimum and
    maximum pick between equal zeros in the order of its vectorised loops, not in a plain-Python one."""
    from perfsheriff.stats.summary import NoSamples, summarize

    summary = summarize(values)
    assert not isinstance(summary, NoSamples)  # values are finite and not empty
    return RevisionLevels(summary.n, summary.median, summary.mad, summary.min, summary.max)
