"""The files a track's lessons write for its orchestrator (`%%writefile {dags}/...` cells, the
variables each orchestrator declares in workbook/course.py), with the solution markers
dropped: the files exactly as a learner who solved every exercise has them, for the tests,
the integrity suite and the benchmarks to run and lint."""

import json
import re
from collections.abc import Iterator
from pathlib import Path

from workbook import course, markers

WRITEFILE = re.compile(r"^%%writefile (?:-a )?\{(?P<folder>\w+)\}/(?P<name>\S+)\n")


def writefile_cells(key: str, orchestrator: str | None = None) -> Iterator[tuple[str, str]]:
    """(path in the orchestrator's folder, text) of each file a lesson writes there, in order;
    for a track of several orchestrators (the capstone), those of `orchestrator` (a name).
    The notebook is read as the JSON it is: nbformat is not in every environment that runs
    these files (the orchestrators' own test sessions)."""
    lesson = course.find(key)
    folders = {variable: place for declared in lesson.track.orchestrators
               if orchestrator in (None, declared.name)
               for variable, place in declared.folders.items()}
    for cell in json.loads(lesson.path().read_text())["cells"]:
        source = "".join(cell["source"])  # a list of lines, or one string
        match = WRITEFILE.match(source) if cell["cell_type"] == "code" else None
        if match and match["folder"] in folders:
            body = source[match.end():]
            yield folders[match["folder"]] + match["name"], "\n".join(
                line for line in body.splitlines() if not markers.MARKER.match(line)) + "\n"


def files(keys: list[str], orchestrator: str | None = None) -> dict[str, str]:
    """Path -> text after the lessons `keys` (a later version of a file replaces the earlier),
    of one orchestrator's files where the track has several."""
    return {name: text for key in keys for name, text in writefile_cells(key, orchestrator)}


def write(files: dict[str, str], folder: Path) -> list[Path]:
    written = []
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        written.append(path)
    return written
