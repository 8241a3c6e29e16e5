"""The observability lesson's flow (03_advanced/prefect/05_observability) against the real
services: a run's metrics are visible through Prometheus's HTTP API with the values the answer
key predicts; a failed run reaches the Sentry sink as one event tagged with its run; the
lesson's promtool scenarios pass the lake's rule and fail each broken version of it.

The flow files are the solution's (`%%writefile {flows}/...` cells, markers dropped: what
workbook.lesson_files gives, read here without nbformat, which this environment lacks), run in
this process against the project's Prefect server started for the test session."""

import json
import os
import re
import shutil
import sys

import pytest
from conftest import upload

from workbook import course, markers, services
from workbook import lake_observability as obs
from workbook.lake import metrics as lake_metrics
from workbook.services import sentry as sentry_service
from workbook.waiting import wait_for

KEY = "03_advanced/prefect/05_observability"
SCRAPE_DEADLINE_S = 30
WRITEFILE = re.compile(r"^%%writefile \{flows\}/(?P<name>\S+)\n")


def flow_files() -> dict[str, str]:
    """The lesson's flow modules as a learner who solved it has them."""
    found = {}
    for cell in json.loads(course.find(KEY).path().read_text())["cells"]:
        source = "".join(cell["source"])
        match = WRITEFILE.match(source) if cell["cell_type"] == "code" else None
        if match:
            found[match["name"]] = "\n".join(
                line for line in source[match.end():].splitlines()
                if not markers.MARKER.match(line)) + "\n"
    return found


@pytest.fixture(scope="module")
def flows(prefect_api, tmp_path_factory):
    """The lesson's flow modules, imported with Prefect pointed at the session's server."""
    folder = tmp_path_factory.mktemp("flows")
    for name, text in flow_files().items():
        (folder / name).write_text(text)
    sys.path.insert(0, str(folder))
    try:
        import failure_reports
        import observed_ingest

        yield observed_ingest, failure_reports
    finally:
        sys.path.remove(str(folder))
        for name in ("observed_ingest", "failure_reports"):
            sys.modules.pop(name, None)


@pytest.fixture(scope="module")
def prometheus():
    with services.running("pushgateway"), services.running("prometheus") as endpoint:
        yield endpoint


def test_a_flow_runs_metrics_are_visible_through_prometheus(flows, lake, answer_key,
                                                            prometheus):
    observed_ingest, _ = flows
    upload(lake, answer_key.files)
    gateway = prometheus.data["pushgateway"]
    summary = observed_ingest.observed_ingest(lake.bucket, lake.endpoint_url, gateway)
    accepted = [f for f in answer_key.files if f.disposition == "accept"]
    expected = {"lake_files_seen_total": len(answer_key.files),
                "lake_files_committed_total": len(accepted),
                "lake_files_quarantined_total": len(answer_key.files) - len(accepted),
                "lake_rows_written_total": sum(f.valid_rows for f in accepted)}
    selector = f'{{job="{lake_metrics.JOB}", run="{summary["run"]}"}}'

    def answered() -> dict[str, float | None]:
        return {name: obs.value(prometheus.url, f"sum({name}{selector})") for name in expected}

    try:
        assert wait_for(lambda: answered() == expected, SCRAPE_DEADLINE_S), (answered(),
                                                                             expected)
        assert summary["rows"] == expected["lake_rows_written_total"]
        newest = obs.value(prometheus.url, f"lake_newest_reading_timestamp_seconds{selector}")
        assert newest is not None and newest > 0
    finally:
        lake_metrics.delete(gateway, summary["run"])


def test_a_failed_run_reaches_the_sentry_sink_once_with_its_run(flows, s3_endpoint):
    import sentry_sdk

    _, failure_reports = flows
    with services.running("sentry") as sink:
        os.environ["SENTRY_DSN"] = sink.url
        stored = {e["event_id"] for e in sentry_service.events(sink)}
        try:
            failure_reports.init_sentry()
            state = failure_reports.reported_ingest("no-such-bucket", s3_endpoint.url,
                                                    "http://127.0.0.1:9", return_state=True)
            events = [obs.event_summary(e) for e in sentry_service.events(sink)
                      if e["event_id"] not in stored]
        finally:
            os.environ.pop("SENTRY_DSN")
            sentry_sdk.get_client().close()
    assert state.is_failed()
    run_id = str(state.state_details.flow_run_id)
    assert len(events) == 1, events
    assert events[0]["tags"] == {"flow": "observed-ingest", "flow_run_id": run_id}
    assert events[0]["exception"][-1] == "NoSuchBucket"


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_the_rule_scenarios_pass_the_lake_rule_and_fail_each_broken_one(tmp_path):
    rule = obs.reference_rule()
    right = obs.write_rule(tmp_path / "right.yml", rule["expr"], rule["for"])
    assert obs.check_rules(right)[0] == 0
    assert all(obs.rule_scenarios(right).values())
    broken = {
        "no for": (rule["expr"], None, "stale for under 5 minutes"),
        "backwards": (rule["expr"].replace(">", "<"), "5m", "fresh data"),
        "seconds": (rule["expr"].replace("30 * 60", "30"), "5m", "fresh data"),
        "no max": (rule["expr"].replace("max(lake_newest_reading_timestamp_seconds)",
                                        "lake_newest_reading_timestamp_seconds"), "5m",
                   "an old run beside a fresh one"),
        "an hour": (rule["expr"].replace("30 * 60", "60 * 60"), "5m",
                    "stale for over 5 minutes"),
    }
    for name, (expr, for_, fails) in broken.items():
        assert expr != rule["expr"] or for_ != rule["for"], name
        path = obs.write_rule(tmp_path / f"{name.replace(' ', '-')}.yml", expr, for_)
        assert obs.check_rules(path)[0] == 0, name
        assert not obs.rule_scenarios(path)[fails], name
