"""The plausible mistakes the roster does not grade (it grades each lesson's first batch,
tests/test_grading.py), tried the way a learner tries them: one kernel runs the lesson's
solution cell by cell; at an answer cell with mistakes, each mistake is written in turn and the
exercise re-run from that cell to its last check, which must fail with the mistake's hint (what
the learner reads under the check cell, and what the grader's feedback quotes); then the right
answer is run, and the lesson goes on, every check passing again. One run per lesson, in this
session's services: a fraction of a sandboxed run per mistake.

Hard-coded answers (the lesson's own run's values written in) are tried here too, though the
roster grades them: with the lesson's own parameters they pass, which shows that they are the
answer a learner could copy from a first run and that only the grader's parameters catch them;
or their check already catches them, and says so."""

import nbformat
import pytest
from mistakes import MISTAKES, HardCoded, graded
from nbclient import NotebookClient
from traitlets.config import Config

from workbook import course, kernel_ipc, markers, paths
from workbook.grading import samples

pytestmark = pytest.mark.slow
DIRECT = [m for m in MISTAKES if not graded(m.learner) or isinstance(m, HardCoded)]
LESSONS = list(dict.fromkeys(m.lesson for m in DIRECT))


def errors(cell) -> list[str]:
    return [f"{out.get('ename')}: {out.get('evalue')}" for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def exercise_end(cells, start: int, exercise: str) -> int:
    """The index of the exercise's last check cell, from its answer cell at `start`."""
    return max(i for i in range(start, len(cells)) if markers.role(cells[i]) == "check"
               and markers.exercise(cells[i]) == exercise)


def run(client, cells, start: int, end: int) -> None:
    for index in range(start, end + 1):
        cells[index].outputs = []
        client.execute_cell(cells[index], index)


@pytest.mark.parametrize("key", LESSONS)
def test_each_mistake_fails_its_check_with_its_hint_and_the_fix_passes(key, tmp_path):
    solution, _ = samples.lesson(key)
    nb = solution
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(where + 1, nbformat.v4.new_code_cell(  # as papermill injects parameters
        f"workspace = {str(tmp_path / 'workspace')!r}"))
    answers = {c.id: c.source for c in nb.cells if markers.role(c) == "solution"}
    paths.JUPYTER_RUNTIME.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=300, allow_errors=True,
                            kernel_name=nb.metadata["kernelspec"]["name"],
                            resources={"metadata": {"path": str(course.find(key).path().parent)}},
                            config=Config(kernel_ipc.run_config(paths.JUPYTER_RUNTIME)))
    problems = []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            for mistake in [m for m in DIRECT if m.lesson == key and m.cell == cell.id]:
                probe = dict(answers)
                mistake.make(probe)
                cell.source = probe[cell.id]
                end = exercise_end(nb.cells, index, mistake.exercise())
                run(client, nb.cells, index, end)
                shown = [text for i in range(index, end + 1) for text in errors(nb.cells[i])
                         if markers.role(nb.cells[i]) == "check"]
                if isinstance(mistake, HardCoded) and mistake.passes_by_default:
                    if shown:
                        problems.append(f"{mistake.name}: right for the lesson's own "
                                        f"parameters, yet its check failed: {shown}")
                elif not any(mistake.hint in text for text in shown):
                    problems.append(f"{mistake.name}: expected {mistake.hint!r} in {shown}")
                cell.source = answers[cell.id]
            run(client, nb.cells, index, index)
            if errors(cell):
                problems.append(f"cell {cell.id} failed after the mistakes before it were "
                                f"fixed: {errors(cell)}")
                break
    nbformat.write(nb, tmp_path / "ran.ipynb")
    assert not problems, "\n".join(problems)
