"""Evidence per detection rule: each rule switched off (or a threshold moved), fold by fold.

Usage: ``.venv/bin/python benchmarks/detection_rules.py``

For every rule of ``perfsheriff.stats.changepoints`` that can be switched, the
detector is scored with and without it on the real Mozilla series (4 folds by
series; the change of F1 in every fold, so a rule that helps only a handful of
series shows as a gain in one fold and nothing elsewhere) and on the synthetic
set (in total). The protocol is ``scoring.py``'s (±5, range-aware).
"""

from __future__ import annotations

import gzip
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import DetectionSettings, detect
from scoring import Totals, fold_of, score_record

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FOLDS = 4
BASE = DetectionSettings()
VARIANTS = {
    "as shipped": BASE,
    "without the burst test (burst_alpha 0)": replace(BASE, burst_alpha=0.0),
    "without drift separation (min_drift_length 0)": replace(BASE, min_drift_length=0),
    "min_probability 0.3": replace(BASE, min_probability=0.3),
    "min_probability 0.5": replace(BASE, min_probability=0.5),
    "min_confidence 0.999 (looser test)": replace(BASE, min_confidence=0.999),
    "min_confidence 0.99999 (stricter test)": replace(BASE, min_confidence=0.99999),
    "min_relative_change 0.02": replace(BASE, min_relative_change=0.02),
    "threshold 3 (more candidates)": replace(BASE, threshold=3.0),
    "threshold 5 (fewer candidates)": replace(BASE, threshold=5.0),
    "window 30": replace(BASE, window=30),
}


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def score(records: list[dict[str, Any]], settings: DetectionSettings) -> tuple[Totals, list[Totals]]:
    total, folds = Totals(), [Totals() for _ in range(FOLDS)]
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        direction = Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER
        found = [cp.index for cp in detect(values, direction=direction, settings=settings).change_points]
        result = score_record(found, record)
        total.add(result, len(values))
        folds[fold_of(record["id"], FOLDS)].add(result, len(values))
    return total, folds


def main() -> None:
    real = load("mozilla_perfherder_real_dev.jsonl.gz")
    synthetic = load("perfherder_like_synthetic_dev.jsonl.gz")
    _, base_folds = score(real, BASE)
    print(
        "| variant | real P | real R | real F1 | ΔF1 per fold (real) | decoys (real) "
        "| synthetic F1 | synthetic R | decoys (synthetic) |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name, settings in VARIANTS.items():
        r, folds = score(real, settings)
        s, _ = score(synthetic, settings)
        deltas = " ".join(f"{f.f1 - b.f1:+.2f}" for f, b in zip(folds, base_folds, strict=True))
        print(
            f"| {name} | {r.precision:.3f} | {r.recall:.3f} | {r.f1:.3f} | {deltas} | {r.decoys_hit}/{r.decoys} "
            f"| {s.f1:.3f} | {s.recall:.3f} | {s.decoys_hit}/{s.decoys} |"
        )


if __name__ == "__main__":
    main()
