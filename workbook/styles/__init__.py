"""The advanced level's capstone (03_advanced/capstone/01_four_styles): one small pipeline, the
retailer's daily sales report, in four styles, each run in its own environment as a process of
the notebook, measured, and compared.

- `steps`: the pipeline's steps, orchestrator-free (the beginner level's functions), each
  recording when it ran;
- `runner`: what runs inside each style's environment: loads the style's file, runs it once,
  and writes what happened (times, steps, outcome) as JSON;
- `compare`: the notebook's side: the day's files, a style run as a measured process, the
  figures a run gives (start-up, overhead per run and per task, peak memory), lines of code,
  the size of a change, the chart.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    name: str  # "cron": the runner's adapter
    env: str  # the environment it runs in (workbook-<env>)
    folder: str  # the notebook variable (and workspace sub-folder) its file is written to
    file: str  # its file's name there
    label: str  # how tables and charts name it


STYLES = (
    Style("cron", "beginner", "scripts", "daily_report.py", "cron + script"),
    Style("airflow", "airflow", "dags", "daily_report_dag.py", "Airflow DAG"),
    Style("prefect", "prefect", "flows", "daily_report_flow.py", "Prefect flow"),
    Style("dagster", "dagster", "defs", "definitions.py", "Dagster assets"),
)
BY_NAME = {style.name: style for style in STYLES}
