"""The course as an nbgrader course (`workbook export nbgrader`), through nbgrader's own
commands: `generate_assignment` accepts every lesson and releases what notebooks/ holds, and
`autograde` scores a correct, a blank and a partial submission as `workbook grade` scores the
same files. (Hard-coded answers differ: nbgrader cannot give the lesson its grading
parameters; NBGRADER.md and the README say so.)"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_grading import HARD_CODED, ORIENTATION

from workbook import checkpoint, course, markers, nbgrader_course, paths
from workbook.grading import samples
from workbook.lesson import WORKSPACE_VARIABLE

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
GRADED = [*(lesson.key for lesson in course.lessons("01_beginner")),
          "02_intermediate/01_airflow_concepts", "02_intermediate/02_sources"]
KINDS = ("correct", "blank", "partial")


def nbgrader(course_dir: Path, *args: str) -> None:
    """An nbgrader command in the course folder, with the project's kernels on its path."""
    env = paths.jupyter_environ()
    result = subprocess.run([str(paths.BASE_PREFIX / "bin" / "nbgrader"), *args],
                            cwd=course_dir, env=env, capture_output=True, text=True,
                            timeout=1500)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]


def released(course_dir: Path, key: str):
    lesson = course.find(key)
    return nbformat.read(course_dir / "release" / nbgrader_course.assignment_id(key) /
                         lesson.path().name, as_version=4)


def kinds(key: str) -> tuple[str, ...]:
    """The submissions of a lesson: the orientation's hard-coded one besides."""
    return (*KINDS, "hard-coded") if key == ORIENTATION else KINDS


def answered(course_dir: Path, key: str, kind: str):
    """A submission made from nbgrader's released notebook, as a learner hands it in."""
    given = released(course_dir, key)
    return {"correct": lambda: samples.correct(key, given), "blank": lambda: given,
            "partial": lambda: samples.partial(key, given),
            "hard-coded": lambda: samples.submission(given, HARD_CODED)}[kind]()


@pytest.fixture(scope="module")
def course_dir(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("nbgrader-course")
    nbgrader_course.export(root)
    nbgrader(root, "generate_assignment", "*", "--force")
    return root


def without_lone_verdict(source: str) -> str:
    """A check cell whose evidence was all hidden tests: `workbook build` drops the `### VERDICT`
    line left on top of it, nbgrader keeps it. The one difference."""
    return source.removeprefix(markers.VERDICT + "\n")


def test_every_lesson_is_released_as_notebooks_holds_it(course_dir):
    """nbgrader's own stubs and hidden-test removal give the course's student notebooks."""
    for lesson in course.lessons():
        student = nbformat.read(lesson.path(paths.NOTEBOOKS), as_version=4)
        theirs = released(course_dir, lesson.key)
        assert [(c.id, without_lone_verdict(c.source)) for c in theirs.cells] == \
            [(c.id, c.source) for c in student.cells], lesson.key


def test_the_export_refuses_solutions_whose_metadata_drifted(tmp_path):
    """A check cell whose nbgrader points no longer match the course's stops the export, and
    nothing is written."""
    solutions = tmp_path / "solutions"
    shutil.copytree(paths.SOLUTIONS, solutions)
    drifted = course.find(GRADED[0]).path(solutions)
    nb = nbformat.read(drifted, as_version=4)
    check = next(c for c in nb.cells if c.metadata.get("workbook", {}).get("role") == "check")
    check.metadata["nbgrader"]["points"] += 1
    nbformat.write(nb, drifted)
    with pytest.raises(ValueError, match=f"{GRADED[0]}: its nbgrader metadata is out of date"):
        nbgrader_course.export(tmp_path / "out", solutions)
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def both_grades(course_dir, tmp_path_factory) -> dict:
    """Each submission autograded by nbgrader and graded by `workbook grade`:
    (learner, lesson) -> (nbgrader's score, workbook's score)."""
    roster = tmp_path_factory.mktemp("nbgrader-roster")
    roster.chmod(0o755)
    for key in GRADED:
        assignment = nbgrader_course.assignment_id(key)
        for kind in kinds(key):
            nb = answered(course_dir, key, kind)
            folder = course_dir / "submitted" / kind / assignment
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / course.find(key).path().name)
            samples.write(nb, roster / f"{kind}-{Path(key).name}", key)
        lesson = course.find(key)
        if checkpoint.required(nbformat.read(lesson.path(), as_version=4)):
            # As NBGRADER.md says: nbgrader grades each lesson alone, so the earlier lessons'
            # files it builds on are the course's (every learner alike), where `workbook
            # grade` runs the learner's own earlier lessons first.
            subprocess.run([sys.executable, "-m", "workbook", "checkpoint",
                            str(lesson.path(paths.NOTEBOOKS)), "--workspace",
                            os.environ[WORKSPACE_VARIABLE]], check=True, cwd=paths.ROOT,
                           capture_output=True, timeout=900)
        nbgrader(course_dir, "autograde", assignment, "--create", "--force")
    out = roster.parent / f"{roster.name}-grades"
    graded = subprocess.run([sys.executable, "-m", "workbook", "grade", str(roster), "--out",
                             str(out), "--workers", "2"], cwd=paths.ROOT, capture_output=True,
                            text=True, timeout=1500, env=dict(os.environ))
    assert graded.returncode in (0, 1), graded.stderr[-3000:]
    ours = {}
    for path in out.glob("*/*.json"):
        data = json.loads(path.read_text())
        ours[(data["learner"], data["notebook"])] = data["score"]
    from nbgrader.api import Gradebook

    found = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gradebook:
        for key in GRADED:
            for kind in kinds(key):
                theirs = gradebook.find_submission(nbgrader_course.assignment_id(key), kind)
                found[(kind, key)] = (theirs.score, ours[(f"{kind}-{Path(key).name}", key)])
    return found


@pytest.mark.parametrize("key", GRADED)
@pytest.mark.parametrize("kind", KINDS)
def test_nbgrader_scores_as_the_workbook_grader_does(both_grades, key, kind):
    theirs, ours = both_grades[(kind, key)]
    assert theirs == ours
    total, first = sum(samples.points(key).values()), next(iter(samples.points(key)))
    if kind == "correct":
        assert ours == total
    elif kind == "blank":
        assert ours == 0
    else:  # the first exercise (at least its first check: a later one may need more answers)
        assert samples.first_check_points(key, first) <= ours < total


def test_a_hard_coded_answer_passes_nbgrader_and_fails_the_workbook_grader(both_grades):
    """The named difference: the orientation's counts written in, right for the lesson's
    default parameters (which nbgrader runs), wrong for the grader's own."""
    theirs, ours = both_grades[("hard-coded", ORIENTATION)]
    assert (theirs, ours) == (sum(samples.points(ORIENTATION).values()), 0)
