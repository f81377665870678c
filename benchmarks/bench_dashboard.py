"""Measure the dashboard: server time per page, and time to first chart paint in Chromium.

Targets (issue: dashboard): p95 server time under 200 ms per page; the first paint of a
100,000-revision series' chart in Chromium under 1 s, and panning without stutter.

    .venv/bin/python benchmarks/bench_dashboard.py                 # 100,000 revisions x 5 samples, SQLite
    .venv/bin/python benchmarks/bench_dashboard.py --revisions 20000 --requests 20

One series gets a sample set per revision of a fake linear history (a 10 % step 150 revisions
before the end, so detection leaves one alert and one summary), stored in-process; then a real
``perfsheriff serve`` answers the pages. Server time is the wall time of each request from this
process (client and server share the machine); "first" is a page's first request, which for a
series' data reads all its samples (later requests reuse them until the series changes).
Chromium is Debian's (``/usr/bin/chromium``) driven by Playwright; the page sets the performance
mark ``psf-chart-painted`` when uPlot first draws, and ``psf-chart-refetched`` when a zoomed
range has been fetched and drawn.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import numpy as np
from sqlalchemy.engine import Engine

from bench_api import NOW, serve
from bench_store import fake_history, setup
from perfsheriff.model import BenchmarkResult, ResultSet
from perfsheriff.service import ingest
from perfsheriff.service.detection import DetectionPolicy, detect_stored
from perfsheriff.store import database

CHROMIUM = Path("/usr/bin/chromium")


def store_series(engine: Engine, targets: list[ingest.Target], samples: int) -> int:
    """One series with a 10 % step near its end; returns the number of samples stored."""
    rng = np.random.default_rng(11)
    step_at = len(targets) - 150  # inside the detection horizon (the newest 400 revisions)
    stored = 0
    for start in range(0, len(targets), 2000):
        with engine.begin() as conn:
            for index, target in enumerate(targets[start : start + 2000], start):
                level = 110.0 if index >= step_at else 100.0
                values = tuple(float(v) for v in level * (1 + 0.01 * rng.standard_normal(samples)))
                results = ResultSet("perfsheriff", (BenchmarkResult("long", "ms", values),))
                stored += ingest.store_result_set(
                    conn, target, results, source="bench", content_hash=f"long-{target.revision}", now=NOW
                ).samples
    return stored


def percentiles(times: list[float]) -> tuple[float, float]:
    ordered = sorted(times)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000


def server_times(url: str, pages: dict[str, str], requests: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as http:
        for name, path in pages.items():
            began = time.perf_counter()
            answer = http.get(path)
            first = (time.perf_counter() - began) * 1000
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            times = []
            for _ in range(requests):
                began = time.perf_counter()
                http.get(path)
                times.append(time.perf_counter() - began)
            p50, p95 = percentiles(times)
            print(
                f"  {name:28s} first {first:7.1f} ms   p50 {p50:7.1f} ms   p95 {p95:7.1f} ms   "
                f"({len(answer.content):,} bytes)"
            )


def chromium_times(url: str, series_id: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        paints, refetches = [], []
        for _ in range(runs):
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.goto(f"{url}/series/{series_id}")
            page.wait_for_selector('#chart[data-painted="1"]', timeout=30_000)
            paints.append(page.evaluate("performance.getEntriesByName('psf-chart-painted')[0].startTime"))
            for action in ("zoom-in", "pan-left", "pan-right", "zoom-in", "pan-left"):
                before = page.evaluate("performance.now()")
                done = page.evaluate("performance.getEntriesByName('psf-chart-refetched').length")
                page.click(f'[data-chart-action="{action}"]')
                page.wait_for_function(
                    "n => performance.getEntriesByName('psf-chart-refetched').length > n", arg=done, timeout=30_000
                )
                marks = page.evaluate("performance.getEntriesByName('psf-chart-refetched').map(m => m.startTime)")
                refetches.append(marks[-1] - before)
            page.close()
        browser.close()
    print(
        f"  first chart paint (navigation start -> drawn), {runs} loads: median {statistics.median(paints):.0f} ms, "
        f"max {max(paints):.0f} ms"
    )
    print(
        f"  zoom/pan -> range re-fetched and drawn (incl. 120 ms debounce), {len(refetches)} moves: "
        f"median {statistics.median(refetches):.0f} ms, max {max(refetches):.0f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--revisions", type=int, default=100_000)
    parser.add_argument("--samples", type=int, default=5, help="samples per revision")
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument("--loads", type=int, default=5, help="page loads in Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        db_url = f"sqlite:///{folder / 'bench.db'}"
        engine = database.create_engine(db_url)
        database.upgrade(engine)
        history = fake_history(args.revisions)
        began = time.perf_counter()
        targets, _ = setup(engine, history)
        stored = store_series(engine, targets, args.samples)
        found = detect_stored(engine, DetectionPolicy(drift=None), now=datetime.now(UTC))
        print(
            f"set-up: {args.revisions:,} revisions, one series of {stored:,} samples, "
            f"{len(found.new_alert_ids)} alert(s), in {time.perf_counter() - began:.1f} s (SQLite)"
        )
        engine.dispose()
        with serve(db_url, folder) as server, httpx.Client(base_url=server.url) as http:
            (series,) = http.get("/api/v1/series").json()["series"]
            summaries = http.get("/api/v1/summaries").json()["summaries"]
            sid = series["id"]
            mid = args.revisions // 2
            pages = {
                "/ (overview)": "/",
                "/summaries": "/summaries",
                "/series/{id} (page)": f"/series/{sid}",
                "/series/{id}/data (whole)": f"/series/{sid}/data?max_points=3200",
                "/series/{id}/data (zoomed)": f"/series/{sid}/data?max_points=3200&start={mid}&end={mid + 5000}",
                "/revision/{sha}": f"/revision/{history[mid].sha}",
                "/compare": f"/compare?base={history[mid].sha}&head={history[-1].sha}",
            }
            if summaries:
                pages["/summaries/{id}"] = f"/summaries/{summaries[0]['id']}"
            print(f"server time per page, {args.requests} requests each:")
            server_times(server.url, pages, args.requests)
            if CHROMIUM.exists():
                print(f"Chromium ({CHROMIUM}), {args.revisions:,}-revision series, window 1600 px:")
                chromium_times(server.url, sid, args.loads)
            else:
                print(f"Chromium is not installed at {CHROMIUM}: no paint times", file=sys.stderr)


if __name__ == "__main__":
    main()
