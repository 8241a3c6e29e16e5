"""The capstone notebook's side (03_advanced/capstone/01_four_styles): the day's files, each
style run as a process of its own environment and measured, the figures a run gives, the
lines of code of each style and the size of a change, and the verdicts of the exercise.

Figures come from the run itself (workbook.styles.runner's timestamps, and the peak memory
the kernel keeps for the process's own address space, VmHWM): start-up is launch to ready
(Python, the orchestrator and the file imported); the steps' own time is the work; the gaps
between one step's end and the next's start are the orchestrator's hand-off per task; what is
left of the run is its overhead per run (making the run, recording it, before the first step
and after the last).
"""

import datetime as dt
import difflib
import itertools
import json
import os
import shutil
import statistics
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from workbook import lesson, logs, paths, processes
from workbook.files import write_atomic
from workbook.styles import BY_NAME, STYLES, runner, steps

TRACK = "03_advanced/capstone"
ONLINE_SEED = 7  # added to the lesson's seed: the web shop's orders are another draw
ONLINE_ORDER_PREFIX = "W-"  # the web shop numbers its orders apart from the stores


@dataclass(frozen=True)
class Capstone:
    workspace: Path
    data: Path  # the day's exports: the stores' and the web shop's
    day: str  # YYYY-MM-DD

    def folder(self, style: str) -> Path:
        """Where a style's files are written (`%%writefile {scripts}/...`)."""
        return self.workspace / BY_NAME[style].folder

    def out(self, style: str) -> Path:
        return self.workspace / "out" / style

    def describe(self) -> str:
        return (f"day      {self.day}: the stores' export and the web shop's\n"
                f"styles   {', '.join(s.label + ' (' + s.env + ')' for s in STYLES)}")


def write_day(data: Path, day: str, rows: int, seed: int) -> None:
    """The stores' export of `day` and the web shop's (the same format, its own order ids)."""
    from workbook import datasets

    date = dt.date.fromisoformat(day)
    data.mkdir(parents=True, exist_ok=True)
    write_atomic(data / datasets.sales_filename(date),
                          datasets.generate_day(date, rows, seed))
    header, *lines = datasets.generate_day(date, rows // 4, seed + ONLINE_SEED).split("\n")
    write_atomic(data / steps.online_filename(date), "\n".join(
        [header, *(ONLINE_ORDER_PREFIX + line if line else line for line in lines)]))


def setup(day: str, rows: int, seed: int, workspace: str | None = None) -> Capstone:
    """The capstone's workspace, one folder per style, and the day's files (in the checker's
    own data folder when grading: it computes the expected reports from them)."""
    dt.date.fromisoformat(str(day))  # a clear error for a day that is no date
    root = lesson.workspace_folder(TRACK, workspace)
    data_root = Path(os.environ.get(lesson.DATA_ROOT_VARIABLE) or root)
    capstone = Capstone(root, data_root / "data" / f"seed{seed}-rows{rows}", str(day))
    write_day(capstone.data, capstone.day, rows, seed)
    if not lesson.checking():
        for style in STYLES:
            capstone.folder(style.name).mkdir(exist_ok=True)
    return capstone


# A style's run ------------------------------------------------------------------------------

def environ(capstone: Capstone, style: str) -> dict[str, str]:
    """The variables a style's process needs beyond the runner's: its orchestrator's home
    (Airflow's, migrated; Dagster's) or server (Prefect's, started if needed)."""
    if style == "airflow":
        from workbook import airflow_home

        variables = airflow_home.environ(capstone.folder("airflow"),
                                         capstone.workspace / "airflow_home")
        airflow_home.migrate(variables)
        return variables
    if style == "prefect":
        from workbook import services
        from workbook.services import prefect as prefect_service

        return prefect_service.client_environ(services.start(prefect_service.NAME))
    if style == "dagster":
        from workbook import dagster_home

        return dagster_home.environ(dagster_home.prepare())
    return {}


# A style's run takes seconds (Airflow's, the slowest, about ten on two busy cores): one still
# going after this is stuck (a loop that never ends, a wait with no time-out) and is stopped,
# within the grader's limit for a cell (300 s), so that its check says why.
RUN_TIMEOUT_S = 180


def run(capstone: Capstone, style: str, file: Path | None = None, flaky: bool = False,
        timeout: float = RUN_TIMEOUT_S) -> dict:
    """Run `file` (by default the style's own) once, as a process of the style's environment,
    into a fresh report folder: what the runner wrote, the process's wall time and peak
    memory (the runner's own reading; wait4's when the runner wrote nothing), the report it
    wrote (None if none), and its log's last lines. `flaky`: the load step fails once. A run
    past `timeout` seconds is stopped whole and reported as failed, saying so."""
    declared = BY_NAME[style]
    file = Path(file or capstone.folder(style) / declared.file)
    out = capstone.out(style)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    result, log = out / "run.json", out / "run.log"
    env = {**os.environ, **environ(capstone, style), "PYTHONUNBUFFERED": "1",
           runner.DAY: capstone.day, runner.DATA: str(capstone.data), runner.OUT: str(out)}
    if flaky:
        env[steps.FLAKY_VARIABLE] = str(out / "flaky-once")
    env[runner.LAUNCHED] = repr(time.time())
    try:
        code, seconds, peak = processes.run_measured(
            [paths.env_python(declared.env), "-m", "workbook.styles.runner", style, file,
             result], log, env=env, cwd=file.parent, timeout=timeout)
        error = f"the runner exited with {code}"
    except subprocess.TimeoutExpired:
        code, seconds, peak = None, timeout, 0
        error = (f"it did not finish in {timeout:.0f} s and was stopped: a loop that never "
                 "ends, or a wait with no time-out?")
    found = {"style": style, "ok": False, "error": error, "spans": [], "definition": {}}
    if code is not None and result.exists():
        found = json.loads(result.read_text())
    report, said = out / f"sales_report_{capstone.day}.csv", log.read_text(errors="replace")
    return {"peak_bytes": peak, **found, "exit": code, "wall_s": seconds,
            "report": report.read_text() if report.exists() else None,
            "log": said.splitlines()[-12:], "raised": logs.errors(said)[-1:]}


def raise_unfinished(ran: dict) -> None:
    """The exercise's placeholder, still in the file the run loaded, stops the check."""
    if ran["error"].startswith("NotImplementedError") or any(
            "NotImplementedError" in line for line in ran["log"]):
        raise NotImplementedError("the exercise's file still raises NotImplementedError: write "
                                  "your change in place of `# YOUR CODE HERE`")


def figures(ran: dict) -> dict:
    """A run's figures (seconds, MB), from its timestamps: see the module's docstring."""
    spans = sorted(ran["spans"], key=lambda s: s["start"])
    work = sum(s["end"] - s["start"] for s in spans)
    gaps = [later["start"] - earlier["end"]
            for earlier, later in itertools.pairwise(spans)]
    running = ran["ended"] - ran.get("ready", ran["ended"])
    return {"style": BY_NAME[ran["style"]].label,
            "start-up (s)": ran.get("ready", ran["launched"]) - ran["launched"],
            "overhead per run (s)": running - work - sum(gaps),
            "overhead per task (s)": statistics.mean(gaps) if gaps else 0.0,
            "work (s)": work, "wall (s)": ran["wall_s"],
            "peak memory (MB)": ran["peak_bytes"] / 1e6, "tasks": len(spans)}


# Code and change ------------------------------------------------------------------------------

def code_lines(text: str) -> list[str]:
    """The lines of a file that are neither blank nor comments."""
    return [line for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")]


def lines_of_code(text: str) -> int:
    return len(code_lines(text))


def change_size(before: str, after: str) -> dict[str, int]:
    """Lines of code added and removed from `before` to `after` (a unified diff's + and -
    lines; blank lines and comments left out, as lines_of_code leaves them)."""
    diff = [line for line in difflib.unified_diff(code_lines(before), code_lines(after),
                                                  lineterm="", n=0)
            if not line.startswith(("+++", "---", "@@"))]
    return {"added": sum(line.startswith("+") for line in diff),
            "removed": sum(line.startswith("-") for line in diff)}


# The exercise: a new source ---------------------------------------------------------------------

def expected_reports(capstone: Capstone) -> dict[str, str]:
    """The report's text from the stores alone and from both sources, by the pipeline's own
    functions in this process (the checker's, on its own files)."""
    stores = steps.extract(str(capstone.data), capstone.day)
    online = steps.extract_online(str(capstone.data), capstone.day)
    return {"stores": steps.transform(stores).to_csv(float_format="%.2f"),
            "both": steps.transform(stores, online).to_csv(float_format="%.2f")}


def source_problems(ran: dict, expected: dict[str, str]) -> list[str]:
    """What keeps a style's run from reporting the stores' and the web shop's sales together,
    each read once, in a step of its own."""
    label = BY_NAME[ran["style"]].label
    if not ran["ok"]:
        failed = [s["step"] for s in ran["spans"] if not s["ok"]]
        where = f" in its step {failed[-1]}" if failed else ""
        said = "; ".join([ran["error"], *ran.get("raised", [])]).strip("; ") \
            or "its log ends: " + " | ".join(ran["log"][-3:])
        if "No such file" in said and "/storage/" in said:  # Dagster's IO manager
            said += (" (an input the job did not materialize in this run: is the asset in the "
                     "job's selection, group_name=\"sales\"?)")
        return [f"the {label} run failed{where}: {said}"]
    problems = []
    online = sum(s["step"] == "extract_online" and s["ok"] for s in ran["spans"])
    if ran["report"] is None:
        problems.append(f"the {label} run wrote no report")
    elif ran["report"] == expected["stores"]:
        problems.append(f"the {label} report holds the stores' sales only: read the web shop's "
                        "orders too (steps.extract_online) and give transform both frames")
    elif ran["report"] != expected["both"]:
        problems.append(f"the {label} report is not the stores' and the web shop's sales "
                        "summarised together: each source once, into one transform")
    if online == 0 and not problems:
        problems.append(f"the {label} run did not read the web shop's orders, yet its report "
                        "counts them: they came from an earlier run (in Dagster, an asset "
                        "left out of the job's selection is loaded from its last stored value)")
    elif online > 1:
        problems.append(f"the web shop's orders were read {online} times in the run: once, "
                        "by steps.extract_online")
    return problems


def lineage_problems(graph: dict[str, list[str]], summary: str = "daily_summary") -> list[str]:
    """Dagster's side of the new source: an asset of its own that the summary depends on.
    No graph (the definitions never loaded): nothing to judge here, the run's failure says why."""
    if not graph:
        return []
    parents = graph.get(summary, [])
    if len(parents) < 2:
        return [f"{summary} depends on {parents or 'nothing'} only: read the web shop's orders "
                "in an asset of their own (online_orders) and take it as an input, so the asset "
                "graph shows both sources and either can be re-run alone"]
    return []
