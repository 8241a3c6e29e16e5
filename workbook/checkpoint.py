"""Checkpoints: put a workspace in the state a lesson expects, by running the solutions of the
lessons it builds on (its metadata lists them under `workbook.requires`).

For a learner who fell behind (`workbook checkpoint NOTEBOOK [--workspace DIR]`), and for the
grader, which runs the same lessons (in its sandbox) before each learner's notebook.

The solutions write their files over the learner's (their scripts, DAG files, databases): a
checkpoint first copies the workspace's files aside, keeps the copy of each file the run changed
or removed in `<workspace>/checkpoint-backups/<time>/` and names them. When the run fails, the
workspace is put back as it was (what the run created is removed again).
"""

import datetime as dt
import hashlib
import shutil
import sys
import tempfile
from pathlib import Path

import nbformat

from workbook import course, paths, runner

BACKUPS = "checkpoint-backups"
# Not the learner's work: tools' state the lessons regenerate (Airflow's metadata database and
# task logs, Python's and Jupyter's caches), and the backups themselves.
NOT_WORK = {"airflow_home", "__pycache__", ".ipynb_checkpoints", BACKUPS}


def required(nb) -> list[course.Lesson]:
    """The lessons a notebook builds on, in order: declared lessons only."""
    keys = nb.metadata.get("workbook", {}).get("requires", [])
    lessons = [course.find(key) for key in keys]
    if None in lessons:
        unknown = [key for key, lesson in zip(keys, lessons, strict=True) if lesson is None]
        raise ValueError(f"it requires {unknown}, which are no lessons of this course")
    return lessons


def prepare(notebook: Path, workspace: Path) -> list[str]:
    """Run the required solutions into `workspace`; returns their names."""
    workspace.mkdir(parents=True, exist_ok=True)
    done = []
    with tempfile.TemporaryDirectory() as scratch:
        for lesson in required(nbformat.read(notebook, as_version=4)):
            runner.run_notebook(lesson.path(), {"workspace": str(workspace)},
                                Path(scratch) / f"{lesson.name}.ipynb")
            done.append(lesson.name)
    return done


def work_files(workspace: Path) -> dict[str, str]:
    """Relative path -> content hash of each file of the learner's work in `workspace`."""
    found = {}
    for path in sorted(workspace.rglob("*")):
        relative = path.relative_to(workspace)
        if path.is_file() and not path.is_symlink() and not NOT_WORK & set(relative.parts):
            found[str(relative)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


class Backup:
    """A copy of a workspace's files, taken before a checkpoint runs into it."""

    def __init__(self, workspace: Path):
        self.workspace = workspace
        self.before = work_files(workspace) if workspace.is_dir() else {}
        existing = [workspace, *workspace.rglob("*")] if workspace.is_dir() else []
        self.folders = {p for p in existing if p.is_dir()}
        stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        self.folder, n = workspace / BACKUPS / stamp, 1
        while self.folder.exists():
            n += 1
            self.folder = workspace / BACKUPS / f"{stamp}-{n}"
        for name in self.before:
            (self.folder / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(workspace / name, self.folder / name)

    def changed(self) -> list[str]:
        """The files the checkpoint changed or removed (their old versions are in the copy)."""
        after = work_files(self.workspace)
        return sorted(name for name, digest in self.before.items() if after.get(name) != digest)

    def keep(self) -> list[str]:
        """Keep the copies of the changed files only (none changed: no backup folder left);
        returns their names."""
        changed = self.changed()
        for name in self.before.keys() - set(changed):
            (self.folder / name).unlink()
        remove_empty_folders(self.folder.parent, self.folder.parent.parent)
        return changed

    def restore(self) -> None:
        """Put the learner's files back as they were: the old versions back, what the run
        created removed, the copy deleted."""
        for name in self.changed():
            (self.workspace / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(self.folder / name, self.workspace / name)
        for name in work_files(self.workspace).keys() - self.before.keys():
            (self.workspace / name).unlink()
        shutil.rmtree(self.folder, ignore_errors=True)
        remove_empty_folders(self.workspace, self.workspace.parent, keep=self.folders)


def remove_empty_folders(top: Path, stop: Path, keep: set[Path] = frozenset()) -> None:
    """Remove the empty folders under and including `top` (not `stop` or those in `keep`)."""
    if not top.is_dir():
        return
    for folder in sorted((p for p in top.rglob("*") if p.is_dir()), reverse=True) + [top]:
        if folder != stop and folder not in keep and not any(folder.iterdir()):
            folder.rmdir()


def main(notebook: str, workspace: str | None) -> int:
    paths.apply_jupyter_environ()
    path = Path(notebook)
    lesson = course.at(path)
    if lesson is None:
        print(f"workbook checkpoint: {notebook} is no lesson of this course (the lessons are "
              f"notebooks/<level>/<lesson>.ipynb)", file=sys.stderr)
        return 2
    target = (Path(workspace) if workspace else lesson.track.workspace()).absolute()
    backup = Backup(target)
    try:
        done = prepare(path, target)
    except BaseException as err:
        backup.restore()
        if not isinstance(err, runner.RunError):
            raise
        print(f"workbook checkpoint: {err}\nyour workspace {target} is as it was",
              file=sys.stderr)
        return 1
    replaced = backup.keep()
    print(f"{target}: ready for {path.stem}" + (f" (ran {', '.join(done)})" if done else
                                                 " (it needs nothing from earlier lessons)"))
    if replaced:
        print(f"it changed {len(replaced)} of your files; your versions are in {backup.folder}:")
        for name in replaced:
            print(f"  {name}")
    return 0
