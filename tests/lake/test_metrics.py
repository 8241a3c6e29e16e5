"""The pipeline's metrics through the real services: a real ingest of the sample, its metrics
pushed to the pushgateway (and, in a long-lived process, served on the pipeline port) and read
back through Prometheus's HTTP API with the values the answer key predicts; the freshness alert
loaded by the prometheus service, pending on stale data and gone on fresh."""

import collections
import datetime as dt

import pytest
from conftest import upload
from test_ingest import finished, run_ingest

from workbook import services
from workbook.lake import metrics as lake_metrics
from workbook.lake import table
from workbook.lake.ingest import ingest
from workbook.lake.keys import list_new_keys
from workbook.services import metrics
from workbook.waiting import wait_for

# Prometheus scrapes every second; a new scrape target is applied within ~5 s (discovery).
SCRAPE_DEADLINE_S = 30
ALERT = "LakeNoFreshData"


@pytest.fixture(scope="module")
def prometheus():
    """Prometheus and its pushgateway, each stopped afterwards if this module started it."""
    with services.running("pushgateway"), services.running("prometheus") as endpoint:
        yield endpoint


def answer(prometheus, queries: dict[str, str]) -> dict[str, dict[str, float]]:
    """Each named query's series, as {label value of `reason` or "": value}."""
    return {name: {series["metric"].get("reason", ""): float(series["value"][1])
                   for series in metrics.query(prometheus.url, q)}
            for name, q in queries.items()}


def predicted(files) -> dict[str, dict[str, float]]:
    """What the answer key says a run over `files` records."""
    accepted = [f for f in files if f.disposition == "accept"]
    reasons = collections.Counter(f.reason for f in files if f.disposition == "quarantine")
    return {"seen": {"": len(files)}, "committed": {"": len(accepted)},
            "rows": {"": sum(f.valid_rows for f in accepted)},
            "quarantined": {reason: float(n) for reason, n in reasons.items()},
            "latencies": {"": len(accepted)}}


def run_queries(selector: str) -> dict[str, str]:
    return {"seen": f"lake_files_seen_total{selector}",
            "committed": f"lake_files_committed_total{selector}",
            "rows": f"lake_rows_written_total{selector}",
            "quarantined": f"sum by (reason) (lake_files_quarantined_total{selector})",
            "latencies": f"lake_ingest_latency_seconds_count{selector}"}


def test_a_runs_pushed_metrics_are_what_the_answer_key_predicts(uploaded, answer_key,
                                                                prometheus):
    keys, _ = list_new_keys(uploaded.s3, uploaded.bucket)
    recorded, run = lake_metrics.LakeMetrics(), lake_metrics.new_run_id()
    before = dt.datetime.now(dt.UTC)
    report = ingest(keys, uploaded, metrics=recorded)
    after = dt.datetime.now(dt.UTC)
    lake_metrics.push(recorded, prometheus.data["pushgateway"], run)
    try:
        selector = f'{{job="{lake_metrics.JOB}", run="{run}"}}'
        expected = predicted(answer_key.files)
        assert wait_for(lambda: answer(prometheus, run_queries(selector)) == expected,
                        SCRAPE_DEADLINE_S), (answer(prometheus, run_queries(selector)), expected)
        check_latency(prometheus, selector, report, before, after)
        check_freshness(prometheus, selector, uploaded, answer_key)
    finally:
        lake_metrics.delete(prometheus.data["pushgateway"], run)


def check_latency(prometheus, selector: str, report, before, after) -> None:
    """Each file's commit came between `before` and `after` (S3 keeps whole seconds), and
    Prometheus holds the sum the run observed."""
    for key, seconds in report.latency_s.items():
        since = report.uploaded_at[key]
        assert (before - since).total_seconds() - 1 <= seconds, key
        assert seconds <= (after - since).total_seconds() + 1, key
    total = metrics.values(prometheus.url, f"lake_ingest_latency_seconds_sum{selector}")
    assert list(total.values()) == [pytest.approx(sum(report.latency_s.values()))]


def check_freshness(prometheus, selector: str, lake, answer_key) -> None:
    """The gauge is the newest timestamp in the table's data, inside the last accepted window."""
    readings = table.open_table(lake.table_uri(), lake.storage_options)
    newest = readings.to_pandas(columns=["timestamp"])["timestamp"].max()
    last = max(f.window_end for f in answer_key.files if f.disposition == "accept")
    assert newest < dt.datetime.fromisoformat(last) <= newest + dt.timedelta(minutes=15)
    found = metrics.values(prometheus.url, f"lake_newest_reading_timestamp_seconds{selector}")
    assert list(found.values()) == [newest.timestamp()]


def test_a_long_lived_process_serves_its_runs_on_the_pipeline_port(lake, answer_key,
                                                                    prometheus):
    """One LakeMetrics for two runs, scraped as job "pipeline": the counters add up."""
    files = answer_key.in_arrival_order()
    recorded = lake_metrics.LakeMetrics()
    port = prometheus.data["pipeline_port"]
    metrics.scrape(prometheus, [f"127.0.0.1:{port}"])  # the default target, in case it changed
    server = lake_metrics.serve(recorded, port)
    try:
        for batch in (files[:30], files[30:60]):
            ingest(upload(lake, batch), lake, metrics=recorded)
        expected = predicted(files[:60])
        selector = f'{{job="pipeline", instance="127.0.0.1:{port}"}}'
        assert wait_for(lambda: answer(prometheus, run_queries(selector)) == expected,
                        SCRAPE_DEADLINE_S), (answer(prometheus, run_queries(selector)), expected)
    finally:
        server.shutdown()
        server.server_close()


def test_a_batch_run_from_the_command_line_pushes_its_group(lake, answer_key, prometheus):
    files = answer_key.in_arrival_order()[:20]
    upload(lake, files)
    run, gateway = lake_metrics.new_run_id(), prometheus.data["pushgateway"]
    finished(run_ingest(lake.endpoint_url, lake.bucket, "--pushgateway", gateway,
                        "--run-id", run))
    try:
        selector = f'{{job="{lake_metrics.JOB}", run="{run}"}}'
        assert wait_for(lambda: answer(prometheus, run_queries(selector)) == predicted(files),
                        SCRAPE_DEADLINE_S), answer(prometheus, run_queries(selector))
    finally:
        lake_metrics.delete(gateway, run)


def alerts(prometheus, state: str) -> dict[str, float]:
    return metrics.values(prometheus.url,
                          f'ALERTS{{alertname="{ALERT}", alertstate="{state}"}}')


def test_the_freshness_alert_is_loaded_pending_on_stale_data_and_gone_on_fresh(prometheus):
    """Stale: a run pushes the sample's 2015 reading. Fresh: a later run pushes now; max()
    over the runs' groups is fresh, so the old group alone keeps nothing pending."""
    gateway, runs = prometheus.data["pushgateway"], []
    try:
        for when in (dt.datetime(2015, 6, 3, tzinfo=dt.UTC), dt.datetime.now(dt.UTC)):
            recorded = lake_metrics.LakeMetrics()
            recorded.newest_reading.set(when.timestamp())
            runs.append(lake_metrics.new_run_id())
            lake_metrics.push(recorded, gateway, runs[-1])
            stale = when.year == 2015
            assert wait_for(lambda s=stale: bool(alerts(prometheus, "pending")) == s,
                            SCRAPE_DEADLINE_S), (when, alerts(prometheus, "pending"))
    finally:
        for run in runs:
            lake_metrics.delete(gateway, run)
