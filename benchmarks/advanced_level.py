"""The advanced level measured: each lesson notebook of its tracks (the shared lake lesson, then
the Prefect track), in course order, each in a process of its own (`workbook run`), for its wall
time and the peak memory of its largest process: the kernel, which the run waits for, so
`wait4`'s rusage covers it. Services the lessons start (S3, the Prefect server...) are daemons
the run does not wait for: their memory is not a lesson's, and they are stopped at the end."""

import shutil
from pathlib import Path

from benchmarks import measure
from workbook import course, paths, services

LEVEL = "03_advanced"


def notebook_runs(data: Path) -> dict[str, measure.Run]:
    """lesson key -> its run, every lesson in one fresh workspace per track."""
    root = data / "workspace-advanced"
    shutil.rmtree(root, ignore_errors=True)
    runs = {}
    try:
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
    finally:
        for name in services.NAMES:
            services.stop(name)
    return runs
