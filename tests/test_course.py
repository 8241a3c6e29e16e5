"""The course's declaration (workbook/course.py) is the one list of levels and lessons: it
matches the solutions, the README's curriculum table, and what lessons say they build on."""

import re

import nbformat
import pytest

from workbook import course, paths
from workbook.grading import samples


def test_the_declaration_lists_exactly_the_solution_notebooks():
    on_disk = sorted(str(p.relative_to(paths.SOLUTIONS).with_suffix(""))
                     for p in paths.SOLUTIONS.rglob("*.ipynb")
                     if ".ipynb_checkpoints" not in p.parts)
    assert sorted(course.lesson_keys()) == on_disk


def test_the_readme_curriculum_is_the_declaration():
    """Each row of the README's curriculum table names a declared lesson and its kernel, in the
    course's order; levels still in preparation have no notebook yet."""
    rows = re.findall(r"^\| [^|]*\| `(\d\d_\w+)` \|[^\n]*\| `(workbook-\w+)` \|$",
                      (paths.ROOT / "README.md").read_text(), re.MULTILINE)
    declared = [(lesson.name, lesson.track.kernel) for lesson in course.lessons()]
    assert rows == declared


def test_prerequisites_are_declared_lessons_only():
    from workbook import checkpoint

    nb = nbformat.v4.new_notebook(metadata={"workbook": {"requires": ["../../tmp/evil"]}})
    with pytest.raises(ValueError, match="no lessons of this course"):
        checkpoint.required(nb)
    nb.metadata["workbook"]["requires"] = ["01_beginner/03_notebook_to_script"]
    assert [lesson.key for lesson in checkpoint.required(nb)] == nb.metadata["workbook"]["requires"]


def test_a_track_of_a_level_has_its_own_folder_kernel_and_workspace(tmp_path):
    prefect = course.Track("03_advanced", "prefect", "prefect", ("01_events",))
    lesson = course.Lesson(prefect, "01_events")
    assert lesson.key == "03_advanced/prefect/01_events"
    assert lesson.path(tmp_path) == tmp_path / "03_advanced" / "prefect" / "01_events.ipynb"
    assert prefect.workspace(tmp_path) == tmp_path / "03_advanced" / "prefect"
    assert prefect.kernel == "workbook-prefect"


def test_every_lesson_is_found_from_a_copy_of_its_notebook(tmp_path):
    for lesson in course.lessons():
        assert course.at(lesson.path(paths.NOTEBOOKS)) == lesson
    assert course.at(tmp_path / "me" / "02_load.ipynb") is None
    assert course.at(paths.NOTEBOOKS / "01_beginner" / "99_unknown.ipynb") is None


def test_an_unknown_track_is_named_with_the_known_ones():
    with pytest.raises(ValueError, match="no track of this course; the tracks are: 01_beginner"):
        course.track("03_advanced/nowhere")
    from workbook import lesson

    with pytest.raises(ValueError, match="no track"):
        lesson.workspace_folder("../../etc")


def test_checkpoint_refuses_a_notebook_that_is_no_lesson(tmp_path, capsys):
    from workbook import checkpoint

    assert checkpoint.main(str(tmp_path / "mine.ipynb"), None) == 2
    assert "is no lesson of this course" in capsys.readouterr().err


def test_every_track_has_an_environment_and_every_environment_a_track():
    assert {track.env for track in course.TRACKS} == set(paths.level_envs())


def test_every_declared_orchestrator_has_its_integrity_suite():
    """A track declares its orchestrator only with the adapter that checks its files: the
    integrity suite then runs on every file its lessons write, none is passed over."""
    from workbook import integrity

    declared = {o.name for track in course.TRACKS for o in track.orchestrators}
    assert declared
    assert declared <= set(integrity.SUITES) & set(integrity.ENVIRONS)


@pytest.mark.parametrize("lesson", course.lessons(), ids=lambda lesson: lesson.key)
def test_every_lesson_is_graded_with_other_data_than_its_defaults(lesson):
    """The grader runs each lesson with its `workbook_grading` parameters: they must name the
    notebook's own parameters and change at least one that shapes the data (a date, a window or
    a seed), so an answer hard-coded from a default run fails in every lesson."""
    nb = nbformat.read(lesson.path(), as_version=4)
    graded = nb.metadata.get("workbook_grading", {}).get("parameters", {})
    known = samples.parameters(nb)
    assert graded, "no workbook_grading parameters"
    assert set(graded) <= set(known), set(graded) - set(known)
    shaping = {"run_date", "start", "seed"}
    assert any(graded[name] != known[name] for name in shaping & set(graded)), (graded, known)
