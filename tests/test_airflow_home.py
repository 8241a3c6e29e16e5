"""The intermediate level's AIRFLOW_HOME: migrated once, examples off, and a TaskFlow DAG from
the dags folder runs with dag.test() in the airflow environment."""

import json
import os
import shutil
import sqlite3
import subprocess
import warnings
from pathlib import Path

import pytest

from workbook import airflow_home, paths

pytestmark = pytest.mark.slow
AIRFLOW_PYTHON = str(paths.env_python(airflow_home.ENV))
DRIVER = Path(__file__).parent / "airflow_driver.py"

SMOKE_DAG = Path(__file__).parent / "dags" / "smoke.py"


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow")
    airflow_home.activate(base / "dags", base / "home")
    return base


def test_home_is_migrated_with_examples_off(home):
    """The metadata database holds Airflow's schema, and Airflow itself, reading the lesson's
    variables, parses the dags folder alone (with examples on, it adds three bundles of them)."""
    with sqlite3.connect(home / "home" / "airflow.db") as db:
        revision = db.execute("SELECT version_num FROM alembic_version").fetchall()
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
    assert len(revision) == 1 and {"dag", "dag_run", "task_instance"} <= tables
    assert airflow_home.migrated_marker(home / "home").read_text().startswith("3.")
    result = subprocess.run(
        [AIRFLOW_PYTHON, str(DRIVER), "bundles"], capture_output=True, text=True, timeout=300,
        env={**os.environ, **airflow_home.environ(home / "dags", home / "home")})
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == ["dags-folder"]


def test_second_activation_does_not_migrate_again(home, monkeypatch):
    calls = []
    real_run = subprocess.run

    def recording(cmd, *args, **kwargs):
        calls.append(cmd[1:])
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(airflow_home.subprocess, "run", recording)
    airflow_home.airflow_version.cache_clear()  # the module fixture's activation cached it
    airflow_home.activate(home / "dags", home / "home")
    assert calls == [["version"]]


def test_a_taskflow_dag_runs_with_dag_test(home):
    shutil.copy(SMOKE_DAG, home / "dags" / "smoke.py")
    result = subprocess.run([AIRFLOW_PYTHON, str(DRIVER), "smoke", str(home / "dags"),
                             str(home / "home")], capture_output=True, text=True, timeout=300)
    assert "TOTAL 6" in result.stdout, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"state": "success"}
    # Airflow logs warnings as "[warning ] ... [py.warnings]": the harmless ones stay quiet
    # after Airflow has imported and configured itself.
    assert "[py.warnings]" not in result.stdout + result.stderr, result.stdout[-3000:]


def test_only_the_harmless_warnings_are_quiet():
    """Matched by their message: the same library's other warnings still show."""
    shown = {
        "Using `requests` with `starlette.testclient` is deprecated": DeprecationWarning,
        "Multiple rows returned with uselist=False for lazily-loaded attribute "
        "'DagRun.dag_model'": RuntimeWarning,
    }
    quiet = {
        "Using `httpx` with `starlette.testclient` is deprecated; install `httpx2` instead.":
            DeprecationWarning,
        "Multiple rows returned with uselist=False for lazily-loaded attribute "
        "'DagRun.serialized_dag' ": RuntimeWarning,
    }
    with warnings.catch_warnings(record=True) as caught:  # restores the filters after
        warnings.simplefilter("always")
        airflow_home.quiet_harmless_warnings()
        for message, category in {**quiet, **shown}.items():
            warnings.warn(message, category, stacklevel=1)
    assert [str(w.message) for w in caught] == list(shown)


def test_home_defaults_to_the_workspace_beside_the_dags(tmp_path):
    """Writable by whoever runs the lesson, the grader's unprivileged kernel included."""
    variables = airflow_home.environ(tmp_path / "dags")
    assert variables["AIRFLOW_HOME"] == str(tmp_path / "airflow_home")
    assert variables["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
