"""The files the intermediate solutions write into the dags folder (`%%writefile {dags}/...` and
`{incident}/...` cells), with the solution markers dropped: the DAGs exactly as a learner who
solved every exercise has them, for the tests and the benchmark to run and lint."""

import re
from collections.abc import Iterator
from pathlib import Path

import nbformat

from workbook import course, markers

WRITEFILE = re.compile(r"^%%writefile (?:-a )?\{(?P<folder>\w+)\}/(?P<name>\S+)\n")
FOLDERS = {"dags": "", "incident": "incident/"}  # notebook variable -> place in the dags folder


def writefile_cells(key: str) -> Iterator[tuple[str, str]]:
    """(path in the dags folder, text) of each DAG-folder file a lesson writes, in order."""
    nb = nbformat.read(course.find(key).path(), as_version=4)
    for cell in nb.cells:
        match = WRITEFILE.match(cell.source) if cell.cell_type == "code" else None
        if match and match["folder"] in FOLDERS:
            body = cell.source[match.end():]
            yield FOLDERS[match["folder"]] + match["name"], "\n".join(
                line for line in body.splitlines() if not markers.MARKER.match(line)) + "\n"


def dag_files(keys: list[str]) -> dict[str, str]:
    """Path -> text after the lessons `keys` (a later version of a file replaces the earlier)."""
    return {name: text for key in keys for name, text in writefile_cells(key)}


def write(files: dict[str, str], folder: Path) -> list[Path]:
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
