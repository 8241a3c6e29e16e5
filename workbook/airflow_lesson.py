"""The Airflow adapter of the lessons: Airflow's home, the retailer's sources
(workbook.retail_sources) as Airflow connections and variables taken from the environment,
exactly as a deployment would pass them, and what a check reads of DAGs and their runs.
"""

import datetime as dt
import json
import os
from dataclasses import dataclass
from pathlib import Path

from workbook import airflow_home, lesson, logs, retail, retail_sources
from workbook.retail_sources import Sources

TRACK = "02_intermediate"
SENDER = "airflow@retail.example"


def report_variables(ctx: lesson.Lesson) -> dict[str, str]:
    """Lesson 01's variables: where its DAG reads the sales exports and writes its reports."""
    return {"AIRFLOW_VAR_SALES_DATA_DIR": str(ctx.data_dir),
            "AIRFLOW_VAR_REPORT_DIR": str(ctx.workspace / "reports")}


def smtp_connection(host: str, port: int) -> str:
    """smtp_default as JSON: plain SMTP (no TLS, no login), as the local sink and Mailpit speak."""
    return json.dumps({"conn_type": "smtp", "host": host, "port": port,
                       "extra": {"from_email": SENDER, "disable_tls": True, "disable_ssl": True,
                                 "timeout": 10, "retry_limit": 1}})


def airflow_environ(sources: Sources) -> dict[str, str]:
    """Connections and variables, named as in environments/airflow/docker-compose.yaml."""
    return {
        "AIRFLOW_CONN_RETAIL_DB": sources.postgres_url,
        "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(sources.smtp_host, sources.smtp_port),
        "AIRFLOW_VAR_WEATHER_API_URL": sources.weather_url,
        "AIRFLOW_VAR_WAREHOUSE_PATH": str(sources.warehouse),
        "AIRFLOW_VAR_ALERT_EMAIL": retail_sources.ALERT_EMAIL,
    }


def setup(run_date: str, workspace: str | None = None, postgres_url: str | None = None,
          weather_url: str | None = None, smtp_url: str | None = None
          ) -> tuple[lesson.Lesson, Sources]:
    """The lesson's workspace and Airflow home, its sources running and known to Airflow."""
    days = retail_sources.window()
    if str(run_date) not in days:
        raise ValueError(f"run_date {run_date} is outside the retailer's data "
                         f"({days[0]} to {days[-1]})")
    ctx = lesson.workspace_lesson(TRACK, run_date, workspace)
    airflow_home.activate(ctx.workspace / "dags")
    sources = retail_sources.resolve(ctx.workspace, postgres_url, weather_url, smtp_url)
    os.environ.update(airflow_environ(sources))
    return ctx, sources


def logical_date(day: str, hour: int = retail.RUN_HOUR):
    """The logical date of the retailer's daily run for `day` (a `dag.test()` argument)."""
    import pendulum

    return pendulum.parse(day, tz=retail.TIMEZONE).add(hours=hour)


def xcom(run, task_id: str, key: str = "return_value"):
    """A task's XCom from a finished DagRun (as the next task would receive it), or None;
    for a mapped task, the list of its instances' values in map-index order."""
    from airflow.models.xcom import XComModel
    from airflow.sdk.serde import deserialize
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = session.scalars(XComModel.get_many(run_id=run.run_id, dag_ids=run.dag_id,
                                                  task_ids=task_id, key=key)).all()
        values = {row.map_index: deserialize(XComModel.deserialize_value(row)) for row in rows}
    if not values:
        return None
    return values[-1] if list(values) == [-1] else [values[i] for i in sorted(values)]


@dataclass(frozen=True)
class Outcome:
    """What a DAG run did, read right after it: `dag.test()` replaces an earlier run of the same
    logical date in the metadata database, so a DagRun object from before goes stale."""

    state: str
    tasks: dict[str, tuple[str, int]]  # task id ([map index]) -> (state, tries)

    def __str__(self) -> str:
        return "\n".join([f"run {self.state}", *(f"  {task:24} {state}  (try {tries})"
                                                  for task, (state, tries) in self.tasks.items())])

    def tries(self, task_id: str) -> int:
        return self.tasks[task_id][1]

    def failed(self) -> list[str]:
        return [task for task, (state, _) in self.tasks.items() if state == "failed"]


def outcome(run) -> Outcome:
    """The run's state and each task's state and tries, in task order (deterministic)."""
    instances = sorted(run.get_task_instances(), key=lambda t: (t.task_id, t.map_index))
    return Outcome(str(run.state), {
        ti.task_id + (f"[{ti.map_index}]" if ti.map_index >= 0 else ""):
            (str(ti.state), ti.try_number) for ti in instances})


def tries(run, task_id: str) -> list[dict]:
    """Every try of a task in a run (earlier tries are kept in Airflow's task instance history),
    with its state and when it started and ended."""
    from airflow.models.taskinstancehistory import TaskInstanceHistory
    from airflow.utils.session import create_session

    with create_session() as session:
        earlier = session.query(TaskInstanceHistory).filter_by(
            dag_id=run.dag_id, run_id=run.run_id, task_id=task_id).all()
        rows = [*earlier, *[ti for ti in run.get_task_instances(session=session)
                            if ti.task_id == task_id]]
        return sorted(({"try": r.try_number, "state": str(r.state), "start": r.start_date,
                        "end": r.end_date} for r in rows), key=lambda r: r["try"])



def incident_connection(postgres_url: str) -> str:
    """retail_db_incident as JSON: the database of `postgres_url`, searching the schema of the
    debugging lesson's copy (environments/airflow/docker-compose.yaml sets the same)."""
    settings = retail_sources.incident_settings(postgres_url)
    return json.dumps({"conn_type": "postgres", **{k: settings[k] for k in (
        "host", "port", "login", "password", "schema")}, "extra": {"options": settings["options"]}})


def incident_source(postgres_url: str) -> str:
    """A fresh copy of the retailer's tables for the debugging lesson to change without touching
    the real ones (retail_sources.copy_for_incident), as the connection retail_db_incident."""
    retail_sources.copy_for_incident(postgres_url)
    return incident_connection(postgres_url)


def run_with_log(dag, logical_date, **kwargs) -> tuple[object, str]:
    """`dag.test()` with everything it logs captured (to read like a task log, not scroll by)."""
    with logs.captured() as log:
        run = dag.test(logical_date=logical_date, **kwargs)
    return run, log.getvalue()


def dagbag(folder: Path):
    """The DAGs of `folder` as the scheduler parses them; the parse log (with this machine's
    paths) is kept out of the notebook: read `import_errors` instead."""
    import logging

    from airflow.dag_processing.dagbag import DagBag

    logging.disable(logging.CRITICAL)  # its log handlers write to the original stderr
    try:
        return DagBag(str(folder))
    finally:
        logging.disable(logging.NOTSET)


def import_error_line(error) -> str:
    """The last line of a DagBag import error: the exception and its message."""
    return (str(error).strip().splitlines() or [""])[-1]


def describe_dags(bag) -> dict:
    """A DagBag's DAGs as data, which a check can judge apart from the DAG code: each file's
    import error (its last line), and each DAG's settings and tasks."""
    errors = {Path(path).name: import_error_line(error)
              for path, error in bag.import_errors.items()}
    return {"import_errors": errors,
            "dags": {dag_id: describe_dag(dag) for dag_id, dag in sorted(bag.dags.items())}}


def describe_dag(dag) -> dict:
    """A DAG's schedule, catchup, tags, plain default arguments and tasks."""
    plain = (bool, int, float, str, dt.timedelta, type(None))
    return {
        "schedule": str(dag.schedule), "catchup": dag.catchup, "tags": sorted(dag.tags),
        "default_args": {k: v if isinstance(v, plain) else type(v).__name__
                         for k, v in (dag.default_args or {}).items()},
        "tasks": {task.task_id: {"upstream": sorted(task.upstream_task_ids),
                                 "retries": task.retries,
                                 "is_mapped": bool(getattr(task, "is_mapped", False)),
                                 "max_active_tis_per_dag": task.max_active_tis_per_dag}
                  for task in dag.tasks},
    }
