"""Prometheus metrics of one server process: request counts and latencies, uploads, claims, and
gauges read from the database at scrape time (jobs, runs, alerts)."""

from __future__ import annotations

import time
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from perfsheriff.service.views.health import gauges


class _StoreCollector(Collector):
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def collect(self) -> Iterator[GaugeMetricFamily]:
        values = gauges(self.engine)
        families = {
            "jobs": GaugeMetricFamily(
                "perfsheriff_jobs", "Jobs by machine class and state", labels=["machine_class", "state"]
            ),
            "runs": GaugeMetricFamily("perfsheriff_runs", "Stored runs by status", labels=["status"]),
            "alerts": GaugeMetricFamily("perfsheriff_alerts", "Alerts by kind", labels=["kind"]),
        }
        for name, family in families.items():
            for labels, value in values[name].items():
                family.add_metric(list(labels), value)
            yield family


class Metrics:
    def __init__(self, engine: Engine) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = Counter(
            "perfsheriff_http_requests", "HTTP requests", ["method", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "perfsheriff_http_request_seconds", "HTTP request latency", ["route"], registry=self.registry
        )
        self.uploads = Counter("perfsheriff_uploads", "Run uploads", ["outcome"], registry=self.registry)
        self.claims = Counter("perfsheriff_job_claims", "Job claims", ["outcome"], registry=self.registry)
        self.registry.register(_StoreCollector(engine))


class MetricsMiddleware:
    """Counts every request by its route template (not its raw path, which would explode the labels)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = scope.get("route")
            name = getattr(route, "path", "unmatched")
            self.metrics.requests.labels(scope["method"], name, str(status)).inc()
            self.metrics.latency.labels(name).observe(time.perf_counter() - started)
