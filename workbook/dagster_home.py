"""Dagster's settings for the advanced level's Dagster track: its home (DAGSTER_HOME) inside the
project, with the course's `dagster.yaml` (telemetry off, the run queue and the pools set).

Without DAGSTER_HOME each `materialize()` and CLI call keeps its runs in a temporary instance
that is gone when it ends (and `dagster dev` leaves a `.tmp_dagster_home_*` folder where it was
started): nothing for the UI to show, and no pool limits, since those live in the instance.
Dagster reads DAGSTER_HOME when an instance is made, so `activate()` runs in the lessons' setup
cell before the first one.
"""

import os
import shutil
import sys
from pathlib import Path

from workbook import lesson, paths

ENV = "dagster"
# Beside this module, not in environments/: the grader's sandbox shows the workbook package
# (and the environments' interpreters), not the rest of the repository.
CONFIG = Path(__file__).with_name("dagster.yaml")


def dagster_cli() -> Path:
    """The dagster command of this interpreter's environment (inside the dagster kernel), else
    of the dagster environment found by name (see `paths.env_python`)."""
    here = Path(sys.executable).with_name("dagster")
    return here if here.exists() else paths.env_python(ENV).with_name("dagster")


def default_home() -> Path:
    """DAGSTER_HOME: in the services' state folder, beside the `dagster dev` that reads it; a test
    session or a grading run, which keep their own services, keep their own."""
    from workbook.services import base

    return base.STATE_DIR / "dagster"


def environ(home: Path | None = None) -> dict[str, str]:
    """The variables Dagster reads when it makes an instance."""
    return {"DAGSTER_HOME": str(home or default_home()), "NO_COLOR": "1"}


def prepare(home: Path | None = None) -> Path:
    """The home folder, made if needed, holding the course's dagster.yaml (copied again when
    the course's changed, so a home never runs on stale settings)."""
    home = home or default_home()
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_bytes() != CONFIG.read_bytes():
        shutil.copyfile(CONFIG, target)
    return home


def activate() -> dict[str, str]:
    """Point this process's Dagster at the course's home. In the grader's checker, which runs
    no asset, it does nothing."""
    if lesson.checking():
        return {}
    variables = environ(prepare())
    os.environ.update(variables)
    return variables
