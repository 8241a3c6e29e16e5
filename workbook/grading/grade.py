"""Grade one submitted notebook: identify, assemble, run sandboxed, score."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from workbook import checkpoint, paths
from workbook.grading import assemble, identify, sandbox, score


@dataclass
class GradeResult:
    learner: str
    submission: str
    notebook: str | None = None
    score: float = 0
    max_score: float = 0
    exercises: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    duration_s: float = 0

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """Everything one grading run needs besides the submission itself."""

    source_root: Path
    hidden: tuple[Path, ...]
    limits: sandbox.Limits
    slot: int = 0


def private_folder(box: sandbox.Sandbox) -> tuple[Path, Path]:
    """A root-only folder for the grader's files and, inside it, the kernel's work folder.

    The private folder is traversable but not listable (0711), so the kernel reaches its own
    work folder and nothing else; the work folder belongs to the grader user."""
    private = Path(tempfile.mkdtemp(prefix="workbook-grade-"))
    private.chmod(0o711)
    work = private / "work"
    work.mkdir(mode=0o700)
    if box.uid is not None:
        os.chown(work, box.uid, box.gid)
    return private, work


def run_sandboxed(assembly: assemble.Assembly, source: Path, job: Job,
                  box: sandbox.Sandbox) -> tuple[object | None, dict]:
    """Execute the assembled notebook; the executed notebook and the run's status."""
    private, work = private_folder(box)
    try:
        checkpoint.prepare(source, work / "workspace")  # trusted code, before the learner's
        if box.uid is not None:
            chown_tree(work, box.uid, box.gid)
        nbformat.write(assembly.notebook, private / "assembled.ipynb")
        kernel = assembly.notebook.metadata["kernelspec"]["name"]
        python = str(paths.venv_python(kernel.removeprefix(paths.KERNEL_PREFIX)))
        spec = {"private": str(private), "work": str(work),
                "kernel_argv": sandbox.kernel_argv(python, box, job.limits),
                "cell_timeout_s": job.limits.cell_timeout_s,
                "owner": [box.uid, box.gid] if box.uid is not None else None}
        (private / "spec.json").write_text(json.dumps(spec))
        # The repository and the interpreter the venvs are built on must be reachable for the
        # grader user even where they sit in a private home (a pyenv Python under /root).
        exposed = [paths.ROOT, Path(sys.base_prefix)]
        command = sandbox.wrap([str(paths.venv_python(paths.BASE_ENV)), "-m",
                                "workbook.grading.execute", str(private / "spec.json")],
                               box, job.limits, list(job.hidden), exposed, private / "stage")
        proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True, cwd=private)
        try:
            output, _ = proc.communicate(timeout=job.limits.total_timeout_s + 30)
        finally:
            kill_group(proc.pid)  # nothing the learner started outlives its grading
        executed = private / "executed.ipynb"
        if not executed.exists():
            reason = ("the total time limit was reached" if proc.returncode in (124, 137)
                      else f"the grading run failed ({proc.returncode}): {output[-500:]}")
            return None, {"error": reason}
        status = json.loads((private / "status.json").read_text())
        return nbformat.read(executed, as_version=4), status
    finally:
        shutil.rmtree(private, ignore_errors=True)


def chown_tree(folder: Path, uid: int, gid: int) -> None:
    for path in [folder, *folder.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def grade(path: Path, learner: str, job: Job) -> GradeResult:
    started = time.monotonic()
    result = GradeResult(learner=learner, submission=str(path))
    box = sandbox.probe(job.slot)
    result.warnings += box.warnings
    try:
        submission = identify.read_submission(path)
        source = identify.source_for(submission, path, job.source_root)
    except identify.SubmissionError as err:
        result.errors.append(str(err))
        return result
    source_nb = nbformat.read(source, as_version=4)
    result.notebook = identify.notebook_key(source, job.source_root)
    result.parameters = source_nb.metadata.get("workbook_grading", {}).get("parameters", {})
    assembly = assemble.assemble(source_nb, submission, result.parameters)
    result.notes += assembly.notes
    executed, status = run_sandboxed(assembly, source, job, box)
    if executed is None:
        result.errors.append(status["error"])
        executed = assembly.notebook  # nothing ran: every check scores as not run
    elif status.get("kernel_died"):
        result.errors.append("the kernel died during grading (os._exit, a crash or a limit)")
    exercises = score.score(assembly, executed, bool(status.get("kernel_died")))
    result.exercises = [e.as_dict() for e in exercises]
    result.score = sum(e.points for e in exercises)
    result.max_score = sum(e.max_points for e in exercises)
    result.duration_s = round(time.monotonic() - started, 2)
    return result
