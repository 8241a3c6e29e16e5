"""Grade one submitted notebook: identify its lesson, assemble, run sandboxed, score.

Whatever the submission holds, `grade` returns a result: a submission that cannot be graded
(not a notebook, no known lesson, or a failure of the grader itself) says why in its errors
and is marked `graded = False`; it never stops the rest of the class.
"""

import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

from workbook import checkpoint, lesson, paths, services
from workbook.grading import assemble, identify, sandbox, score
from workbook.grading.timing import Timings


@dataclass
class GradeResult:
    learner: str
    submission: str
    notebook: str | None = None
    graded: bool = False  # the notebook ran and was scored (whatever the score)
    score: float = 0
    max_score: float = 0
    exercises: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parameters: dict = field(default_factory=dict)
    duration_s: float = 0
    timings: Timings = field(default_factory=Timings)  # where the time went (see `timing`)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Job:
    """Everything one grading run needs besides the submission itself."""

    source_root: Path
    limits: sandbox.Limits


@dataclass(frozen=True)
class Areas:
    """Where the learner's files, the checker's and the grader's own are, as the client sees
    them (inside the sandbox, or on this machine when there is none)."""

    learner: Path
    checker: Path
    grader: Path

    @classmethod
    def of(cls, box: sandbox.Sandbox, private: Path) -> "Areas":
        if box.isolated:
            return cls(sandbox.LEARNER_AREA, sandbox.CHECKER_AREA, sandbox.GRADER_AREA)
        return cls(private / "learner", private / "checker", private)

    @property
    def work(self) -> Path:
        return self.learner / "work"

    @property
    def evidence(self) -> Path:
        return self.work / ".evidence"

    @property
    def checker_home(self) -> Path:
        return self.checker / "home"


def owner(who: sandbox.Identity | None) -> list[int] | None:
    return [who.uid, who.gid] if who else None


def kernel_environ(python: str, home: Path, state: Path, tmp: Path) -> dict[str, str]:
    """What every grading kernel gets: its home, its tools' state under `state`, its /tmp."""
    return {"PATH": f"{Path(python).parent}:/usr/local/bin:/usr/bin:/bin", "HOME": str(home),
            "TMPDIR": str(tmp), services.STATE_VARIABLE: str(state / "services"),
            "IPYTHONDIR": str(state / "ipython"), "MPLCONFIGDIR": str(state / "mpl"),
            "JUPYTER_DATA_DIR": str(state / "jupyter"),
            "JUPYTER_CONFIG_DIR": str(state / "jupyter"),
            services.HEADLESS_VARIABLE: "1",  # nobody opens a service's UI in the sandbox
            # glibc gives each thread that contends for malloc an arena of its own, 64 MB of
            # address space each, up to 8 per core: under the kernels' address-space limit a
            # threaded lesson (Prefect's task runners, delta-rs) reached 3 GiB of it while
            # using 420 MB, and failed with "can't start new thread". Two arenas suffice.
            "MALLOC_ARENA_MAX": "2"}


def kernels(python: str, box: sandbox.Sandbox, limits: sandbox.Limits, areas: Areas) -> dict:
    """The two kernels' specs: commands, users, environments, folders."""
    work, home = areas.work, areas.checker_home
    workspace = {lesson.WORKSPACE_VARIABLE: str(work / "workspace")}
    learner_env = {**kernel_environ(python, work, work / ".state", Path("/tmp") if box.isolated
                                    else work / ".state" / "tmp"), **workspace}
    checker_env = {**kernel_environ(python, home, home, home / "tmp"), **workspace,
                   lesson.CHECKER_VARIABLE: "1", lesson.DATA_ROOT_VARIABLE: str(home / "data"),
                   services.LEARNER_SERVICES_VARIABLE:
                       learner_env[services.STATE_VARIABLE]}
    return {
        "learner": {"name": assemble.LEARNER_KERNEL, "env": learner_env, "home": str(work),
                    "argv": sandbox.learner_kernel_argv(python, box, limits),
                    "owner": owner(box.learner), "runtime": str(work / ".state" / "runtime"),
                    "ipc": str(work / ".state" / "runtime")},
        "checker": {"name": assemble.CHECKER_KERNEL, "env": checker_env, "home": str(home),
                    "argv": sandbox.checker_kernel_argv(python, box, limits),
                    "owner": owner(box.checker), "runtime": str(home / "runtime"),
                    "ipc": str(home / "ipc")},
    }


def folders(box: sandbox.Sandbox, areas: Areas) -> list:
    """(path, owner, mode) of each folder the client creates before the kernels start: the
    learner's are group-readable (the checker reads its evidence), the checker's private."""
    work, home = areas.work, areas.checker_home
    learner = [(work / sub, owner(box.learner), 0o2750) for sub in (
        "", "workspace", ".evidence", ".state", ".state/runtime", ".state/tmp")]
    checker = [(home / sub, owner(box.checker), 0o700) for sub in (
        "", "runtime", "ipc", "tmp", "data", "services")]
    return [[str(path), who, mode] for path, who, mode in [*learner, *checker]]


def prerequisites(source_nb) -> list:
    """(key, notebook) of the solutions the lesson builds on, for the learner's kernel."""
    found = []
    for required in checkpoint.required(source_nb):
        nb = nbformat.read(required.path(), as_version=4)
        nb.metadata["kernelspec"] = {"name": assemble.LEARNER_KERNEL, "language": "python",
                                     "display_name": assemble.LEARNER_KERNEL}
        found.append((required.key, nb))
    return found


def level_python(source_nb) -> str:
    """The interpreter of the lesson's environment, found by its kernel's name."""
    return str(paths.env_python(
        source_nb.metadata["kernelspec"]["name"].removeprefix(paths.KERNEL_PREFIX)))


def write_private(plan: assemble.Plan, source_nb, box: sandbox.Sandbox, job: Job,
                  private: Path, areas: Areas, python: str) -> None:
    """The grader's files for the run (root-only), and the client's spec."""
    nbformat.write(plan.learner, private / "learner.ipynb")
    nbformat.write(plan.checker, private / "checker.ipynb")
    required = []
    for number, (key, nb) in enumerate(prerequisites(source_nb)):
        nbformat.write(nb, private / f"requires-{number}.ipynb")
        required.append([key, f"requires-{number}.ipynb"])
    spec = {"kernels": kernels(python, box, job.limits, areas), "folders": folders(box, areas),
            "requires": required, "verdicts": plan.verdicts(),
            "checker_setup": plan.checker_setup, "cell_timeout_s": job.limits.cell_timeout_s,
            "setup_timeout_s": max(job.limits.setup_timeout_s, job.limits.cell_timeout_s),
            "output_bytes": job.limits.output_bytes}
    (private / "spec.json").write_text(json.dumps(spec))


def run_sandboxed(plan: assemble.Plan, source_nb, job: Job, box: sandbox.Sandbox,
                  private: Path, timings: Timings) -> dict:
    """Execute the plan; the run's status (with every reply), or {"error": why}."""
    areas = Areas.of(box, private)
    python = level_python(source_nb)
    with timings.span("write the run's files"):
        write_private(plan, source_nb, box, job, private, areas, python)
    with timings.span("sandbox"):
        output, returncode = run_client(box, job, private, areas, python)
    status_file = private / "status.json"
    if not status_file.exists():
        return {"error": f"the grading run failed ({returncode}): {output[-500:]}"}
    status = json.loads(status_file.read_text())
    if not status.get("finished") and "error" not in status:
        status["timed_out"] = True
    record_client(timings, status.get("timings"))
    return status


def run_client(box: sandbox.Sandbox, job: Job, private: Path, areas: Areas,
               python: str) -> tuple[str, int]:
    """The notebook client in the sandbox (the base's Python; the kernels run `python`), to
    its end; its output and exit code."""
    client = str(paths.base_python())
    root = private / "root"
    root.mkdir()
    command = sandbox.wrap([client, "-m", "workbook.grading.execute",
                            str(areas.grader / "spec.json")],
                           box, job.limits, root, private, [client, python])
    proc = subprocess.Popen(command, start_new_session=True, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, cwd=private)
    try:
        output, _ = proc.communicate(timeout=job.limits.total_timeout_s + 30)
    except subprocess.TimeoutExpired:
        output = ""
    finally:
        kill_group(proc.pid)  # nothing the learner started outlives its grading
        proc.wait()
    return output, proc.returncode


def record_client(timings: Timings, recorded: object) -> None:
    """The client's own timings, and the two gaps around it inside the sandbox span: entering
    (namespaces, mounts, starting Python and importing the client) and leaving (its end, the
    end of every process in the sandbox)."""
    timings.merge(recorded)
    sandbox_span, client = timings.spans.get("sandbox"), timings.spans.get("client")
    if sandbox_span and client:
        timings.add_span("enter the sandbox, start the client", sandbox_span[0], client[0])
        timings.add_span("leave the sandbox", client[1], sandbox_span[1])


def kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


PRIVATE_PREFIX = "workbook-grade-"


@contextlib.contextmanager
def private_folder(number: int | None):
    """A root-only folder for one grading run's files, removed afterwards. Its name holds the
    run's sandbox slot (`number`), so that what a finished run left can be told from what a
    running one uses (`leftover_folders`)."""
    slot = "" if number is None else f"slot{number}-"
    private = Path(tempfile.mkdtemp(prefix=f"{PRIVATE_PREFIX}{slot}"))
    try:
        yield private
    finally:
        shutil.rmtree(private, ignore_errors=True)


def leftover_folders() -> set[Path]:
    """The private folders that finished grading runs left behind: those of slots no run holds,
    and those of runs without a slot (unsandboxed: nothing tells whether they still run)."""
    def slot(folder: Path) -> int | None:
        found = re.match(rf"{PRIVATE_PREFIX}slot(\d+)-", folder.name)
        return int(found[1]) if found else None

    folders = set(Path(tempfile.gettempdir()).glob(f"{PRIVATE_PREFIX}*"))
    with sandbox.unheld({slot(f) for f in folders} - {None}) as free:
        return {f for f in folders if f.exists() and slot(f) in free | {None}}


def run_and_score(result: GradeResult, source_nb, submission, job: Job) -> None:
    timings = result.timings
    with contextlib.ExitStack() as stack:
        with timings.span("slot and sandbox probe"):
            number = stack.enter_context(sandbox.slot()) if os.geteuid() == 0 else None
            box = sandbox.probe(number)
        result.warnings += box.warnings
        private = stack.enter_context(private_folder(number))
        areas = Areas.of(box, private)
        with timings.span("assemble"):
            plan = assemble.assemble(source_nb, submission, result.parameters,
                                     str(areas.evidence), str(areas.learner))
        result.notes += plan.notes
        if not any(plan.attempted.values()):  # nothing to judge: every exercise scores 0
            result.notes.append("no exercise is answered: the notebook was not run")
            record(result, score.unanswered(plan))
            return
        status = run_sandboxed(plan, source_nb, job, box, private, timings)
    if "error" in status:
        result.errors.append(status["error"])
        return
    if why := score.setup_error(plan, status):
        result.errors.append(why)
        return
    result.notes += [f"the output of cell {cell} was cut at {job.limits.output_bytes:,} bytes"
                     for cell in status.get("truncated", [])]
    if status.get("timed_out"):
        result.errors.append(f"the notebook was stopped at the total time limit "
                             f"({job.limits.total_timeout_s} s); later checks did not run")
    elif status.get("learner_died_at"):
        result.errors.append("the kernel died during grading (os._exit, a crash or a limit)")
    with timings.span("score"):
        record(result, score.score(plan, status))


def record(result: GradeResult, exercises: list[score.ExerciseResult]) -> None:
    result.exercises = [e.as_dict() for e in exercises]
    result.score = sum(e.points for e in exercises)
    result.max_score = sum(e.max_points for e in exercises)
    result.graded = True


def grade(path: Path, learner: str, job: Job) -> GradeResult:
    """Grade one submission; every failure ends up in the result, never as an exception."""
    started = time.time()
    result = GradeResult(learner=learner, submission=str(path))
    try:
        with result.timings.span("read and identify"):
            submission = identify.read_submission(path)
            answered, notes = identify.lesson_for(submission, path)
            result.notebook, result.notes = answered.key, notes
            source_nb = nbformat.read(identify.source_path(answered, job.source_root),
                                      as_version=4)
        result.parameters = source_nb.metadata.get("workbook_grading", {}).get("parameters", {})
        run_and_score(result, source_nb, submission, job)
    except identify.SubmissionError as err:
        result.errors.append(str(err))
    except Exception as err:  # the grader's own failure on this submission: reported, not raised
        result.errors.append(f"the grader failed on this submission: {type(err).__name__}: "
                             f"{str(err)[:300]}")
        print(f"workbook grade: {path}: {type(err).__name__}: {err}", file=sys.stderr)
    result.duration_s = round(time.time() - started, 2)
    result.timings = result.timings.relative_to(started)
    return result
