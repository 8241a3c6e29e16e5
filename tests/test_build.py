"""workbook build: markers, conventions and the notebooks/ folder being in sync."""

import nbformat
import pytest

from workbook import build, markers, nbgrader_course, paths


def cell(source, role=None, cell_type="code", cell_id="c1"):
    meta = {"workbook": {"exercise": "e", "role": role, "points": 1}} if role else {}
    return nbformat.from_dict({"id": cell_id, "cell_type": cell_type, "metadata": meta,
                               "source": source, "outputs": [], "execution_count": 3})


def notebook(*cells, kernel="workbook-beginner"):
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": kernel, "display_name": kernel, "language": "python"},
                   "language_info": {"name": "python"}, "papermill": {"x": 1}}
    params = nbformat.v4.new_code_cell("x = 1", id="params")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, *cells]
    return nb


def test_solution_block_becomes_an_indented_stub():
    source = "def f():\n    ### BEGIN SOLUTION\n    return 42\n    ### END SOLUTION\nf()"
    out = markers.strip_cell(cell(source, "solution"), "nb")
    assert out == "def f():\n    # YOUR CODE HERE\n    raise NotImplementedError()\nf()"


def test_hidden_tests_are_dropped_and_visible_checks_kept():
    source = "assert a\n### BEGIN HIDDEN TESTS\nassert secret\n### END HIDDEN TESTS\nprint('ok')"
    assert markers.strip_cell(cell(source, "check"), "nb") == "assert a\nprint('ok')"


@pytest.mark.parametrize(
    ("source", "role", "message"),
    [
        ("### BEGIN SOLUTION\nx = 1", "solution", "never closed"),
        ("x = 1\n### END SOLUTION", "solution", "without a matching BEGIN"),
        ("### BEGIN ANSWER\n### END ANSWER", "solution", "unknown marker"),
        ("### BEGIN SOLUTION\n### BEGIN HIDDEN TESTS\n", "solution", "inside an open"),
        ("### BEGIN SOLUTION\nx\n### END SOLUTION", None, "needs cell metadata"),
        ("### BEGIN HIDDEN TESTS\nx\n### END HIDDEN TESTS", "solution", "workbook.role = 'check'"),
        ("###  BEGIN SOLUTION", "solution", "malformed marker"),
    ],
)
def test_bad_markers_name_the_notebook_and_cell(source, role, message):
    with pytest.raises(markers.MarkerError, match=message) as err:
        markers.strip_cell(cell(source, role, cell_id="ex-3"), "solutions/x.ipynb cell ex-3")
    assert "solutions/x.ipynb cell ex-3" in str(err.value)


def test_student_version_clears_outputs_and_foreign_metadata():
    nb = notebook(cell("### BEGIN SOLUTION\ny = 2\n### END SOLUTION", "solution"))
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="2")]
    out = build.student_version(nb, "x.ipynb")
    assert out.cells[1].outputs == [] and out.cells[1].execution_count is None
    assert "papermill" not in out.metadata and out.metadata["kernelspec"]["name"]
    assert out.cells[1].metadata["workbook"]["role"] == "solution"
    assert [c.id for c in out.cells] == [c.id for c in nb.cells]


@pytest.mark.parametrize(
    ("nb", "message"),
    [
        (notebook(kernel="python3"), "workbook-<env> kernel"),
        (notebook(cell("x", cell_id="params")), "unique id"),
        (notebook(cell("x", "teacher")), "workbook.role"),
    ],
)
def test_authoring_conventions_are_enforced(nb, message):
    with pytest.raises(build.AuthoringError, match=message):
        build.student_version(nb, "x.ipynb")


def test_two_parameters_cells_are_refused():
    nb = notebook()
    extra = nbformat.v4.new_code_cell("y = 2", id="p2")
    extra.metadata["tags"] = ["parameters"]
    nb.cells.append(extra)
    with pytest.raises(build.AuthoringError, match="exactly one cell tagged 'parameters'"):
        build.student_version(nb, "x.ipynb")


def test_committed_notebooks_match_the_build():
    assert build.build_all(check=True) == []


def test_check_reports_a_stale_student_notebook(tmp_path, monkeypatch):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    (solutions / "lvl").mkdir(parents=True)
    (notebooks / "lvl").mkdir(parents=True)
    nbformat.write(notebook(cell("### BEGIN SOLUTION\n1\n### END SOLUTION", "solution")),
                   solutions / "lvl" / "a.ipynb")
    (notebooks / "lvl" / "a.ipynb").write_text("{}")
    (notebooks / "lvl" / "orphan.ipynb").write_text("{}")
    monkeypatch.setattr(paths, "SOLUTIONS", solutions)
    monkeypatch.setattr(paths, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(paths, "ROOT", tmp_path)
    monkeypatch.setattr(build, "solution_notebooks", lambda: [solutions / "lvl" / "a.ipynb"])
    problems = build.build_all(check=True)
    assert problems == ["solutions/lvl/a.ipynb: its nbgrader metadata is out of date: run "
                        "`make build`",
                        "notebooks/lvl/a.ipynb is out of date: run `make build`",
                        "notebooks/lvl/orphan.ipynb has no source in solutions/"]
    build.build_all(check=False)
    assert build.build_all(check=True) == ["notebooks/lvl/orphan.ipynb has no source in "
                                           "solutions/"]
    stamped = nbformat.read(solutions / "lvl" / "a.ipynb", as_version=4).cells[1]
    assert stamped.metadata["nbgrader"]["solution"] is True


def test_a_solution_the_course_does_not_declare_is_reported(tmp_path, monkeypatch):
    solutions = tmp_path / "solutions"
    (solutions / "lvl").mkdir(parents=True)
    nbformat.write(notebook(), solutions / "lvl" / "stray.ipynb")
    monkeypatch.setattr(paths, "SOLUTIONS", solutions)
    monkeypatch.setattr(build, "solution_notebooks", lambda: [])
    assert build.undeclared() == ["solutions/lvl/stray.ipynb is not declared in workbook/course.py"]


def test_nbgrader_metadata_is_derived_from_the_course_metadata():
    """Answer cells are nbgrader's solution cells, check cells its locked graded tests with the
    same points, setup and parameters cells locked; the rest carry none. The grade id is the
    cell's id."""
    check = cell("checks.expect(True)", "check", cell_id="e-check")
    check.metadata["workbook"]["points"] = 3
    nb = notebook(cell("### BEGIN SOLUTION\n1\n### END SOLUTION", "solution", cell_id="e-sol"),
                  check, cell("import x", "setup", cell_id="s"), cell("print(1)", cell_id="d"),
                  cell("text", cell_type="markdown", cell_id="m"))
    assert nbgrader_course.stamp(nb) and not nbgrader_course.stamp(nb)
    found = {c.id: c.metadata.get("nbgrader") for c in nb.cells}
    common = {"schema_version": 3, "task": False}
    assert found == {
        "params": {"grade_id": "params", "solution": False, "grade": False, "locked": True,
                   **common},
        "e-sol": {"grade_id": "e-sol", "solution": True, "grade": False, "locked": False,
                  **common},
        "e-check": {"grade_id": "e-check", "solution": False, "grade": True, "locked": True,
                    "points": 3, **common},
        "s": {"grade_id": "s", "solution": False, "grade": False, "locked": True, **common},
        "d": None, "m": None}
    nb.cells[1].metadata["workbook"]["role"] = None  # no longer an answer: its metadata goes
    assert nbgrader_course.stamp(nb) and "nbgrader" not in nb.cells[1].metadata
