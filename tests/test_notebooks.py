"""Solution notebooks show no warnings in their committed outputs (tests/test_lessons.py runs
them and compares those outputs, nbval strict); student notebooks stop at their first exercise
with NotImplementedError and nothing else."""

import re

import nbformat
import papermill as pm
import pytest

from workbook import course, paths

STUDENT = [lesson.path(paths.NOTEBOOKS) for lesson in course.lessons()]
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


@pytest.mark.slow
@pytest.mark.parametrize("notebook", STUDENT, ids=lambda p: p.stem)
def test_student_notebook_stops_at_first_exercise(notebook, solved_copy, tmp_path):
    """Run in a copy of a solved workspace: later lessons expect the earlier lessons' files."""
    source = nbformat.read(notebook, as_version=4)
    exercise = first_exercise(source)
    output = tmp_path / "out.ipynb"
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(notebook), str(output), parameters={"workspace": str(solved_copy)},
                            cwd=str(notebook.parent), progress_bar=False)
    assert err.value.ename == "NotImplementedError", f"{err.value.ename}: {err.value.evalue}"
    ran = nbformat.read(output, as_version=4)
    failed = next(i for i, c in enumerate(ran.cells)
                  if any(o.get("output_type") == "error" for o in c.get("outputs", [])))
    # Failing in the exercise cell itself, or in its check cell (an exercise that only writes
    # a file with %%writefile fails when the check imports it).
    assert ran.cells[failed].metadata["workbook"]["exercise"] == \
        source.cells[exercise].metadata["workbook"]["exercise"]
    for cell in ran.cells[:failed]:  # nothing else failed before it
        assert not [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
