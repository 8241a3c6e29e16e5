"""The course for instructors on nbgrader: nbgrader's cell metadata, derived from the course's
own, and `workbook export nbgrader COURSE_DIR`, which lays the course out as an nbgrader course.

The course's metadata stays the one source of truth: `workbook build` stamps the derived
`nbgrader` metadata into every solution notebook (and `build --check` fails when it drifts), so
the solutions are nbgrader source notebooks as they are:

    solution cell (`### BEGIN SOLUTION`)   nbgrader solution cell (the learner's answer)
    check cell                             locked, graded test cell with the same points; its
                                           `### BEGIN HIDDEN TESTS` block is nbgrader's too
    setup cell, the parameters cell        locked (nbgrader restores them before grading)

An exercise's points are its check cells' points in both graders. The grade ids are the cells'
ids, so nbgrader's gradebook and `workbook grade`'s reports name the same cells.
"""

import shutil
import sys
from pathlib import Path

import nbformat

from workbook import course, markers, paths
from workbook.grading.sandbox import Limits

SCHEMA_VERSION = 3  # nbgrader 0.9's cell metadata format
KEY = "nbgrader"
# What nbgrader's ClearSolutions writes in place of a solution: the course's own stub.
CODE_STUB = "\n".join(markers.CODE_STUB)
# A lesson's setup starts local services and may generate data: minutes on a loaded machine,
# as the course's own grader allows for a cell.
CELL_TIMEOUT_S = Limits().cell_timeout_s


def cell_metadata(cell) -> dict | None:
    """The `nbgrader` metadata a solution notebook's cell carries, from its course metadata;
    None for a cell nbgrader leaves alone (markdown, examples the learner may change)."""
    role = markers.role(cell)
    parameters = "parameters" in cell.get("metadata", {}).get("tags", [])
    if role == "solution":
        kind = {"solution": True, "grade": False, "locked": False}
    elif role == "check":
        points = cell["metadata"]["workbook"]["points"]
        kind = {"solution": False, "grade": True, "locked": True, "points": points}
    elif role == "setup" or parameters:
        kind = {"solution": False, "grade": False, "locked": True}
    else:
        return None
    return {"grade_id": cell["id"], **kind, "schema_version": SCHEMA_VERSION, "task": False}


def stamp(nb) -> bool:
    """Give every cell the nbgrader metadata its course metadata implies (and none to the
    others); whether anything changed."""
    changed = False
    for cell in nb.cells:
        wanted, meta = cell_metadata(cell), cell.setdefault("metadata", {})
        if meta.get(KEY) != wanted:
            changed = True
            if wanted is None:
                del meta[KEY]
            else:
                meta[KEY] = wanted
    return changed


def assignment_id(key: str) -> str:
    """nbgrader's name for a lesson's assignment: its key, one folder deep
    (`02_intermediate/01_first_dag` -> `02_intermediate-01_first_dag`)."""
    return key.replace("/", "-")


def config_text(root: Path) -> str:
    return f'''"""nbgrader's configuration for the Orchestration Workbook, written by
`workbook export nbgrader` (see NBGRADER.md beside it)."""

c = get_config()  # noqa: F821 (nbgrader defines it)
c.CourseDirectory.root = {str(root)!r}
c.CourseDirectory.db_url = {"sqlite:///" + str(root / "gradebook.db")!r}
# The course's stub, as the student notebooks in notebooks/ have it.
c.ClearSolutions.code_stub = {{"python": {CODE_STUB!r}}}
c.ClearSolutions.enforce_metadata = True
# A lesson's setup starts local services and may generate data: give a cell minutes.
c.Execute.timeout = {CELL_TIMEOUT_S}
c.Execute.interrupt_on_timeout = True
'''


NOTE = """# The Orchestration Workbook on nbgrader

Written by `workbook export nbgrader`. `source/` holds one assignment per lesson: the lesson's
solution notebook, whose cells carry nbgrader's metadata (derived from the course's own by
`workbook build`: solution cells, locked check cells graded with the course's points, locked
setup cells).

Run nbgrader with the course's base environment, so that the lessons' kernels
(`workbook-beginner`, `workbook-airflow`, ...) are found: from the course's folder,
`make setup` once, then in COURSE_DIR

    PATH=<course>/.venvs/base/bin:$PATH nbgrader generate_assignment <assignment>
    PATH=<course>/.venvs/base/bin:$PATH nbgrader autograde <assignment> --create

## How the course's grading maps onto nbgrader's autograde

- **Services.** Each lesson's setup cells start the local services it uses (PostgreSQL, the
  S3 API server, the SMTP sink, the weather API) on loopback, as they do in the learner's
  JupyterLab; autograde runs those cells too.
- **Grading parameters.** `workbook grade` runs each lesson with other parameters (another
  date, seed and data size) than the learner saw, so an answer copied from the learner's own
  run fails. nbgrader runs the notebook with the defaults in its parameters cell: such an
  answer passes there.
- **Where checks run.** nbgrader runs the check cells in the learner's kernel, beside the
  learner's code. `workbook grade` runs the verdicts in a second kernel, as another user, in a
  sandbox the learner's code cannot reach (no network, no other submissions, limits on memory,
  processes and disk), and restores every check cell from the source whatever the learner did.
  nbgrader restores locked cells too, but a learner's code can still patch the helpers that
  the checks call, in the kernel they share.
- **Earlier lessons.** A few lessons build on the files of an earlier one (lesson 04 schedules
  the script lesson 03 writes). nbgrader grades each assignment alone, in whatever workspace
  the kernels find (`WORKBOOK_WORKSPACE`, else the course's `workspace/`): before autograding
  such a lesson, put the course's own version of those files there with
  `python -m workbook checkpoint notebooks/<lesson>.ipynb --workspace <that folder>`. Every
  learner is then graded against the same earlier files; `workbook grade` runs each learner's
  own earlier lessons first instead.
- **Points.** The same in both: a check cell's points, all or nothing.
- **Hidden tests.** `### BEGIN HIDDEN TESTS` blocks are nbgrader's own markers: nbgrader
  removes them from the released notebooks and runs them when it autogrades.
"""


def export(target: Path, solutions: Path = paths.SOLUTIONS) -> list[Path]:
    """The course as an nbgrader course in `target`: source/<assignment>/<lesson>.ipynb for
    every lesson (its solution notebook, from `solutions`), nbgrader_config.py and
    NBGRADER.md. Returns the notebooks written."""
    target = target.resolve()
    sources = {lesson.key: lesson.path(solutions) for lesson in course.lessons()}
    for key, source in sources.items():  # all checked before anything is written
        if stamp(nbformat.read(source, as_version=4)):
            raise ValueError(f"{key}: its nbgrader metadata is out of date: run `make build`")
    written = []
    for key, source in sources.items():
        folder = target / "source" / assignment_id(key)
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, folder / source.name)
        written.append(folder / source.name)
    (target / "nbgrader_config.py").write_text(config_text(target))
    (target / "NBGRADER.md").write_text(NOTE)
    return written


def main(course_dir: str) -> int:
    try:
        written = export(Path(course_dir))
    except (OSError, ValueError) as err:
        print(f"export failed: {err}", file=sys.stderr)
        return 1
    print(f"{len(written)} assignments in {Path(course_dir) / 'source'}; see "
          f"{Path(course_dir) / 'NBGRADER.md'}")
    return 0
