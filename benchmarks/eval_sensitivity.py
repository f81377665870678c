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

Hand-made alerts (``--handmade``): the sheriff also makes an alert by hand for a confirmed change no stored
alert is near (within the tolerance) once the passes are ``LAG`` revisions past it, measured as
``service.handmade`` measures it (``measure_step`` on up to 60 revisions a side, stopping at the stored
alerts either side). ``real`` does so only for the changes Mozilla's sheriffs made alerts for by hand (the
labelled changes where Perfherder did not fire); ``every-miss`` for every labelled change the detector has
missed by then. A hand-made alert is the sheriff's, not the detector's: it is not scored as a detection,
but like a stored alert it keeps the detector from alerting on the same change again; with learning it
makes its series more sensitive (``learning``: ``yes``), or counts only as a confirmation, without lowering
the threshold to just below its change (``as confirmation``, to see what that part of the rule adds).

Run: ``.venv/bin/python benchmarks/eval_sensitivity.py [--synthetic] [--step N] [--handmade MODE]``.
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
from perfsheriff.stats.changepoints import DetectionSettings, detect, measure_step
from perfsheriff.triage.sensitivity import Judged, learn
from scoring import Totals, alert_range, distance, score_series

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
HORIZON = 400
TOLERANCE = 5
#: Revisions past a change's range before the simulated sheriff, seeing it missed, makes an alert by hand.
LAG = 10
HANDMADE = ("none", "real", "every-miss")


@dataclass
class Replay:
    """The alerts stored for one series, and what the simulated sheriff said about them."""

    alerts: list[tuple[int, bool]] = field(default_factory=list)  # (index, is_regression)
    judged: list[Judged] = field(default_factory=list)
    learnt_threshold: float = 0.0
    handmade: list[tuple[int, bool]] = field(default_factory=list)  # the sheriff's alerts: (index, is_regression)


def _verdict(index: int, truth: dict[str, Any]) -> bool | None:
    if any(distance(index, t, truth.get("ranges")) <= TOLERANCE for t in truth["change_points"]):
        return True
    if any(abs(index - u) <= TOLERANCE for u in truth.get("unknown_alerts", ())):
        return None
    return False


def pointed_out(truth: dict[str, Any], mode: str) -> list[int]:
    """The labelled changes the simulated sheriff makes an alert for by hand when no alert covers them."""
    if mode == "real":
        return [t for t in truth["change_points"] if t not in truth.get("perfherder_alerts", ())]
    return list(truth["change_points"]) if mode == "every-miss" else []


def replay(
    record: dict[str, Any],
    settings: DetectionSettings,
    *,
    learning: bool,
    step: int,
    handmade: str = "none",
    cap: bool = True,
) -> Replay:
    values, truth = record["values"], record["truth"]
    lower = record.get("meta", {}).get("lower_is_better", True)
    direction = Direction.LOWER_IS_BETTER if lower else Direction.HIGHER_IS_BETTER
    done = Replay(learnt_threshold=settings.min_relative_change)
    waiting = pointed_out(truth, handmade)
    for end in [*range(2 * settings.min_segment, len(values), step), len(values)]:
        start = max(0, end - HORIZON)
        threshold = learn(done.judged).apply(settings.min_relative_change) if learning else None
        used = replace(settings, min_relative_change=threshold) if threshold is not None else settings
        for cp in detect(values[start:end], direction=direction, settings=used).change_points:
            index = start + cp.index
            known = done.alerts + done.handmade
            if any(r == cp.is_regression and abs(i - index) <= settings.min_segment for i, r in known):
                continue
            done.alerts.append((index, cp.is_regression))
            verdict = _verdict(index, truth)
            if verdict is not None and math.isfinite(cp.relative_change):
                done.judged.append(Judged(verdict, cp.relative_change))
        for t in [t for t in waiting if alert_range(t, truth.get("ranges"))[1] + LAG <= end]:
            waiting.remove(t)
            if not any(distance(i, t, truth.get("ranges")) <= TOLERANCE for i, _ in done.alerts + done.handmade):
                _make_by_hand(done, values[:end], t, direction, cap=cap)
    done.learnt_threshold = learn(done.judged).apply(settings.min_relative_change)
    return done


def _make_by_hand(done: Replay, values: list[float], at: int, direction: Direction, *, cap: bool) -> None:
    """The sheriff's alert at ``at``, measured on the data up to the stored alerts either side (``cap``: judged
    as a hand-made alert; else as a plain confirmation)."""
    marks = sorted(i for i, _ in done.alerts + done.handmade)
    lo = max((i for i in marks if i <= at - 1), default=0)
    hi = min((i for i in marks if i > at), default=len(values))
    lo, hi = max(lo, at - 60), min(hi, at + 60)
    measured = measure_step(values[lo:hi], at - lo, direction=direction)
    if measured is None or not math.isfinite(measured.point.relative_change) or not measured.point.relative_change:
        return
    done.handmade.append((at, measured.point.is_regression))
    done.judged.append(Judged(True, measured.point.relative_change, handmade=cap))


def evaluate(
    records: list[dict[str, Any]],
    min_change: float,
    *,
    learning: bool,
    step: int,
    handmade: str = "none",
    cap: bool = True,
) -> tuple[Totals, int, int]:
    totals, moved, made = Totals(), 0, 0
    settings = DetectionSettings(min_relative_change=min_change)
    for record in records:
        done = replay(record, settings, learning=learning, step=step, handmade=handmade, cap=cap)
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
        made += len(done.handmade)
    return totals, moved, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--synthetic", action="store_true", help="Replay the synthetic set instead of the real one.")
    parser.add_argument("--step", type=int, default=1, help="Revisions between two detection passes.")
    parser.add_argument(
        "--handmade", choices=HANDMADE, default="none", help="Which missed changes the sheriff makes alerts for."
    )
    args = parser.parse_args()
    name = "perfherder_like_synthetic_dev" if args.synthetic else "mozilla_perfherder_real_dev"
    lines = gzip.decompress((DATA / f"{name}.jsonl.gz").read_bytes()).decode().splitlines()
    records = [json.loads(line) for line in lines]
    print(
        f"{name}: {len(records)} series, {sum(len(r['values']) for r in records)} points, step {args.step}, "
        f"hand-made alerts: {args.handmade}"
    )
    print(
        "| min_relative_change | learning | precision | recall | F1 ±5 | false alarms | invalid hit | series moved "
        "| hand-made |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    variants = [("no", False, True), ("yes", True, True)]
    if args.handmade != "none":
        variants.insert(1, ("as confirmation", True, False))
    for min_change in (0.01, 0.02):
        for label, learning, cap in variants:
            t, moved, made = evaluate(
                records, min_change, learning=learning, step=args.step, handmade=args.handmade, cap=cap
            )
            print(
                f"| {min_change:.2f} | {label} | {t.precision:.3f} | {t.recall:.3f} | "
                f"{t.f1:.3f} | {t.fp} | {t.decoys_hit}/{t.decoys} | {moved if learning else '-'} | {made} |"
            )


if __name__ == "__main__":
    main()
