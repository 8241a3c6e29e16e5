"""Every solution notebook run once, the way a learner works through a track: lesson after
lesson in one kernel each and one workspace per track (03 writes what 04 runs). That one run
serves two tests:

- nbval, strict: every cell runs without an error and its outputs match the committed ones under
  nbval's own rules (tests/nbval_compare.py), as `pytest --nbval` would check them;
- the student's notebook stops at its first exercise: there the answer cell's stub (what
  notebooks/ holds) runs first, and the exercise must stop with NotImplementedError and nothing
  else, as a learner's first run does (the cells above it are the solution's own,
  tests/test_notebooks.py);
- the plausible mistakes the roster does not grade (it grades each lesson's first batch,
  tests/test_grading.py), tried as a learner tries them: at an answer cell with mistakes, each
  is written in turn and the exercise re-run from that cell to its last check, which must fail
  with the mistake's hint (what the learner reads under the check cell, and what the grader's
  feedback quotes); then the right answer runs, and the lesson goes on.

Hard-coded answers (the lesson's own run's values written in) are tried here too, though the
roster grades them: with the lesson's own parameters they pass, which shows that they are the
answer a learner could copy from a first run and that only the grader's parameters catch them;
or their check already catches them, and says so."""

import nbformat
import pytest
from mistakes import MISTAKES, HardCoded, graded
from nbclient import NotebookClient
from nbval_compare import difference, options
from traitlets.config import Config

from workbook import course, kernel_ipc, markers, paths
from workbook.grading import samples

# A track runs whole, mistakes and all: the Prefect track takes 20 minutes under make test's load.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
# Tracks declared before their lessons (environment first) have nothing to run yet; the
# declaration lists exactly the notebooks in solutions/ (tests/test_course.py).
TRACKS = [track.folder for track in course.TRACKS if track.lessons]
DIRECT = [m for m in MISTAKES if not graded(m.learner) or isinstance(m, HardCoded)]
CELL_TIMEOUT_S = 300  # as nbval's --nbval-cell-timeout was


def errors(cell) -> list[str]:
    return [f"{out.get('ename')}: {out.get('evalue')}" for out in cell.get("outputs", [])
            if out.get("output_type") == "error"]


def exercise_end(cells, start: int, exercise: str) -> int:
    """The index of the exercise's last check cell, from its answer cell at `start`."""
    return max(i for i in range(start, len(cells)) if markers.role(cells[i]) == "check"
               and markers.exercise(cells[i]) == exercise)


def run(client, cells, start: int, end: int) -> None:
    for index in range(start, end + 1):
        if cells[index].cell_type == "code" and not options(cells[index])["skip"]:
            cells[index].outputs = []
            client.execute_cell(cells[index], index)


def run_with(client, cells, index: int, source: str, exercise: str,
             answer: str) -> list[tuple[int, str]]:
    """The answer cell at `index` holding `source`, run to `exercise`'s last check: (cell index,
    error) of each error shown. The cell is left holding `answer`, not yet run."""
    cells[index].source = source
    end = exercise_end(cells, index, exercise)
    run(client, cells, index, end)
    cells[index].source = answer
    return [(i, text) for i in range(index, end + 1) for text in errors(cells[i])]


def try_stub(client, cells, index: int, stub: str, answer: str) -> list[str]:
    """The student's version of the answer cell at `index`, run to its exercise's last check:
    the first error must be the stub's NotImplementedError. The cell is left holding `answer`."""
    cell = cells[index]
    shown = run_with(client, cells, index, stub, markers.exercise(cell), answer)
    first = next((text for _, text in shown), None)
    if first is None or not first.startswith("NotImplementedError"):
        return [f"the student's notebook should stop at {markers.exercise(cell)} with "
                f"NotImplementedError, not {first}"]
    return []


def try_mistakes(client, key: str, cells, index: int, answers: dict[str, str]) -> list[str]:
    """Each mistake of lesson `key`'s answer cell at `index`, run to its exercise's last check;
    the cell is left holding its right answer, not yet run."""
    problems = []
    cell = cells[index]
    for mistake in [m for m in DIRECT if m.lesson == key and m.cell == cell.id]:
        probe = dict(answers)
        mistake.make(probe)
        shown = [text for i, text in run_with(client, cells, index, probe[cell.id],
                                              mistake.exercise(), answers[cell.id])
                 if markers.role(cells[i]) == "check"]
        if isinstance(mistake, HardCoded) and mistake.passes_by_default:
            if shown:
                problems.append(f"{mistake.name}: right for the lesson's own parameters, yet "
                                f"its check failed: {shown}")
        elif not any(mistake.hint in text for text in shown):
            problems.append(f"{mistake.name}: expected {mistake.hint!r} in {shown}")
    return problems


def execute(key: str, workspace, ran_path, probe: bool) -> tuple[list, dict, list[str]]:
    """The lesson run in a kernel of its own, its first stub and its mistakes tried on the way
    when `probe`:
    (the cells that ran, the committed cells by id, what went wrong)."""
    solution, student = samples.lesson(key)
    committed = {cell.id: cell for cell in solution.cells}
    nb = nbformat.from_dict(solution)
    where = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(where + 1, nbformat.v4.new_code_cell(  # as papermill injects parameters
        f"workspace = {str(workspace)!r}"))
    answers = samples.answers(nb)
    first = next(iter(answers))
    stub = next(c.source for c in student.cells if c.id == first)
    paths.JUPYTER_RUNTIME.mkdir(parents=True, exist_ok=True)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT_S, allow_errors=True,
                            kernel_name=nb.metadata["kernelspec"]["name"],
                            resources={"metadata": {"path": str(course.find(key).path().parent)}},
                            config=Config(kernel_ipc.run_config(paths.JUPYTER_RUNTIME)))
    problems, ran = [], []
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code" or options(cell)["skip"]:
                continue
            if probe and cell.id == first:
                problems += try_stub(client, nb.cells, index, stub, answers[first])
            if probe:
                problems += try_mistakes(client, key, nb.cells, index, answers)
            run(client, nb.cells, index, index)
            ran.append(cell)
            if errors(cell) and not options(cell)["check_exception"]:
                problems.append(f"cell {cell.id} failed: {errors(cell)}")
                break
    nbformat.write(nb, ran_path)
    return ran, committed, problems


def differences(ran: list, committed: dict) -> list[str]:
    return [f"cell {cell.id}'s outputs differ from the committed ones (nbval strict):\n{why}"
            for cell in ran if cell.id in committed
            and (why := difference(cell, committed[cell.id]))]


def run_lesson(key: str, workspace, folder) -> list[str]:
    """The lesson run once, mistakes and all, and its outputs compared with the committed ones.
    A stub or a mistake may leave state that a later cell prints (a batch it already ingested):
    where outputs then differ, the lesson runs again without them, as a learner's "restart and
    run all" would, and that run's outputs are the ones compared."""
    ran, committed, problems = execute(key, workspace, folder / "probed.ipynb", probe=True)
    diffs = differences(ran, committed)
    if diffs and not problems:
        ran, committed, problems = execute(key, workspace, folder / "clean.ipynb", probe=False)
        diffs = differences(ran, committed)
    return [f"{key}: {problem}" for problem in problems + diffs]


@pytest.mark.parametrize("track", TRACKS)
def test_each_lesson_runs_as_committed_and_its_mistakes_fail_with_their_hints(track, tmp_path):
    workspace = tmp_path / "workspace"
    problems = []
    for lesson in course.lessons(track):
        folder = tmp_path / lesson.name
        folder.mkdir()
        problems += run_lesson(lesson.key, workspace, folder)
    assert not problems, "\n".join(problems)
