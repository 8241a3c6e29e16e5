"""The course, declared once: its levels, the tracks of each level (one per orchestrator from
the advanced level on), the environment, kernel and workspace of each track, its lessons in
teaching order, and the files those lessons write for their orchestrator.

Everything that lists lessons reads this declaration: build, the grader's identification (an
allow-list: a submission names a lesson, never a path), checkpoints, samples, tests and
benchmarks. Tests check it against the notebooks in solutions/ and the README's curriculum.
A new level or track is a new entry here plus its orchestrator's adapter.
"""

from dataclasses import dataclass, field
from pathlib import Path

from workbook import paths


@dataclass(frozen=True)
class Orchestrator:
    """What the integrity suite and the file lists need to know of an orchestrator."""

    name: str  # "airflow": the integrity suite's adapter (`python -m workbook.integrity NAME`)
    # The folders its files go to: the notebook variable a `%%writefile {variable}/...` cell
    # names -> the file's place under the orchestrator's folder (the dags folder for Airflow).
    folders: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> str:
        """The environment its files run in: one per orchestrator, named after it."""
        return self.name


AIRFLOW = Orchestrator("airflow", {"dags": "", "incident": "incident/"})
# Flow modules and their prefect.yaml, written to <workspace>/flows/ (`%%writefile {flows}/...`).
PREFECT = Orchestrator("prefect", {"flows": ""})
# Asset modules, sensors and definitions.py, written to <workspace>/defs/ (`%%writefile {defs}/`).
DAGSTER = Orchestrator("dagster", {"defs": ""})


@dataclass(frozen=True)
class Track:
    """One way through a level: its notebooks share an environment and a workspace, and each
    lesson builds on the ones before it in the same track."""

    level: str  # the level's folder under solutions/, notebooks/ and workspace/
    name: str  # "" when the level has one track, else its sub-folder ("prefect")
    env: str  # its environment; the kernel is workbook-<env>
    lessons: tuple[str, ...]  # notebook names without .ipynb, in teaching order
    # The orchestrators its lessons write files for: none (plain Python and cron), one, or,
    # in the capstone that compares them, several (each file judged by its own suite).
    orchestrators: tuple[Orchestrator, ...] = ()

    @property
    def folder(self) -> str:
        """'02_intermediate' or '03_advanced/prefect': under solutions/, notebooks/, workspace/."""
        return f"{self.level}/{self.name}" if self.name else self.level

    @property
    def kernel(self) -> str:
        return paths.kernel_name(self.env)

    def workspace(self, root: Path = paths.WORKSPACE) -> Path:
        return root / self.folder


TRACKS = (
    Track("01_beginner", "", "beginner", (
        "00_orientation", "01_extract_transform", "02_load", "03_notebook_to_script",
        "04_scheduling_with_cron")),
    Track("02_intermediate", "", "airflow", (
        "01_airflow_concepts", "02_sources", "03_the_dag", "04_reliability",
        "05_dynamic_mapping", "06_debugging"), (AIRFLOW,)),
    # The advanced level's shared pipeline, a track of its own with no orchestrator: both
    # orchestrator tracks start from it (the Prefect track now, the Dagster track later), and
    # reuse its functions (workbook.lake) and its lesson rather than copy them into each track.
    # Its environment is prefect's, the one with deltalake, pandera and boto3.
    Track("03_advanced", "lake", "prefect", ("01_files_to_lake",)),
    # The Prefect track: each lesson wraps the lake pipeline (workbook.lake) in flows
    # (workbook.prefect_lesson and one helper module per lesson, workbook.prefect_*).
    Track("03_advanced", "prefect", "prefect", (
        "01_flows_and_tasks",
        "02_event_driven",
        "03_concurrency",
        "04_features_and_artifacts",
        "05_observability",
        "06_deployment",
    ), (PREFECT,)),
    # The Dagster track: the same lake pipeline as software-defined assets
    # (workbook.dagster_lesson and one helper module per lesson, workbook.dagster_*).
    Track("03_advanced", "dagster", "dagster", (
        "01_assets_and_resources",
        "02_partitions_and_backfills",
        "03_sensors",
        "04_checks_and_automation",
        "05_observability_and_pools",
        "06_ui_and_deployment",
    ), (DAGSTER,)),
    # The level's capstone: one small pipeline (the retailer's daily report, workbook.styles)
    # as a cron script, an Airflow DAG, a Prefect flow and Dagster assets, each run as a process
    # of its own environment from a notebook in the lightest one.
    Track("03_advanced", "capstone", "beginner", ("01_four_styles",), (
        Orchestrator("airflow", {"dags": ""}), Orchestrator("prefect", {"flows": ""}),
        Orchestrator("dagster", {"defs": ""}))),
)
LEVELS = tuple(dict.fromkeys(track.level for track in TRACKS))  # in teaching order


@dataclass(frozen=True)
class Lesson:
    track: Track
    name: str

    @property
    def key(self) -> str:
        """'01_beginner/00_orientation': how submissions, grades and checkpoints name it."""
        return f"{self.track.folder}/{self.name}"

    def path(self, root: Path = paths.SOLUTIONS) -> Path:
        return root / self.track.folder / f"{self.name}.ipynb"


def track(folder: str) -> Track:
    """The track whose folder is `folder` ('01_beginner', '03_advanced/prefect')."""
    found = next((t for t in TRACKS if t.folder == folder), None)
    if found is None:
        raise ValueError(f"{folder!r} is no track of this course; the tracks are: "
                         f"{', '.join(t.folder for t in TRACKS)}")
    return found


def lessons(scope: str = "") -> list[Lesson]:
    """Every lesson, or those of one level or track (its folder), in teaching order."""
    return [Lesson(t, name) for t in TRACKS if scope in ("", t.level, t.folder)
            for name in t.lessons]


def lesson_keys(scope: str = "") -> list[str]:
    return [lesson.key for lesson in lessons(scope)]


def find(key: object) -> Lesson | None:
    """The lesson whose key is exactly `key` (any other value, a path included, is None)."""
    return next((lesson for lesson in lessons() if lesson.key == key), None)


def named(name: str) -> list[Lesson]:
    """The lessons whose notebook is called `name` (a file name without .ipynb)."""
    return [lesson for lesson in lessons() if lesson.name == name]


def at(notebook: Path) -> Lesson | None:
    """The lesson a notebook path is a copy of (solutions/, notebooks/ or elsewhere), by its
    track folder and name; None when the path matches no lesson."""
    parts = Path(notebook).with_suffix("").parts
    return next((lesson for lesson in lessons()
                 if parts[-len(Path(lesson.key).parts):] == Path(lesson.key).parts), None)
