"""Checkpoints: put a workspace in the state a lesson expects, by running the solutions of the
lessons it builds on (its metadata lists them under `workbook.requires`).

For a learner who fell behind (`workbook checkpoint NOTEBOOK`), and for the grader, which
runs the same lessons (in its sandbox) before each learner's notebook.
"""

import sys
import tempfile
from pathlib import Path

import nbformat

from workbook import course, paths, runner


def required(nb) -> list[course.Lesson]:
    """The lessons a notebook builds on, in order: declared lessons only."""
    keys = nb.metadata.get("workbook", {}).get("requires", [])
    lessons = [course.find(key) for key in keys]
    if None in lessons:
        unknown = [key for key, lesson in zip(keys, lessons, strict=True) if lesson is None]
        raise ValueError(f"it requires {unknown}, which are no lessons of this course")
    return lessons


def prepare(notebook: Path, workspace: Path) -> list[str]:
    """Run the required solutions into `workspace`; returns their names."""
    workspace.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        for lesson in required(nbformat.read(notebook, as_version=4)):
            runner.run_notebook(lesson.path(), {"workspace": str(workspace)},
                                Path(scratch) / f"{lesson.name}.ipynb")
            done.append(lesson.name)
    return done


def main(notebook: str, workspace: str | None) -> int:
    paths.apply_jupyter_environ()
    path = Path(notebook)
    lesson = course.at(path)
    if lesson is None:
        print(f"workbook checkpoint: {notebook} is no lesson of this course (the lessons are "
              f"notebooks/<level>/<lesson>.ipynb)", file=sys.stderr)
        return 2
    target = Path(workspace) if workspace else lesson.track.workspace()
    try:
        done = prepare(path, target)
    except runner.RunError as err:
        print(f"workbook checkpoint: {err}", file=sys.stderr)
        return 1
    print(f"{target}: ready for {path.stem}" + (f" (ran {', '.join(done)})" if done else
                                                 " (it needs nothing from earlier lessons)"))
    return 0
