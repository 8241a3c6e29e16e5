"""The advanced level's compose file and Grafana dashboard, offline (no Docker engine): Prometheus
gets the local service's config and rule files, MinIO gets the lake's bucket, Grafana gets the
datasource and the dashboard; every panel queries only the series workbook.lake.metrics defines,
and the real local Prometheus accepts each expression. (tests/test_compose.py checks the file
against the compose spec and the course's rules: pinned images, loopback ports.)"""

import json
import re
from pathlib import Path

import pytest
import yaml
from test_compose import container_to_host, environment

from workbook import paths, services
from workbook.lake import metrics as lake_metrics
from workbook.services import metrics
from workbook.services.s3 import BUCKET

COMPOSE = paths.ENVIRONMENTS / "prefect" / "docker-compose.yaml"
GRAFANA = COMPOSE.parent / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "lake.json"
DATASOURCE = GRAFANA / "provisioning" / "datasources" / "prometheus.yml"
RULES = paths.ROOT / "workbook" / "lake" / "alerts.yml"
PROMETHEUS_OWN = {"ALERTS", "ALERTS_FOR_STATE", "up"}  # series Prometheus itself makes
KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or",
            "unless", "offset", "inf", "nan"}
TOKEN = re.compile(r"\d[\w.]*|([A-Za-z_:][\w:]*)(\s*\()?")


# ---- PromQL, read just enough -------------------------------------------------------------

def metric_names(expr: str) -> set[str]:
    """The series names an expression selects: identifiers that are not functions, keywords,
    label names (inside {} or by/on lists), strings or durations."""
    expr = re.sub(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'', '""', expr)
    expr = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    return {m[1] for m in TOKEN.finditer(expr)
            if m[1] and not m[2] and m[1].lower() not in KEYWORDS}


def expressions(dashboard: dict) -> dict[str, str]:
    """'<panel title> <refId>': expression, for every panel's target."""
    return {f"{panel['title']} {target['refId']}": target["expr"]
            for panel in dashboard["panels"] for target in panel.get("targets", [])}


def name_problems(dashboard: dict) -> list[str]:
    known = lake_metrics.sample_names() | PROMETHEUS_OWN
    return [f"{where}: {name} is no series of workbook.lake.metrics"
            for where, expr in expressions(dashboard).items()
            for name in sorted(metric_names(expr) - known)]


def rule() -> dict:
    return yaml.safe_load(RULES.read_text())["groups"][0]["rules"][0]


def freshness_problems(dashboard: dict) -> list[str]:
    """The age panel plots the alert's own left side, with its threshold as the red line."""
    left, minutes, unit = re.fullmatch(r"(.+?) > (\d+) \* (\d+)", rule()["expr"]).groups()
    seconds = int(minutes) * int(unit)
    panels = [p for p in dashboard["panels"] if p["targets"][0]["expr"] == left]
    if not panels:
        return [f"no panel plots the alert's {left!r}"]
    steps = panels[0]["fieldConfig"]["defaults"].get("thresholds", {}).get("steps", [])
    return [] if seconds in [s["value"] for s in steps] else [f"no threshold at {seconds} s"]


def datasource_problems(dashboard: dict) -> list[str]:
    uid = yaml.safe_load(DATASOURCE.read_text())["datasources"][0]["uid"]
    return [f"{panel['title']}: datasource {panel['datasource']} is not {uid}"
            for panel in dashboard["panels"] if panel["datasource"].get("uid") != uid]


def dashboard_problems(text: str) -> list[str]:
    dashboard = json.loads(text)
    return (name_problems(dashboard) + freshness_problems(dashboard)
            + datasource_problems(dashboard))


# ---- the compose file's lake services -------------------------------------------------------

def mounted(compose: dict, service: str, target: str) -> Path | None:
    return container_to_host(COMPOSE, compose, service, target)


def prometheus_problems(compose: dict) -> list[str]:
    """Prometheus runs the generated config and the rule files, where the config names them."""
    service = compose["services"]["prometheus"]
    config = f"{metrics.COMPOSE_DIR}/prometheus.yml"
    problems = [] if f"--config.file={config}" in service.get("command", []) else [
        f"prometheus: not started with --config.file={config}"]
    wanted = {config: metrics.COMPOSE_CONFIG,
              **{f"{metrics.COMPOSE_DIR}/{r.name}": r for r in metrics.RULE_FILES}}
    problems += [f"prometheus: {target} is {mounted(compose, 'prometheus', target)}, not {host}"
                 for target, host in wanted.items()
                 if mounted(compose, "prometheus", target) != host.resolve()]
    targets = [c for c in service.get("configs", [])
               if c.get("target") == f"{metrics.COMPOSE_DIR}/{metrics.TARGETS}"]
    return problems + ([] if targets else ["prometheus: no targets file for job pipeline"])


def minio_problems(compose: dict) -> list[str]:
    command = " ".join(compose["services"]["minio-init"].get("command", []))
    lab = environment(compose["services"]["lab"])
    problems = [] if re.search(rf"mc mb --ignore-existing \w+/{BUCKET}\b", command) else [
        f"minio-init: does not create the bucket {BUCKET!r}"]
    if lab.get("AWS_ENDPOINT_URL") != "http://minio:9000":
        problems.append("lab: AWS_ENDPOINT_URL is not MinIO's")
    return problems


def grafana_problems(compose: dict) -> list[str]:
    """Grafana mounts the provisioning folder, and the provider's path holds the dashboard."""
    provider = yaml.safe_load((GRAFANA / "provisioning" / "dashboards" / "lake.yml").read_text())
    path = provider["providers"][0]["options"]["path"]
    problems = []
    if mounted(compose, "grafana", "/etc/grafana/provisioning") != (GRAFANA / "provisioning"):
        problems.append("grafana: the provisioning folder is not mounted")
    if mounted(compose, "grafana", f"{path}/{DASHBOARD.name}") != DASHBOARD:
        problems.append(f"grafana: {DASHBOARD.name} is not at the provider's path {path}")
    return problems


def compose_problems(text: str) -> list[str]:
    compose = yaml.safe_load(text)
    return prometheus_problems(compose) + minio_problems(compose) + grafana_problems(compose)


# ---- the repository's files ----------------------------------------------------------------

def test_the_compose_file_serves_the_lake():
    assert compose_problems(COMPOSE.read_text()) == []


def test_the_dashboard_queries_only_the_pipelines_metrics():
    assert dashboard_problems(DASHBOARD.read_text()) == []


def test_every_metric_has_a_panel():
    """Each metric the module defines is on the dashboard (files seen, quarantined, ...)."""
    used = set().union(*map(metric_names, expressions(json.loads(DASHBOARD.read_text())).values()))
    families = {re.sub(r"_(total|bucket|count|sum)$", "", name) for name in used}
    defined = {family.name for family in lake_metrics.LakeMetrics().registry.collect()}
    assert defined <= families, defined - families


def test_the_names_are_read_from_every_kind_of_expression():
    expr = ('sum by (reason) (rate(lake_a_total{reason="x y", job=~"b.*"}[5m] offset 1h)) '
            '/ on(job) group_left(run) histogram_quantile(0.9, lake_b_bucket) > bool 1e3 '
            'and time() - max(lake_c) or vector(0)')
    assert metric_names(expr) == {"lake_a_total", "lake_b_bucket", "lake_c"}


@pytest.fixture(scope="module")
def prometheus():
    with services.running("pushgateway"), services.running("prometheus") as endpoint:
        yield endpoint


def test_prometheus_accepts_every_panel_expression(prometheus):
    for expr in expressions(json.loads(DASHBOARD.read_text())).values():
        metrics.query(prometheus.url, expr)  # a ServiceError names what Prometheus refused


# ---- every check can fail ------------------------------------------------------------------

def test_prometheus_refuses_a_broken_expression(prometheus):
    with pytest.raises(services.ServiceError, match="parse error"):
        metrics.query(prometheus.url, "sum(rate(lake_rows_written_total[5m])")


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("sum(lake_rows_written_total)", "sum(lake_rows_writen_total)", "lake_rows_writen_total"),
    ('"value": 1800', '"value": 3600', "no threshold at 1800"),
    ("time() - max(", "time() - min(", "no panel plots"),
    ('"uid": "workbook-prometheus"', '"uid": "prometheus"', "is not workbook-prometheus"),
])
def test_each_dashboard_check_fails_on_a_bad_dashboard(old, new, expected):
    text = DASHBOARD.read_text()
    assert old in text, old
    problems = dashboard_problems(text.replace(old, new, 1))
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(("old", "new", "expected"), [
    ("--config.file=/etc/prometheus/workbook/prometheus.yml", "--config.file=/etc/p.yml",
     "not started with"),
    ("../../workbook/lake/alerts.yml:", "./alerts.yml:", "alerts.yml is"),
    ("- source: pipeline-targets\n        target: /etc/prometheus/workbook/targets.json",
     "- source: pipeline-targets\n        target: /etc/targets.json", "no targets file"),
    ("local/lake", "local/data", "does not create the bucket"),
    ("AWS_ENDPOINT_URL: http://minio:9000", "AWS_ENDPOINT_URL: http://s3:9000", "MinIO's"),
    ("./grafana/dashboards:", "./dashboards:", "is not at the provider's path"),
])
def test_each_compose_check_fails_on_a_bad_file(old, new, expected):
    text = COMPOSE.read_text()
    assert old in text, old
    problems = compose_problems(text.replace(old, new, 1))
    assert any(expected in problem for problem in problems), problems
