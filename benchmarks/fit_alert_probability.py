"""Fit and cross-validate the alert probability model (``perfsheriff.stats.alert_probability``).

Usage: ``.venv/bin/python benchmarks/fit_alert_probability.py``

1. Candidates: the detector with loose thresholds on every real dev series (more
   negatives than the default detector gives); each is labelled by the data set's
   protocol (``scoring.py``: matched to a sheriff-confirmed change within ±5 of its
   alert range = 1, else 0).
2. Cross-validation, 4 folds by series: the model is fitted on three folds'
   candidates and applied to the fourth fold's *default* detections, the way it
   is used. Prints log loss, Brier score and the calibration table (predicted
   against observed, by bins) pooled over the held-out folds, with the spread
   of the share of true changes at >= 0.9 between folds.
3. Each feature's worth, held out: the log loss per fold with and without the
   last feature (Perfherder's rule agreeing), on the detections of the whole
   series and on *young* changes, each re-detected on the series cut 8 and 12
   revisions after it, the way a new change is first stored and alerted on.
4. The model fitted on all folds, as the literal to paste into
   ``alert_probability.MODEL``, and the calibration of the shipped model on the
   synthetic set (never used for fitting).
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize

sys.path.insert(0, str(Path(__file__).resolve().parent))

import itertools

from perfsheriff.model import Direction
from perfsheriff.stats import alert_probability
from perfsheriff.stats.alert_probability import LogisticModel
from perfsheriff.stats.changepoints import ChangePoint, DetectionSettings, detect
from scoring import Totals, fold_of, match, score_record

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LOOSE = DetectionSettings(
    min_confidence=0.99,
    min_relative_change=0.005,
    threshold=3.0,
    min_effect=0.3,
    burst_alpha=0.0,
    min_drift_length=0,
)
BINS = (0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001)
K = 4
L2 = 1.0


def load(name: str) -> list[dict[str, Any]]:
    with gzip.open(DATA / name, "rt") as handle:
        return [json.loads(line) for line in handle]


def evidence(values: np.ndarray, cp: ChangePoint, noise: float) -> tuple[float, ...]:
    """The model's features of one detected change (its windows are the detector's)."""
    return alert_probability.features(
        values,
        cp.index,
        start=cp.index - cp.n_before,
        stop=cp.index + cp.n_after,
        sigma=noise,
        relative=cp.relative_change,
        shift=cp.after - cp.before,
    )


def labelled(records: list[dict[str, Any]], settings: DetectionSettings) -> list[tuple[str, tuple[float, ...], int]]:
    """``(series id, features, label)`` of every change the detector finds with ``settings``."""
    rows = []
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        direction = Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER
        result = detect(values, direction=direction, settings=settings)
        truth = record["truth"]
        found = [cp.index for cp in result.change_points]
        hits = {d for d, _ in match(found, truth["change_points"], 5, truth.get("ranges"))}
        for cp in result.change_points:
            x = evidence(values, cp, result.noise)
            rows.append((record["id"], x, int(cp.index in hits)))
    return rows


def gated(
    records: list[dict[str, Any]], models: list[LogisticModel], threshold: float, n: int | None = None
) -> tuple[Totals, list[Totals]]:
    """The default detector's changes whose probability, by the model not fitted on their fold, passes ``threshold``.

    ``n``: the models read the first ``n`` features only. Returns the totals and the totals per fold.
    """
    totals, folds = Totals(), [Totals() for _ in range(K)]
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        direction = Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER
        result = detect(values, direction=direction)
        model = models[fold_of(record["id"], K)]
        kept = [cp.index for cp in result.change_points if model(evidence(values, cp, result.noise)[:n]) >= threshold]
        totals.add(score_record(kept, record), len(values))
        folds[fold_of(record["id"], K)].add(score_record(kept, record), len(values))
    return totals, folds


def fold_models(loose: list[tuple[str, tuple[float, ...], int]], n: int | None = None) -> list[LogisticModel]:
    """One model per fold, fitted on the other folds' loose candidates (their first ``n`` features)."""
    models = []
    for k in range(K):
        train = [(x[:n], y) for sid, x, y in loose if fold_of(sid, K) != k]
        models.append(fit(np.array([x for x, _ in train]), np.array([y for _, y in train], dtype=np.float64)))
    return models


def young(records: list[dict[str, Any]], after: int) -> list[tuple[str, tuple[float, ...], int]]:
    """Every default detection, found again on its series cut ``after`` revisions past it, labelled as on the whole."""
    rows = []
    for record in records:
        values = np.asarray(record["values"], dtype=np.float64)
        direction = Direction.LOWER_IS_BETTER if record["meta"]["lower_is_better"] else Direction.HIGHER_IS_BETTER
        truth = record["truth"]
        whole = [cp.index for cp in detect(values, direction=direction).change_points]
        hits = {d for d, _ in match(whole, truth["change_points"], 5, truth.get("ranges"))}
        for index in whole:
            if index + after > len(values):
                continue
            cut = values[: index + after]
            result = detect(cut, direction=direction)
            near = [cp for cp in result.change_points if abs(cp.index - index) <= 5]
            if near:
                cp = min(near, key=lambda c: abs(c.index - index))
                rows.append((record["id"], evidence(cut, cp, result.noise), int(index in hits)))
    return rows


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    eps = 1e-12
    return float(-np.mean(y * np.log(p + eps) + (1 - y) * np.log(1 - p + eps)))


def held_out_losses(
    loose: list[tuple[str, tuple[float, ...], int]], sets: dict[str, list[tuple[str, tuple[float, ...], int]]], n: int
) -> dict[str, list[float]]:
    """Log loss per fold of the model on the first ``n`` features, fitted on the other folds' loose candidates."""
    losses: dict[str, list[float]] = {name: [] for name in sets}
    for k in range(K):
        train = [(x[:n], y) for sid, x, y in loose if fold_of(sid, K) != k]
        model = fit(np.array([x for x, _ in train]), np.array([y for _, y in train], dtype=np.float64))
        for name, rows in sets.items():
            held = [(x[:n], y) for sid, x, y in rows if fold_of(sid, K) == k]
            p = np.array([model(x) for x, _ in held])
            losses[name].append(log_loss(p, np.array([y for _, y in held], dtype=np.float64)))
    return losses


def fit(x: np.ndarray, y: np.ndarray) -> LogisticModel:
    """L2-penalised logistic regression on standardised features (penalty ``L2`` on the weights)."""
    means, scales = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = np.c_[np.ones(len(x)), (x - means) / scales]

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        eta = z @ w
        p = 1.0 / (1.0 + np.exp(-eta))
        grad = z.T @ (p - y)
        grad[1:] += L2 * w[1:]
        return float(np.sum(np.logaddexp(0.0, eta) - y * eta) + 0.5 * L2 * np.sum(w[1:] ** 2)), grad

    w = minimize(loss, np.zeros(z.shape[1]), jac=True, method="L-BFGS-B").x
    return LogisticModel(
        round(float(w[0]), 4),
        tuple(round(float(v), 4) for v in w[1:]),
        tuple(round(float(v), 4) for v in means),
        tuple(round(float(v), 4) for v in scales),
    )


def calibration(p: np.ndarray, y: np.ndarray, title: str) -> None:
    print(f"\n#### {title}\n")
    print("| predicted | alerts | mean predicted | observed true |")
    print("|---|---|---|---|")
    for lo, hi in itertools.pairwise(BINS):
        inside = (p >= lo) & (p < hi)
        if inside.any():
            print(f"| {lo:.1f}–{min(hi, 1.0):.1f} | {inside.sum()} | {p[inside].mean():.2f} | {y[inside].mean():.2f} |")
    print(f"\nlog loss {log_loss(p, y):.3f}, Brier {np.mean((p - y) ** 2):.3f}, base rate {y.mean():.2f}, n {len(y)}")


def main() -> None:
    real = load("mozilla_perfherder_real_dev.jsonl.gz")
    loose = labelled(real, LOOSE)
    default = labelled(real, DetectionSettings())
    ps, ys, high_share, models = [], [], [], []
    for k in range(K):
        train = [(x, y) for sid, x, y in loose if fold_of(sid, K) != k]
        model = fit(np.array([x for x, _ in train]), np.array([y for _, y in train], dtype=np.float64))
        models.append(model)
        held = [(x, y) for sid, x, y in default if fold_of(sid, K) == k]
        p = np.array([model(x) for x, _ in held])
        y = np.array([y for _, y in held], dtype=np.float64)
        ps.append(p)
        ys.append(y)
        if (p >= 0.9).any():
            high_share.append(float(y[p >= 0.9].mean()))
    p_all, y_all = np.concatenate(ps), np.concatenate(ys)
    calibration(p_all, y_all, f"real dev series, default detections, held-out folds ({K} folds by series)")
    print(
        f"share true at >= 0.9 per fold: {', '.join(f'{s:.2f}' for s in high_share)} "
        f"(mean {np.mean(high_share):.2f}, sd {np.std(high_share, ddof=1):.2f})"
    )
    print("\nAlerting only above a probability, each fold scored with the model fitted on the others (±5):\n")
    print("| min_probability | precision | recall | F1 | decoys hit | F1 per fold | without the last feature |")
    print("|---|---|---|---|---|---|---|")
    n_fewer = len(alert_probability.FEATURES) - 1
    fewer = fold_models(loose, n_fewer)
    for threshold in (0.0, 0.3, 0.5, 0.7):
        t, folds = gated(real, models, threshold)
        _, before = gated(real, fewer, threshold, n_fewer)
        print(
            f"| {threshold:.1f} | {t.precision:.3f} | {t.recall:.3f} | {t.f1:.3f} | {t.decoys_hit}/{t.decoys} "
            f"| {' '.join(f'{f.f1:.3f}' for f in folds)} | {' '.join(f'{f.f1:.3f}' for f in before)} |"
        )
    sets = {"whole series": default, "cut 8 after": young(real, 8), "cut 12 after": young(real, 12)}
    n_features = len(alert_probability.FEATURES)
    without, with_all = held_out_losses(loose, sets, n_features - 1), held_out_losses(loose, sets, n_features)
    print(f"\nHeld-out log loss per fold, without and with {alert_probability.FEATURES[-1]}:\n")
    print("| detections | n | without | with |")
    print("|---|---|---|---|")
    for name, rows in sets.items():
        a, b = without[name], with_all[name]
        print(f"| {name} | {len(rows)} | {' '.join(f'{v:.3f}' for v in a)} | {' '.join(f'{v:.3f}' for v in b)} |")
    final = fit(np.array([x for _, x, _ in loose]), np.array([y for _, _, y in loose], dtype=np.float64))
    print(f"\nmodel fitted on all {len(loose)} loose candidates ({sum(y for *_, y in loose)} true):\n{final!r}")
    print(f"the shipped model is this one: {final == alert_probability.MODEL}")
    shipped = alert_probability.MODEL
    synthetic = labelled(load("perfherder_like_synthetic_dev.jsonl.gz"), DetectionSettings())
    p = np.array([shipped(x) for _, x, _ in synthetic])
    calibration(p, np.array([y for *_, y in synthetic], dtype=np.float64), "synthetic dev series, shipped model")
    p = np.array([shipped(x) for _, x, _ in default])
    calibration(p, np.array([y for *_, y in default], dtype=np.float64), "real dev series, shipped model (in-sample)")


if __name__ == "__main__":
    main()
