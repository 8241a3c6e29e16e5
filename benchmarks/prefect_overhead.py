"""Prefect's overhead per task run and per flow run, against the same function called directly.

`overhead_figures(data)` (base environment, for benchmarks/__main__.py) runs this module in the
prefect environment, against a Prefect server of its own in the bench's state folder (started
and stopped here unless one was running), and returns the seconds per call as a dict:
direct_call_s, task_run_mapped_s (each of `tasks` task runs `.map`-ped at once, timed inside
the flow run), task_run_sequential_s (the same called one after another), flow_run_s (a flow
run of the same function), and the run's wall time and peak memory.

`python -m benchmarks.prefect_overhead OUT [TASKS FLOWS]` (prefect environment): the measure
itself (workbook.prefect_concurrency.overhead, which the concurrency lesson also shows),
written to OUT as JSON.
"""

import json
import os
import sys
from pathlib import Path

from benchmarks import measure
from workbook import paths, prefect_home, services

TASKS, FLOWS = 50, 5


def overhead_figures(data: Path, tasks: int = TASKS, flows: int = FLOWS) -> dict:
    """Seconds per direct call, task run and flow run (see the module's docstring)."""
    from workbook.services import prefect as prefect_service

    running = services.status(prefect_service.NAME) is not None
    endpoint = services.start(prefect_service.NAME)
    try:
        out = data / "prefect-overhead.json"
        run = measure.run_process(
            [paths.env_python(prefect_home.ENV), "-m", "benchmarks.prefect_overhead", out,
             tasks, flows], data / "prefect-overhead.log",
            env={**os.environ, **prefect_service.client_environ(endpoint)}, cwd=paths.ROOT)
    finally:
        if not running:
            services.stop(prefect_service.NAME)
    figures = json.loads(out.read_text())
    return {**figures, "wall_s": run.seconds, "peak_bytes": run.peak_bytes}


def main(out: str, tasks: int = TASKS, flows: int = FLOWS) -> None:
    from workbook import prefect_concurrency

    prefect_home.activate(os.environ.get("PREFECT_API_URL"))  # the caller's server, if given
    prefect_concurrency.quiet_console()
    Path(out).write_text(json.dumps(prefect_concurrency.overhead(tasks, flows)))


if __name__ == "__main__":
    main(sys.argv[1], *(int(arg) for arg in sys.argv[2:4]))
