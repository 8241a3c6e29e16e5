"""What every lesson notebook sets up first: its workspace and its data, from its parameters."""

import datetime as dt
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from workbook import course, paths

# Tests and the grader point every lesson at a scratch workspace without changing parameters.
WORKSPACE_VARIABLE = "WORKBOOK_WORKSPACE"
# Where lessons generate their data (default: the workspace); the grader's checker keeps its own.
DATA_ROOT_VARIABLE = "WORKBOOK_DATA_ROOT"
# Set in the grader's checker, which runs a lesson's setup cells to judge the learner's work:
# setup then reads the learner's workspace and writes nothing there (no Airflow home either).
CHECKER_VARIABLE = "WORKBOOK_CHECKER"


def checking() -> bool:
    """Whether this kernel is the grader's checker (see `workbook.grading.assemble`)."""
    return os.environ.get(CHECKER_VARIABLE) == "1"


@dataclass(frozen=True)
class Lesson:
    track: str  # its track's folder ('01_beginner', '03_advanced/prefect')
    workspace: Path
    data_dir: Path | None  # the sales exports; None in lessons whose data is in PostgreSQL
    run_date: dt.date

    def sales_file(self, day: dt.date | None = None) -> Path:
        from workbook import datasets  # pandas: not for the grader, which only reads names here

        return self.data_dir / datasets.sales_filename(day or self.run_date)

    def show(self, path: Path) -> str:
        """A path as the learner should read it (and the same on every machine)."""
        path = Path(path).resolve()
        if path.is_relative_to(self.workspace):
            return str(Path("<workspace>") / path.relative_to(self.workspace))
        return str(path.relative_to(paths.ROOT)) if path.is_relative_to(paths.ROOT) else str(path)

    def redact(self, text: str) -> str:
        """`text` with this machine's paths replaced by placeholders, for outputs that are
        compared across machines (the python first: it lives inside the repository)."""
        for path, label in ((sys.executable, "<python>"), (self.workspace, "<workspace>"),
                            (paths.ROOT, "<repo>")):
            text = text.replace(str(path), label)
        return text


def setup(track: str, run_date: str, seed: int, rows_per_day: int, days: int,
          workspace: str | None = None, start: str | None = None) -> Lesson:
    """Resolve the lesson's parameters: create the workspace, find or generate the sales data
    (from `start`, by default the committed sample's first day)."""
    from workbook import datasets  # pandas: not for the grader, which only reads names here

    start = start or datasets.SAMPLE["start"]
    day = dt.date.fromisoformat(str(run_date))
    first = dt.date.fromisoformat(start)
    if not first <= day < first + dt.timedelta(days=days):
        raise ValueError(f"run_date {day} is outside the data window {first} + {days} days")
    root = workspace_folder(track, workspace)
    data_root = Path(os.environ.get(DATA_ROOT_VARIABLE) or root)
    data_dir = datasets.sales_dir(seed, rows_per_day, data_root, start=start, days=days)
    return Lesson(track, root, data_dir, day)


def workspace_folder(track: str, workspace: str | None = None) -> Path:
    """The lesson's workspace: the parameter, else WORKBOOK_WORKSPACE, else its track's
    (workspace/<level>[/<track>])."""
    declared = course.track(track)  # an unknown track is an error, wherever the workspace is
    root = Path(workspace or os.environ.get(WORKSPACE_VARIABLE) or declared.workspace())
    if not checking():  # the checker only reads the learner's workspace
        root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def workspace_lesson(track: str, run_date: str, workspace: str | None = None) -> Lesson:
    """A lesson without sales exports (its data comes from a service)."""
    return Lesson(track, workspace_folder(track, workspace), None,
                  dt.date.fromisoformat(str(run_date)))
