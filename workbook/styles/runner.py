"""`python -m workbook.styles.runner STYLE FILE RESULT`, run in the style's own environment (a
process of the notebook, as cron, a worker or a run launcher would start one): load the style's
file, run the pipeline once for STYLES_DAY (files in STYLES_DATA, report into STYLES_OUT), and
write to RESULT, as JSON, when the process was launched (STYLES_LAUNCHED, set by the parent),
when it was ready to run, when the run ended, the steps' spans, and the outcome.

Each adapter loads the file the way its orchestrator does and returns the run (a function that
returns None when the pipeline succeeded, else what its orchestrator says went wrong) and what
the definition says of itself, read after the run so that the timing leaves it out (Dagster's
asset graph). Cron calls
the script's main() as `python daily_report.py --day ...` would; Airflow runs `dag.test()`;
Prefect calls the flow against the API in PREFECT_API_URL; Dagster executes the code location's
job `daily_report` in the instance of DAGSTER_HOME.
"""

import importlib.util
import json
import os
import sys
import time
import traceback
from pathlib import Path

START = time.time()  # before the orchestrator is imported: start-up counts its import

DAY, DATA, OUT, LAUNCHED = "STYLES_DAY", "STYLES_DATA", "STYLES_OUT", "STYLES_LAUNCHED"
DAG_ID, FLOW, ASSETS = "daily_report", "daily_report", "defs"


def module_from(path: Path):
    """The file at `path` imported as a module, its folder first on sys.path (its siblings)."""
    sys.path.insert(0, str(path.parent))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


def cron(path: Path, day: str, data: str, out: str):
    module = module_from(path)

    def run() -> str | None:
        code = module.main(["--day", day, "--data", data, "--out", out])
        return None if code == 0 else f"the script exited with {code}"
    return run, dict


def airflow(path: Path, day: str, data: str, out: str):
    from workbook import airflow_home, airflow_lesson

    airflow_home.quiet_harmless_warnings()
    dag = airflow_lesson.dagbag(path.parent).get_dag(DAG_ID)
    if dag is None:
        raise LookupError(f"no DAG with dag_id {DAG_ID!r} in {path.name}")

    def run() -> str | None:
        done = dag.test(logical_date=airflow_lesson.logical_date(day),
                        run_conf={"data": data, "out": out})
        if str(done.state) == "success":
            return None
        failed = airflow_lesson.outcome(done).failed()
        return f"the DAG run ended {done.state}; failed tasks: {', '.join(failed) or 'none'}"
    return run, dict


def prefect(path: Path, day: str, data: str, out: str):
    flow = getattr(module_from(path), FLOW)

    def run() -> str | None:
        state = flow(day=day, data=data, out=out, return_state=True)
        return None if state.is_completed() else f"the flow run ended {state.name}: {state.message}"
    return run, dict


def dagster(path: Path, day: str, data: str, out: str):
    import dagster as dg

    defs = getattr(module_from(path), ASSETS)
    job = defs.resolve_job_def(DAG_ID)

    def run() -> str | None:
        result = job.execute_in_process(partition_key=day, instance=dg.DagsterInstance.get(),
                                        raise_on_error=False)
        if result.success:
            return None
        from workbook import dagster_lesson

        said = dagster_lesson.outcome(result, "sales_report")["error"]
        return said or "the run failed before any step"

    def describe() -> dict:
        from workbook import dagster_lesson

        return {"assets": dagster_lesson.lineage(defs)}
    return run, describe


ADAPTERS = {"cron": cron, "airflow": airflow, "prefect": prefect, "dagster": dagster}


def peak_bytes() -> int:
    """This process's peak resident memory (VmHWM). Its own: exec started a new address space,
    whereas wait4's ru_maxrss also counts the parent's size at the fork (a notebook kernel's)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024  # in kB
    return 0


def main(style: str, file: str, result: str) -> int:
    from workbook.styles import steps

    found = {"style": style, "launched": float(os.environ[LAUNCHED]), "started": START,
             "ok": False, "error": "", "definition": {}}
    try:
        run, describe = ADAPTERS[style](Path(file).resolve(), os.environ[DAY],
                                        os.environ[DATA], os.environ[OUT])
        found["ready"] = time.time()
        found["error"] = run() or ""
        found["ended"], found["peak_bytes"] = time.time(), peak_bytes()
        found["definition"] = describe()  # after the figures: its imports are not the run's
        found["ok"] = not found["error"]
    except Exception as error:  # noqa: BLE001 (the learner's file may raise anything: reported)
        traceback.print_exc()
        found["error"] = f"{type(error).__name__}: {error}"[:800]
    found.setdefault("ended", time.time())
    found.setdefault("peak_bytes", peak_bytes())
    found["spans"] = steps.SPANS
    Path(result).write_text(json.dumps(found))
    return 0 if found["ok"] else 1


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
