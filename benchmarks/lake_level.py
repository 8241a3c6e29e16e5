"""The advanced level measured: ingestion throughput of a batch of sensor files on S3 into the
Delta table, in one commit per batch (the pipeline) against one commit per file (the naive
baseline), both by `workbook.lake.ingest.ingest` in fresh processes of the prefect environment;
and the Dagster track's version (its readings asset, a run per hour), in the dagster one.

Each run gets a bucket of its own, uploaded before the timed runs start (untimed), so every run
ingests the same files into a table that does not exist yet. The local s3 service (moto's
server) is started here in the bench's state folder and stopped at the end if it was not
running before. Afterwards each bucket is read back (untimed) and every run must end with the
same table and the same quarantine as the reference run, and those as the generator's answer
key says: otherwise the speeds are not comparable and the bench says so.
"""

import json
import shutil
import subprocess
from pathlib import Path

from benchmarks import measure
from workbook import paths, services

PREFECT_PYTHON = paths.env_python("prefect")
DAGSTER_PYTHON = paths.env_python("dagster")
# 3 stores x (2 fridges + 1 freezer + a footfall counter + a power meter) x 36 windows of 15
# minutes = 540 files, 60 of them bad; the generator writes them in about a second.
SENSORS = {"start": "2015-06-01T12:00", "hours": 9, "stores": 3, "fridges": 2, "freezers": 1,
           "seed": 2041}
REFERENCE, BASELINE = "one commit", "commit per file"
DAGSTER_HOURLY, DAGSTER_ONE_RUN = "dagster hourly runs", "dagster one run"
# variant -> (its Python, the lake_ingest step, its options)
VARIANTS = {REFERENCE: (PREFECT_PYTHON, "run", []),
            BASELINE: (PREFECT_PYTHON, "run", ["--per-file"]),
            DAGSTER_HOURLY: (DAGSTER_PYTHON, "dagster", []),
            DAGSTER_ONE_RUN: (DAGSTER_PYTHON, "dagster", ["--one-run"])}
# The baseline makes ~480 commits, each replaying the Delta log from S3: minutes per run. It
# runs this many times (in the first rounds, beside the reference); the reference, `repeats`.
BASELINE_RUNS = 1
REPEATS = 3
TARGET_RATIO = 10.0  # the pipeline's throughput over the baseline's, at least


def sensor_batch(data: Path) -> Path:
    """The generator's files for SENSORS, made once (in a process of its own, like the sales
    day) and reused while the settings are the same."""
    folder = data / "sensors"
    key = folder / "_answer_key.json"
    if key.exists():
        settings = json.loads(key.read_text(encoding="utf-8"))["settings"]
        if {name: settings.get(name) for name in ("stores", "fridges", "freezers", "seed")} \
                == {name: SENSORS[name] for name in ("stores", "fridges", "freezers", "seed")} \
                and settings["start"].startswith(SENSORS["start"]):
            return folder
    shutil.rmtree(folder, ignore_errors=True)
    options = [f"--{name}={value}" for name, value in SENSORS.items()]
    subprocess.run([str(paths.base_python()), "-m", "workbook", "datasets", "sensors", *options,
                    "--out", str(folder)], check=True, cwd=paths.ROOT)
    return folder


def answer(folder: Path) -> dict:
    """What a correct pipeline ends with, from the generator's answer key (plain JSON, so this
    process imports nothing heavy): rows per accepted file, reason per quarantined file."""
    files = json.loads((folder / "_answer_key.json").read_text(encoding="utf-8"))["files"]
    return {"files": len(files),
            "rows": {f["key"]: f["valid_rows"] for f in files if f["disposition"] == "accept"},
            "quarantined": {f["key"]: f["reason"] for f in files
                            if f["disposition"] == "quarantine"}}


def bucket(where: Path) -> str:
    """The bucket of the run whose folder is `where` (<out>/<variant>/<run>)."""
    return f"bench-{where.parent.name}-{where.name}"


def worker(step: str, endpoint: str, where: Path, *extra, python: Path = PREFECT_PYTHON
           ) -> list:
    return [python, "-m", "benchmarks.lake_ingest", step, "--endpoint", endpoint,
            "--bucket", bucket(where), *extra]


def planned(repeats: int, baseline_runs: int) -> list[Path]:
    """The run folders (relative to the output folder), in the order they run."""
    return [Path(measure.folder(name)) / str(rep) for rep in range(1, repeats + 1)
            for name in VARIANTS if rep <= (baseline_runs if name == BASELINE else repeats)]


def ingest_figures(data: Path, repeats: int = REPEATS, baseline_runs: int = BASELINE_RUNS
                   ) -> dict:
    """Both variants, interleaved, in fresh processes; then the agreement check."""
    source = sensor_batch(data)
    out = data / "ingest"
    shutil.rmtree(out, ignore_errors=True)
    runs = planned(repeats, baseline_runs)
    started = services.status("s3") is None
    endpoint = services.start("s3").url
    try:
        for run in runs:
            measure.run_process(worker("upload", endpoint, out / run, "--source", source),
                                out / run / "upload.log")
        commands = {name: (lambda where, python=python, step=step, extra=extra: worker(
            step, endpoint, where, "--out", where / "result.json", *extra, python=python))
            for name, (python, step, extra) in VARIANTS.items()}
        figures = measure.interleaved(commands, repeats, out, fewer={BASELINE: baseline_runs})
        for run in runs:
            measure.run_process(worker("state", endpoint, out / run, "--out",
                                       out / run / "state.json"), out / run / "state.log")
    finally:
        if started:
            services.stop("s3")
    results = {name: [read(out / measure.folder(name) / str(rep) / "result.json")
                      for rep in range(1, len(figure.runs) + 1)]
               for name, figure in figures.items()}
    return {"figures": figures, "results": results, "expected": answer(source), "sensors": SENSORS,
            "problems": disagreements(out, runs, answer(source))}


def read(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def answer_differences(state: dict, expected: dict) -> list[str]:
    """Where a bucket's end state differs from what the answer key says."""
    problems = []
    if state["rows"] != expected["rows"]:
        wrong = sorted(set(state["rows"].items()) ^ set(expected["rows"].items()))
        problems.append(f"rows per file differ from the answer key's for {len(wrong)} "
                        f"(file, rows) pairs, e.g. {wrong[:2]}")
    if state["quarantined"] != expected["quarantined"]:
        wrong = sorted(set(state["quarantined"].items()) ^ set(expected["quarantined"].items()))
        problems.append(f"the quarantine differs from the answer key's for {len(wrong)} "
                        f"(file, reason) pairs, e.g. {wrong[:2]}")
    return problems


def state_differences(reference: dict, variant: dict) -> list[str]:
    """Where two buckets' end states differ: the table's rows per file and its content, the
    quarantine with its reasons, what is left in incoming/."""
    problems = []
    if reference["rows"] != variant["rows"]:
        problems.append(f"rows per file differ ({reference['total_rows']:,} vs "
                        f"{variant['total_rows']:,} rows in all)")
    elif reference["digest"] != variant["digest"]:
        problems.append("the tables' rows have the same counts per file but not the same values")
    if reference["quarantined"] != variant["quarantined"]:
        wrong = sorted(set(reference["quarantined"].items())
                       ^ set(variant["quarantined"].items()))
        problems.append(f"the quarantines differ in {len(wrong)} (file, reason) pairs, "
                        f"e.g. {wrong[:2]}")
    if reference["incoming"] != variant["incoming"]:
        problems.append(f"incoming/ differs: {len(reference['incoming'])} vs "
                        f"{len(variant['incoming'])} objects left")
    return problems


def disagreements(out: Path, runs: list[Path], expected: dict) -> list[str]:
    """Apples to apples: the first run (the reference's) must end as the answer key says, and
    every other run exactly as it did."""
    first, *others = runs
    reference = read(out / first / "state.json")
    problems = [f"{first}: {problem}" for problem in answer_differences(reference, expected)]
    for run in others:
        problems += [f"{run} vs {first}: {problem}" for problem in
                     state_differences(reference, read(out / run / "state.json"))]
    return problems
