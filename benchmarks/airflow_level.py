"""The intermediate level measured: its notebooks, the main DAG's warm `dag.test()` against the
same steps as plain Python functions (the orchestration overhead), and the peak memory of a
lesson's process and of `airflow standalone`."""

import contextlib
import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
import urllib.request
from pathlib import Path

from benchmarks import measure
from workbook import airflow_home, airflow_lesson, course, dagfiles, lesson, paths, runner, services
from workbook.services.base import free_port, stop_group
from workbook.waiting import wait_for

LEVEL = "02_intermediate"
DAYS = 5  # runs of each kind, interleaved, after one warm-up run
STANDALONE_SAMPLE_S = 30  # memory sampled this long after the UI and the scheduler are up

# In the airflow venv: the same day through the DAG and through the plain functions, in turns.
OVERHEAD = textwrap.dedent('''
    import json, sys, time
    import pendulum
    from workbook import airflow_lesson, weather_sales

    workspace, out, days = sys.argv[1], sys.argv[2], sys.argv[3:]
    ctx, sources = airflow_lesson.setup(days[0], workspace)
    dag = airflow_lesson.dagbag(ctx.workspace / "dags").get_dag("store_weather")

    def via_dag(day):
        run = dag.test(logical_date=pendulum.parse(day, tz="America/Los_Angeles").add(hours=9))
        assert str(run.state) == "success", day

    def plain(day):
        rows = weather_sales.extract_sales(sources.postgres_url, day)
        weather_sales.run_day(rows, sources.weather_url, sources.warehouse, day)

    def timed(step, day):
        start = time.perf_counter()
        step(day)
        return time.perf_counter() - start

    warm_up = timed(via_dag, days[0])
    times = {"warm_up": warm_up, "dag": [], "plain": []}
    for day in days[1:]:
        with airflow_lesson.captured():
            times["dag"].append(timed(via_dag, day))
        times["plain"].append(timed(plain, day))
    open(out, "w").write(json.dumps(times))
''')


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
    dagfiles.write(dagfiles.dag_files([f"{LEVEL}/03_the_dag"]), workspace / "dags")
    out = data / "airflow-overhead.json"
    days = airflow_lesson.window()[:DAYS + 1]
    run = measure.run_process([paths.env_python(airflow_home.ENV), "-c", OVERHEAD, workspace,
                               out, *days], data / "airflow-overhead.log")
    return json.loads(out.read_text()), run


def descendants(pid: int) -> list[int]:
    """Every process below `pid`, from /proc (standalone's components start sessions of their
    own, so its process group does not hold them all)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            children.setdefault(int(stat.read_text().rsplit(")", 1)[1].split()[1]), []).append(
                int(stat.parent.name))
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def tree_pss(pid: int) -> int:
    """Proportional set size of a process and all its descendants: shared pages (Python,
    Airflow's libraries) are divided among the processes that map them, so the sum is what the
    tree really occupies (summing RSS would count them once per process)."""
    total = 0
    for process in [pid, *descendants(pid)]:
        try:
            rollup = Path(f"/proc/{process}/smaps_rollup").read_text()
        except OSError:
            continue
        total += sum(int(line.split()[1]) * 1024 for line in rollup.splitlines()
                     if line.startswith("Pss:"))
    return total


def stop_tree(pid: int) -> None:
    """Stop `pid`, its group, and every descendant, whatever session they moved to."""
    tree = descendants(pid)
    stop_group(pid)
    for process in tree:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process, signal.SIGTERM)
    if not wait_for(lambda: not any(Path(f"/proc/{p}").exists() for p in tree), 20, 0.2):
        for process in tree:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)


def standalone_health(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/v2/monitor/health", timeout=5) as response:
            health = json.load(response)
    except (OSError, ValueError):
        return False
    return health.get("scheduler", {}).get("status") == "healthy"


def standalone_peak(data: Path) -> tuple[float, int]:
    """Seconds until `airflow standalone` (API server, scheduler, DAG processor, triggerer) is
    healthy, and the peak resident memory of its process tree over the next half minute."""
    home = data / "airflow-standalone"
    shutil.rmtree(home, ignore_errors=True)
    dagfiles.write(dagfiles.dag_files([f"{LEVEL}/03_the_dag"]), home / "dags")
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
        if not wait_for(lambda: standalone_health(f"http://127.0.0.1:{port}"), 300, 1):
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
