"""Measure the dashboard: server time per page, and time to first chart paint in Chromium.

Targets (issue: dashboard): p95 server time under 200 ms per page; the first paint of a
100,000-revision series' chart in Chromium under 1 s, and panning without stutter.

    .venv/bin/python benchmarks/bench_dashboard.py                 # 10.5 million samples stored, SQLite
    .venv/bin/python benchmarks/bench_dashboard.py --backend postgresql     # a scratch database, dropped after
    .venv/bin/python benchmarks/bench_dashboard.py --revisions 20000 --fill-series 100 --requests 20

One series gets a sample set per revision of a fake linear history (a 10 % step 150 revisions
before the end, so detection leaves one alert and one summary); beside it ``--fill-series``
series (2,000) of ``--samples`` samples (5) at each of the newest ``--fill-revisions`` revisions
(1,000), one in fifty with a step, so that 10 million samples are stored with their alerts and
summaries; a release tag 300 revisions before the tip gives the overview its drift. All of it is
stored in-process through ``ingest`` and the detection pass; then a real ``perfsheriff serve``
answers the pages. Server time is the wall time of each request from this
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

from bench_api import NOW, scratch_database, serve
from bench_store import fake_history, setup
from perfsheriff.model import BenchmarkResult, ResultSet
from perfsheriff.service.analysis.detection import DetectionPolicy, detect_stored
from perfsheriff.service.intake import ingest
from perfsheriff.store import database, records

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


def store_fill(engine: Engine, targets: list[ingest.Target], series: int, revisions: int, samples: int) -> int:
    """``series`` series over the newest ``revisions`` targets, one in fifty stepping up 8 % 200 revisions
    before the end; returns the number of sample values stored."""
    rng = np.random.default_rng(12)
    base = rng.uniform(1.0, 100.0, series)
    stepping = np.arange(series) % 50 == 7
    names = [f"fill_{i:05d}" for i in range(series)]
    chosen = targets[-revisions:]
    stored = 0
    for index, target in enumerate(chosen):
        level = base * np.where(stepping & (index >= len(chosen) - 200), 1.08, 1.0)
        values = level[:, None] * (1 + 0.01 * rng.standard_normal((series, samples)))
        results = ResultSet(
            "perfsheriff", tuple(BenchmarkResult(names[i], "ms", tuple(values[i].tolist())) for i in range(series))
        )
        with engine.begin() as conn:
            ingest.store_result_set(
                conn, target, results, source="bench", content_hash=f"fill-{target.revision}", now=NOW
            )
        stored += series * samples
    return stored


def tag_release(engine: Engine, targets: list[ingest.Target], back: int) -> None:
    with engine.begin() as conn:
        target = targets[-back]
        records.store_tags(conn, target.project_id, {"v1.0": target.revision_id})


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
    parser.add_argument("--fill-series", type=int, default=2000, help="series beside the long one")
    parser.add_argument("--fill-revisions", type=int, default=1000, help="newest revisions the fill series cover")
    parser.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--requests", type=int, default=30, help="requests per page")
    parser.add_argument("--loads", type=int, default=5, help="page loads in Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, scratch_database(args.backend, Path(tmp)) as db_url:
        folder = Path(tmp)
        engine = database.create_engine(db_url)
        database.upgrade(engine)
        history = fake_history(args.revisions)
        began = time.perf_counter()
        targets, _ = setup(engine, history)
        stored = store_series(engine, targets, args.samples)
        fill = min(args.fill_revisions, args.revisions)
        filled = store_fill(engine, targets, args.fill_series, fill, args.samples) if args.fill_series else 0
        tag_release(engine, targets, min(300, args.revisions))
        stored_at = time.perf_counter()
        found = detect_stored(engine, DetectionPolicy(), now=datetime.now(UTC))
        print(
            f"set-up: {args.revisions:,} revisions; one series of {stored:,} samples and {args.fill_series:,} of "
            f"{fill:,} revisions x {args.samples}: {stored + filled:,} samples stored in {stored_at - began:.0f} s; "
            f"detection pass {time.perf_counter() - stored_at:.0f} s, {len(found.new_alert_ids)} alerts "
            f"({engine.dialect.name})"
        )
        engine.dispose()
        with serve(db_url, folder) as server, httpx.Client(base_url=server.url) as http:
            series = http.get("/api/v1/series", params={"benchmark": "long"}).json()["series"]
            summaries = http.get("/api/v1/summaries", params={"limit": 1}).json()["summaries"]
            sid = next(s["id"] for s in series if s["benchmark"] == "long")
            mid = args.revisions // 2
            recent = history[-min(500, args.revisions)].sha
            pages = {
                "/ (overview)": "/",
                "/summaries": "/summaries",
                "/summaries?queue=code": "/summaries?queue=code&machine=bench-box",
                "/series/{id} (page)": f"/series/{sid}",
                "/series/{id}/data (whole)": f"/series/{sid}/data?max_points=3200",
                "/series/{id}/data (zoomed)": f"/series/{sid}/data?max_points=3200&start={mid}&end={mid + 5000}",
                "/revision/{sha}": f"/revision/{history[mid].sha}",
                "/compare (every series)": f"/compare?base={recent}&head={history[-1].sha}",
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
