"""The intermediate level measured: its notebooks, the main DAG's warm `dag.test()` against the
same steps as plain Python functions (the orchestration overhead), and the peak memory of a
lesson's process and of `airflow standalone`."""

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

from benchmarks import measure
from workbook import (
    airflow_home,
    airflow_ui,
    course,
    lesson,
    lesson_files,
    paths,
    retail_sources,
    runner,
    services,
)
from workbook.processes import stop_tree, tree_pss
from workbook.services.base import free_port
from workbook.waiting import wait_for

LEVEL = "02_intermediate"
DAYS = 5  # runs of each kind, interleaved, after one warm-up run
STANDALONE_SAMPLE_S = 30  # memory sampled this long after the UI and the scheduler are up

def notebook_times(workspace: Path) -> dict[str, float]:
    """Each intermediate solution in course order, in one fresh workspace (the first lesson
    pays Airflow's metadata database migration)."""
    shutil.rmtree(workspace, ignore_errors=True)
    workspace.mkdir(parents=True)
    os.environ[lesson.WORKSPACE_VARIABLE] = str(workspace)
    times = {}
    for nb in [declared.path() for declared in course.lessons(LEVEL)]:
        times[nb.stem] = measure.timed(lambda nb=nb: runner.run_notebook(
            nb, {"workspace": str(workspace)}, workspace.parent / "runs" / nb.name))
        print(f"  {nb.stem}: {times[nb.stem]:.1f} s", flush=True)
    return times


def overhead(data: Path) -> tuple[dict, measure.Run]:
    """Warm dag.test() and plain-Python seconds per day, and the whole process's peak memory."""
    workspace = data / "airflow-overhead"
    shutil.rmtree(workspace, ignore_errors=True)
    lesson_files.write(lesson_files.files([f"{LEVEL}/03_the_dag"]), workspace / "dags")
    out = data / "airflow-overhead.json"
    days = retail_sources.window()[:DAYS + 1]
    run = measure.run_process([paths.env_python(airflow_home.ENV), "-m",
                               "benchmarks.airflow_overhead", workspace, out, *days],
                              data / "airflow-overhead.log", cwd=paths.ROOT)
    return json.loads(out.read_text()), run


def standalone_peak(data: Path) -> tuple[float, int]:
    """Seconds until `airflow standalone` (API server, scheduler, DAG processor, triggerer) is
    healthy, and the peak resident memory of its process tree over the next half minute."""
    home = data / "airflow-standalone"
    shutil.rmtree(home, ignore_errors=True)
    lesson_files.write(lesson_files.files([f"{LEVEL}/03_the_dag"]), home / "dags")
    port = free_port()
    env = {**os.environ, **airflow_home.environ(home / "dags", home / "home"),
           "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__CORE__PARALLELISM": "4", "AIRFLOW__API__WORKERS": "1",
           # standalone starts its components as `airflow ...` subprocesses, found on PATH
           "PATH": os.pathsep.join([str(Path(airflow_home.airflow_cli()).parent),
                                    os.environ["PATH"]])}
    with open(data / "airflow-standalone.log", "wb") as log:
        proc = subprocess.Popen([airflow_home.airflow_cli(), "standalone"], env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        start = time.perf_counter()
        if not wait_for(lambda: airflow_ui.healthy(f"http://127.0.0.1:{port}"), 300, 1):
            raise measure.MeasureError("airflow standalone was not healthy within 300 s")
        started, peak = time.perf_counter() - start, 0

        def sample() -> bool:
            nonlocal peak
            peak = max(peak, tree_pss(proc.pid))
            return False

        wait_for(sample, STANDALONE_SAMPLE_S, 0.5)
        return started, peak
    finally:
        stop_tree(proc.pid)


def airflow_figures(data: Path) -> dict:
    """Every Airflow figure; the local services it starts (in the bench's own state folder, see
    benchmarks/__init__.py) are stopped at the end."""
    try:
        notebooks = notebook_times(data / "workspace-airflow" / "workspace")
        times, process = overhead(data)
        started, standalone = standalone_peak(data)
    finally:
        for name in services.NAMES:
            services.stop(name)
    return {"notebooks": notebooks, "overhead": times, "process_peak": process.peak_bytes,
            "standalone_start": started, "standalone_peak": standalone}
