"""REPORT.md from measured results: each figure beside its target and baseline, then the method.

Only rendering lives here, so the wording can change without re-running a six-minute bench.
"""

import statistics
from dataclasses import dataclass
from pathlib import Path

from benchmarks.measure import Figure
from workbook import datasets

REPORT_SECONDS = 3.0
REPORT_PEAK_BYTES = 1e9  # "1 GB" read as 10^9 bytes, the stricter reading
DUCKDB_RATIO = 1.5  # the reference report's time over DuckDB's, at most
GRADE_OVER_PAPERMILL = 2.0  # grading one submission's time over a plain papermill run's, at most
NOTEBOOK_SECONDS = 30.0
GRADE_ONE_SECONDS = 20.0
GRADE_CLASS_SECONDS = 8 * 60.0
AIRFLOW_NOTEBOOK_SECONDS = 90.0
DAG_TEST_SECONDS = 15.0
AIRFLOW_PEAK_BYTES = 1.5e9
INGEST_RATIO = 10.0  # the lake's ingestion throughput over one commit per file's, at least
ADVANCED_NOTEBOOK_SECONDS = 90.0
ADVANCED_PEAK_BYTES = 1.5e9  # a lesson's largest process
NONE = "—"


@dataclass(frozen=True)
class Results:
    machine: dict[str, str]
    data_lines: int
    data_bytes: int
    daily: dict[str, Figure]  # startup, report, naive report, duckdb report, full, naive full
    disagreements: list[str]  # empty when the baseline matches the reference
    setup: dict[str, Figure]  # warm, cold
    installed_bytes: int
    kernel_start: float
    notebooks: dict[str, float]
    grading: dict  # one, class (Figures), one_baseline, class_baseline (seconds), class_size,
    # one_breakdown (benchmarks.grading.breakdown)
    airflow: dict  # notebooks, overhead (warm_up, dag, plain), process_peak, standalone_*
    minutes: float
    ingest: dict  # benchmarks.lake_level.ingest_figures: figures, results, expected, problems
    advanced: dict  # benchmarks.advanced_level: notebooks (lesson key -> measure.Run)


def secs(seconds: float) -> str:
    return f"{seconds:.1f} s" if seconds >= 10 else f"{seconds:.2f} s"


def short(seconds: float) -> str:
    """A duration that may be a few milliseconds (a task run's overhead)."""
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else secs(seconds)


def gb(size: float) -> str:
    return f"{size / 1e9:.2f} GB"


def status(measured: float, target: float) -> str:
    """"meets", or by how much it misses (bold, so it cannot be overlooked)."""
    return "meets" if measured <= target else f"**misses** by {measured / target - 1:.0%}"


def ratio(baseline: float, measured: float, better: str, worse: str) -> str:
    if measured <= baseline:
        return f"{baseline / measured:.1f}× {better}"
    return f"{measured / baseline:.1f}× {worse}"


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, ["---"] * len(header), *rows]
    return "\n".join("| " + " | ".join(line) + " |" for line in lines)


def daily_rows(daily: dict[str, Figure]) -> list[list[str]]:
    """Time and peak memory of the report path and of the full script, each vs. its baseline."""
    rows = []
    for name, label, targeted in (("report", "Daily report, 1,000,000 lines", True),
                                  ("full", "Lesson script incl. SQLite load", False)):
        if name not in daily:  # `--only daily-report` does not run the lesson's script
            continue
        ours, naive = daily[name], daily[f"naive {name}"]
        rows.append([
            f"{label}: time", secs(ours.seconds),
            f"≤ {REPORT_SECONDS:.0f} s" if targeted else NONE, f"{secs(naive.seconds)} naive",
            ratio(naive.seconds, ours.seconds, "faster", "slower"),
            status(ours.seconds, REPORT_SECONDS) if targeted else NONE,
        ])
        rows.append([
            f"{label}: peak memory", gb(ours.peak_bytes),
            f"≤ {REPORT_PEAK_BYTES / 1e9:.0f} GB" if targeted else NONE,
            f"{gb(naive.peak_bytes)} naive",
            ratio(naive.peak_bytes, ours.peak_bytes, "less", "more"),
            status(ours.peak_bytes, REPORT_PEAK_BYTES) if targeted else NONE,
        ])
    return rows


def duckdb_rows(daily: dict[str, Figure]) -> list[list[str]]:
    """The reference report against DuckDB's SQL aggregate over the same day: DuckDB is the
    practical limit for this report, so the target is a ratio to it."""
    ours, limit = daily["report"], daily["duckdb report"]
    label = "Daily report against DuckDB's SQL aggregate (the practical limit)"
    return [
        [f"{label}: time", secs(ours.seconds), f"≤ {DUCKDB_RATIO}× DuckDB",
         f"{secs(limit.seconds)} DuckDB", ratio(limit.seconds, ours.seconds, "faster", "slower"),
         status(ours.seconds / limit.seconds, DUCKDB_RATIO)],
        [f"{label}: peak memory", gb(ours.peak_bytes), NONE, f"{gb(limit.peak_bytes)} DuckDB",
         ratio(limit.peak_bytes, ours.peak_bytes, "less", "more"), NONE],
    ]


def summary(results: Results) -> str:
    rows = daily_rows(results.daily) + duckdb_rows(results.daily)
    rows += [[f"Set-up, {label}", secs(results.setup[name].seconds), NONE, NONE, NONE, NONE]
             for name, label in (("warm", "warm (nothing to do)"),
                                 ("cold", "cold venvs, warm uv cache"))]
    rows += [[f"Notebook `{name}`", secs(seconds), f"≤ {NOTEBOOK_SECONDS:.0f} s", NONE, NONE,
              status(seconds, NOTEBOOK_SECONDS)] for name, seconds in results.notebooks.items()]
    rows += grading_rows(results.grading)
    rows += airflow_rows(results.airflow)
    rows += ingest_rows(results.ingest)
    rows += advanced_rows(results.advanced)
    header = ["metric", "measured", "target", "baseline", "ratio", "status"]
    return table(header, rows)


def airflow_rows(airflow: dict) -> list[list[str]]:
    """The intermediate level: its notebooks, the DAG against plain Python, memory."""
    median = statistics.median
    dag, plain = median(airflow["overhead"]["dag"]), median(airflow["overhead"]["plain"])
    rows = [[f"Notebook `02_intermediate/{name}`", secs(seconds),
             f"≤ {AIRFLOW_NOTEBOOK_SECONDS:.0f} s", NONE, NONE,
             status(seconds, AIRFLOW_NOTEBOOK_SECONDS)]
            for name, seconds in airflow["notebooks"].items()]
    rows.append(["`store_weather` DAG, one day, warm `dag.test()`", secs(dag),
                 f"≤ {DAG_TEST_SECONDS:.0f} s", f"{secs(plain)} plain Python",
                 f"{dag / plain:.1f}× (orchestration overhead)", status(dag, DAG_TEST_SECONDS)])
    rows.append(["the same, first run in a fresh process (imports, DAG serialisation)",
                 secs(airflow["overhead"]["warm_up"]), NONE, NONE, NONE, NONE])
    for label, peak in (("a lesson's process (DAG runs and plain runs)", "process_peak"),
                        ("`airflow standalone`, first 30 s after healthy", "standalone_peak")):
        rows.append([f"Peak memory of {label}", gb(airflow[peak]), f"≤ {gb(AIRFLOW_PEAK_BYTES)}",
                     NONE, NONE, status(airflow[peak], AIRFLOW_PEAK_BYTES)])
    rows.append(["`airflow standalone` start until the scheduler is healthy",
                 secs(airflow["standalone_start"]), NONE, NONE, NONE, NONE])
    return rows


def advanced_rows(advanced: dict) -> list[list[str]]:
    """The advanced level: each lesson's time and its largest process's peak memory."""
    rows = []
    for key, run in advanced["notebooks"].items():
        rows.append([f"Notebook `{key}`", secs(run.seconds),
                     f"≤ {ADVANCED_NOTEBOOK_SECONDS:.0f} s", NONE, NONE,
                     status(run.seconds, ADVANCED_NOTEBOOK_SECONDS)])
        rows.append([f"Peak memory of `{key}`'s largest process", gb(run.peak_bytes),
                     f"≤ {gb(ADVANCED_PEAK_BYTES)}", NONE, NONE,
                     status(run.peak_bytes, ADVANCED_PEAK_BYTES)])
    if "overhead" in advanced:
        rows += prefect_rows(advanced["overhead"], advanced["latency"])
    if "sensor_latency" in advanced:
        found = advanced["sensor_latency"]
        rows.append([f"Sensor-to-materialization latency (Dagster's daemon, {found['hours']} "
                     "hours), median", secs(found["median_s"]), NONE, NONE,
                     f"max {secs(found['max_s'])}", NONE])
    if "styles" in advanced:
        rows += styles_rows(advanced["styles"])
    return rows


DIRECT_STYLE = "cron + script"  # the styles' baseline: the same steps as plain calls
STYLE_FIGURES = (("start-up (s)", "start-up", secs), ("overhead per run (s)", "overhead per run",
                                                      short),
                 ("overhead per task (s)", "overhead per task", short),
                 ("peak memory (MB)", "peak memory", lambda mb: gb(mb * 1e6)))


def styles_rows(styles: dict[str, dict]) -> list[list[str]]:
    """The capstone's pipeline in four styles, measured in one run: each figure of each
    orchestrator beside the plain script's (direct calls), and what it adds."""
    direct = styles[DIRECT_STYLE]
    rows = []
    for key, label, show in STYLE_FIGURES:
        for style, figures in styles.items():
            extra = NONE if style == DIRECT_STYLE else f"+{show(figures[key] - direct[key])}"
            rows.append([f"Four styles: {label}, {style}", show(figures[key]), NONE,
                         f"{show(direct[key])} {DIRECT_STYLE}" if style != DIRECT_STYLE
                         else NONE, extra, NONE])
    return rows


def prefect_rows(overhead: dict, latency: dict) -> list[list[str]]:
    """Prefect's cost per task and flow run against a direct call, and the event path's
    upload-to-row latency."""
    direct = overhead["direct_call_s"]
    rows = [[f"Prefect {label}, per run", short(overhead[key]), NONE,
             f"{direct * 1e6:.2f} µs direct call", f"+{short(overhead[key] - direct)} a call",
             NONE]
            for key, label in (("task_run_mapped_s", "task run (`.map`, at once)"),
                               ("task_run_sequential_s", "task run (one after another)"),
                               ("flow_run_s", "flow run"))]
    rows.append([f"Event-to-row latency (upload to committed row, {latency['files']} files), "
                 "median", secs(latency["median_s"]), NONE, NONE,
                 f"max {secs(latency['max_s'])}", NONE])
    return rows


def advanced_only(advanced: dict, load: str) -> str:
    """What `python -m benchmarks --only advanced` prints."""
    header = ["metric", "measured", "target", "baseline", "ratio", "status"]
    return "\n\n".join([f"1-minute load average when the runs started: {load_note(load)}",
                         table(header, advanced_rows(advanced))])


ADVANCED_METHOD = """### Advanced level (the lake, Prefect, Dagster, the capstone)

- **Notebooks**: every solution of `solutions/03_advanced/`, track by track in course order
  (the shared lake lesson, then the Prefect track), each run by `workbook run` in a process of
  its own, into one scratch workspace per track, with the local services started by the first
  lesson that needs them (S3, the Prefect server, Prometheus...; the bench's own state folder).
  Wall time of the process, kernel start-up included.
- **Memory**: the peak resident memory of the run's largest process (`wait4`'s rusage, which
  covers the kernel: the run waits for it). The services are daemons the run does not wait for:
  a learner's laptop runs them once for every lesson, so they are not counted as a lesson's.
- **Prefect's overhead** (`benchmarks/prefect_overhead.py`): in a process of the prefect
  environment against the project's Prefect server, a trivial function called directly, as task
  runs `.map`-ped at once and one after another (timed inside the flow run), and as flow runs;
  seconds per call.
- **Event-to-row latency** (`workbook.prefect_events.measure_latency`): lesson 02's ingestion
  flow served with its deployment trigger and its SQS watcher, both in the background; a few
  good files uploaded at once; for each, the seconds from its upload (S3's LastModified) to the
  commit of its rows (the table's commit time).
- **Sensor-to-materialization latency** (`workbook.dagster_daemon`): `dagster dev` (webserver
  and daemon) on the Dagster track's code location through lesson 03, its sensor on the
  bucket's event queue started with `dagster sensor start`; the committed sample's two hours
  uploaded one after the other; for each, the seconds from its last upload to its partition's
  materialization in the instance (the sensor's tick, the run queue, the run's own process).
- **Four styles** (`benchmarks/advanced_level.py`'s `styles`, `workbook.styles`): the capstone's
  daily report (a 400,000-line day) as the cron script, the Airflow DAG, the Prefect flow and
  the Dagster assets its notebook writes, each run three times in turns, each run a process of
  its style's environment; medians. From each run's own timestamps: start-up (launch to ready:
  Python, the orchestrator and the file imported), overhead per run (the run's time outside the
  steps and the hand-offs between them), overhead per task (the mean time between one step's
  end and the next one's start), and the process's peak memory (its VmHWM, read at its end:
  wait4's figure would count the bench's own size at the fork). The script is the
  baseline: the same steps as plain calls. The Prefect server and Airflow's metadata database
  are ready before the runs; the four reports must be identical.
"""


INGEST_VARIANTS = ("one commit", "commit per file")  # the pipeline, the naive baseline


def ingest_seconds(ingest: dict, name: str) -> float:
    """Median wall time of the `ingest()` call itself (listing, reads, validation, quarantine,
    commit), as each timed process measured it around the call."""
    return statistics.median(run["seconds"] for run in ingest["results"][name])


def throughput(files: int, rows: int, seconds: float) -> str:
    return f"{files / seconds:,.1f} files/s, {rows / seconds:,.0f} rows/s"


def ingest_rows(ingest: dict) -> list[list[str]]:
    """The lake's ingestion of one batch in one commit against one commit per file: throughput
    (the target is a ratio to the baseline's), then the whole process's time and memory."""
    ours, naive = INGEST_VARIANTS
    files, rows = ingest["expected"]["files"], sum(ingest["expected"]["rows"].values())
    fast, slow = ingest_seconds(ingest, ours), ingest_seconds(ingest, naive)
    label = f"Lake ingestion, {files} files ({rows:,} rows), one commit"
    process, naive_process = ingest["figures"][ours], ingest["figures"][naive]
    return [
        [f"{label}: throughput (validated and committed)", throughput(files, rows, fast),
         f"≥ {INGEST_RATIO:.0f}× baseline", f"{throughput(files, rows, slow)} one commit per "
         "file", ratio(slow, fast, "faster", "slower"), status(INGEST_RATIO, slow / fast)],
        [f"{label}: time of `ingest()`", secs(fast), NONE, f"{secs(slow)} one commit per file",
         ratio(slow, fast, "faster", "slower"), NONE],
        [f"{label}: whole process (start-up, imports, `ingest()`)", secs(process.seconds),
         NONE, f"{secs(naive_process.seconds)} one commit per file",
         ratio(naive_process.seconds, process.seconds, "faster", "slower"), NONE],
        [f"{label}: peak memory", gb(process.peak_bytes), NONE,
         f"{gb(naive_process.peak_bytes)} one commit per file",
         ratio(naive_process.peak_bytes, process.peak_bytes, "less", "more"), NONE],
        *dagster_ingest_rows(ingest, files, rows, slow),
    ]


# benchmarks.lake_level's Dagster variants: (name, what it is, held to the target)
DAGSTER_INGEST = (("dagster one run", "the batch's hours in one run", True),
                  ("dagster hourly runs", "a run per hour", False))


def dagster_ingest_rows(ingest: dict, files: int, rows: int, slow: float) -> list[list[str]]:
    """The Dagster track's ingestion (its readings asset) against the same baseline, when the
    bench ran it: the batch's hours in one run (a single-run backfill, the Dagster version of
    one commit per batch: held to the same target), and a run per hour (Dagster's cost per run,
    paid once an hour: shown)."""
    found = []
    for name, what, held in DAGSTER_INGEST:
        if name not in ingest["results"]:
            continue
        seconds = ingest_seconds(ingest, name)
        runs = ingest["results"][name][0]["runs"]
        found.append([f"Lake ingestion, {files} files, the Dagster track, {what} ({runs} "
                      f"run{'s' if runs > 1 else ''}): throughput",
                      throughput(files, rows, seconds),
                      f"≥ {INGEST_RATIO:.0f}× baseline" if held else NONE,
                      f"{throughput(files, rows, slow)} one commit per file",
                      ratio(slow, seconds, "faster", "slower"),
                      status(INGEST_RATIO, slow / seconds) if held else NONE])
    return found


def ingest_runs_table(ingest: dict) -> str:
    rows = [[f"`{name}`", ", ".join(f"{run['seconds']:.2f}" for run in ingest["results"][name]),
             ", ".join(f"{run.seconds:.2f}" for run in figure.runs),
             ", ".join(f"{run.peak_bytes / 1e9:.2f}" for run in figure.runs),
             ", ".join(str(run["commits"]) for run in ingest["results"][name])]
            for name, figure in ingest["figures"].items()]
    return table(["variant", "`ingest()` per run (s)", "process per run (s)",
                  "peak memory per run (GB)", "commits per run"], rows)


def ingest_only(ingest: dict, load: str) -> str:
    """What `python -m benchmarks --only ingest` prints: the ingestion rows of the summary, every
    run, and the load it ran under."""
    header = ["metric", "measured", "target", "baseline", "ratio", "status"]
    parts = [f"1-minute load average when the runs started: {load_note(load)}",
             table(header, ingest_rows(ingest)), ingest_runs_table(ingest)]
    return "\n\n".join(parts + [f"WARNING: {problem}" for problem in ingest["problems"]])


def ingest_method(ingest: dict) -> str:
    expected = ingest["expected"]
    options = " ".join(f"--{name} {value}" for name, value in ingest["sensors"].items())
    rows, bad = sum(expected["rows"].values()), len(expected["quarantined"])
    agree = ("every run ended with the same table (rows per file and their values, "
             "`ingested_at` aside), the same quarantine with the same reasons and the same "
             "files left in `incoming/`, and those are what the generator's answer key says."
             if not ingest["problems"] else "they do **not** agree: " +
             "; ".join(ingest["problems"]))
    return f"""### Lake ingestion (advanced level)

- **Input**: `workbook datasets sensors {options}` (each store's fridges and freezers, a
  footfall counter and a power meter): {expected['files']} files of 15 minutes with their
  manifests, {bad} of them bad (the generator's faults), {rows:,} valid rows. Generated once
  into `benchmarks/data/sensors`.
- **Each run gets its own bucket** on the local s3 service (moto's server, started by the bench
  and stopped afterwards), uploaded before the timed runs (untimed): each file, then its
  manifest, in arrival order. So every run ingests the same files into a table that does not
  exist yet.
- **Each run is a fresh process** of the prefect environment's Python
  (`benchmarks/lake_ingest.py run`): it lists the new keys and calls
  `workbook.lake.ingest.ingest(keys, lake, one_commit=...)` once. Throughput is files (all of
  them, good and bad) and committed rows over the wall time of that call, measured around it
  in the process: listing, S3 reads (8 threads), validation, the quarantine moves and the
  commits. The process's own wall time and peak memory (`wait4`) are shown beside it. moto's
  server runs in a process of its own, not counted in the peak.
- **Variants**: `one commit` (`one_commit=True`: the batch's rows and one Delta app
  transaction per file in one commit) and `commit per file` (`one_commit=False`, the naive
  baseline: the same validation, one commit per good file, each re-reading the table's log).
  The baseline takes minutes per run, so it runs {len(ingest['results']['commit per file'])}
  time(s), beside the first run(s) of the pipeline, which runs
  {len(ingest['results']['one commit'])} times; interleaved. `dagster hourly runs`
  and `dagster one run` (`benchmarks/lake_ingest.py dagster`, in the dagster environment's
  Python): the Dagster track's code location as its lessons write it, its hourly `readings`
  asset materialized for each hour the files cover, one run after another, or for all of
  them in one run (a partition range, as a single-run backfill runs it), in an ephemeral
  instance; timed around those runs (listing included), as many times as the pipeline.
- **Like for like**: {agree}

{ingest_runs_table(ingest)}
"""


def grading_rows(grading: dict) -> list[list[str]]:
    """Grading one submission and a class, against plain papermill runs of the same notebooks."""
    rows = []
    for name, label, target in (
            ("one", "Grading one beginner submission", GRADE_ONE_SECONDS),
            ("class", f"Grading a class of {grading['class_size']}", GRADE_CLASS_SECONDS)):
        figure, baseline = grading[name], grading[f"{name}_baseline"]
        rows.append([f"{label}: time", secs(figure.seconds), f"≤ {secs(target)}",
                     f"{secs(baseline)} papermill", ratio(baseline, figure.seconds, "faster",
                                                          "slower"),
                     status(figure.seconds, target)])
        rows.append([f"{label}: peak memory (largest process)", gb(figure.peak_bytes), NONE,
                     NONE, NONE, NONE])
        if name == "one":
            over = figure.seconds / baseline
            rows.append([f"{label}: time over papermill's", f"{over:.1f}×",
                         f"≤ {GRADE_OVER_PAPERMILL:.0f}×", f"{secs(baseline)} papermill", NONE,
                         status(over, GRADE_OVER_PAPERMILL)])
    return rows


def grading_breakdown(grading: dict, kernel_start: float) -> str:
    """Where grading one submission spends its time, step by step, with papermill's run of the
    same notebook beside it."""
    steps = grading["one_breakdown"]
    rows = [["the grader's process: Python, imports, writing the reports (outside `grade()`)",
             NONE, NONE, secs(steps["process"])]]
    rows += [[name, f"{start:.2f}", f"{end:.2f}", secs(end - start)]
             for name, (start, end) in steps["spans"].items()]
    rows += [[f"{name} (summed over its cells)", NONE, NONE, secs(seconds)]
             for name, seconds in steps["busy"].items()]
    return (table(["step of `grade()` (medians)", "from (s)", "to (s)", "seconds"], rows)
            + f"\n\n`grade()` took {secs(steps['grade'])} (median). Beside it, papermill runs "
            f"the same notebook in {secs(grading['one_baseline'])}, of which about "
            f"{secs(kernel_start)} is starting and stopping its kernel (the empty notebook of "
            "*Notebooks*).")


GRADING_METHOD = """### Grading

- **One submission**: a correct submission of `01_extract_transform` (built by
  `workbook.grading.samples`), graded by `python -m workbook grade FILE` in a fresh process, as
  root, so in the full sandbox (allow-list root, namespaces, the learner's kernel and the
  checker as two unprivileged users, limits); 3 runs, median. The checker's kernel starts
  beside the learner's and runs the lesson's setup again, with its own data, while the
  learner's notebook runs.
- **A class of 30**: six learners each handing in the five beginner lessons, graded by one
  `python -m workbook grade FOLDER` (one worker per core); lesson 04 also runs the solution of
  lesson 03 first (its checkpoint), as grading always does.
- **Baseline**: the same notebooks run by papermill one after another in the beginner kernel:
  no assembly, no sandbox, no scoring, no parallelism.
- **Peak memory** is the largest single process of the grading that `wait4` accounts for (the
  largest reaped descendant): the grader and the sandbox's notebook client. The kernels are not
  in it: nothing waits for them, the end of the sandbox's PID namespace ends them.
- **Where the time goes**: every result records its timings (`workbook.grading.timing`: wall
  clock at the start and end of each step, in the grader and in its client in the sandbox, and
  the time spent in each kind of cell), kept in its JSON report. The table shows the medians
  over the runs of one submission. Steps overlap: `sandbox` holds everything from entering it to
  leaving it, `client` is the notebook client inside; the two kernels start side by side; the
  checker runs its setup cells while the learner's notebook runs; at each check the learner's
  kernel waits while the checker imports the evidence and runs the verdict.
"""


QUIET_LOAD = 0.5  # a 1-minute load average under this: nothing else was running


def load_note(load: str) -> str:
    """The load average, and what it means for the figures measured under it."""
    quiet = ("near 0: nothing else was running" if float(load) < QUIET_LOAD
             else "**the machine was busy with other work: the figures are noisy**")
    return f"{load} ({quiet})"


def machine_line(results: Results) -> str:
    m = results.machine
    return (f"Measured by `make bench` (`python -m benchmarks`, {results.minutes:.1f} min) on "
            f"{m['date']}: {m['cores']} cores ({m['cpu']}), {m['ram']} RAM, {m['os']}; "
            f"Python {m['python']}, pandas {m['pandas']}, pyarrow {m['pyarrow']} (the beginner "
            f"environment), DuckDB {m['duckdb']} (the airflow environment). 1-minute load "
            f"average when the bench started: {load_note(m['load'])}. These are this machine's "
            "figures: run `make bench` for yours.")


def warnings(results: Results) -> str:
    """One line per way the baseline disagrees with the reference (none when they agree)."""
    return "\n\n".join(f"> **WARNING: the baseline disagrees with the reference:** {problem}"
                     for problem in results.disagreements)


def agreement(results: Results) -> str:
    if results.disagreements:
        return "they do **not** agree; see the warnings under the summary."
    return ("the naive, DuckDB and reference reports agree (same categories in the same order, "
            "identical unit counts, net revenue within $0.05 for the naive one and $0.01 for "
            "DuckDB's) and both full runs load the same rows into SQLite.")


def daily_report_only(daily: dict[str, Figure], problems: list[str], load: str) -> str:
    """What `python -m benchmarks --only daily-report` prints: the report's rows of the summary
    (beside the naive baseline and DuckDB's aggregate), every run, and the load it ran under."""
    header = ["metric", "measured", "target", "baseline", "ratio", "status"]
    parts = [f"1-minute load average when the runs started: {load_note(load)}",
             table(header, daily_rows(daily) + duckdb_rows(daily)), runs_table(daily)]
    return "\n\n".join(parts + [f"WARNING: {problem}" for problem in problems])


def runs_table(daily: dict[str, Figure]) -> str:
    rows = [[f"`{name}`", ", ".join(f"{run.seconds:.2f}" for run in figure.runs),
             ", ".join(f"{run.peak_bytes / 1e9:.2f}" for run in figure.runs)]
            for name, figure in daily.items()]
    return table(["variant", "time per run (s)", "peak memory per run (GB)"], rows)


def daily_method(results: Results) -> str:
    startup = results.daily["startup"]
    return f"""### Daily report over a 1,000,000-line day

- **Input**: `workbook.datasets.generate_sales(benchmarks/data/sales, 2015-06-03, 1 day,
  1,000,000 rows, seed=2015)`, that is
  {results.data_lines:,} data lines ({results.data_bytes / 1e6:.0f} MB) with the course's usual
  mess ({datasets.DUPLICATE_RATE:.0%} duplicated lines, {datasets.MALFORMED_RATE:.1%} malformed,
  returns, miscased and missing categories, stray spaces). Generated once, reused; it sits in
  the OS page cache, so disk reads are not in the figures.
- **Each run is a fresh process** of the lesson's Python (`.venvs/beginner/bin/python`). Time is
  wall time from start to exit; peak memory is the process's maximum resident set size from
  `os.wait4` (the kernel's own accounting, no sampling). So every figure includes starting Python
  and importing pandas and pyarrow, which alone take
  {secs(startup.seconds)} and {gb(startup.peak_bytes)} (`startup` below, measured the same way).
- **{len(startup.runs)} runs per variant**, interleaved (one of each in turn, so a drift in
  the machine hits all alike); the summary shows the median time and the largest peak.
- **Variants**:
  - `report` (`benchmarks/run_reference_report.py`), the figure held to the targets:
    `sales.read_sales` → `clean_sales` → `category_summary` → `write_report`.
  - `full`: the lesson's `sales_report.py` exactly as solution 03 writes it, end to end: input
    checks, the same pipeline, every line loaded into SQLite (`sales.load_day`, one
    transaction), then the report; a new database each run.
  - `naive report` / `naive full` (`benchmarks/naive_report.py` without / with `--db`): what a
    beginner writes first: `read_csv(engine="python", on_bad_lines="skip")` with every type
    guessed, row-wise `df.apply(..., axis=1)` to clean text and compute revenue,
    `drop_duplicates("order_id")`, `groupby`, `to_csv`, and `to_sql(if_exists="append")`.
  - `duckdb report` (`benchmarks/duckdb_report.py`): the same report as one DuckDB SQL query
    (`read_csv` skipping malformed lines, the same cleaning, `DISTINCT ON (order_id)`,
    `GROUP BY category`, written with `COPY`), in the airflow environment's Python (the one with
    DuckDB), importing nothing else: the practical limit for this report on this machine.
- **Like for like**: {agreement(results)}

{runs_table(results.daily)}
"""


def setup_method(results: Results) -> str:
    return f"""### Set-up

- `python3 -m workbook setup`, as `make setup` runs it, in a fresh process: wall time, median
  of {len(results.setup["warm"].runs)} runs each.
- **Warm**: the existing `.venvs`, after one untimed run, so there is nothing to install: it
  compares each lock's digest with the venv's stamp and checks the kernel spec.
- **Cold**: `WORKBOOK_VENVS` pointed at an empty `benchmarks/data/venvs-cold` (deleted before
  each run and at the end): both venvs created, their locks installed, the workbook package
  installed editable, the kernel registered. uv's package cache was warm, so this is **cold
  venvs, warm cache**: uv links the files from its cache
  ({gb(results.installed_bytes)} installed). A first-ever set-up also downloads every wheel
  from PyPI (compressed, somewhat smaller than that) and, on a machine without Python 3.11, a
  Python build; that depends on the network and is not measured.
"""


def notebooks_method(results: Results) -> str:
    return f"""### Notebooks

- Every solution notebook of `solutions/01_beginner/`, in course order, run by
  `workbook.runner.run_notebook` (papermill) into one scratch workspace
  (`benchmarks/data/workspace`; the lessons build on each other) with their default parameters
  (the committed 400-line sample). Wall time around the call, so it includes papermill starting
  a fresh `workbook-beginner` kernel and shutting it down: an empty notebook takes
  {secs(results.kernel_start)} this way (measured once), so about that much of each figure is
  start-up.
- `04_scheduling_with_cron` runs the lesson script as separate processes (a run with an empty
  environment, then a backfill of four days), so it pays Python and pandas start-up each time.
"""


AIRFLOW_METHOD = """### Intermediate level (Airflow)

- **Notebooks**: every solution of `solutions/02_intermediate/`, in course order, into one
  scratch workspace, with the local services started by the first one (PostgreSQL, the weather
  API, the SMTP sink, in the bench's own state folder). `01_airflow_concepts` includes migrating
  a fresh Airflow metadata database; the others include their `dag.test()` runs, retries with
  backoff waits (lesson 04 waits on purpose) and the integrity tests' pytest runs (lesson 06).
- **Orchestration overhead**: one process in the airflow venv runs the `store_weather` DAG of
  lesson 03 with `dag.test()` once (the warm-up: imports, serialising the DAG), then, for each
  of five more days, the DAG and the same steps as plain functions
  (`workbook.weather_sales.run_day`: the same SQL, API calls, join and DuckDB load), in turns.
  Medians are shown; the ratio is the cost of scheduling, state and XCom bookkeeping.
- **Memory**: the peak resident memory of that whole process (`wait4`'s rusage), which is what a
  lesson's kernel does; and of `airflow standalone` (API server, scheduler, DAG processor,
  triggerer: the sum over its process tree, sampled every 0.5 s for 30 s once the scheduler
  reports healthy), with the lesson's DAG in its folder.
"""




def render(results: Results) -> str:
    return "\n\n".join([
        "# Performance report",
        machine_line(results),
        "## Summary",
        summary(results),
        *([warnings(results)] if results.disagreements else []),
        "GB is 10^9 bytes. *naive* is `benchmarks/naive_report.py`, measured in the same run "
        "on the same data.",
        "## How each figure was measured",
        daily_method(results).strip(),
        setup_method(results).strip(),
        notebooks_method(results).strip(),
        GRADING_METHOD.strip(),
        grading_breakdown(results.grading, results.kernel_start),
        AIRFLOW_METHOD.strip(),
        ingest_method(results.ingest).strip(),
        ADVANCED_METHOD.strip(),
    ]) + "\n"


def write(path: Path, results: Results) -> None:
    path.write_text(render(results), encoding="utf-8")
