"""The bench's own logic on made-up figures (no timing here: performance is only measured, by
`make bench`): the DuckDB comparison, the like-for-like check, and the grading breakdown."""

import json
import sys
from pathlib import Path

from benchmarks import __main__ as bench
from benchmarks import grading, lake_level, measure, report
from benchmarks.measure import Figure, Run

HEADER = "category,orders,units_sold,units_returned,net_revenue\n"


def figure(seconds: float, gigabytes: float) -> Figure:
    return Figure((Run(seconds, int(gigabytes * 1e9)),))


def breakdown() -> dict:
    return {"spans": {"assemble": (0.0, 0.05), "learner kernel start": (0.5, 1.4)},
            "busy": {"verdicts": 0.12}, "process": 0.4, "grade": 3.5}


def results() -> report.Results:
    daily = {name: figure(seconds, size) for name, seconds, size in (
        ("startup", 0.3, 0.17), ("report", 1.8, 0.73), ("naive report", 21.0, 1.56),
        ("duckdb report", 0.9, 0.36), ("full", 4.5, 0.82), ("naive full", 25.0, 1.56))}
    machine = {"date": "2026-12-01", "cores": "2", "ram": "23.5 GiB", "cpu": "x", "os": "y",
               "python": "3.11.7", "pandas": "3", "pyarrow": "26", "duckdb": "2",
               "load": "0.1"}
    airflow = {"notebooks": {}, "overhead": {"dag": [0.2], "plain": [0.05], "warm_up": 4.0},
               "process_peak": 4e8, "standalone_peak": 1e9, "standalone_start": 16.0}
    return report.Results(
        ingest=ingestion(one=(5.0, 6.0, 5.5), naive=(150.0,)),
        machine=machine, data_lines=1_010_006, data_bytes=95_000_000, daily=daily,
        disagreements=[], setup={"warm": figure(0.1, 0), "cold": figure(4.0, 0)},
        installed_bytes=10**9, kernel_start=0.96, notebooks={}, minutes=10.0,
        grading={"one": figure(3.75, 0.05), "class": figure(100.0, 0.05), "one_baseline": 2.5,
                 "class_baseline": 84.0, "class_size": 30, "one_breakdown": breakdown()},
        airflow=airflow, advanced={"notebooks": {
            "03_advanced/lake/01_files_to_lake": Run(41.0, int(0.9e9)),
            "03_advanced/prefect/01_flows_and_tasks": Run(95.0, int(1.6e9))},
            "overhead": {"direct_call_s": 2e-7, "task_run_mapped_s": 0.016,
                         "task_run_sequential_s": 0.046, "flow_run_s": 2.6},
            "latency": {"files": 3, "median_s": 19.5, "max_s": 24.0}})


def ingestion(one: tuple[float, ...], naive: tuple[float, ...], problems=()) -> dict:
    """Made-up ingestion figures: 540 files, 7,200 rows; `one`/`naive`: `ingest()` seconds."""
    expected = {"files": 540, "rows": {f"incoming/{i}.csv": 15 for i in range(480)},
                "quarantined": {f"incoming/bad{i}.csv": "empty_file" for i in range(60)}}
    results = {"one commit": [{"seconds": s, "commits": 1} for s in one],
               "commit per file": [{"seconds": s, "commits": 480} for s in naive]}
    figures = {"one commit": Figure(tuple(Run(s + 5, int(0.3e9)) for s in one)),
               "commit per file": Figure(tuple(Run(s + 5, int(0.35e9)) for s in naive))}
    return {"figures": figures, "results": results, "expected": expected,
            "sensors": lake_level.SENSORS, "problems": list(problems)}


def row(text: str, metric: str) -> list[str]:
    line = next(line for line in text.splitlines() if line.startswith(f"| {metric}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_the_report_holds_the_reference_to_duckdb_and_grading_to_papermill():
    text = report.render(results())
    duck = row(text, "Daily report against DuckDB's SQL aggregate (the practical limit): time")
    assert duck[1:] == ["1.80 s", "≤ 1.5× DuckDB", "0.90 s DuckDB", "2.0× slower",
                        "**misses** by 33%"]
    over = row(text, "Grading one beginner submission: time over papermill's")
    assert over[1:] == ["1.5×", "≤ 2×", "2.50 s papermill", "—", "meets"]
    assert row(text, "learner kernel start")[1:] == ["0.50", "1.40", "0.90 s"]
    assert "near 0: nothing else was running" in text


def test_each_advanced_lesson_has_a_time_and_a_memory_row_against_its_target():
    text = report.render(results())
    assert row(text, "Notebook `03_advanced/lake/01_files_to_lake`")[1:] == [
        "41.0 s", "≤ 90 s", "—", "—", "meets"]
    assert row(text, "Notebook `03_advanced/prefect/01_flows_and_tasks`")[-1].startswith(
        "**misses**")
    assert row(text, "Peak memory of `03_advanced/lake/01_files_to_lake`'s largest process")[
        1:] == ["0.90 GB", "≤ 1.50 GB", "—", "—", "meets"]
    assert row(text, "Peak memory of `03_advanced/prefect/01_flows_and_tasks`'s largest "
               "process")[-1].startswith("**misses**")


def test_prefects_overhead_is_set_against_a_direct_call_and_the_latency_shown():
    text = report.render(results())
    assert row(text, "Prefect flow run, per run")[1:5] == ["2.60 s", "—", "0.20 µs direct call",
                                                           "+2.60 s a call"]
    assert row(text, "Event-to-row latency")[1] == "19.5 s"
    assert row(text, "Event-to-row latency")[4] == "max 24.0 s"


def test_a_busy_machine_is_said_so():
    busy = results()
    busy.machine["load"] = "2.50"
    assert "the figures are noisy" in report.render(busy)


def write_report(path: Path, rows: list[str]) -> Path:
    path.write_text(HEADER + "".join(f"{line}\n" for line in rows))
    return path


def test_variants_must_agree_with_the_reference_to_the_cent_and_in_order(tmp_path):
    ref = write_report(tmp_path / "ref.csv", ["Toys,3,5,1,10.00", "Home,2,2,0,5.50"])
    same = write_report(tmp_path / "same.csv", ["Toys,3,5,1,10.0", "Home,2,2,0,5.5"])
    cents = write_report(tmp_path / "cents.csv", ["Toys,3,5,1,10.02", "Home,2,2,0,5.50"])
    order = write_report(tmp_path / "order.csv", ["Home,2,2,0,5.50", "Toys,3,5,1,10.00"])
    count = write_report(tmp_path / "count.csv", ["Toys,3,6,1,10.00", "Home,2,2,0,5.50"])
    assert bench.report_differences(ref, same, bench.DUCKDB_TOLERANCE) == []
    assert bench.report_differences(ref, cents, bench.NAIVE_TOLERANCE) == []
    assert "Toys net_revenue" in bench.report_differences(ref, cents, bench.DUCKDB_TOLERANCE)[0]
    assert "order differ" in bench.report_differences(ref, order, bench.DUCKDB_TOLERANCE)[0]
    assert bench.report_differences(ref, count, bench.DUCKDB_TOLERANCE) == [
        "Toys units_sold: 5 vs 6"]


def test_the_breakdown_is_the_median_of_what_each_grading_recorded(tmp_path):
    outs = []
    for i, (start, duration) in enumerate(((0.5, 3.0), (0.7, 4.0), (0.6, 3.5))):
        out = tmp_path / f"grades-{i}"
        (out / "learner").mkdir(parents=True)
        timings = {"spans": {"learner kernel start": [start, start + 1], "assemble": [0, 0.1],
                             **({"only once": [0, 1]} if i == 0 else {})},
                   "busy": {"verdicts": 0.1 * (i + 1)}}
        (out / "learner" / "lesson.json").write_text(
            json.dumps({"duration_s": duration, "timings": timings}))
        outs.append(out)
    runs = (Run(3.5, 0), Run(4.4, 0), Run(4.0, 0))
    found = grading.breakdown(outs, runs)
    assert found["spans"] == {"assemble": (0, 0.1), "learner kernel start": (0.6, 1.6)}
    assert found["busy"] == {"verdicts": 0.2}
    assert round(found["process"], 3) == 0.5 and found["grade"] == 3.5


def test_only_the_daily_report_prints_its_rows_beside_both_baselines():
    daily = {name: figure for name, figure in results().daily.items()
             if name in bench.REPORT_VARIANTS}
    text = report.daily_report_only(daily, [], "2.50")
    assert row(text, "Daily report, 1,000,000 lines: time")[3] == "21.0 s naive"
    assert row(text, "Daily report against DuckDB's SQL aggregate (the practical limit): time"
               )[3:] == ["0.90 s DuckDB", "2.0× slower", "**misses** by 33%"]
    assert "Lesson script" not in text and "the figures are noisy" in text


def test_agreement_is_checked_among_the_variants_that_ran(tmp_path):
    reports = f"1/reports/sales_report_{bench.DAY.isoformat()}.csv"
    for variant, rows in (("report", ["Toys,3,5,1,10.00"]), ("naive-report", ["Toys,3,5,1,10.00"]),
                          ("duckdb-report", ["Toys,3,5,1,10.03"])):
        (tmp_path / variant / reports).parent.mkdir(parents=True)
        write_report(tmp_path / variant / reports, rows)
    assert bench.disagreements(tmp_path, {"report", "naive report"}) == []
    assert bench.disagreements(tmp_path, {"report", "naive report", "duckdb report"}) == [
        "duckdb-report vs report: Toys net_revenue differs by 0.03"]


THROUGHPUT = ("Lake ingestion, 540 files (7,200 rows), one commit: throughput (validated and "
              "committed)")


def test_ingestion_is_held_to_ten_times_the_commit_per_file_baseline():
    text = report.ingest_only(ingestion(one=(5.0, 6.0, 5.5), naive=(150.0,)), "0.20")
    assert row(text, THROUGHPUT)[1:] == [
        "98.2 files/s, 1,309 rows/s", "≥ 10× baseline",
        "3.6 files/s, 48 rows/s one commit per file", "27.3× faster", "meets"]
    assert "| `commit per file` | 150.00 | 155.00 | 0.35 | 480 |" in text
    slow = report.ingest_only(ingestion(one=(20.0,), naive=(150.0,)), "0.20")
    assert row(slow, THROUGHPUT)[4:] == ["7.5× faster", "**misses** by 33%"]
    assert "Lake ingestion (advanced level)" in report.render(results())


def test_the_baseline_runs_fewer_times_in_the_first_rounds():
    assert lake_level.planned(3, 1) == [
        Path("one-commit/1"), Path("commit-per-file/1"), Path("dagster-hourly-runs/1"),
        Path("dagster-one-run/1"), Path("one-commit/2"), Path("dagster-hourly-runs/2"),
        Path("dagster-one-run/2"), Path("one-commit/3"), Path("dagster-hourly-runs/3"),
        Path("dagster-one-run/3")]
    assert lake_level.bucket(Path("/x/ingest/commit-per-file/1")) == "bench-commit-per-file-1"


def test_interleaved_caps_the_runs_of_a_slow_variant(tmp_path):
    quick = lambda where: [sys.executable, "-c", "pass"]  # noqa: E731
    figures = measure.interleaved({"a": quick, "b": quick}, 2, tmp_path, fewer={"b": 1})
    assert (len(figures["a"].runs), len(figures["b"].runs)) == (2, 1)


def bucket_state(rows: dict, quarantined: dict, digest: str = "d") -> dict:
    return {"rows": rows, "total_rows": sum(rows.values()), "digest": digest,
            "quarantined": quarantined, "incoming": sorted(rows)}


def write_states(out: Path, states: dict[str, dict]) -> list[Path]:
    runs = []
    for run, state in states.items():
        (out / run).mkdir(parents=True)
        (out / run / "state.json").write_text(json.dumps(state))
        runs.append(Path(run))
    return runs


def test_ingestion_variants_must_end_with_the_same_table_and_quarantine(tmp_path):
    """Each way a variant can end differently from the reference, or the reference from the
    answer key, is reported: the speeds would otherwise compare different work."""
    rows, bad = {"incoming/a.csv": 15, "incoming/b.csv": 14}, {"incoming/c.csv": "empty_file"}
    expected = {"files": 3, "rows": rows, "quarantined": bad}
    good = bucket_state(rows, bad)
    variants = {
        "lost a file": bucket_state({"incoming/a.csv": 15}, bad),
        "other values": bucket_state(rows, bad, digest="other"),
        "other reason": bucket_state(rows, {"incoming/c.csv": "truncated_file"}),
        "same": bucket_state(rows, bad),
    }
    for n, (name, variant) in enumerate(variants.items()):
        out = tmp_path / str(n)
        runs = write_states(out, {"one-commit/1": good, "commit-per-file/1": variant})
        found = lake_level.disagreements(out, runs, expected)
        assert (found == []) == (name == "same"), (name, found)
    assert "rows per file differ (29 vs 15" in lake_level.state_differences(
        good, variants["lost a file"])[0]
    assert "not the same values" in lake_level.state_differences(good, variants["other values"])[0]
    wrong = write_states(tmp_path / "wrong", {"one-commit/1": variants["other reason"],
                                              "commit-per-file/1": variants["other reason"]})
    assert lake_level.disagreements(tmp_path / "wrong", wrong, expected) == [
        "one-commit/1: the quarantine differs from the answer key's for 2 (file, reason) "
        "pairs, e.g. [('incoming/c.csv', 'empty_file'), ('incoming/c.csv', 'truncated_file')]"]


def test_each_styles_figure_is_set_against_the_plain_script():
    figures = {"cron + script": (0.4, 0.001, 0.0001, 300.0),
               "Airflow DAG": (2.7, 5.3, 0.24, 470.0), "Dagster assets": (1.4, 1.3, 0.15, 310.0)}
    styles = {label: dict(zip(("start-up (s)", "overhead per run (s)", "overhead per task (s)",
                               "peak memory (MB)"), values, strict=True))
              for label, values in figures.items()}
    rows = report.advanced_rows({"notebooks": {}, "styles": styles})
    text = report.table(["metric", "measured", "target", "baseline", "ratio", "status"], rows)
    assert row(text, "Four styles: start-up, cron + script")[1:] == [
        "0.40 s", "—", "—", "—", "—"]
    assert row(text, "Four styles: overhead per run, Airflow DAG")[1:5] == [
        "5.30 s", "—", "1.0 ms cron + script", "+5.30 s"]
    assert row(text, "Four styles: overhead per task, Dagster assets")[3:5] == [
        "0.1 ms cron + script", "+149.9 ms"]
    assert row(text, "Four styles: peak memory, Airflow DAG")[1] == "0.47 GB"


def test_the_dagster_tracks_ingestion_in_one_run_is_held_to_the_same_ratio():
    ingest = ingestion(one=(5.0,), naive=(150.0,))
    assert not [r for r in report.ingest_rows(ingest) if "Dagster track" in r[0]]
    ingest["results"]["dagster hourly runs"] = [{"seconds": 40.0, "commits": 9, "runs": 9}]
    ingest["results"]["dagster one run"] = [{"seconds": 20.0, "commits": 1, "runs": 1}]
    one, hourly = [r for r in report.ingest_rows(ingest) if "Dagster track" in r[0]]
    assert one[0].startswith("Lake ingestion, 540 files, the Dagster track, the batch's hours "
                             "in one run (1 run)")
    assert one[2:] == ["≥ 10× baseline", "3.6 files/s, 48 rows/s one commit per file",
                       "7.5× faster", "**misses** by 33%"]
    assert "a run per hour (9 runs)" in hourly[0]
    assert hourly[2:] == ["—", "3.6 files/s, 48 rows/s one commit per file", "3.8× faster",
                          "—"]


def test_the_sensor_latency_through_dagsters_daemon_is_shown_with_its_worst_hour():
    rows = report.advanced_rows({"notebooks": {}, "sensor_latency": {
        "hours": 2, "latency_s": {"a": 12.5, "b": 20.0}, "median_s": 20.0, "max_s": 20.0}})
    text = report.table(["metric", "measured", "target", "baseline", "ratio", "status"], rows)
    assert row(text, "Sensor-to-materialization latency (Dagster's daemon, 2 hours)")[1:] == [
        "20.0 s", "—", "—", "max 20.0 s", "—"]
