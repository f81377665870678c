"""Evaluate perfsheriff's change-point detector against peers on the shared data sets.

Usage: ``.venv/bin/python benchmarks/eval_detection.py [--quick] [--no-peers] [--no-speed]``

Scores the real Mozilla series first and the synthetic set second, with the
protocol of ``../shared/data/README.md`` (``benchmarks/scoring.py``: a detection
inside an alert's push range is at distance 0; ±1, ±5 and ±10 reported),
side by side with peers that run here: Perfherder's rule and algorithm
(re-implemented), asv's ``detect_steps`` (if ``asv`` is installed), ruptures
PELT (plain and after a running-median winsorization; if ``ruptures`` is
installed) and a small E-Divisive implementation. Every data set is also
scored per cross-validation fold (4 folds by series), with the spread between
folds, and the calibration of the reported probability is tabulated. Then
measures speed on 10,000 synthetic series of 1,000 points (1,000 with
``--quick``), full and incremental after one appended point.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import PEERS
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import DetectionSettings, detect
from perfsheriff.stats.incremental import detect_incremental
from scoring import Totals, fold_of, match, score_record, spread

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = {
    "real Mozilla (dev)": "mozilla_perfherder_real_dev.jsonl.gz",
    "synthetic (dev)": "perfherder_like_synthetic_dev.jsonl.gz",
}
TOLERANCES = (1, 5, 10)
FOLDS = 4
Detector = Callable[[np.ndarray, Direction], list[int]]


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def perfsheriff_detector(values: np.ndarray, direction: Direction) -> list[int]:
    return [cp.index for cp in detect(values, direction=direction, settings=DetectionSettings()).change_points]


def direction_of(record: dict[str, Any]) -> Direction:
    return Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER


@dataclass
class Scores:
    """Totals at ±1, ±5 (with CPU time) and ±10, and per fold at ±5."""

    at: dict[int, Totals] = field(default_factory=lambda: {t: Totals() for t in TOLERANCES})
    folds: list[Totals] = field(default_factory=lambda: [Totals() for _ in range(FOLDS)])


def evaluate(detector: Detector, records: list[dict[str, Any]]) -> Scores:
    """Run ``detector`` on every record and score it by the protocol."""
    scores = Scores()
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        start = time.process_time()
        found = detector(values, direction_of(record))
        scores.at[5].cpu_seconds += time.process_time() - start
        for tolerance, totals in scores.at.items():
            totals.add(score_record(found, record, tolerance), len(values))
        scores.folds[fold_of(record["id"], FOLDS)].add(score_record(found, record), len(values))
    return scores


def print_table(title: str, rows: list[tuple[str, Scores]]) -> None:
    print(f"\n### {title}\n")
    print(
        "| detector | precision | recall | F1 ±5 | F1 ±1 | F1 ±10 | F1 ±5 per fold (mean ± sd) "
        "| false alarms/1k pts | decoys hit | CPU ms/1k pts |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, scores in rows:
        t5 = scores.at[5]
        decoys = f"{t5.decoy_rate:.1%} ({t5.decoys_hit}/{t5.decoys})"
        folds = spread([f.f1 for f in scores.folds])
        print(
            f"| {name} | {t5.precision:.3f} | {t5.recall:.3f} | {t5.f1:.3f} | {scores.at[1].f1:.3f} | "
            f"{scores.at[10].f1:.3f} | {folds} | {t5.false_alarms_per_1k:.2f} | {decoys} | {t5.cpu_ms_per_1k:.2f} |"
        )


def quality(with_peers: bool) -> None:
    detectors: dict[str, Detector] = {"perfsheriff": perfsheriff_detector}
    if with_peers:
        detectors.update(PEERS)
    for title, name in FILES.items():
        records = load(name)
        rows = [(label, evaluate(detector, records)) for label, detector in detectors.items()]
        n_points = sum(len(r["values"]) for r in records)
        print_table(f"{title}: {len(records)} series, {n_points} points", rows)
        calibration(title, records)


def calibration(title: str, records: list[dict[str, Any]]) -> None:
    """Reported probability against the share of detections that are true changes, by bins (±5)."""
    pairs: list[tuple[float, int]] = []
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        points = detect(values, direction=direction_of(record)).change_points
        truth = record["truth"]
        hits = {d for d, _ in match([cp.index for cp in points], truth["change_points"], 5, truth.get("ranges"))}
        pairs += [(cp.probability, int(cp.index in hits)) for cp in points]
    print(f"\nCalibration on {title} (perfsheriff's reported probability):\n")
    print("| probability | detections | mean probability | true changes |")
    print("|---|---|---|---|")
    for lo, hi in itertools.pairwise((0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)):
        inside = [(p, y) for p, y in pairs if lo <= p < hi]
        if inside:
            mean_p = sum(p for p, _ in inside) / len(inside)
            share = sum(y for _, y in inside) / len(inside)
            print(f"| {lo:.1f}–{min(hi, 1.0):.1f} | {len(inside)} | {mean_p:.2f} | {share:.2f} |")


def synthetic_batch(n_series: int, length: int, seed: int = 7) -> np.ndarray:
    """Series with 0-3 random steps of 1-20 % and Gaussian noise of 0.5-5 %, plus rare outliers."""
    rng = np.random.default_rng(seed)
    level = np.ones((n_series, length)) * rng.uniform(1, 1000, (n_series, 1))
    for row in level:
        for at in rng.integers(20, length - 20, rng.integers(0, 4)):
            row[at:] *= 1 + rng.choice([-1, 1]) * rng.uniform(0.01, 0.2)
    noise = rng.normal(0, 1, level.shape) * rng.uniform(0.005, 0.05, (n_series, 1))
    spikes = (rng.random(level.shape) < 0.005) * rng.uniform(0, 0.5, level.shape)
    return level * (1 + noise + spikes)


def speed(n_series: int) -> None:
    batch = synthetic_batch(n_series, 1000)
    direction, settings = Direction.LOWER_IS_BETTER, DetectionSettings()
    start = time.perf_counter()
    for row in batch:
        detect(row, direction=direction, settings=settings)
    full = time.perf_counter() - start
    states = []
    start = time.perf_counter()
    for row in batch:
        states.append(detect_incremental(row[:-1], direction=direction, settings=settings).state)
    warm = time.perf_counter() - start
    start = time.perf_counter()
    for row, state in zip(batch, states, strict=True):
        detect_incremental(row, direction=direction, settings=settings, state=state)
    step = time.perf_counter() - start
    print(f"\n### Speed: {n_series} series x 1,000 points (wall clock, one process)\n")
    print(f"- full detection: {full:.2f} s ({1000 * full / n_series:.2f} ms per series)")
    print(f"- incremental, first pass over 999 points (builds the state): {warm:.2f} s")
    print(f"- incremental after one new point each: {step:.2f} s ({1000 * step / n_series:.3f} ms per series)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 series in the speed section instead of 10,000")
    parser.add_argument("--no-peers", action="store_true", help="score perfsheriff only")
    parser.add_argument("--no-speed", action="store_true", help="skip the speed section")
    args = parser.parse_args()
    quality(with_peers=not args.no_peers)
    if not args.no_speed:
        speed(1000 if args.quick else 10000)


if __name__ == "__main__":
    main()
