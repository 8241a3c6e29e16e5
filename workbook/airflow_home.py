"""An AIRFLOW_HOME inside the project for the intermediate level: metadata database migrated
once, example DAGs off, quiet logs, the learner's workspace as the dags folder.

It lives in the learner's workspace (`<workspace>/airflow_home`, beside `dags/`), not in
.workbook/, so that whoever runs the notebook can write it: the learner, a test's scratch
workspace, or the grader's unprivileged kernel.

Airflow reads its configuration when first imported, so `activate()` must run before any
`import airflow` in a notebook (the lessons' setup cell calls it first).
"""

import functools
import os
import subprocess
import sys
import warnings
from pathlib import Path

from workbook import lesson, paths

ENV = "airflow"


# Warnings Airflow 3.3 gives during `dag.test()` that a learner can neither act on nor learn
# from, matched by message (so no starlette or sqlalchemy import): every other warning shows.
HARMLESS_WARNINGS = (
    # dag.test() runs tasks against Airflow's execution API in-process, through fastapi's
    # TestClient, which uses httpx; Starlette now prefers httpx2. Airflow's dependency to
    # change, not the learner's code.
    r"Using `httpx` with `starlette\.testclient` is deprecated",
    # dag.test() deletes an earlier run of the same logical date. Loading that run's serialized
    # DAG joins on dag_id alone, so a DAG whose file a lesson rewrote (one row per version)
    # matches several rows; SQLAlchemy keeps the first, and the run is deleted anyway.
    r"Multiple rows returned with uselist=False for lazily-loaded attribute "
    r"'DagRun\.serialized_dag'",
)


def quiet_harmless_warnings() -> None:
    """Ignore HARMLESS_WARNINGS in this process (Airflow's own warning filters, added when it is
    imported, match other warnings: they leave these alone)."""
    for message in HARMLESS_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def default_home(dags: Path) -> Path:
    return dags.parent / "airflow_home"


def environ(dags: Path, airflow_home: Path | None = None) -> dict[str, str]:
    """The variables Airflow reads at import time."""
    return {
        "AIRFLOW_HOME": str(airflow_home or default_home(dags)),
        "AIRFLOW__CORE__DAGS_FOLDER": str(dags),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
        "NO_COLOR": "1",  # logs without colour codes read better in notebook outputs
    }


def migrated_marker(airflow_home: Path) -> Path:
    return airflow_home / ".workbook-migrated"


def airflow_cli() -> str:
    """The airflow command of this interpreter's environment (inside the airflow kernel), else
    of the airflow environment found by name (see `paths.env_python`)."""
    here = Path(sys.executable).with_name("airflow")
    return str(here if here.exists() else paths.env_python(ENV).with_name("airflow"))


@functools.cache  # a process sees one Airflow: asked once, not at every migration check
def airflow_version() -> str:
    return subprocess.run([airflow_cli(), "version"], capture_output=True, text=True,
                          check=True).stdout.strip()


def activate(dags: Path, airflow_home: Path | None = None) -> dict[str, str]:
    """Set this process's Airflow variables and migrate the metadata database if needed.

    In the grader's checker, which judges files and data and runs no DAG, it does nothing:
    the learner's Airflow home is theirs to write, not the checker's."""
    variables = environ(dags, airflow_home)
    if lesson.checking():
        return variables
    os.environ.update(variables)
    quiet_harmless_warnings()
    dags.mkdir(parents=True, exist_ok=True)
    if str(dags) not in sys.path:  # as Airflow's DAG processor does: DAGs import their helpers
        sys.path.insert(0, str(dags))
    migrate(variables)
    return variables


def migrate(variables: dict[str, str]) -> None:
    """Migrate the metadata database of the Airflow home that `variables` (environ's) name,
    unless this Airflow version did it already."""
    target = Path(variables["AIRFLOW_HOME"])
    target.mkdir(parents=True, exist_ok=True)
    marker, version = migrated_marker(target), airflow_version()
    if not marker.exists() or marker.read_text() != version:
        result = subprocess.run([airflow_cli(), "db", "migrate"], capture_output=True, text=True,
                                env={**os.environ, **variables})
        if result.returncode != 0:
            raise RuntimeError(f"airflow db migrate failed:\n{result.stderr[-2000:]}")
        marker.write_text(version)
