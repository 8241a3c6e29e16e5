"""A failed check in a notebook shows its hint, not a traceback through workbook/checks.py, and
still stops the run (papermill, nbval and the grader see the cell fail)."""

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from workbook import paths

pytestmark = pytest.mark.slow


def run(*sources: str):
    nb = nbformat.v4.new_notebook(metadata={"kernelspec": {
        "name": paths.kernel_name("beginner"), "display_name": "beginner", "language": "python"}})
    nb.cells = [nbformat.v4.new_code_cell(source) for source in sources]
    client = NotebookClient(nb, timeout=120)
    with pytest.raises(CellExecutionError) as failed:
        client.execute()
    return nb, failed.value


def test_a_failed_check_shows_its_hint_and_stops_the_notebook():
    nb, error = run("from workbook import checks",
                    "checks.expect_equal(1, 2, 'the answer', 'add one more')", "print('after')")
    [output] = nb.cells[1].outputs
    assert output.output_type == "error" and output.ename == "CheckFailed"
    shown = "\n".join(output.traceback)
    assert "the answer is 1, expected 2: add one more" in shown
    assert len(output.traceback) == 1 and "checks.py" not in shown
    assert nb.cells[2].outputs == []  # the run stopped at the check
    assert error.ename == "CheckFailed"


def test_other_errors_keep_their_traceback():
    nb, error = run("from workbook import checks", "{}['daily']")
    assert error.ename == "KeyError"
    assert len(nb.cells[1].outputs[0].traceback) > 1  # IPython's own frames, not a hint line
