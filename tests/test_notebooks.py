"""Solution notebooks pass nbval (strict) in their own kernels; student notebooks stop at their
first exercise with NotImplementedError and nothing else."""

import re
import subprocess
import sys

import nbformat
import papermill as pm
import pytest

from workbook import course, paths

# Tracks declared before their lessons (environment first) have no notebook to run yet; the
# declaration lists exactly the notebooks in solutions/ (tests/test_course.py).
TRACKS = [track.folder for track in course.TRACKS if track.lessons]
STUDENT = [lesson.path(paths.NOTEBOOKS) for lesson in course.lessons()]
SOLVED = [lesson.path(paths.SOLUTIONS) for lesson in course.lessons()]
# A Python warning as `warnings` prints it ("...: UserWarning: ...") or as Airflow logs it
# ("[warning ] ... [py.warnings] category=SAWarning ...").
WARNING = re.compile(r"\[py\.warnings\]|\b\w+Warning\b")


def sanitize_file(tmp_path) -> str:
    """nbval regexes for what differs between runs and machines. Outputs redact their own paths
    (Lesson.redact); only %%writefile's message names a file's absolute path."""
    text = "\n".join([
        "[writefile]", r"regex: (Over)?[Ww]riting \S*/", "replace: Writing <path>/",
    ])
    path = tmp_path / "sanitize.cfg"
    path.write_text(text + "\n")
    return str(path)


@pytest.mark.slow
# A whole track in one run (each cell has its own 300 s limit): the Airflow track took 403 s
# under make test's load, and more than the default 600 s when the Airflow services' tests ran
# beside it.
@pytest.mark.timeout(1800)
@pytest.mark.parametrize("track", TRACKS)
def test_solutions_pass_nbval_strict(track, tmp_path):
    """One pytest per track: its lessons build on each other (03 writes what 04 runs)."""
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-q",
         "--nbval-sanitize-with", sanitize_file(tmp_path),
         "--nbval-cell-timeout=300", str(paths.SOLUTIONS / track)],
        capture_output=True, text=True, cwd=paths.ROOT,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]


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
