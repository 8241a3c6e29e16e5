"""The intermediate level's AIRFLOW_HOME: migrated once, examples off, and a TaskFlow DAG from
the dags folder runs with dag.test() in the airflow environment."""

import subprocess
import textwrap

import pytest

from workbook import airflow_home, paths

pytestmark = pytest.mark.slow
AIRFLOW_PYTHON = str(paths.env_python(airflow_home.ENV))

DAG = textwrap.dedent('''
    import pendulum
    from airflow.sdk import dag, task


    @dag(schedule=None, start_date=pendulum.datetime(2015, 6, 1, tz="UTC"), catchup=False)
    def smoke():
        @task
        def numbers():
            return [1, 2, 3]

        @task
        def total(values):
            print("TOTAL", sum(values))

        total(numbers())


    smoke_dag = smoke()
''')

RUNNER = textwrap.dedent('''
    import importlib.util, sys
    from pathlib import Path
    from workbook import airflow_home
    dags, home = Path(sys.argv[1]), Path(sys.argv[2])
    airflow_home.activate(dags, home)
    spec = importlib.util.spec_from_file_location("smoke", dags / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    print("STATE", module.smoke_dag.test().state)
''')


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    base = tmp_path_factory.mktemp("airflow")
    airflow_home.activate(base / "dags", base / "home")
    return base


def test_home_is_migrated_with_examples_off(home):
    assert (home / "home" / "airflow.db").exists()
    assert airflow_home.migrated_marker(home / "home").read_text().startswith("3.")
    variables = airflow_home.environ(home / "dags", home / "home")
    assert variables["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"


def test_second_activation_does_not_migrate_again(home, monkeypatch):
    calls = []
    real_run = subprocess.run

    def recording(cmd, *args, **kwargs):
        calls.append(cmd[1:])
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(airflow_home.subprocess, "run", recording)
    airflow_home.activate(home / "dags", home / "home")
    assert calls == [["version"]]


def test_a_taskflow_dag_runs_with_dag_test(home):
    (home / "dags" / "smoke.py").write_text(DAG)
    result = subprocess.run([AIRFLOW_PYTHON, "-c", RUNNER, str(home / "dags"),
                             str(home / "home")], capture_output=True, text=True, timeout=300)
    assert "TOTAL 6" in result.stdout and "STATE success" in result.stdout, result.stderr[-3000:]


def test_home_defaults_to_the_workspace_beside_the_dags(tmp_path):
    """Writable by whoever runs the lesson, the grader's unprivileged kernel included."""
    variables = airflow_home.environ(tmp_path / "dags")
    assert variables["AIRFLOW_HOME"] == str(tmp_path / "airflow_home")
    assert variables["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
