"""Reading a ``/metrics`` answer with Prometheus' own parser: every sample by name and labels."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "mtok_0123456789abcdef"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
#: The families /metrics always shows (the database's figures and the measured ones).
FAMILIES = {
    "b2bgateway_database_up",
    "b2bgateway_payments",
    "b2bgateway_outbound_events",
    "b2bgateway_reconciliation_backlog",
    "b2bgateway_reconciliation_oldest_waiting_seconds",
    "b2bgateway_processor_call_duration_seconds",
    "b2bgateway_webhooks",
}
#: The worker's families: under serve (multi-process mode) a family shows once a process counted
#: something in it, so these appear after the worker's first pass that did something.
WORKER_FAMILIES = {"b2bgateway_reconciliation", "b2bgateway_outbound_deliveries"}


class Samples(dict[tuple[str, frozenset[tuple[str, str]]], float]):
    """(sample name, labels) -> value, and the families' names and types."""

    families: dict[str, str]

    def get_value(self, name: str, **labels: str) -> float:
        """The sample's value; 0 when it is not there (a counter not yet incremented)."""
        return self.get((name, frozenset(labels.items())), 0.0)

    def total(self, name: str, **labels: str) -> float:
        """The sum over every sample of ``name`` whose labels include ``labels``."""
        wanted = set(labels.items())
        return sum(value for (n, got), value in self.items() if n == name and wanted <= got)


def parse(text: str) -> Samples:
    samples = Samples()
    samples.families = {}
    for family in text_string_to_metric_families(text):
        samples.families[family.name] = family.type
        for sample in family.samples:
            key = (sample.name, frozenset(sample.labels.items()))
            assert key not in samples, f"{key} twice"
            samples[key] = sample.value
    return samples
