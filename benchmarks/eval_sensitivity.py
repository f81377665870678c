"""Does learning sensitivity from triage help? A replay of the labelled series with simulated sheriffs.

Each series is replayed as the track loop sees it: every ``--step`` revisions a detection pass runs on
the newest ``horizon`` (400) revisions with the thresholds learnt so far; a change seen for the first
time (not within ``min_segment`` revisions of a stored alert of the same kind, as
``service.detection`` stores them) becomes an alert, and a sheriff decides it at once from the labels:
``valid`` when it lies within 5 revisions of a confirmed change's push range (the scoring's distance),
undecided near an ``unknown_alerts``
index, ``invalid`` otherwise. The stored alerts are then scored with the protocol of
``../shared/data/README.md`` (``scoring.py``), without and with learning, at two configured
``min_relative_change`` values. Sheriffs deciding at once is the most favourable case for learning;
real decisions come later, so fewer passes benefit.

Run: ``.venv/bin/python benchmarks/eval_sensitivity.py [--synthetic] [--step N]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfsheriff.model import Direction
from perfsheriff.stats.changepoints import DetectionSettings, detect
from perfsheriff.triage.sensitivity import Judged, learn
from scoring import Totals, distance, score_series

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HORIZON = 400
TOLERANCE = 5


@dataclass
class Replay:
    """The alerts stored for one series, and what the simulated sheriff said about them."""

    alerts: list[tuple[int, bool]] = field(default_factory=list)  # (index, is_regression)
    judged: list[Judged] = field(default_factory=list)
    learnt_threshold: float = 0.0


def _verdict(index: int, truth: dict[str, Any]) -> bool | None:
    if any(distance(index, t, truth.get("ranges")) <= TOLERANCE for t in truth["change_points"]):
        return True
    if any(abs(index - u) <= TOLERANCE for u in truth.get("unknown_alerts", ())):
        return None
    return False


def replay(record: dict[str, Any], settings: DetectionSettings, *, learning: bool, step: int) -> Replay:
    values, truth = record["values"], record["truth"]
    lower = record.get("meta", {}).get("lower_is_better", True)
    direction = Direction.LOWER_IS_BETTER if lower else Direction.HIGHER_IS_BETTER
    done = Replay(learnt_threshold=settings.min_relative_change)
    for end in [*range(2 * settings.min_segment, len(values), step), len(values)]:
        start = max(0, end - HORIZON)
        threshold = learn(done.judged).apply(settings.min_relative_change) if learning else None
        used = replace(settings, min_relative_change=threshold) if threshold is not None else settings
        for cp in detect(values[start:end], direction=direction, settings=used).change_points:
            index = start + cp.index
            if any(r == cp.is_regression and abs(i - index) <= settings.min_segment for i, r in done.alerts):
                continue
            done.alerts.append((index, cp.is_regression))
            verdict = _verdict(index, truth)
            if verdict is not None and math.isfinite(cp.relative_change):
                done.judged.append(Judged(verdict, cp.relative_change))
    done.learnt_threshold = learn(done.judged).apply(settings.min_relative_change)
    return done


def evaluate(records: list[dict[str, Any]], min_change: float, *, learning: bool, step: int) -> tuple[Totals, int]:
    totals, moved = Totals(), 0
    settings = DetectionSettings(min_relative_change=min_change)
    for record in records:
        done = replay(record, settings, learning=learning, step=step)
        truth = record["truth"]
        detections = [i for i, _ in done.alerts]
        score = score_series(
            detections,
            truth["change_points"],
            unknown=truth.get("unknown_alerts", ()),
            decoys=truth.get("invalid_alerts", ()),
            ranges=truth.get("ranges"),
            tolerance=TOLERANCE,
        )
        totals.add(score, len(record["values"]))
        moved += done.learnt_threshold != min_change
    return totals, moved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="Replay the synthetic set instead of the real one.")
    parser.add_argument("--step", type=int, default=1, help="Revisions between two detection passes.")
    args = parser.parse_args()
    name = "perfherder_like_synthetic_dev" if args.synthetic else "mozilla_perfherder_real_dev"
    lines = gzip.decompress((DATA / f"{name}.jsonl.gz").read_bytes()).decode().splitlines()
    records = [json.loads(line) for line in lines]
    print(f"{name}: {len(records)} series, {sum(len(r['values']) for r in records)} points, step {args.step}")
    print("| min_relative_change | learning | precision | recall | F1 ±5 | false alarms | invalid hit | series moved |")
    print("|---|---|---|---|---|---|---|---|")
    for min_change in (0.01, 0.02):
        for learning in (False, True):
            t, moved = evaluate(records, min_change, learning=learning, step=args.step)
            print(
                f"| {min_change:.2f} | {'yes' if learning else 'no'} | {t.precision:.3f} | {t.recall:.3f} | "
                f"{t.f1:.3f} | {t.fp} | {t.decoys_hit}/{t.decoys} | {moved if learning else '-'} |"
            )


if __name__ == "__main__":
    main()
