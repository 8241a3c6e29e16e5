"""`python -m benchmarks` (what `make bench` runs): measure on this machine, write REPORT.md.

Order: notebooks first (lesson 03 writes the script the daily-report section times), then the
daily report over a million lines against a naive baseline, then grading (one submission and a
class of 30, against plain papermill), then set-up time, then the lake's ingestion of 540
sensor files against one commit per file (about 10 minutes, most of it the baseline's one run).

`python -m benchmarks --only daily-report [--repeats N]` measures only the report path against
its baselines (the naive script, DuckDB's aggregate) and prints those rows; REPORT.md is left
as it is, since its other figures were not measured. `--only ingest [--repeats N]
[--baseline-runs M]` does the same for the lake's ingestion, `--only advanced` for the advanced
level, `--only styles` for the capstone's four styles.
"""

import argparse
import csv
import datetime as dt
import os
import platform
import shutil
import sqlite3
import subprocess
import time
from pathlib import Path

import nbformat

from benchmarks import advanced_level, airflow_level, grading, lake_level, measure, report
from workbook import course, datasets, lesson, paths, runner, sales, services

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"  # gitignored: everything the runs generate
WORKSPACE = DATA / "workspace"
COLD_VENVS = DATA / "venvs-cold"
BEGINNER_PYTHON = paths.env_python("beginner")
DUCKDB_PYTHON = paths.env_python("airflow")  # the environment that has DuckDB
DAY, ROWS, SEED = dt.date(2015, 6, 3), 1_000_000, 2015
REPEATS = 3
# Dollars by which a category's net revenue may differ: every variant sums floats, in its own
# order; the naive baseline also computes each line's revenue a row at a time.
NAIVE_TOLERANCE = 0.05
DUCKDB_TOLERANCE = 0.01


def sales_day() -> Path:
    """The million-line day, generated once (about 20 s) and reused by later benches.

    In a process of its own: a child's peak memory (wait4's ru_maxrss) starts from the size of
    the process that forked it, so this one must stay small for every later figure to be true."""
    path = DATA / "sales" / datasets.sales_filename(DAY)
    if not path.exists():
        print(f"generating {ROWS:,} order lines for {DAY} (once)", flush=True)
        subprocess.run([str(paths.base_python()), "-m", "workbook", "datasets",
                        "sales", "--start", DAY.isoformat(), "--days", "1", "--rows-per-day",
                        str(ROWS), "--seed", str(SEED), "--out", str(path.parent)],
                       check=True, cwd=paths.ROOT)
    return path


def empty_notebook() -> Path:
    """A notebook that does nothing in the beginner kernel: its run time is pure start-up."""
    first = course.lessons("01_beginner")[0].path()
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("pass")])
    nb.metadata["kernelspec"] = nbformat.read(first, as_version=4).metadata["kernelspec"]
    path = DATA / "empty.ipynb"
    nbformat.write(nb, path)
    return path


def notebook_times() -> tuple[float, dict[str, float]]:
    """Kernel start-up, then each beginner solution in course order in one fresh workspace."""
    paths.apply_jupyter_environ()
    shutil.rmtree(WORKSPACE, ignore_errors=True)
    WORKSPACE.mkdir(parents=True)
    os.environ[lesson.WORKSPACE_VARIABLE] = str(WORKSPACE)

    def run(nb: Path, params: dict) -> float:
        return measure.timed(lambda: runner.run_notebook(nb, params, DATA / "runs" / nb.name))

    startup = run(empty_notebook(), {})
    print(f"  empty notebook (kernel start-up): {startup:.1f} s", flush=True)
    times = {}
    for nb in [declared.path() for declared in course.lessons("01_beginner")]:
        times[nb.stem] = run(nb, {"workspace": str(WORKSPACE)})
        print(f"  {nb.stem}: {times[nb.stem]:.1f} s", flush=True)
    return startup, times


# The variants `--only daily-report` runs: the lesson's full script needs the notebooks run first.
REPORT_VARIANTS = ("startup", "report", "naive report", "duckdb report")
# reference, variant, how many dollars their net revenues may differ by
COMPARISONS = (("report", "naive report", NAIVE_TOLERANCE),
               ("full", "naive full", NAIVE_TOLERANCE),
               ("report", "duckdb report", DUCKDB_TOLERANCE))


def daily_commands(data_dir: Path, script: Path) -> dict:
    """name -> command for a fresh output folder; each a whole run in the lesson's Python."""
    day = ["--date", DAY.isoformat(), "--data-dir", data_dir]

    def reports(out: Path) -> list:
        return ["--report-dir", out / "reports"]

    return {
        "startup": lambda out: [BEGINNER_PYTHON, "-c", "import pandas, pyarrow"],
        "report": lambda out: [BEGINNER_PYTHON, HERE / "run_reference_report.py", *day,
                               *reports(out)],
        "naive report": lambda out: [BEGINNER_PYTHON, HERE / "naive_report.py", *day,
                                     *reports(out)],
        "duckdb report": lambda out: [DUCKDB_PYTHON, HERE / "duckdb_report.py", *day,
                                      *reports(out)],
        "full": lambda out: [BEGINNER_PYTHON, script, *day, *reports(out), "--db", out / "sales.db",
                             "--log-file", out / "sales_report.log"],
        "naive full": lambda out: [BEGINNER_PYTHON, HERE / "naive_report.py", *day,
                                   *reports(out), "--db", out / "sales.db"],
    }


def read_report(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="") as f:
        return {row["category"]: row for row in csv.DictReader(f)}


def report_differences(reference: Path, variant: Path, tolerance: float) -> list[str]:
    """Where two category reports disagree: categories and their order, counts exactly, net
    revenue by more than `tolerance` dollars."""
    ref, other = read_report(reference), read_report(variant)
    if list(ref) != list(other):
        return [f"categories or their order differ: {list(ref)} vs {list(other)}"]
    problems = []
    for category, row in ref.items():
        for column in ("orders", "units_sold", "units_returned"):
            if int(row[column]) != int(float(other[category][column])):
                problems.append(f"{category} {column}: {row[column]} vs {other[category][column]}")
        gap = abs(float(row["net_revenue"]) - float(other[category]["net_revenue"]))
        if gap > tolerance:
            problems.append(f"{category} net_revenue differs by {gap:.2f}")
    return problems


def loaded_rows(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0]
    conn.close()
    return count


def disagreements(out: Path, ran: set[str]) -> list[str]:
    """Apples to apples: the naive baseline and DuckDB must produce the reference's report, and
    the naive script load as many rows (each check among the variants that `ran`)."""
    report_file = f"1/reports/sales_report_{DAY.isoformat()}.csv"
    problems = []
    for ref, variant, tolerance in COMPARISONS:
        if {ref, variant} <= ran:
            found = report_differences(out / measure.folder(ref) / report_file,
                                       out / measure.folder(variant) / report_file, tolerance)
            problems += [f"{measure.folder(variant)} vs {ref}: {problem}" for problem in found]
    if "full" not in ran:
        return problems
    ref_rows = loaded_rows(out / "full" / "1" / "sales.db")
    naive_rows = loaded_rows(out / "naive-full" / "1" / "sales.db")
    if ref_rows != naive_rows:
        problems.append(f"rows loaded into SQLite: {ref_rows:,} (full) vs {naive_rows:,} (naive)")
    return problems


def daily_figures(variants=None, repeats: int = REPEATS
                  ) -> tuple[dict[str, measure.Figure], list[str]]:
    """Each variant (default: all) `repeats` times in fresh processes, then the baselines'
    agreement check."""
    data_dir = sales_day().parent
    script = WORKSPACE / "sales_report.py"  # written by lesson 03 in notebook_times()
    out = DATA / "daily"
    shutil.rmtree(out, ignore_errors=True)
    commands = daily_commands(data_dir, script)
    chosen = {name: commands[name] for name in variants or commands}
    figures = measure.interleaved(chosen, repeats, out)
    return figures, disagreements(out, set(chosen))


def daily_report_only(repeats: int) -> int:
    """`--only daily-report`: the report path against its baselines, printed, not written."""
    load = f"{os.getloadavg()[0]:.2f}"
    print(f"daily report over {ROWS:,} order lines, {repeats} runs each", flush=True)
    try:
        daily, problems = daily_figures(REPORT_VARIANTS, repeats)
    except measure.MeasureError as err:
        print(f"bench failed: {err}")
        return 1
    print(report.daily_report_only(daily, problems, load))
    return 0


def ingest_only(repeats: int, baseline_runs: int) -> int:
    """`--only ingest`: the lake's ingestion against one commit per file, printed, not
    written."""
    load = f"{os.getloadavg()[0]:.2f}"
    start = time.perf_counter()
    print(f"lake ingestion: {repeats} runs in one commit, {baseline_runs} of one commit per "
          "file", flush=True)
    try:
        ingest = lake_level.ingest_figures(DATA, repeats, baseline_runs)
    except (measure.MeasureError, services.ServiceError) as err:
        print(f"bench failed: {err}")
        return 1
    print(report.ingest_only(ingest, load))
    print(f"\n(the case took {(time.perf_counter() - start) / 60:.1f} min; 1-minute load "
          f"average at its end: {os.getloadavg()[0]:.2f})")
    return 0


def styles_only() -> int:
    """`--only styles`: the capstone's four styles, printed, not written."""
    load = f"{os.getloadavg()[0]:.2f}"
    try:
        found = advanced_level.styles(DATA)
    except (measure.MeasureError, runner.RunError, services.ServiceError) as err:
        print(f"bench failed: {err}")
        return 1
    finally:
        for name in services.NAMES:
            services.stop(name)
    print(report.advanced_only({"notebooks": {}, "styles": found}, load))
    return 0


def advanced_only() -> int:
    """`--only advanced`: the advanced level's notebooks, printed, not written."""
    load = f"{os.getloadavg()[0]:.2f}"
    try:
        advanced = advanced_level.advanced_figures(DATA)
    except (measure.MeasureError, services.ServiceError) as err:
        print(f"bench failed: {err}")
        return 1
    print(report.advanced_only(advanced, load))
    return 0


def tree_bytes(root: Path) -> int:
    """Size of the files under `root`, each hard-linked file counted once."""
    sizes = {}
    for f in root.rglob("*"):
        if f.is_file() and not f.is_symlink():
            stat = f.stat()
            sizes[stat.st_dev, stat.st_ino] = stat.st_size
    return sum(sizes.values())


def setup_figures(shell_env: dict[str, str]) -> tuple[dict[str, measure.Figure], int]:
    """`python3 -m workbook setup` warm (real .venvs, after one untimed run) and cold (into an
    empty folder, deleted before each run and at the end); also the size a cold set-up installs."""
    cmd = [shutil.which("python3", path=shell_env.get("PATH")), "-m", "workbook", "setup"]
    logs = DATA / "setup"

    def run(name: str, env: dict[str, str]) -> measure.Run:
        return measure.run_process(cmd, logs / f"{name}.log", env=env, cwd=paths.ROOT)

    run("warm-0", shell_env)  # untimed: whatever it installs is not part of "warm"
    warm = [run(f"warm-{i}", shell_env) for i in range(1, REPEATS + 1)]
    cold_env = {**shell_env, "WORKBOOK_VENVS": str(COLD_VENVS)}
    cold = []
    try:
        for i in range(1, REPEATS + 1):
            shutil.rmtree(COLD_VENVS, ignore_errors=True)
            cold.append(run(f"cold-{i}", cold_env))
            print(f"  cold #{i}: {cold[-1].seconds:.1f} s", flush=True)
        installed = tree_bytes(COLD_VENVS)
    finally:
        shutil.rmtree(COLD_VENVS, ignore_errors=True)
    if "installing" in (logs / "warm-1.log").read_text() or not installed:
        raise measure.MeasureError(f"warm set-up installed, or cold did not: see {logs}")
    return {"warm": measure.Figure(tuple(warm)), "cold": measure.Figure(tuple(cold))}, installed


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def machine() -> dict[str, str]:
    """What the figures depend on, with the versions the lesson's Python really runs."""
    probe = "import platform, pandas, pyarrow; print(platform.python_version(), " \
            "pandas.__version__, pyarrow.__version__)"
    python, pandas, pyarrow = subprocess.run(
        [BEGINNER_PYTHON, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    duckdb = subprocess.run([DUCKDB_PYTHON, "-c", "import duckdb; print(duckdb.__version__)"],
                            capture_output=True, text=True, check=True).stdout.strip()
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    return {"date": dt.date.today().isoformat(), "cores": str(os.cpu_count()),
            "ram": f"{ram / 2**30:.1f} GiB", "cpu": cpu_model(), "os": platform.platform(),
            "python": python, "pandas": pandas, "pyarrow": pyarrow, "duckdb": duckdb,
            "load": f"{os.getloadavg()[0]:.2f}"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split(
        "\n")[0])
    parser.add_argument("--only", choices=["daily-report", "ingest", "advanced", "styles"],
                        help="measure only this case and print it (REPORT.md is not written)")
    parser.add_argument("--repeats", type=int, default=REPEATS,
                        help=f"runs per variant with --only (default {REPEATS})")
    parser.add_argument("--baseline-runs", type=int, default=lake_level.BASELINE_RUNS,
                        help="runs of one commit per file with --only ingest (default "
                        f"{lake_level.BASELINE_RUNS}; each takes minutes)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.only == "daily-report":
        return daily_report_only(args.repeats)
    if args.only == "ingest":
        return ingest_only(args.repeats, args.baseline_runs)
    if args.only == "advanced":
        return advanced_only()
    if args.only == "styles":
        return styles_only()
    start = time.perf_counter()
    host = machine()  # first, so its load average is the one the bench started under
    shell_env = dict(os.environ)  # before the Jupyter variables: set-up runs as `make setup` does
    DATA.mkdir(parents=True, exist_ok=True)
    try:
        print("intermediate level (Airflow)", flush=True)
        airflow_results = airflow_level.airflow_figures(DATA)
        print("beginner notebooks", flush=True)
        kernel_start, notebooks = notebook_times()
        print(f"daily report over {ROWS:,} order lines, {REPEATS} runs each", flush=True)
        daily, problems = daily_figures()
        print("grading", flush=True)
        graded = grading.grading_figures(DATA, REPEATS)
        print("set-up", flush=True)
        setup, installed = setup_figures(shell_env)
        print("lake ingestion", flush=True)
        ingest = lake_level.ingest_figures(DATA)
        print("advanced notebooks", flush=True)
        advanced = advanced_level.advanced_figures(DATA)
    except (measure.MeasureError, runner.RunError, services.ServiceError) as err:
        print(f"bench failed, REPORT.md not written: {err}")
        return 1
    sales_file = sales_day()
    results = report.Results(
        machine=host,
        data_lines=sales.count_data_lines(sales_file), data_bytes=sales_file.stat().st_size,
        daily=daily, disagreements=problems, setup=setup,
        installed_bytes=installed, kernel_start=kernel_start, notebooks=notebooks,
        grading=graded, airflow=airflow_results, ingest=ingest, advanced=advanced,
        minutes=(time.perf_counter() - start) / 60,
    )
    report.write(HERE / "REPORT.md", results)
    print(f"wrote benchmarks/REPORT.md ({results.minutes:.1f} min)")
    for problem in problems + ingest["problems"]:
        print(f"WARNING: {problem}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
