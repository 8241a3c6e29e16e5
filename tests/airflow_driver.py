"""What the Airflow tests run inside the airflow environment (Airflow is not in the test
runner's): `python tests/airflow_driver.py COMMAND ARGS...`, the result as JSON on the last
line of stdout. One process per command: importing Airflow is the slow part."""

import contextlib
import importlib.util
import json
import os
import sys
from pathlib import Path

from workbook import airflow_home, airflow_lesson, retail_sources, weather_sales
from workbook.services.weather import inject_faults


def smoke(dags: str, home: str) -> dict:
    """dags/smoke.py's `smoke_dag`, run with dag.test() in the Airflow home `home`."""
    airflow_home.activate(Path(dags), Path(home))
    spec = importlib.util.spec_from_file_location("smoke", Path(dags) / "smoke.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {"state": str(module.smoke_dag.test().state)}


def bundles() -> list[str]:
    """The DAG bundles Airflow would parse with this process's variables."""
    from airflow.dag_processing.bundles.manager import DagBundlesManager

    return sorted(bundle.name for bundle in DagBundlesManager().get_all_dag_bundles())


def implicit_connections() -> dict:
    """The connection each class uses when it is made without naming one."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier

    return {"SmtpNotifier": ["smtp_conn_id", SmtpNotifier(to="x").smtp_conn_id]}


def scenarios(workspace: str, day: str, other_day: str) -> dict:
    """store_weather through every scenario the pipeline test judges, in one Airflow home:
    each run's outcome, the mails received so far, and the whole warehouse after it."""
    ctx, sources = airflow_lesson.setup(day, workspace)
    bag = airflow_lesson.dagbag(ctx.workspace / "dags")
    report = {"import_errors": {k: str(v) for k, v in bag.import_errors.items()},
              "mails_before": len(retail_sources.received(sources.maildir))}
    if report["import_errors"]:
        return report
    dag = bag.get_dag("store_weather")

    def scenario(name: str, when: str, **faults) -> None:
        inject_faults(sources.weather_url, **faults)
        result = airflow_lesson.outcome(dag.test(logical_date=airflow_lesson.logical_date(when)))
        inject_faults(sources.weather_url)
        table = weather_sales.read_warehouse(sources.warehouse)
        report[name] = {"state": result.state, "tasks": result.tasks,
                        "mails": len(retail_sources.received(sources.maildir)),
                        "rows": json.loads(table.astype(str).to_json(orient="records"))}

    scenario("first", day)
    scenario("again", day)
    scenario("other_day", other_day)
    scenario("flaky", day, fail_first=2, status=503)
    scenario("malformed", day, malformed=True)
    scenario("changed_api", day, drop_variable="precipitation_sum")
    scenario("outage", day, fail_first=1000, status=503)
    with renamed_column(sources.postgres_url):
        scenario("renamed_column", day)
    return report


@contextlib.contextmanager
def renamed_column(postgres_url: str):
    """retail_db pointed at a copy of the sales tables whose net_revenue column was renamed
    (the debugging lesson's incident), for the block's runs."""
    retail_sources.copy_for_incident(postgres_url)
    retail_sources.release_schema_change(postgres_url)
    real = os.environ["AIRFLOW_CONN_RETAIL_DB"]
    os.environ["AIRFLOW_CONN_RETAIL_DB"] = airflow_lesson.incident_connection(postgres_url)
    try:
        yield
    finally:
        os.environ["AIRFLOW_CONN_RETAIL_DB"] = real


COMMANDS = {"smoke": smoke, "bundles": bundles, "implicit-connections": implicit_connections,
            "scenarios": scenarios}

if __name__ == "__main__":
    print(json.dumps(COMMANDS[sys.argv[1]](*sys.argv[2:])))
