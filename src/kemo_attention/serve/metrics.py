"""``GET /metrics``: what the server does, in Prometheus' text format (prometheus-client).

Each app has its own :class:`~prometheus_client.CollectorRegistry` (never the library's global
one), so several apps in one process (tests, a server beside a dashboard) count separately.

Requests are counted per *route template* (``/participants/{pcode}/records``, not the path
with the code in it: one series per route, however many participants) and status class
(``2xx`` ... ``5xx``); a path no route matches is ``<unmatched>``, so random URLs cannot grow
the series without bound. The store's size and the bundle served are read when the metrics
are scraped, not counted.

**Several worker processes** (``serve --workers N``): each worker keeps its own counts and a
scrape reaches one of them, chosen by the operating system. prometheus-client's multiprocess
mode is not used (it needs its directory set before the library is imported and does not
cover the scrape-time gauges); scrape a server of one worker for complete counts, or run one
single-worker server per port and scrape each.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, InfoMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.routing import Match

UNMATCHED = "<unmatched>"
# Ingest of a 60-s batch takes about a millisecond, a raw prediction tens of milliseconds:
# the library's default buckets (from 5 ms) would put all ingest in the first one.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class ServeMetrics:
    """The counters of one app. ``state`` returns the :class:`~kemo_attention.serve.reload.Serving`
    served now (or None before start-up), read at scrape time for the store size and bundle."""

    def __init__(self, state: Callable[[], Any]):
        self.registry = CollectorRegistry(auto_describe=True)
        self._state = state
        labels = ("route", "method", "status")
        self.requests = Counter("kemo_http_requests", "HTTP requests answered, by route template and status class",
                                labels, registry=self.registry)
        self.latency = Histogram("kemo_http_request_duration_seconds", "Time from request to the end of the response",
                                 labels, buckets=LATENCY_BUCKETS, registry=self.registry)
        self.server_errors = Counter("kemo_http_server_errors", "Answers with a 5xx status (server bugs, store down)",
                                     ("route", "method"), registry=self.registry)
        self.rows_stored = Counter("kemo_live_rows_stored", "Raw rows stored by live ingest, by data type",
                                   ("data_type",), registry=self.registry)
        self.rows_duplicate = Counter("kemo_live_rows_duplicate", "Raw rows received again (equal to a stored row) "
                                      "and not stored, by data type", ("data_type",), registry=self.registry)
        self.predictions = Counter("kemo_predictions", "Probabilities served, by route (one per row for /predict)",
                                   ("route",), registry=self.registry)
        self.reloads = Counter("kemo_bundle_reloads", "Bundle reloads (SIGHUP or POST /admin/reload), by outcome",
                               ("outcome",), registry=self.registry)
        self.registry.register(_ScrapeTime(state))

    # ------------------------------------------------------------------ counting
    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        status_class = f"{status // 100}xx"
        self.requests.labels(route, method, status_class).inc()
        self.latency.labels(route, method, status_class).observe(seconds)
        if status >= 500:
            self.server_errors.labels(route, method).inc()

    def count_ingest(self, answer: dict[str, Any]) -> None:
        """From the answer of a records batch (``stored`` and ``duplicates`` per data type)."""
        for data_type, n in answer.get("stored", {}).items():
            if n:
                self.rows_stored.labels(data_type).inc(n)
        for data_type, n in answer.get("duplicates", {}).items():
            if n:
                self.rows_duplicate.labels(data_type).inc(n)

    def count_predictions(self, route: str, n: int = 1) -> None:
        self.predictions.labels(route).inc(n)

    def count_reload(self, outcome: Any) -> None:
        self.reloads.labels("loaded" if outcome.loaded else "refused").inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text a scrape gets, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class _ScrapeTime:
    """Gauges read when scraped: the store's size on disk and which bundle is served."""

    def __init__(self, state: Callable[[], Any]):
        self._state = state

    def describe(self):
        return []  # what collect() yields depends on the state; nothing to check at registration

    def collect(self):
        serving = self._state()
        if serving is None:
            return
        info = InfoMetricFamily("kemo_bundle", "The bundle served now (its SHA-256 changes with a reload)")
        info.add_metric([], {"model": serving.service.model, "bundle_version": serving.service.version,
                             "sha256": serving.sha256})
        yield info
        if serving.live is not None:
            size = GaugeMetricFamily("kemo_store_size_bytes", "The live store on disk (SQLite: file, WAL and index)")
            size.add_metric([], float(serving.live.store.size_bytes()))
            yield size


def route_template(scope: dict[str, Any]) -> str:
    """The path pattern of the route that served ``scope``, or :data:`UNMATCHED`.

    After routing, the route is in ``scope["route"]``; a request answered before routing (a
    body over the limit: 413) or by none (404, 405) is matched here against the app's routes."""
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str):
        return path
    full, partial = _match(getattr(scope.get("app"), "routes", ()), scope)
    return full or partial or UNMATCHED


def _match(routes, scope) -> tuple[str | None, str | None]:
    """(template of the route matching path and method, of the first matching the path only)."""
    partial = None
    for route in routes:
        match, _ = route.matches(scope)
        if match is Match.NONE:
            continue
        # FastAPI keeps an included router as one entry that matches for any of its routes
        inner = getattr(route, "original_router", None)
        if inner is not None:
            full, inner_partial = _match(inner.routes, scope)
            if full:
                return full, None
            partial = partial or inner_partial
            continue
        path = getattr(route, "path", None)
        if match is Match.FULL and path:
            return path, None
        partial = partial or path  # the path matches, the method does not (405)
    return None, partial


class MetricsMiddleware:
    """Time every HTTP request and count it under its route template and status. Outermost,
    so that it sees the 500s and 413s the inner middlewares answer."""

    def __init__(self, app, metrics: ServeMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        started = time.perf_counter()
        status = 500  # what the client gets if the app fails before answering

        async def send_and_note(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.metrics.observe(route_template(scope), scope.get("method", ""), status, time.perf_counter() - started)


def get_metrics(request: Request) -> ServeMetrics:
    return request.app.state.metrics
