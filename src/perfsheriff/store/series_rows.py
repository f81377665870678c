"""What the reads of series return: :class:`SeriesRow` and :class:`RevisionSamples`.

Apart from ``queries.py`` (which builds its statements with SQLAlchemy) so that ``sqlite_reads.py``, which
does not load SQLAlchemy, returns the same types.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy loads where queries.py reads samples; `series` and `show` on SQLite need none
    import numpy as np

    FloatArray = np.ndarray[Any, np.dtype[np.float64]]


@dataclass(frozen=True, slots=True)
class SeriesRow:
    id: str
    project: str
    branch: str
    benchmark: str
    suite: str
    metric: str
    unit: str
    direction: str
    machine_class: str
    configuration: str
    n_revisions: int | None  # None: not counted (see queries.list_series)


@dataclass(frozen=True, slots=True)
class RevisionSamples:
    """All repetitions a series has at one revision (several runs merged)."""

    sha: str
    position: int
    time: datetime
    author: str
    subject: str
    values: FloatArray | tuple[float, ...]  # queries' reads give an array, sqlite_reads' (no numpy) a tuple
    n_runs: int
