"""The three sources the retailer's pipelines talk to, for any orchestrator: its PostgreSQL,
the weather API and an SMTP server. A source left as None is the embedded local service,
started here; a URL points the same lesson at a real one (any PostgreSQL, the live Open-Meteo
archive, any SMTP server). Orchestrator adapters (workbook/airflow_lesson.py) turn a `Sources`
into their own connections and variables.
"""

import datetime as dt
import email
from dataclasses import dataclass
from email import policy
from pathlib import Path
from urllib.parse import urlparse

from workbook import datasets, lesson, services, weather_sales
from workbook.services.weather import ARCHIVE_PATH

LIVE_WEATHER = "https://archive-api.open-meteo.com/v1/archive"
ALERT_EMAIL = "data-team@retail.example"
INCIDENT_SCHEMA = "incident"


@dataclass(frozen=True)
class Sources:
    """Where a lesson's sources are (embedded or real)."""

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
    """The days the retailer's PostgreSQL has sales for (the committed sample's)."""
    first = dt.date.fromisoformat(datasets.SAMPLE["start"])
    return [(first + dt.timedelta(days=i)).isoformat() for i in range(datasets.SAMPLE["days"])]


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


def expected_rows(sources: Sources, day: str):
    """The warehouse rows of `day` as the reference pipeline computes them from the sources:
    what every check compares a learner's loaded rows with."""
    sales = weather_sales.sales_frame(weather_sales.extract_sales(sources.postgres_url, day))
    with weather_sales.oracle_session() as session:
        payloads = weather_sales.fetch_all(sources.weather_url, sales, day, session)
    return weather_sales.transform(sales, payloads)


def received(maildir: Path) -> list:
    """Every message the local SMTP sink stored, oldest first, as email.message objects."""
    return [email.message_from_bytes(p.read_bytes(), policy=policy.default)
            for p in sorted(Path(maildir).glob("*.eml"))]


def copy_for_incident(postgres_url: str) -> None:
    """A fresh copy of the retailer's tables in the schema `incident`, for the debugging lesson
    to change without touching the real ones."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"DROP SCHEMA IF EXISTS {INCIDENT_SCHEMA} CASCADE")
        con.execute(f"CREATE SCHEMA {INCIDENT_SCHEMA}")
        con.execute(f"CREATE TABLE {INCIDENT_SCHEMA}.daily_sales AS TABLE public.daily_sales")
        con.execute(f"CREATE VIEW {INCIDENT_SCHEMA}.stores AS TABLE public.stores")


def incident_settings(postgres_url: str) -> dict:
    """How to reach that copy: the database of `postgres_url`, its search_path the schema."""
    url = urlparse(postgres_url)
    return {"host": url.hostname, "port": url.port or 5432, "login": url.username,
            "password": url.password, "schema": url.path.lstrip("/"),
            "options": f"-c search_path={INCIDENT_SCHEMA}"}


def release_schema_change(postgres_url: str) -> None:
    """The source team's release in the incident copy: net_revenue is now revenue_net."""
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as con:
        con.execute(f"ALTER TABLE {INCIDENT_SCHEMA}.daily_sales "
                    "RENAME COLUMN net_revenue TO revenue_net")
