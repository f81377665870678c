"""Where exactly a change happened: a credible interval over its position, not only one index.

Perfherder blames a push range, and bisection needs one to start from. With the
neighbouring changes fixed, one shift in a Gaussian mean of known sigma between
positions ``lo`` and ``hi`` has the profile log-likelihood ``S(k)^2 / 2`` at the
split ``k``, where ``S(k)`` is the standardized CUSUM (Hinkley 1970, "Inference
about the change-point in a sequence of random variables", Biometrika 57). With a
flat prior over ``k`` the posterior is proportional to ``exp(S(k)^2 / 2)``; the
interval is the smallest set of splits holding ``mass`` of it (a highest-posterior
set), reported as its first and last position. Assumptions: one change between
the neighbours, noise roughly independent between revisions with the series' sigma;
the series is winsorized first, so a few wild points cannot pull the interval.
"""

from __future__ import annotations

import numpy as np

from perfsheriff.stats.robust import FloatArray


def position_interval(
    values: FloatArray, lo: int, at: int, hi: int, sigma: float, *, mass: float = 0.95, min_size: int = 2
) -> tuple[int, int]:
    """First and last split position (first index of the new level) holding ``mass`` of the posterior.

    ``values[lo:hi]`` is the stretch between the neighbouring changes; ``at`` the
    detected split, always inside the interval. Falls back to ``(at, at)`` when the
    stretch is too short or the noise is zero.
    """
    if sigma <= 0.0 or hi - lo < 2 * min_size:
        return at, at
    segment = values[lo:hi] / sigma
    cumsum = np.concatenate(([0.0], np.cumsum(segment)))
    ks = np.arange(min_size, len(segment) - min_size + 1)
    n_left = ks.astype(np.float64)
    n_right = (len(segment) - ks).astype(np.float64)
    diff = cumsum[ks] / n_left - (cumsum[-1] - cumsum[ks]) / n_right
    log_post = 0.5 * diff * diff / (1.0 / n_left + 1.0 / n_right)
    post = np.exp(log_post - log_post.max())
    post /= post.sum()
    order = np.argsort(-post, kind="stable")
    inside = order[: int(np.searchsorted(np.cumsum(post[order]), mass)) + 1]
    positions = ks[inside] + lo
    return int(min(positions.min(), at)), int(max(positions.max(), at))
