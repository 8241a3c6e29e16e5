"""Checkpoints: put a workspace in the state a lesson expects, by running the solutions of the
lessons it builds on (its metadata lists them under `workbook.requires`).

For a learner who fell behind (`workbook checkpoint NOTEBOOK`), and for the grader, which
prepares each learner's scratch workspace the same way before running their notebook.
"""

import sys
import tempfile
from pathlib import Path

import nbformat

from workbook import paths, runner


def required(notebook: Path) -> list[Path]:
    """The solution notebooks a notebook builds on, in order."""
    keys = nbformat.read(notebook, as_version=4).metadata.get("workbook", {}).get("requires", [])
    return [paths.SOLUTIONS / f"{key}.ipynb" for key in keys]


def prepare(notebook: Path, workspace: Path) -> list[str]:
    """Run the required solutions into `workspace`; returns their names."""
    workspace.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        for source in required(notebook):
            runner.run_notebook(source, {"workspace": str(workspace)},
                                Path(scratch) / source.name)
            done.append(source.stem)
    return done


def main(notebook: str, workspace: str | None) -> int:
    paths.apply_jupyter_environ()
    path = Path(notebook)
    level = path.parent.name
    target = Path(workspace) if workspace else paths.WORKSPACE / level
    try:
        done = prepare(path, target)
    except runner.RunError as err:
        print(f"workbook checkpoint: {err}", file=sys.stderr)
        return 1
    print(f"{target}: ready for {path.stem}" + (f" (ran {', '.join(done)})" if done else
                                                 " (it needs nothing from earlier lessons)"))
    return 0
