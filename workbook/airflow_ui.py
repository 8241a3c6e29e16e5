"""`workbook airflow-ui` (`make airflow-ui`): Airflow's UI and scheduler for the intermediate
workspace, as a learner needs them: on 127.0.0.1 only, with the variables and connections the
lessons' DAGs read (so a run triggered from the UI finds them), stopped as a whole with Ctrl-C.

It runs Airflow's parts as `airflow standalone` does (API server, scheduler, DAG processor,
triggerer), but the scheduler and triggerer without their log servers, which would listen on
every interface: the API server reads the task logs from the shared AIRFLOW_HOME instead.
"""

import os
import subprocess
import urllib.request
from pathlib import Path

from workbook import (
    airflow_home,
    airflow_lesson,
    datasets,
    lesson,
    processes,
    retail_sources,
    ui_command,
)

PORT = 8080
START_TIMEOUT_S = 180
COMPONENTS = {"api-server": ["api-server"], "scheduler": ["scheduler", "--skip-serve-logs"],
              "dag-processor": ["dag-processor"],
              "triggerer": ["triggerer", "--skip-serve-logs"]}


def environ(workspace: Path, port: int) -> dict[str, str]:
    """Airflow's variables for the UI: the lessons' own (their sources started if embedded),
    the sample's sales data for lesson 01, and everything bound to 127.0.0.1:`port`."""
    sample = datasets.SAMPLE
    ctx = lesson.setup(airflow_lesson.TRACK, sample["start"], sample["seed"],
                       sample["rows_per_day"], sample["days"], str(workspace))
    sources = retail_sources.resolve(ctx.workspace, None, None, None)
    return {
        **airflow_home.environ(ctx.workspace / "dags"),
        **airflow_lesson.airflow_environ(sources),
        **airflow_lesson.report_variables(ctx),
        "AIRFLOW_CONN_RETAIL_DB_INCIDENT": airflow_lesson.incident_connection(
            sources.postgres_url),
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__WORKERS": "1",  # with PARALLELISM 4: about 1.1 GB in all
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        # No login screen: the UI is on 127.0.0.1 only and holds lesson data.
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "PATH": os.pathsep.join([str(Path(airflow_home.airflow_cli()).parent),
                                 os.environ.get("PATH", "")]),
    }


def healthy(url: str) -> bool:
    """The API server answers and reports a healthy scheduler."""
    import json

    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return health.get("scheduler", {}).get("status") == "healthy"


def start(workspace: Path, port: int) -> dict[str, subprocess.Popen]:
    """Every part in a session of its own, its output in airflow_home/ui-logs/."""
    env = {**os.environ, **environ(workspace, port)}
    airflow_home.activate(Path(env["AIRFLOW__CORE__DAGS_FOLDER"]))  # migrates once
    logs = Path(env["AIRFLOW_HOME"]) / "ui-logs"
    logs.mkdir(parents=True, exist_ok=True)
    started = {}
    for name, args in COMPONENTS.items():
        with open(logs / f"{name}.log", "ab") as log:
            started[name] = subprocess.Popen(
                [airflow_home.airflow_cli(), *args], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    return started


def stop(started: dict[str, subprocess.Popen]) -> list[int]:
    """Stop every part with all its children; returns the processes still running (none)."""
    left = processes.stop_tree(*(proc.pid for proc in started.values()))
    for proc in started.values():
        proc.wait(timeout=10)  # reaped: none is left a zombie
    return left


def main(workspace: str | None, port: int) -> int:
    if ui_command.port_taken("airflow-ui", port):
        return 2
    root = lesson.workspace_folder(airflow_lesson.TRACK, workspace)
    ui = ui_command.Ui("airflow-ui", "Airflow", lambda: start(root, port), healthy, stop,
                       START_TIMEOUT_S, "(no login: it listens on 127.0.0.1 only)",
                       root / "airflow_home" / "ui-logs")
    return ui_command.serve(ui, f"http://127.0.0.1:{port}",
                            f"Airflow for {root}: starting (about 30 s)")
