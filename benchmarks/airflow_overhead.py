"""Runs in the airflow environment (`python -m benchmarks.airflow_overhead WORKSPACE OUT
DAY...`): the same days through store_weather's warm `dag.test()` and through the plain
functions it wires, in turns, so both see the same machine; seconds written to OUT as JSON."""

import json
import sys
import time
from pathlib import Path

from workbook import airflow_lesson, logs, weather_sales


def timed(step, day: str) -> float:
    start = time.perf_counter()
    step(day)
    return time.perf_counter() - start


def main(workspace: str, out: str, days: list[str]) -> None:
    ctx, sources = airflow_lesson.setup(days[0], workspace)
    dag = airflow_lesson.dagbag(ctx.workspace / "dags").get_dag("store_weather")

    def via_dag(day: str) -> None:
        run = dag.test(logical_date=airflow_lesson.logical_date(day))
        assert str(run.state) == "success", day

    def plain(day: str) -> None:
        rows = weather_sales.extract_sales(sources.postgres_url, day)
        weather_sales.run_day(rows, sources.weather_url, sources.warehouse, day)

    times = {"warm_up": timed(via_dag, days[0]), "dag": [], "plain": []}
    for day in days[1:]:
        with logs.captured():
            times["dag"].append(timed(via_dag, day))
        times["plain"].append(timed(plain, day))
    Path(out).write_text(json.dumps(times))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3:])
