"""The lake's alert rules with promtool: they load (`check rules`), they fire when the newest
reading stops moving and not while it moves (`test rules`, tests/promtool/), and that unit test
fails when the rule loses what it is made of. The compose file's Prometheus config is the
local service's, with the same rule files."""

import shutil
import subprocess
from pathlib import Path

import pytest

from workbook import paths
from workbook.services import metrics

RULES = paths.ROOT / "workbook" / "lake" / "alerts.yml"
UNIT_TEST = paths.ROOT / "tests" / "promtool" / "lake-alerts.test.yml"

pytestmark = pytest.mark.skipif(shutil.which("promtool") is None,
                                reason="promtool not installed (apt-get install prometheus)")


def promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["promtool", *map(str, args)], capture_output=True, text=True,
                          timeout=60)


def test_the_rules_load():
    check = promtool("check", "rules", RULES)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_prometheus_service_loads_the_rules():
    assert RULES in metrics.RULE_FILES


def test_the_alert_fires_when_stale_and_not_when_fresh():
    result = promtool("test", "rules", UNIT_TEST)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("old", "new"), [
    ("max(lake_newest_reading_timestamp_seconds)", "lake_newest_reading_timestamp_seconds"),
    ("for: 5m", "for: 0m"),
    ("> 30 * 60", "> 60 * 60"),
    ("severity: warning", "severity: page"),
], ids=["no-max-over-runs", "no-for", "an-hour", "another-label"])
def test_the_unit_test_fails_on_a_broken_rule(tmp_path, old, new):
    text = RULES.read_text()
    assert old in text
    (tmp_path / "alerts.yml").write_text(text.replace(old, new))
    unit = UNIT_TEST.read_text().replace("../../workbook/lake/alerts.yml", "alerts.yml")
    (tmp_path / "unit.yml").write_text(unit)
    assert promtool("check", "rules", tmp_path / "alerts.yml").returncode == 0
    assert promtool("test", "rules", tmp_path / "unit.yml").returncode != 0


def test_the_compose_prometheus_config_is_generated():
    assert metrics.main(check=True) == 0, "run `python -m workbook promconfig`"


def test_the_compose_prometheus_config_passes_promtool(tmp_path):
    """promtool with the compose file's paths mapped into a folder here (the rule files are
    checked too: they must exist at the path the config names)."""
    text = metrics.COMPOSE_CONFIG.read_text().replace(metrics.COMPOSE_DIR, str(tmp_path))
    for rules in metrics.RULE_FILES:
        shutil.copy(rules, tmp_path / Path(rules).name)
    (tmp_path / metrics.TARGETS).write_text('[{"targets": ["lab:9108"]}]')
    (tmp_path / "prometheus.yml").write_text(text)
    check = promtool("check", "config", tmp_path / "prometheus.yml")
    assert check.returncode == 0, check.stdout + check.stderr
