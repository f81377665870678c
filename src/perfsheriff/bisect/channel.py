"""What one sample can tell about a commit's level: the noise around each level the hypotheses allow.

The search uses it three ways: to choose the probe whose next sample carries
the most information (:meth:`Channel.information`), to size a batch from the
evidence a sample adds between two levels (:meth:`Channel.divergence`), and to
close two-step hypotheses whose smaller step no affordable number of samples
could locate (:meth:`Channel.locatable`). The same three questions get the
normal answer for normal noise and a numerical one for a learnt noise shape
(:mod:`.noise_shape`), whose samples may be worth several normal ones.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from perfsheriff.bisect.evidence import FloatArray
from perfsheriff.bisect.noise_shape import NoiseShape
from perfsheriff.bisect.posterior import INTERMEDIATE_SHARES

#: The levels a commit may sit at, as shares of the gap between the good (0) and the bad (1) level.
LEVEL_SHARES = np.concatenate([[0.0], INTERMEDIATE_SHARES, [1.0]])
#: The smallest step (in noise sigmas of a normal, or the same evidence per sample) that a two-step hypothesis
#: may hold: a smaller one could not be located in any reasonable number of runs (about ``2·(z/step)²``
#: samples per probe), so it is not named either.
MIN_STEP = 0.75
#: The smallest gap (in noise sigmas) the information is computed for, so that equal ends still rank probes.
MIN_GAP = 0.1


@dataclass(frozen=True, slots=True)
class Channel:
    """The gap between the two levels and the noise around them.

    ``gap``: the bad level minus the good level in units of ``sigma``, the
    noise scale (log units). ``shape``: the learnt noise shape (log units), or
    ``None`` for normal noise of standard deviation ``sigma``.
    """

    gap: float
    sigma: float
    shape: NoiseShape | None = None

    @property
    def usable(self) -> bool:
        return self.gap > 0 and math.isfinite(self.gap)

    def divergence(self, distance: float) -> float:
        """Evidence (nats) one sample adds, on average, between two levels ``distance`` gaps apart."""
        if self.shape is None:
            return (distance * self.gap) ** 2 / 2
        return self.shape.divergence(distance * self.gap * self.sigma)

    def locatable(self, shares: FloatArray) -> NDArray[np.bool_]:
        """For each intermediate share, whether both steps it implies are at least ``MIN_STEP``'s worth."""
        smaller = np.minimum(shares, 1 - shares)
        return np.array([self.divergence(float(s)) >= MIN_STEP**2 / 2 for s in smaller], dtype=bool)

    def information(self, masses: FloatArray) -> FloatArray:
        """Mutual information (nats) between one sample of each commit (rows) and its level.

        ``masses[i, k]``: the posterior mass of commit ``i`` sitting at level
        ``LEVEL_SHARES[k]``. A sample is the level plus noise; the mixture's
        entropy is integrated on a grid.
        """
        gap = max(self.gap, MIN_GAP) if math.isfinite(self.gap) else MIN_GAP
        if self.shape is None:
            y = np.linspace(-6.0, gap + 6.0, 241)
            log_density = -0.5 * (y[None, :] - gap * LEVEL_SHARES[:, None]) ** 2 - 0.5 * math.log(2 * math.pi)
            noise_entropy = 0.5 * math.log(2 * math.pi * math.e)
        else:
            noise, _ = self.shape.grid(241)
            unit = noise / self.sigma
            y = np.linspace(float(unit[0]), float(unit[-1]) + gap, 241 + int(gap / (unit[1] - unit[0])))
            log_density = self.shape.logpdf((y[None, :] - gap * LEVEL_SHARES[:, None]) * self.sigma)
            log_density = log_density + math.log(self.sigma)  # densities per noise sigma
            density0 = np.exp(log_density[0])
            noise_entropy = -float(np.sum(density0 * log_density[0]) * (y[1] - y[0]))
        mixture = masses @ np.exp(log_density)
        entropy = -np.sum(mixture * np.log(np.maximum(mixture, 1e-300)), axis=1) * (y[1] - y[0])
        information: FloatArray = entropy - noise_entropy
        return information
