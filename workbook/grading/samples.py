"""Sample submissions built from a lesson's own notebooks: a correct, a blank and a partial one.

Tests use them to check the grader on every lesson, benchmarks to time it, and instructors to
rehearse grading before a workshop; they are built, never committed, so they cannot go stale.
"""

import ast
import copy
from pathlib import Path

import nbformat

from workbook import course, markers, paths


def answers(solution) -> dict[str, str]:
    """Answer cell id -> its solution source, in notebook order."""
    return {c.id: c.source for c in solution.cells if markers.role(c) == "solution"}


def submission(student, replacements: dict[str, str]):
    """A copy of the student notebook with some answer cells filled in."""
    nb = copy.deepcopy(student)
    for cell in nb.cells:
        if cell.id in replacements:
            cell.source = replacements[cell.id]
    return nb


def lesson(key: str):
    """(solution, student) notebooks of a lesson key such as '01_beginner/00_orientation'."""
    declared = course.find(key)
    if declared is None:
        raise KeyError(f"{key} is no lesson of this course")
    return (nbformat.read(declared.path(paths.SOLUTIONS), as_version=4),
            nbformat.read(declared.path(paths.NOTEBOOKS), as_version=4))


def parameters(nb) -> dict:
    """The parameters cell's names and default values (literals, as every lesson writes them)."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {node.targets[0].id: ast.literal_eval(node.value)
            for node in ast.parse(cell.source).body if isinstance(node, ast.Assign)}


def correct(key: str, student=None):
    """Every exercise answered, in the lesson's student notebook (or in `student`, another
    release of it with the same cell ids, such as nbgrader's)."""
    solution, ours = lesson(key)
    return submission(student or ours, answers(solution))


def blank(key: str):
    return lesson(key)[1]


def partial(key: str, student=None):
    """Only the first exercise answered (in `student`, as for correct)."""
    solution, ours = lesson(key)
    first = next(iter(answers(solution).items()))
    return submission(student or ours, dict([first]))


def all_but_first(key: str):
    """Every exercise answered but the first (whose names the later ones may need)."""
    solution, student = lesson(key)
    return submission(student, dict(list(answers(solution).items())[1:]))


def points(key: str) -> dict[str, float]:
    """Exercise -> points, from the source's check cells (what a full score adds up to)."""
    solution, _ = lesson(key)
    totals: dict[str, float] = {}
    for cell in solution.cells:
        if markers.role(cell) == "check":
            totals[markers.exercise(cell)] = totals.get(markers.exercise(cell), 0) + float(
                cell.metadata["workbook"].get("points", 0))
    return totals


def first_check_points(key: str, exercise: str) -> float:
    """Points of the exercise's first check cell (the one right after its answer)."""
    solution, _ = lesson(key)
    return next(float(c.metadata["workbook"].get("points", 0)) for c in solution.cells
                if markers.role(c) == "check" and markers.exercise(c) == exercise)


def write(nb, folder: Path, key: str) -> Path:
    path = folder / f"{Path(key).name}.ipynb"
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
