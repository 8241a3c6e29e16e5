"""What the Airflow lessons after the first set up: Airflow's home, and the three sources the
DAGs talk to (PostgreSQL, the weather API, an SMTP server) as Airflow connections and
variables taken from the environment, exactly as a deployment would pass them.

A source left as None is the embedded local service, started here; a URL points the same
lesson at a real one (any PostgreSQL, the live Open-Meteo archive, any SMTP server).
"""

import contextlib
import datetime as dt
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from workbook import airflow_home, datasets, lesson, services
from workbook.services.weather import ARCHIVE_PATH

LEVEL = "02_intermediate"
LIVE_WEATHER = "https://archive-api.open-meteo.com/v1/archive"
ALERT_EMAIL = "data-team@retail.example"
SENDER = "airflow@retail.example"
# The retailer's PostgreSQL holds the committed sample's days (workbook.services.postgres).
FIRST_DAY = dt.date.fromisoformat(datasets.SAMPLE["start"])
DAYS = datasets.SAMPLE["days"]


@dataclass(frozen=True)
class Sources:
    """Where this lesson's sources are (embedded or real)."""

    postgres_url: str
    weather_url: str  # the archive endpoint, …/v1/archive
    smtp_host: str
    smtp_port: int
    maildir: Path | None  # where the embedded SMTP sink stores mail; None for a real server
    warehouse: Path
    embedded: frozenset[str]  # the sources that are this project's local services

    def describe(self) -> str:
        """One line per source, without ports (they change every start)."""
        where = {"postgres": urlparse(self.postgres_url).hostname,
                 "weather": urlparse(self.weather_url).hostname, "smtp": self.smtp_host}
        return "\n".join(f"{name:8} {'embedded local service' if name in self.embedded else host}"
                         for name, host in where.items())


def window() -> list[str]:
    """The days the retailer's PostgreSQL has sales for."""
    return [(FIRST_DAY + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]


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
        "AIRFLOW_VAR_ALERT_EMAIL": ALERT_EMAIL,
    }


def resolve(workspace: Path, postgres_url: str | None, weather_url: str | None,
            smtp_url: str | None) -> Sources:
    """Each source from its parameter, or the embedded service (started if needed)."""
    if weather_url == "live":
        weather_url = LIVE_WEATHER
    weather = weather_url or services.start("weather").url + ARCHIVE_PATH
    if smtp_url:
        smtp, maildir = urlparse(smtp_url), None
    elif lesson.checking():  # the grader's checker sends no mail: it reads what the learner's got
        smtp, maildir = urlparse("smtp://127.0.0.1"), services.learner_maildir()
    else:
        endpoint = services.start("smtp")
        smtp, maildir = urlparse(endpoint.url), Path(endpoint.data["maildir"])
    embedded = frozenset(name for name, given in (("postgres", postgres_url),
                         ("weather", weather_url), ("smtp", smtp_url)) if not given)
    return Sources(postgres_url or services.start("postgres").url, weather,
                   smtp.hostname, smtp.port or 25, maildir, workspace / "warehouse.duckdb",
                   embedded)


def setup(run_date: str, workspace: str | None = None, postgres_url: str | None = None,
          weather_url: str | None = None, smtp_url: str | None = None
          ) -> tuple[lesson.Lesson, Sources]:
    """The lesson's workspace and Airflow home, its sources running and known to Airflow."""
    if str(run_date) not in window():
        raise ValueError(f"run_date {run_date} is outside the retailer's data "
                         f"({window()[0]} to {window()[-1]})")
    ctx = lesson.workspace_lesson(LEVEL, run_date, workspace)
    airflow_home.activate(ctx.workspace / "dags")
    sources = resolve(ctx.workspace, postgres_url, weather_url, smtp_url)
    os.environ.update(airflow_environ(sources))
    return ctx, sources


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


def received(maildir: Path) -> list:
    """Every message the local SMTP sink stored, oldest first, as email.message objects."""
    import email
    from email import policy

    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(Path(maildir).glob("*.eml"))]


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



INCIDENT_SCHEMA = "incident"


def incident_source(postgres_url: str) -> str:
    """A fresh copy of the retailer's tables in the schema `incident`, for the debugging lesson
    to change without touching the real ones; returns the Airflow connection (JSON) whose
    search_path is that schema."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {INCIDENT_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {INCIDENT_SCHEMA}")
        con.execute(f"CREATE TABLE {INCIDENT_SCHEMA}.daily_sales AS TABLE public.daily_sales")
        con.execute(f"CREATE VIEW {INCIDENT_SCHEMA}.stores AS TABLE public.stores")
    return incident_connection(postgres_url)


def incident_connection(postgres_url: str) -> str:
    """retail_db_incident as JSON: the database of `postgres_url`, searching the schema
    `incident` (environments/airflow/docker-compose.yaml sets the same for its PostgreSQL)."""
    url = urlparse(postgres_url)
    return json.dumps({"conn_type": "postgres", "host": url.hostname, "port": url.port or 5432,
                       "login": url.username, "password": url.password,
                       "schema": url.path.lstrip("/"),
                       "extra": {"options": f"-c search_path={INCIDENT_SCHEMA}"}})


def release_schema_change(postgres_url: str) -> None:
    """The source team's release in the incident copy: net_revenue is now revenue_net."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"ALTER TABLE {INCIDENT_SCHEMA}.daily_sales "
                    "RENAME COLUMN net_revenue TO revenue_net")


def run_with_log(dag, logical_date, **kwargs) -> tuple[object, str]:
    """`dag.test()` with everything it logs captured (to read like a task log, not scroll by)."""
    with captured() as log:
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


@contextlib.contextmanager
def captured():
    """Everything printed or logged inside the block, in a StringIO."""
    log = io.StringIO()
    with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield log


def log_errors(log: str) -> list[str]:
    """The last line of each traceback in a captured log: the exception and its message (ports
    masked, as they change every start)."""
    errors, lines = [], log.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("Traceback (most recent call last)"):
            tail = next((candidate for candidate in lines[index + 1:]
                         if candidate and not candidate.startswith((" ", "Traceback"))), "")
            errors.append(re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:<port>", tail))
    return errors
