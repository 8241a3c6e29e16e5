"""The Dagster track's home (workbook.dagster_home): DAGSTER_HOME inside the project with the
course's dagster.yaml, which Dagster itself loads and judges with its own schema, in the dagster
environment; a run keeps everything in that home and leaves nothing where it was started."""

import json
import os
import subprocess

import pytest
import yaml

from workbook import dagster_home, paths

pytestmark = pytest.mark.slow

SETTINGS = """
import json
from dagster import DagsterInstance

instance = DagsterInstance.get()
config = instance.get_concurrency_config()
print(json.dumps({"telemetry": instance.telemetry_enabled, "nux": instance.nux_enabled,
                  "max_concurrent_runs": config.run_queue_config.max_concurrent_runs,
                  "pool_default_limit": config.pool_config.default_pool_limit,
                  "pool_granularity": str(config.pool_config.pool_granularity.value),
                  "run_monitoring": instance.run_monitoring_enabled}))
"""
RUN = """
import dagster as dg


@dg.asset
def probe():
    return 1


result = dg.materialize([probe], instance=dg.DagsterInstance.get())
print(result.success, result.run_id)
"""


def in_dagster(code: str, home, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, **dagster_home.environ(home)}
    return subprocess.run([str(paths.env_python(dagster_home.ENV)), "-c", code], env=env,
                          cwd=cwd, capture_output=True, text=True, timeout=300)


def test_dagster_reads_the_course_settings(tmp_path):
    home = dagster_home.prepare(tmp_path / "home")
    result = in_dagster(SETTINGS, home, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    course = yaml.safe_load(dagster_home.CONFIG.read_text())
    assert json.loads(result.stdout.splitlines()[-1]) == {
        "telemetry": course["telemetry"]["enabled"], "nux": course["nux"]["enabled"],
        "max_concurrent_runs": course["concurrency"]["runs"]["max_concurrent_runs"],
        "pool_default_limit": course["concurrency"]["pools"]["default_limit"],
        "pool_granularity": course["concurrency"]["pools"]["granularity"],
        "run_monitoring": course["run_monitoring"]["enabled"]}


def test_dagster_refuses_a_misspelt_setting(tmp_path):
    """The settings test above can fail: Dagster checks the file against its schema."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("concurrency:\n  runs:\n    max_concurent_runs: 2\n")
    result = in_dagster(SETTINGS, home, tmp_path)
    assert result.returncode != 0
    assert "max_concurent_runs" in result.stderr


def test_prepare_puts_the_course_settings_back(tmp_path):
    home = dagster_home.prepare(tmp_path / "home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")
    dagster_home.prepare(home)
    assert (home / "dagster.yaml").read_bytes() == dagster_home.CONFIG.read_bytes()


def test_a_run_keeps_everything_in_the_home(tmp_path):
    home, cwd = dagster_home.prepare(tmp_path / "home"), tmp_path / "cwd"
    cwd.mkdir()
    result = in_dagster(RUN, home, cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split()[0] == "True"
    assert list(cwd.iterdir()) == [], "a run wrote where it was started"
    kept = {p.relative_to(home).parts[0] for p in home.rglob("*") if p.is_file()}
    assert kept > {"dagster.yaml"}, kept  # its run and event storage are in the home
