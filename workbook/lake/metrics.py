"""The pipeline's own metrics (prometheus-client), and the two ways Prometheus gets them.

    lake_files_seen_total                   counter    files a run was given (a data key and
                                                       its manifest key count as one file)
    lake_files_committed_total              counter    files whose rows a run committed
    lake_files_quarantined_total{reason}    counter    files moved to quarantine/, by the
                                                       reason validate.py names
    lake_rows_written_total                 counter    rows committed to the readings table
    lake_ingest_latency_seconds             histogram  per committed file: from its upload (S3
                                                       LastModified) to its Delta commit
    lake_newest_reading_timestamp_seconds   gauge      the newest reading in the table (Unix
                                                       time): freshness is time() minus this

Latency is a histogram, not a summary: a summary's quantiles are computed in one process and
cannot be added across runs or workers, a histogram's buckets can (`histogram_quantile` over
their sum). The buckets span the paths a file can take: seconds on the event path, up to the
15-minute sweep, an hour for a run that was down.

Each LakeMetrics has its own CollectorRegistry, not prometheus-client's global one: a notebook
cell run twice makes new metrics instead of failing with "Duplicated timeseries", and a push
carries these metrics only (no process_* or python_* series).

How Prometheus gets them:

    serve()  a long-lived process (flow.serve, a worker, a kernel) keeps ONE LakeMetrics for
             all its runs and exposes it on the port Prometheus scrapes (job "pipeline"):
             counters grow across runs and `rate()` works as Prometheus intends.
    push()   a run that exits (cron, `python -m workbook.lake.ingest --pushgateway URL`)
             pushes its own values to the pushgateway, grouped by {job="lake_ingest",
             run="<run id>"}. The pushgateway keeps the last push of each group. One group for
             the whole pipeline would let each run replace the one before: two runs at the same
             time would lose one's counts, and two runs with equal counts would look to `rate()`
             like no change. One group per run keeps every run side by side: totals are
             `sum(...)`, freshness `max(...)`, and a retried run (same run id) replaces its own
             earlier push instead of counting twice (a push is a PUT of the group). The cost:
             groups pile up in the gateway; `delete()` the old ones, or prefer serve().
"""

import datetime as dt
import uuid

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    delete_from_gateway,
    push_to_gateway,
    start_http_server,
)

JOB = "lake_ingest"
RUN_LABEL = "run"
LATENCY_BUCKETS_S = (1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
# What each kind of metric is exposed as (a counter `x` as `x_total`, ...).
SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_count", "_sum")}


class LakeMetrics:
    """The metrics of one run (push) or of one process's runs (serve), in their own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.files_seen = Counter("lake_files_seen", "Files given to the ingestion.",
                                  registry=r)
        self.files_committed = Counter("lake_files_committed",
                                       "Files whose rows were committed.", registry=r)
        self.files_quarantined = Counter("lake_files_quarantined",
                                         "Files moved to quarantine, by reason.", ["reason"],
                                         registry=r)
        self.rows_written = Counter("lake_rows_written", "Rows committed to the readings table.",
                                    registry=r)
        self.latency = Histogram("lake_ingest_latency_seconds",
                                 "Seconds from a file's upload to its commit.",
                                 buckets=LATENCY_BUCKETS_S, registry=r)
        self.newest_reading = Gauge("lake_newest_reading_timestamp_seconds",
                                    "Unix time of the newest reading in the table.", registry=r)

    def record(self, report, newest: dt.datetime | None) -> None:
        """Add an ingest.Report's counts; `newest`: the table's newest reading after the run
        (left unset when the table has none, so a gauge at 0 never claims data from 1970)."""
        self.files_seen.inc(report.seen())
        self.files_committed.inc(len(report.ingested))
        for reason in report.quarantined.values():
            self.files_quarantined.labels(reason).inc()
        self.rows_written.inc(report.rows)
        for seconds in report.latency_s.values():
            self.latency.observe(seconds)
        if newest is not None:
            self.newest_reading.set(newest.timestamp())


def sample_names(metrics: LakeMetrics | None = None) -> set[str]:
    """Every series name these metrics are exposed as: what a query may name."""
    found = set()
    for family in (metrics or LakeMetrics()).registry.collect():
        found |= {family.name + suffix for suffix in SUFFIXES[family.type]}
    return found


def new_run_id() -> str:
    """A run id that sorts by time and does not collide between two runs of one second."""
    return f"{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:6]}"


def push(metrics: LakeMetrics, gateway: str, run_id: str) -> None:
    """Replace run `run_id`'s group on the pushgateway with these values (see above)."""
    push_to_gateway(gateway, job=JOB, grouping_key={RUN_LABEL: run_id},
                    registry=metrics.registry, timeout=10)


def delete(gateway: str, run_id: str) -> None:
    """Remove run `run_id`'s group from the pushgateway (its series go at the next scrape)."""
    delete_from_gateway(gateway, job=JOB, grouping_key={RUN_LABEL: run_id}, timeout=10)


def serve(metrics: LakeMetrics, port: int, addr: str = "127.0.0.1"):
    """Expose the metrics on http://addr:port/metrics for Prometheus to scrape (the local
    prometheus service keeps a port for this: its endpoint's data["pipeline_port"]). Returns
    the server: `.shutdown()` and `.server_close()` stop it. In a container, addr="0.0.0.0"."""
    server, _ = start_http_server(port, addr=addr, registry=metrics.registry)
    return server
