"""The plausible mistakes the roster does not grade (it grades each lesson's first batch,
tests/test_grading.py): each batch run as a learner runs it, the solution with the mistakes made
in its answer cells, in the lesson's kernel with this session's services, up to the last check
of its exercises. Each of those checks must fail with its hint: what the learner reads under
the check cell, and what the grader's feedback quotes (it shows the check's own message)."""

import nbformat
import pytest
from mistakes import batches, graded, in_solution
from nbclient import NotebookClient
from traitlets.config import Config

from workbook import course, kernel_ipc, markers, paths

pytestmark = pytest.mark.slow
DIRECT = [learner for learner in batches() if not graded(learner)]


def failures(nb, exercise: str) -> list[str]:
    """The error messages the exercise's check cells showed."""
    return [f"{out.get('ename')}: {out.get('evalue')}" for cell in nb.cells
            if markers.role(cell) == "check" and markers.exercise(cell) == exercise
            for out in cell.get("outputs", []) if out.get("output_type") == "error"]


@pytest.mark.parametrize("learner", DIRECT)
def test_each_mistake_fails_its_check_with_its_hint(learner, tmp_path):
    key, nb = in_solution(learner)
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(where + 1, nbformat.v4.new_code_cell(  # as papermill injects parameters
        f"workspace = {str(tmp_path / 'workspace')!r}"))
    folder = course.find(key).path().parent
    paths.JUPYTER_RUNTIME.mkdir(parents=True, exist_ok=True)
    NotebookClient(nb, timeout=300, allow_errors=True,
                   kernel_name=nb.metadata["kernelspec"]["name"],
                   resources={"metadata": {"path": str(folder)}},
                   config=Config(kernel_ipc.run_config(paths.JUPYTER_RUNTIME))).execute()
    nbformat.write(nb, tmp_path / "ran.ipynb")  # kept with the test's files, to read on failure
    for mistake in batches()[learner]:
        shown = failures(nb, mistake.exercise())
        assert shown, f"{mistake.name}: its exercise's check passed ({tmp_path / 'ran.ipynb'})"
        assert any(mistake.hint in text for text in shown), (mistake.name, shown)
