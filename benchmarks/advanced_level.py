"""The advanced level measured: each lesson notebook of its tracks (the shared lake lesson, then
the Prefect track), in course order, each in a process of its own (`workbook run`), for its wall
time and the peak memory of its largest process: the kernel, which the run waits for, so
`wait4`'s rusage covers it. Services the lessons start (S3, the Prefect server...) are daemons
the run does not wait for: their memory is not a lesson's, and they are stopped at the end.
Then Prefect's overhead per task and flow run (benchmarks.prefect_overhead) and the
event-driven path's upload-to-row latency (workbook.prefect_events.measure_latency)."""

import json
import shutil
from pathlib import Path

from benchmarks import measure, prefect_overhead
from workbook import course, paths, prefect_home, services

LEVEL = "03_advanced"


def notebook_runs(data: Path) -> dict[str, measure.Run]:
    """lesson key -> its run, every lesson in one fresh workspace per track (the services they
    start are stopped by `advanced_figures`)."""
    root = data / "workspace-advanced"
    shutil.rmtree(root, ignore_errors=True)
    runs = {}
    for declared in course.lessons(LEVEL):
        workspace = root / declared.track.folder
        workspace.mkdir(parents=True, exist_ok=True)
        out = root / "runs" / f"{declared.key.replace('/', '__')}.ipynb"
        runs[declared.key] = measure.run_process(
            [paths.base_python(), "-m", "workbook", "run", declared.path(),
             f"workspace={workspace}", "--output", out],
            out.with_suffix(".log"), cwd=paths.ROOT)
        run = runs[declared.key]
        print(f"  {declared.key}: {run.seconds:.1f} s, {run.peak_bytes / 1e9:.2f} GB",
              flush=True)
    return runs


def latency(data: Path) -> dict:
    """The event-driven path's upload-to-committed-row seconds, per file (lesson 02's flows and
    watcher, served in the background, in a process of the prefect environment)."""
    log = data / "event-latency.log"
    measure.run_process([paths.env_python(prefect_home.ENV), "-m", "workbook.prefect_events",
                         "latency"], log, cwd=paths.ROOT)
    return json.loads(log.read_text().strip().splitlines()[-1])


def advanced_figures(data: Path) -> dict:
    """Every figure of the level; the services started are stopped at the end."""
    try:
        return {"notebooks": notebook_runs(data),
                "overhead": prefect_overhead.overhead_figures(data),
                "latency": latency(data)}
    finally:
        for name in services.NAMES:
            services.stop(name)
