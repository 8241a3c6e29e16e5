"""`workbook build`: write the student notebooks (notebooks/) from the solutions (solutions/).

Solutions are the single source: solution blocks become stubs, hidden tests are dropped,
outputs are cleared. The solutions' nbgrader metadata is derived from the course's and stamped
into them (workbook.nbgrader_course). `--check` fails when notebooks/ or that metadata differs
from what the build produces.
"""

import sys
from pathlib import Path

import nbformat

from workbook import course, markers, nbgrader_course, paths

# Notebook-level metadata a student notebook keeps; the rest (papermill, widgets...) goes.
KEPT_METADATA = ("kernelspec", "language_info", "workbook")


class AuthoringError(ValueError):
    """A solution notebook breaks a convention (marker, parameters cell, kernel, cell ids)."""


def solution_notebooks() -> list[Path]:
    """The solution notebook of every declared lesson, in course order."""
    return [lesson.path() for lesson in course.lessons()]


def undeclared() -> list[str]:
    """Solution notebooks that workbook/course.py does not declare (so nothing builds them)."""
    declared = set(solution_notebooks())
    return [f"solutions/{p.relative_to(paths.SOLUTIONS)} is not declared in workbook/course.py"
            for p in sorted(paths.SOLUTIONS.rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in p.parts and p not in declared]


def validate(nb, name: str) -> None:
    """The conventions every solution notebook follows (README, "For authors")."""
    kernel = nb.metadata.get("kernelspec", {}).get("name", "")
    if not kernel.startswith(paths.KERNEL_PREFIX):
        raise AuthoringError(f"{name}: kernelspec must name a workbook-<env> kernel, "
                             f"got {kernel!r}")
    if "language_info" not in nb.metadata:
        raise AuthoringError(f"{name}: missing language_info metadata (papermill needs it)")
    tagged = [c for c in nb.cells if "parameters" in c.get("metadata", {}).get("tags", [])]
    if len(tagged) != 1:
        raise AuthoringError(f"{name}: needs exactly one cell tagged 'parameters', "
                             f"found {len(tagged)}")
    ids = [c.get("id") for c in nb.cells]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    if None in ids or duplicated:
        raise AuthoringError(f"{name}: every cell needs a unique id (duplicated: {duplicated})")
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("workbook")
        if meta is not None and meta.get("role") not in markers.ROLES:
            raise AuthoringError(f"{name}: cell {cell['id']}: workbook.role must be one of "
                                 f"{', '.join(markers.ROLES)}")


def student_version(nb, name: str):
    """A new notebook: stubs for solutions, no hidden tests, no outputs, clean metadata."""
    validate(nb, name)
    out = nbformat.v4.new_notebook()
    out.metadata = {k: nb.metadata[k] for k in KEPT_METADATA if k in nb.metadata}
    for cell in nb.cells:
        where = f"{name} cell {cell['id']}"
        new = nbformat.from_dict(
            {
                "id": cell["id"],
                "cell_type": cell["cell_type"],
                "metadata": {k: v for k, v in cell.get("metadata", {}).items()
                             if k in ("tags", "workbook", "editable", "deletable")},
                "source": markers.strip_cell(cell, where),
            }
        )
        if cell["cell_type"] == "code":
            new.outputs, new.execution_count = [], None
        out.cells.append(new)
    return out


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def build_all(check: bool = False, out: Path | None = None) -> list[str]:
    """Write (or with `check`, compare) every student notebook into `out` (notebooks/ by
    default; the learners' CI builds pristine copies elsewhere); returns the problems found."""
    out = out or paths.NOTEBOOKS
    problems, expected = undeclared(), set()
    for source in solution_notebooks():
        rel = source.relative_to(paths.SOLUTIONS)
        target = out / rel
        expected.add(target)
        nb = nbformat.read(source, as_version=4)
        if nbgrader_course.stamp(nb):  # derived from the course's metadata: kept in step
            if check:
                problems.append(f"solutions/{rel}: its nbgrader metadata is out of date: run "
                                "`make build`")
            else:
                source.write_text(render(nb), encoding="utf-8")
        text = render(student_version(nb, f"solutions/{rel}"))
        if check:
            if not target.exists() or target.read_text(encoding="utf-8") != text:
                problems.append(f"notebooks/{rel} is out of date: run `make build`")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
    for stale in sorted(set(out.rglob("*.ipynb")) - expected):
        if ".ipynb_checkpoints" not in stale.parts:
            shown = stale.relative_to(paths.ROOT) if stale.is_relative_to(paths.ROOT) else stale
            problems.append(f"{shown} has no source in solutions/")
    return problems


def main(check: bool = False, out: str | None = None) -> int:
    try:
        problems = build_all(check, Path(out) if out else None)
    except (markers.MarkerError, AuthoringError) as err:
        print(f"build failed: {err}", file=sys.stderr)
        return 1
    for problem in problems:
        print(problem, file=sys.stderr)
    if not problems:
        print("notebooks/ is up to date" if check else "notebooks/ written from solutions/")
    return 1 if problems else 0
