"""The advanced level measured: each lesson notebook of its tracks (the shared lake lesson, then
the Prefect track), in course order, each in a process of its own (`workbook run`), for its wall
time and the peak memory of its largest process: the kernel, which the run waits for, so
`wait4`'s rusage covers it. Services the lessons start (S3, the Prefect server...) are daemons
the run does not wait for: their memory is not a lesson's, and they are stopped at the end.
Then Prefect's overhead per task and flow run (benchmarks.prefect_overhead), the event-driven
path's upload-to-row latency (workbook.prefect_events.measure_latency), the Dagster sensor's
upload-to-materialization latency through its daemon, and the capstone's one
pipeline in four styles, each style's figures measured in the same run (`styles`)."""

import json
import shutil
import statistics
from pathlib import Path

from benchmarks import measure, prefect_overhead
from workbook import course, paths, prefect_home, services

LEVEL = "03_advanced"
CAPSTONE = "03_advanced/capstone"
# The capstone's day at the bench: a bigger export than the lesson's, so the steps' own work
# is not lost in the noise of the overheads.
STYLES_DAY, STYLES_ROWS, STYLES_SEED, STYLES_REPEATS = "2015-06-03", 400_000, 2015, 3


def workspace_root(data: Path) -> Path:
    return data / "workspace-advanced"


def notebook_runs(data: Path) -> dict[str, measure.Run]:
    """lesson key -> its run, every lesson in one fresh workspace per track (the services they
    start are stopped by `advanced_figures`)."""
    root = workspace_root(data)
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


def sensor_latency(data: Path) -> dict:
    """Lesson 03's sensor ticked by Dagster's own daemon (`dagster dev`): each hour's seconds
    from its upload to its partition's materialization (workbook.dagster_daemon), in a process
    of the dagster environment."""
    log = data / "sensor-latency.log"
    measure.run_process([paths.env_python("dagster"), "-m", "workbook.dagster_daemon",
                         "latency"], log, cwd=paths.ROOT)
    return json.loads(log.read_text().strip().splitlines()[-1])


def styles(data: Path, repeats: int = STYLES_REPEATS) -> dict[str, dict]:
    """The capstone's four styles (workbook.styles), from the files its notebook wrote in the
    bench's workspace (notebook_runs; run here when it did not), each run `repeats` times in
    turns, so that a drift of the machine hits all alike: style label -> the median of each
    figure. A run that fails, or a report that differs from the others', stops the bench."""
    from workbook import runner
    from workbook.styles import STYLES, compare

    workspace = workspace_root(data) / CAPSTONE
    if not all((workspace / style.folder / style.file).exists() for style in STYLES):
        runner.run_notebook(course.find(f"{CAPSTONE}/01_four_styles").path(),
                            {"workspace": str(workspace)}, data / "runs" / "four-styles.ipynb")
    capstone = compare.setup(STYLES_DAY, STYLES_ROWS, STYLES_SEED, str(workspace))
    for style in STYLES:  # each style's service ready first: its start is not a run's cost
        compare.environ(capstone, style.name)
    found: dict[str, list[dict]] = {style.label: [] for style in STYLES}
    reports = set()
    for _ in range(repeats):
        for style in STYLES:
            ran = compare.run(capstone, style.name)
            if not ran["ok"]:
                raise measure.MeasureError(f"the {style.label} run failed: {ran['error']} "
                                           f"(see {capstone.out(style.name) / 'run.log'})")
            reports.add(ran["report"])
            found[style.label].append(compare.figures(ran))
    if len(reports) != 1:
        raise measure.MeasureError("the four styles wrote different reports: not like for like")
    return {label: {key: statistics.median(run[key] for run in runs)
                    for key in runs[0] if key != "style"}
            for label, runs in found.items()}


def advanced_figures(data: Path) -> dict:
    """Every figure of the level; the services started are stopped at the end."""
    try:
        return {"notebooks": notebook_runs(data),
                "overhead": prefect_overhead.overhead_figures(data),
                "latency": latency(data), "sensor_latency": sensor_latency(data),
                "styles": styles(data)}
    finally:
        for name in services.NAMES:
            services.stop(name)
