"""The DAG files the intermediate lessons write pass ruff with the project's rules, Airflow's
(AIR) included; and those rules do catch the Airflow 2 habit lesson 06's incident is about."""

import subprocess
import sys

import pytest

from workbook import lesson_files, paths
from workbook.course import lesson_keys

INTERMEDIATE = lesson_keys("02_intermediate")
RUFF = [sys.executable, "-m", "ruff", "check", "--no-cache", "--output-format", "concise",
        "--config", str(paths.ROOT / "pyproject.toml")]


def ruff(folder) -> subprocess.CompletedProcess:
    return subprocess.run([*RUFF, str(folder)], capture_output=True, text=True)


def test_every_lesson_writes_dag_files():
    written = {name for key in INTERMEDIATE for name, _ in lesson_files.writefile_cells(key)}
    assert {"store_weather.py", "store_weather_mapped.py", "incident/store_weather_v2.py"} \
        <= written


@pytest.mark.parametrize("key", INTERMEDIATE)
def test_dag_files_pass_ruff_with_the_airflow_rules(key, tmp_path):
    files = dict(lesson_files.writefile_cells(key))
    lesson_files.write(files, tmp_path)
    result = ruff(tmp_path)
    assert result.returncode == 0, result.stdout


def test_the_air_rules_catch_the_incidents_removed_argument(tmp_path):
    incident = lesson_files.writefile_cells("02_intermediate/06_debugging")
    deployed = next(text for name, text in incident
                    if name == "incident/store_weather_v2.py")
    lesson_files.write({"store_weather_v2.py": deployed}, tmp_path)
    result = ruff(tmp_path)
    assert result.returncode == 1
    assert "AIR301 [*] `schedule_interval` is removed in Airflow 3.0" in result.stdout
