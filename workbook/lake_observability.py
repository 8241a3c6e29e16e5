"""The advanced level's observability, for both orchestrator tracks (the Prefect track's lesson
05_observability, the Dagster track's 05_observability_and_pools): what their checks read of the
metrics, the pushgateway, Prometheus, promtool and the Sentry sink. Orchestrator-free: the
metrics are workbook.lake.metrics', the services workbook.services'.

- `collected(registry)`: a prometheus-client registry's families as plain data (name, type,
  label names, samples), which a check can judge and the grader can carry as JSON;
- `forget_runs(gateway)`: delete the ingestion runs' groups an earlier run of the lesson left
  on the pushgateway, so the lesson's sums count its own runs only;
- `query_range(url, promql, ...)`: a range query through Prometheus's HTTP API, for a plot;
- `write_rule(path, expr, for_)`: the lake's freshness rule (workbook/lake/alerts.yml) with
  another `expr` and `for`, as a rule file promtool checks; `rule_scenarios(path)` runs
  `promtool test rules` on it, one scenario at a time, so a check can say which one failed.
"""

import datetime as dt
import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import yaml

from workbook import paths
from workbook.lake import metrics as lake_metrics
from workbook.services import metrics as metrics_service

ALERT = "LakeNoFreshData"
RULES = paths.ROOT / "workbook" / "lake" / "alerts.yml"
DASHBOARD = paths.ENVIRONMENTS / "prefect" / "grafana" / "dashboards" / "lake.json"
DEVICE = re.compile(r"(?:^|/)device=(?P<device>[^/]+)/")
PROMTOOL_TIMEOUT_S = 60


def device_of(key: str) -> str:
    """The device id in a sensor file's key (incoming/store=1/device=s1-fridge-1/...)."""
    found = DEVICE.search(key)
    if found is None:
        raise ValueError(f"{key!r} names no device (…/device=<id>/…)")
    return found["device"]


def collected(registry) -> list[dict]:
    """Each metric family of `registry`: its name, type, label names (of its first sample's
    series) and samples [name, labels, value], `_created` samples left out."""
    families = []
    for family in registry.collect():
        samples = [[s.name, dict(s.labels), s.value] for s in family.samples
                   if not s.name.endswith("_created")]
        labels = sorted({label for _, found, _ in samples for label in found})
        families.append({"name": family.name, "type": family.type, "labels": labels,
                         "samples": samples})
    return families


def per_device(uploaded_at: dict[str, dt.datetime]) -> tuple[dict[str, int], dict[str, float]]:
    """What the device metrics should hold: files per device, newest upload (Unix time)."""
    files: dict[str, int] = {}
    newest: dict[str, float] = {}
    for key, at in uploaded_at.items():
        device = device_of(key)
        files[device] = files.get(device, 0) + 1
        newest[device] = max(newest.get(device, 0.0), at.timestamp())
    return files, newest


# ---------------------------------------------------------------- the pushgateway, Prometheus

def pushed_groups(gateway: str, job: str = lake_metrics.JOB) -> list[dict[str, str]]:
    """The grouping labels of every group of `job` on the pushgateway."""
    with urllib.request.urlopen(f"{gateway}/api/v1/metrics", timeout=10) as response:
        groups = json.load(response)["data"]
    return [g["labels"] for g in groups if g["labels"].get("job") == job]


def scraped(prometheus: str, gateway: str, job: str = lake_metrics.JOB) -> bool:
    """Whether Prometheus has scraped every push the pushgateway holds for `job` (each group's
    push time, as both have it): a query then sees every run, not the ones before the last
    scrape."""
    with urllib.request.urlopen(f"{gateway}/api/v1/metrics", timeout=10) as response:
        groups = json.load(response)["data"]
    pushed = {g["labels"].get(lake_metrics.RUN_LABEL): float(
        g["push_time_seconds"]["metrics"][0]["value"]) for g in groups
        if g["labels"].get("job") == job}
    seen = {series["metric"].get(lake_metrics.RUN_LABEL): float(series["value"][1])
            for series in metrics_service.query(prometheus, f'push_time_seconds{{job="{job}"}}')}
    return seen == pushed


def forget_runs(gateway: str) -> int:
    """Delete every ingestion run's group from the pushgateway; how many there were."""
    groups = pushed_groups(gateway)
    for labels in groups:
        lake_metrics.delete(gateway, labels.get(lake_metrics.RUN_LABEL, ""))
    return len(groups)


def query_range(url: str, promql: str, start: float, end: float,
                step: float = 1.0) -> list[tuple[dt.datetime, float]]:
    """The first result series of a range query, as (UTC time, value) points."""
    address = f"{url}/api/v1/query_range?" + urllib.parse.urlencode(
        {"query": promql, "start": start, "end": end, "step": step})
    with urllib.request.urlopen(address, timeout=10) as response:
        result = json.load(response)["data"]["result"]
    if not result:
        return []
    return [(dt.datetime.fromtimestamp(float(t), dt.UTC), float(v))
            for t, v in result[0]["values"]]


def value(url: str, promql: str) -> float | None:
    """An instant query's single value (None when it returns no series)."""
    found = metrics_service.query(url, promql)
    if len(found) > 1:
        raise ValueError(f"{promql!r} returned {len(found)} series, not one")
    return float(found[0]["value"][1]) if found else None


def evaluated(url: str, promql: str) -> dict:
    """What Prometheus answers to `promql` now: its series (labels and value), or its error;
    with the time it was asked, for a check that compares with time()."""
    asked_at = time.time()
    try:
        found = metrics_service.query(url, promql)
    except metrics_service.ServiceError as err:
        return {"error": str(err), "series": [], "asked_at": asked_at}
    return {"error": None, "asked_at": asked_at,
            "series": [[series["metric"], float(series["value"][1])] for series in found]}


# ---------------------------------------------------------------- the alert rule and promtool

def reference_rule() -> dict:
    """The lake's freshness rule as alerts.yml declares it."""
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return next(rule for group in groups for rule in group["rules"]
                if rule.get("alert") == ALERT)


def write_rule(path: Path, expr: str, for_: str | None) -> Path:
    """A rule file holding the lake's freshness rule with this `expr` and `for` (None: no
    `for`, the alert fires at its first evaluation past the threshold)."""
    rule = dict(reference_rule(), expr=expr)
    rule.pop("for", None)
    if for_ is not None:
        rule = {"alert": rule["alert"], "expr": expr, "for": for_,
                **{k: v for k, v in rule.items() if k not in ("alert", "expr")}}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"groups": [{"name": "lake", "rules": [rule]}]},
                                   sort_keys=False))
    return path


def _series(values: str, run: str = "r1") -> dict:
    return {"series": f'lake_newest_reading_timestamp_seconds{{job="lake_ingest", run="{run}"}}',
            "values": values}


def _firing(*eval_times: str, fires: bool) -> list[dict]:
    expected = [{"labels": f'ALERTS{{alertname="{ALERT}", alertstate="firing", '
                           'severity="warning"}', "value": 1}] if fires else []
    return [{"expr": f'ALERTS{{alertname="{ALERT}", alertstate="firing"}}',
             "eval_time": at, "exp_samples": expected} for at in eval_times]


# promtool unit tests, one scenario each. In them time() is the evaluation time in seconds from
# 0, so a gauge value t means "a reading t seconds after the start"; one sample a minute.
SCENARIOS = {
    # Healthy: a 15-minute window committed every 15 minutes (a sawtooth up to 15 min old).
    "fresh data": ([_series("0x14 900x14 1800x14 2700x14 3600x14")],
                   _firing("20m", "44m", "74m", fires=False)),
    # The pipeline stops at minute 20: over 30 minutes old from 51m on, firing after 5 more.
    "stale for under 5 minutes": ([_series("0+60x20 1200x40")], _firing("50m", "55m",
                                                                          fires=False)),
    "stale for over 5 minutes": ([_series("0+60x20 1200x40")], _firing("57m", "60m",
                                                                         fires=True)),
    # One group per run: run r1 pushed at minute 0 only, run r2 is fresh.
    "an old run beside a fresh one": ([_series("0x60"), _series("0+60x60", "r2")],
                                      _firing("45m", "60m", fires=False)),
}


def promtool(*args: object) -> tuple[int, str]:
    """promtool's exit code and output (stdout then stderr)."""
    program = shutil.which("promtool")
    if program is None:
        raise metrics_service.ServiceError(metrics_service.MISSING.format(program="promtool"))
    done = subprocess.run([program, *map(str, args)], capture_output=True, text=True,
                          timeout=PROMTOOL_TIMEOUT_S)
    return done.returncode, (done.stdout + done.stderr).strip()


def check_rules(path: Path) -> tuple[int, str]:
    """`promtool check rules`: does the file load (YAML, PromQL, durations)?"""
    return promtool("check", "rules", path)


def rule_scenarios(path: Path) -> dict[str, bool]:
    """{scenario: whether the rule file passes it} (`promtool test rules`, one file each)."""
    path = Path(path).resolve()
    passed = {}
    for name, (series, expressions) in SCENARIOS.items():
        unit = path.with_name(f"{path.stem}.{name.replace(' ', '-')}.test.yml")
        unit.write_text(yaml.safe_dump({
            "rule_files": [path.name], "evaluation_interval": "1m",
            "tests": [{"interval": "1m", "input_series": series,
                       "promql_expr_test": expressions}]}, sort_keys=False))
        passed[name] = promtool("test", "rules", unit)[0] == 0
        unit.unlink()
    return passed


# ---------------------------------------------------------------- Grafana

def dashboard_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of the compose file's Grafana dashboard."""
    board = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in board["panels"]
            for target in panel.get("targets", [])]


# ---------------------------------------------------------------- the lesson's services

@dataclass(frozen=True)
class Observability:
    """Where the lesson's metrics and error reports go (all None in the grader's checker)."""

    prometheus: str | None  # Prometheus's URL (its HTTP API)
    pushgateway: str | None
    sentry_dsn: str | None
    pipeline_port: int | None  # the port the local Prometheus scrapes as job "pipeline"
    sentry_events: str | None  # the local sink's events folder (None: a real Sentry)

    def describe(self) -> str:
        if self.prometheus is None:
            return "metrics  not started (checker)"
        said = (f"metrics  Prometheus and its pushgateway on 127.0.0.1 (scraped every "
                f"{metrics_service.SCRAPE_INTERVAL})")
        if self.sentry_dsn is None:
            return said
        local = "local " if self.sentry_events else ""
        return f"{said}\nerrors   sentry-sdk to the {local}Sentry sink"

    def events(self) -> list[dict]:
        """The events the local Sentry sink stored, oldest first."""
        if self.sentry_events is None:
            raise ValueError("the events are read back from the local Sentry sink only: "
                             "set sentry_dsn = None")
        from workbook.services import sentry

        return sentry.events(self.sentry_events)


def setup(prometheus_url: str | None = None, pushgateway_url: str | None = None,
          sentry_dsn: str | None = None, errors: bool = True) -> Observability:
    """The local Prometheus (with its pushgateway) and Sentry sink, started if needed, unless
    the parameters name others; the ingestion runs' groups of an earlier run deleted.
    `errors=False`: no Sentry (a lesson that reports no errors)."""
    from workbook import lesson, services

    if lesson.checking():
        return Observability(None, None, None, None, None)
    port = None
    if prometheus_url is None:
        endpoint = services.start("prometheus")
        prometheus_url, pushgateway_url = endpoint.url, endpoint.data["pushgateway"]
        port = endpoint.data["pipeline_port"]
        metrics_service.scrape(endpoint, [f"127.0.0.1:{port}"])
    if pushgateway_url is None:
        raise ValueError("give pushgateway_url with prometheus_url (the pushgateway that "
                         "Prometheus scrapes)")
    events = None
    if sentry_dsn is None and errors:
        sink = services.start("sentry")
        sentry_dsn, events = sink.url, sink.data["events"]
    forget_runs(pushgateway_url)
    return Observability(prometheus_url, pushgateway_url, sentry_dsn, port, events)


_served: list = []  # the exporter this process serves (one: a re-run replaces it)


def serve(metrics: lake_metrics.LakeMetrics, port: int):
    """lake_metrics.serve, stopping the exporter an earlier run of the cell started."""
    while _served:
        old = _served.pop()
        old.shutdown()
        old.server_close()
    _served.append(lake_metrics.serve(metrics, port))
    return _served[-1]


@contextmanager
def counting_flushes():
    """Counts the calls to sentry-sdk's flush (sentry_sdk.flush() or a client's .flush())
    inside the block: `with counting_flushes() as calls: ...; calls[0]`."""
    from sentry_sdk.client import _Client

    calls = [0]
    original = _Client.flush

    def flush(self, *args, **kwargs):
        calls[0] += 1
        return original(self, *args, **kwargs)

    _Client.flush = flush
    try:
        yield calls
    finally:
        _Client.flush = original


def event_summary(event: dict) -> dict:
    """What a check reads of a stored Sentry event."""
    values = (event.get("exception") or {}).get("values") or []
    return {"tags": event.get("tags") or {}, "level": event.get("level"),
            "exception": [v.get("type") for v in values],
            "message": (event.get("logentry") or {}).get("message") or event.get("message"),
            "logger": event.get("logger")}
