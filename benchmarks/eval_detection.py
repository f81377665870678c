"""Evaluate perfsheriff's change-point detector against peers on the shared data sets.

Usage: ``.venv/bin/python benchmarks/eval_detection.py [--quick] [--no-peers] [--no-speed]``

Scores both data sets of ``../shared/data`` with the protocol of its README
(see ``benchmarks/scoring.py``), side by side with peers that run here:
Perfherder's rule (re-implemented), asv's ``detect_steps`` (if ``asv`` is
installed), ruptures PELT (plain and after a running-median winsorization; if
``ruptures`` is installed) and a small E-Divisive implementation. Then measures
speed on 10,000 synthetic series of 1,000 points (1,000 with ``--quick``), full
and incremental after one appended point. The synthetic set is also scored
in two halves (even- and odd-indexed series) so that an improvement which
helps only one half, i.e. fits a few series, is visible.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from peers import PEERS
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import DetectionSettings, detect
from perfsheriff.stats.incremental import detect_incremental
from scoring import Totals, score_series

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
FILES = {
    "synthetic (dev)": "perfherder_like_synthetic_dev.jsonl.gz",
    "real Mozilla": "mozilla_perfherder_real_dev.jsonl.gz",
}
Detector = Callable[[np.ndarray, Direction], list[int]]


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def perfsheriff_detector(values: np.ndarray, direction: Direction) -> list[int]:
    return [cp.index for cp in detect(values, direction=direction, settings=DetectionSettings()).change_points]


def evaluate(detector: Detector, records: list[dict[str, Any]]) -> tuple[Totals, Totals]:
    """Run ``detector`` on every record; totals at tolerance 5 (with CPU time) and 1."""
    t5, t1 = Totals(), Totals()
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        direction = Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER
        start = time.process_time()
        found = detector(values, direction)
        t5.cpu_seconds += time.process_time() - start
        truth = record["truth"]
        for tolerance, totals in ((5, t5), (1, t1)):
            score = score_series(
                found,
                truth["change_points"],
                unknown=truth["unknown_alerts"],
                decoys=truth["invalid_alerts"],
                tolerance=tolerance,
            )
            totals.add(score, len(values))
    return t5, t1


def print_table(title: str, rows: list[tuple[str, Totals, Totals]]) -> None:
    print(f"\n### {title}\n")
    print("| detector | precision | recall | F1 ±5 | F1 ±1 | false alarms/1k pts | decoys hit | CPU ms/1k pts |")
    print("|---|---|---|---|---|---|---|---|")
    for name, t5, t1 in rows:
        decoys = f"{t5.decoy_rate:.1%} ({t5.decoys_hit}/{t5.decoys})"
        print(
            f"| {name} | {t5.precision:.3f} | {t5.recall:.3f} | {t5.f1:.3f} | {t1.f1:.3f} | "
            f"{t5.false_alarms_per_1k:.2f} | {decoys} | {t5.cpu_ms_per_1k:.2f} |"
        )


def quality(with_peers: bool) -> None:
    detectors: dict[str, Detector] = {"perfsheriff": perfsheriff_detector}
    if with_peers:
        detectors.update(PEERS)
    for title, name in FILES.items():
        records = load(name)
        rows = []
        for label, detector in detectors.items():
            t5, t1 = evaluate(detector, records)
            rows.append((label, t5, t1))
        n_points = sum(len(r["values"]) for r in records)
        print_table(f"{title}: {len(records)} series, {n_points} points", rows)
    split_half(load(FILES["synthetic (dev)"]))


def split_half(records: list[dict[str, Any]]) -> None:
    """perfsheriff on the even- and odd-indexed synthetic series separately: a change must help both halves."""
    rows = []
    for label, half in (("even-indexed", records[0::2]), ("odd-indexed", records[1::2])):
        t5, t1 = evaluate(perfsheriff_detector, half)
        rows.append((f"perfsheriff, {label} ({len(half)} series)", t5, t1))
    print_table("synthetic (dev), split half", rows)


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
