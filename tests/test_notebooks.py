"""Solution notebooks show no warnings in their committed outputs (tests/test_lessons.py runs
them and compares those outputs, nbval strict); student notebooks run the solution's own cells up
to their first exercise, whose stub raises NotImplementedError (tests/test_lessons.py runs it);
every set-up cell comes before that first exercise."""

import re

import nbformat
import pytest

from workbook import course, markers, paths

SOLVED = [lesson.path(paths.SOLUTIONS) for lesson in course.lessons()]
# A Python warning as `warnings` prints it ("...: UserWarning: ...") or as Airflow logs it
# ("[warning ] ... [py.warnings] category=SAWarning ...").
WARNING = re.compile(r"\[py\.warnings\]|\b\w+Warning\b")


def warning_lines(nb) -> list[str]:
    """Every line of the notebook's printed outputs (stdout and stderr) that reports a warning."""
    return [line for cell in nb.cells for out in cell.get("outputs", [])
            if out.get("output_type") == "stream"
            for line in out.get("text", "").splitlines() if WARNING.search(line)]


@pytest.mark.parametrize("notebook", SOLVED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_solution_outputs_show_no_warnings(notebook):
    """The committed outputs are what an instructor teaches from and a learner compares with:
    no library noise in them. nbval cannot see it (orchestrator cells ignore their output), so
    a new warning fails here, once the notebook is re-executed and committed."""
    assert warning_lines(nbformat.read(notebook, as_version=4)) == []


def first_exercise(nb) -> int:
    return next(i for i, c in enumerate(nb.cells)
                if c.get("metadata", {}).get("workbook", {}).get("role") == "solution")


@pytest.mark.parametrize("lesson", course.lessons(), ids=lambda lesson: lesson.key)
def test_student_notebook_runs_the_solutions_cells_up_to_its_first_exercise(lesson):
    """What a learner runs before the first exercise is what the solution runs:
    tests/test_lessons.py runs those cells, then the first exercise's stub, which must stop the
    notebook with NotImplementedError and nothing else. The stub here is the one that raises
    it."""
    solution = nbformat.read(lesson.path(paths.SOLUTIONS), as_version=4)
    student = nbformat.read(lesson.path(paths.NOTEBOOKS), as_version=4)
    first = first_exercise(student)
    assert first == first_exercise(solution)

    def cells(nb):
        return [(c.id, c.cell_type, c.source) for c in nb.cells[:first]]

    assert cells(student) == cells(solution)
    assert "raise NotImplementedError" in student.cells[first].source


@pytest.mark.parametrize("notebook", SOLVED, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_setup_cells_come_before_the_first_exercise(notebook):
    """The grader takes a failed set-up cell for its own failure, never the learner's
    (score.setup_error): that holds because no answer runs before one."""
    nb = nbformat.read(notebook, as_version=4)
    setup = [i for i, c in enumerate(nb.cells)
             if c.get("metadata", {}).get("workbook", {}).get("role") == "setup"]
    assert setup and max(setup) < first_exercise(nb)


# Given cells that repeat an earlier lesson's answer, so that a lesson stands alone (the Dagster
# track's code location, written again by each lesson): copy -> original, (lesson, cell id).
# Once committed they could drift apart; the copy must stay the answer, its markers aside.
D01 = "03_advanced/dagster/01_assets_and_resources"
D02 = "03_advanced/dagster/02_partitions_and_backfills"
D03 = "03_advanced/dagster/03_sensors"  # its resources.py is lesson 01's, extended: no copy
D04 = "03_advanced/dagster/04_checks_and_automation"
D05 = "03_advanced/dagster/05_observability_and_pools"  # its lake_assets.py extends 01's
COPIES = {
    (D02, "cell-07"): (D01, "lake-resource-solution"),
    (D02, "cell-08"): (D01, "readings-asset-solution"),
    (D03, "cell-06"): (D01, "readings-asset-solution"),
    (D04, "cell-06"): (D01, "lake-resource-solution"),
    (D04, "cell-07"): (D01, "readings-asset-solution"),
    (D05, "cell-06"): (D01, "lake-resource-solution"),
}


def cell_source(key: str, cell_id: str) -> str:
    """A cell's source without its marker lines (a solution's answer as the learner's cell
    holds it)."""
    nb = nbformat.read(course.find(key).path(paths.SOLUTIONS), as_version=4)
    source = next(cell.source for cell in nb.cells if cell.id == cell_id)
    return "\n".join(line for line in source.splitlines() if not markers.MARKER.match(line))


@pytest.mark.parametrize("copy, original", COPIES.items(), ids=lambda k: f"{k[0]}:{k[1]}")
def test_a_given_copy_of_an_earlier_answer_is_that_answer(copy, original):
    assert cell_source(*copy) == cell_source(*original), (
        f"{copy} no longer holds the answer of {original}: write it again from there")
