"""The checker's first cell: from here on it never runs code from the learner's files.

The checker imports only what the environment and the workbook package provide: a module found
under the learner's folder (a DAG file, a `pandas.py` planted next to it) is refused, whatever
put that folder on `sys.path`. It starts no program that names a path in the learner's folder
(their script, their tests) and loads no library from there. Reading the learner's files as
data stays allowed: that is how verdicts see what the learner's code wrote.
"""

import importlib.machinery
import sys
from pathlib import Path

# Audit events that start a program or load native code: which of their arguments name what
# runs (not the environment, which names the learner's folder for every program).
RUNS = {"subprocess.Popen": slice(0, 3), "os.system": slice(0, 1), "os.exec": slice(0, 2),
        "os.posix_spawn": slice(0, 2), "os.spawn": slice(1, 3), "ctypes.dlopen": slice(0, 1)}


class LearnerCodeRefused(ImportError):
    """The checker was about to run the learner's code."""


class RefuseLearnerModules:
    """A meta path finder, first in line, that refuses modules found under `root`."""

    def __init__(self, root: Path):
        self.root = root

    def find_spec(self, name, path=None, target=None):
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        origin = getattr(spec, "origin", None)
        if origin and Path(origin).resolve().is_relative_to(self.root):
            raise LearnerCodeRefused(f"the checker does not import the learner's code ({name})")
        return None  # not ours to load: the usual finders go on


def mentions(value, root: str) -> bool:
    """Whether an audit event's argument names a path under `root` (at any depth)."""
    if isinstance(value, str | bytes | Path):
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        return root in text
    if isinstance(value, list | tuple):
        return any(mentions(v, root) for v in value)
    if isinstance(value, dict):
        return any(mentions(v, root) for v in value.values())
    return False


def guard(learner_root: str) -> None:
    root = Path(learner_root).resolve()

    def refuse_programs(event: str, args: tuple) -> None:
        if event in RUNS and mentions(args[RUNS[event]], str(root)):
            raise LearnerCodeRefused(f"the checker does not run the learner's files ({event})")

    sys.path[:] = [p for p in sys.path if p and not Path(p).resolve().is_relative_to(root)]
    sys.meta_path.insert(0, RefuseLearnerModules(root))
    sys.addaudithook(refuse_programs)
