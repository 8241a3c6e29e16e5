"""Which lesson a submission answers: a lesson of the course's declaration, never a path.

The submission's metadata (`workbook.notebook`) and its file name are only compared with the
declared lesson keys and names; the source notebook is then the declared lesson's file in the
trusted source folder. So no submission can choose what it is graded against.
"""

from pathlib import Path

import nbformat

from workbook import course, paths


class SubmissionError(ValueError):
    """The submission cannot be graded (not a notebook, or no known lesson); says why."""


def read_submission(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except Exception as err:  # nbformat raises several types for bad JSON or schema
        raise SubmissionError(f"{path.name} is not a valid notebook: {err}") from None


def lesson_for(submission, path: Path) -> tuple[course.Lesson, list[str]]:
    """The declared lesson `submission` answers, and notes on how it was recognised."""
    metadata = submission.metadata.get("workbook")
    key = metadata.get("notebook") if isinstance(metadata, dict) else None
    if (lesson := course.find(key)) is not None:
        return lesson, []
    named = course.named(path.stem)
    if len(named) == 1:
        notes = [] if key is None else [
            f"its metadata names {str(key)[:80]!r}, which is no lesson of this course: "
            f"recognised by its file name instead"]
        return named[0], notes
    raise SubmissionError(
        f"{path.name} answers no lesson of this course (metadata workbook.notebook = "
        f"{str(key)[:80]!r}); the lessons are: {', '.join(course.lesson_keys())}")


def source_path(lesson: course.Lesson, root: Path) -> Path:
    """The lesson's notebook in the trusted source folder."""
    source = lesson.path(root)
    if not source.is_file():
        raise SubmissionError(f"the source of {lesson.key} is missing from {root}")
    return source


def default_source_root() -> Path:
    """solutions/ (with hidden tests) where readable, else the public notebooks/."""
    return paths.SOLUTIONS if paths.SOLUTIONS.is_dir() else paths.NOTEBOOKS
