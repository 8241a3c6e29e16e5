"""The course, declared once: its levels, the environment (and so the kernel) of each, and the
lessons of each level in the order they are taught.

Everything that lists lessons reads this declaration: the grader's identification (an
allow-list: a submission names a lesson, never a path), samples, tests and benchmarks. A test
checks it against the notebooks in solutions/.
"""

from dataclasses import dataclass
from pathlib import Path

from workbook import paths


@dataclass(frozen=True)
class Level:
    name: str  # the folder under solutions/ and notebooks/
    env: str  # its environment; the kernel is workbook-<env>
    lessons: tuple[str, ...]  # notebook names without .ipynb, in teaching order


LEVELS = (
    Level("01_beginner", "beginner", (
        "00_orientation", "01_extract_transform", "02_load", "03_notebook_to_script",
        "04_scheduling_with_cron")),
    Level("02_intermediate", "airflow", (
        "01_airflow_concepts", "02_sources", "03_the_dag", "04_reliability",
        "05_dynamic_mapping", "06_debugging")),
)


@dataclass(frozen=True)
class Lesson:
    level: Level
    name: str

    @property
    def key(self) -> str:
        """'01_beginner/00_orientation': how submissions, grades and checkpoints name it."""
        return f"{self.level.name}/{self.name}"

    def path(self, root: Path = paths.SOLUTIONS) -> Path:
        return root / self.level.name / f"{self.name}.ipynb"


def lessons(level: str = "") -> list[Lesson]:
    """Every lesson (or one level's), in teaching order."""
    return [Lesson(lv, name) for lv in LEVELS if level in ("", lv.name) for name in lv.lessons]


def lesson_keys(level: str = "") -> list[str]:
    return [lesson.key for lesson in lessons(level)]


def find(key: object) -> Lesson | None:
    """The lesson whose key is exactly `key` (any other value, a path included, is None)."""
    return next((lesson for lesson in lessons() if lesson.key == key), None)


def named(name: str) -> list[Lesson]:
    """The lessons whose notebook is called `name` (a file name without .ipynb)."""
    return [lesson for lesson in lessons() if lesson.name == name]
