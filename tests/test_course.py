"""The course's declaration (workbook/course.py) is the one list of levels and lessons: it
matches the solutions, the README's curriculum table, and what lessons say they build on."""

import re

import nbformat
import pytest

from workbook import course, paths


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
    declared = [(lesson.name, paths.kernel_name(lesson.level.env)) for lesson in course.lessons()]
    assert rows == declared


def test_prerequisites_are_declared_lessons_only():
    from workbook import checkpoint

    nb = nbformat.v4.new_notebook(metadata={"workbook": {"requires": ["../../tmp/evil"]}})
    with pytest.raises(ValueError, match="no lessons of this course"):
        checkpoint.required(nb)
    nb.metadata["workbook"]["requires"] = ["01_beginner/03_notebook_to_script"]
    assert [lesson.key for lesson in checkpoint.required(nb)] == nb.metadata["workbook"]["requires"]
