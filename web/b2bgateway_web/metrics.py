"""``GET /metrics``: the gateway's figures in Prometheus' text format, with the official client.

Two kinds of figures:

- **measured** by the processes as they work (processor call latency per hook, webhooks accepted
  and refused, the worker's reconciliation results and deliveries): the core reports them through
  :mod:`b2bgateway.instruments`, implemented here with the client's counters and histograms.
  Under ``serve`` every gunicorn worker (and a ``b2bgateway worker`` given the same
  ``PROMETHEUS_MULTIPROC_DIR``) writes its own files (:mod:`b2bgateway_web.multiprocess`), and a
  scrape adds them up, whichever worker answers it;
- **counted** in the database at scrape time (payments by status, method and processor;
  outbound events pending and dead; the reconciliation backlog) by
  :func:`b2bgateway.metrics_queries.read_gauges`, a few indexed counts.

Off unless ``metrics_token`` is configured (404); then only for ``Authorization: Bearer <token>``
(401 otherwise). See docs/operations.md.
"""

from __future__ import annotations

import atexit
import hmac
import logging
import os
from collections.abc import Iterable, Iterator, Mapping

from flask import Blueprint, Flask, Response, request
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import choose_encoder
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

from b2bgateway.errors import NotFound, Unauthorized
from b2bgateway.gateway import Gateway
from b2bgateway.metrics_queries import read_gauges
from b2bgateway_web import multiprocess
from b2bgateway_web.state import gateway

__all__ = [
    "INSTRUMENTS",
    "PrometheusInstruments",
    "bp",
    "init_app",
    "observe_worker",
    "record_worker_pass",
]

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)

#: This package's measured figures (not the client's global registry: nothing else is exported).
REGISTRY = CollectorRegistry()
PROCESSOR_CALLS = Histogram(
    "b2bgateway_processor_call_duration_seconds",
    "Processor hook calls (charge, retrieve, cancel, refund, webhook parsing) and their duration.",
    ["processor", "hook", "result"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0),
    registry=REGISTRY,
)
WEBHOOKS = Counter(
    "b2bgateway_webhooks",
    "Processors' notifications: accepted (reason: the outcome) or refused (reason: error code).",
    ["processor", "result", "reason"],
    registry=REGISTRY,
)
RECONCILIATION = Counter(
    "b2bgateway_reconciliation",
    "Payments and refunds the worker's reconciliation examined, by what became of them.",
    ["result"],
    registry=REGISTRY,
)
DELIVERIES = Counter(
    "b2bgateway_outbound_deliveries",
    "Outbound events the worker tried to deliver: delivered, to retry, or dead.",
    ["result"],
    registry=REGISTRY,
)
_HOOK_PREFIX = "b2bgateway_"


class PrometheusInstruments:
    """:class:`b2bgateway.instruments.Instruments` with this module's counters."""

    def processor_call(self, processor: str, hook: str, seconds: float, error: bool) -> None:
        result = "error" if error else "ok"
        PROCESSOR_CALLS.labels(processor, hook.removeprefix(_HOOK_PREFIX), result).observe(seconds)

    def webhook(self, processor: str, accepted: bool, reason: str) -> None:
        WEBHOOKS.labels(processor, "accepted" if accepted else "refused", reason).inc()


INSTRUMENTS = PrometheusInstruments()


def init_app(app: Flask, gw: Gateway) -> None:
    """Measure this app's processor calls and webhooks, and serve ``/metrics``."""
    gw.plugins.observe_with(INSTRUMENTS)
    app.register_blueprint(bp)


def observe_worker(gw: Gateway) -> None:
    """For ``b2bgateway worker``: measure its processor calls; with ``PROMETHEUS_MULTIPROC_DIR``
    set (the server's), its samples join the server's ``/metrics``."""
    multiprocess.prepare_worker()
    gw.plugins.observe_with(INSTRUMENTS)
    atexit.register(multiprocess.process_exit, os.getpid())


def record_worker_pass(
    reconciled: Mapping[str, int], delivered: int, retried: int, dead: int
) -> None:
    """What one pass of ``b2bgateway worker`` did (its counts, as the worker logs them)."""
    for result, count in reconciled.items():
        if result != "examined" and count:
            RECONCILIATION.labels(result).inc(count)
    for result, count in (("delivered", delivered), ("retried", retried), ("dead", dead)):
        if count:
            DELIVERIES.labels(result).inc(count)


class _DatabaseCollector:
    """The figures counted in the database, read once per scrape."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "b2bgateway_database_up", "1 when this scrape could read the database, else 0."
        )
        try:
            with self.gw.store.read() as session:
                gauges = read_gauges(session, self.gw.plugins.processor_names)
        except Exception as exc:  # a scrape must answer, with what it has, when the DB does not
            log.warning("metrics: database unavailable: %s", type(exc).__name__)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        payments = GaugeMetricFamily(
            "b2bgateway_payments",
            "Payments by status, payment method and processor.",
            labels=["status", "method", "processor"],
        )
        for (status, method, processor), count in sorted(gauges.payments.items()):
            payments.add_metric([status, method, processor], count)
        yield payments
        outbound = GaugeMetricFamily(
            "b2bgateway_outbound_events",
            "Outbound events to merchants' notification_url: pending (to deliver or retry) and "
            "dead (given up: b2bgateway outbox replay).",
            labels=["state"],
        )
        for state, count in gauges.outbox.items():
            outbound.add_metric([state], count)
        yield outbound
        backlog = GaugeMetricFamily(
            "b2bgateway_reconciliation_backlog",
            "Payments waiting for an answer (processing: the processor's; requires_action: the "
            "customer's), which the worker's reconciliation settles.",
            labels=["status"],
        )
        for status, count in gauges.waiting().items():
            backlog.add_metric([status], count)
        yield backlog
        yield GaugeMetricFamily(
            "b2bgateway_reconciliation_oldest_waiting_seconds",
            "Seconds since the longest-waiting payment last changed (0: none waits).",
            value=gauges.oldest_waiting_seconds,
        )


class _Scrape:
    """What one scrape exports: the measured figures of every process, then the database's."""

    def __init__(
        self, sources: Iterable[CollectorRegistry | MultiProcessCollector | _DatabaseCollector]
    ) -> None:
        self.sources = list(sources)

    def collect(self) -> Iterator[Metric]:
        for source in self.sources:
            yield from source.collect()


def _authorize(gw: Gateway) -> None:
    token = gw.settings.metrics_token
    if token is None:
        raise NotFound("/metrics is off: configure metrics_token to serve it")
    scheme, _, presented = request.headers.get("Authorization", "").partition(" ")
    expected = token.get_secret_value().encode()
    if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), expected):
        raise Unauthorized("send Authorization: Bearer <metrics_token>")


@bp.get("/metrics")
def metrics() -> Response:
    gw = gateway()
    _authorize(gw)
    # Under serve (and whenever the directory is set) the files of every process; otherwise this
    # process's own samples (the Flask development server, tests).
    measured: CollectorRegistry | MultiProcessCollector = REGISTRY
    if os.environ.get(multiprocess.ENV):
        measured = MultiProcessCollector(None)  # type: ignore[no-untyped-call]
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(_Scrape([measured, _DatabaseCollector(gw)]))
    response = Response(body, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response
