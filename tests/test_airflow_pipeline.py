"""The intermediate level's pipeline, end to end in the airflow environment against the real
local services: the DAG that lessons 03 and 04 build (as their solutions write it) loads the
warehouse, keeps one copy on a re-run, retries a flaky API, fails fast and loads nothing on bad
data, and mails an alert that the SMTP sink really receives."""

import json
import subprocess
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from workbook import airflow_home, lesson_files, paths, services
from workbook.retail import STORES
from workbook.services import postgres

pytestmark = pytest.mark.slow
DAY, OTHER_DAY = "2015-06-05", "2015-06-09"
LESSONS = ["02_intermediate/03_the_dag", "02_intermediate/04_reliability"]
DRIVER = Path(__file__).parent / "airflow_driver.py"

@pytest.fixture(scope="module")
def endpoints():
    return {name: services.start(name) for name in ("postgres", "weather", "smtp")}


@pytest.fixture(scope="module")
def report(endpoints, tmp_path_factory):
    workspace = tmp_path_factory.mktemp("pipeline")
    lesson_files.write(lesson_files.files(LESSONS), workspace / "dags")
    result = subprocess.run(
        [str(paths.env_python(airflow_home.ENV)), str(DRIVER), "scenarios", str(workspace), DAY,
         OTHER_DAY], capture_output=True, text=True, cwd=paths.ROOT, timeout=600)
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def expected_rows(endpoints, day: str) -> dict[int, dict]:
    """The warehouse rows of `day`, computed apart from the pipeline: SQL through psql, the
    weather through urllib."""
    port = endpoints["postgres"].port
    sums = postgres.psql(port, postgres.DATABASE, f"""
        SELECT store_id, SUM(units_sold), SUM(net_revenue) FROM daily_sales
        WHERE sale_date = '{day}' GROUP BY store_id ORDER BY store_id;""")
    rows = {}
    for line in sums.split():
        store_id, units, revenue = line.split("|")
        store = next(s for s in STORES if s.store_id == int(store_id))
        query = urllib.parse.urlencode({
            "latitude": store.latitude, "longitude": store.longitude, "start_date": day,
            "end_date": day, "daily": "temperature_2m_max,temperature_2m_min,precipitation_sum"})
        with urllib.request.urlopen(f"{endpoints['weather'].url}/v1/archive?{query}") as answer:
            daily = json.load(answer)["daily"]
        rows[store.store_id] = {"store": store.name, "city": store.city, "units": int(units),
                                "revenue": float(revenue),
                                "temp_max": daily["temperature_2m_max"][0],
                                "precipitation": daily["precipitation_sum"][0]}
    return rows


def rows_of(result: dict, day: str) -> dict[int, dict]:
    return {int(r["store_id"]): r for r in result["rows"] if r["sale_date"] == day}


def test_the_dags_import_cleanly(report):
    assert report["import_errors"] == {}


def test_a_run_loads_the_day_joined_with_its_weather(report, endpoints):
    assert report["first"]["state"] == "success"
    loaded, expected = rows_of(report["first"], DAY), expected_rows(endpoints, DAY)
    assert sorted(loaded) == sorted(expected) == [s.store_id for s in STORES]
    for store_id, want in expected.items():
        got = loaded[store_id]
        assert (got["store"], got["city"], int(got["units_sold"])) == \
            (want["store"], want["city"], want["units"])
        assert float(got["net_revenue"]) == pytest.approx(want["revenue"], abs=0.005)
        assert float(got["temp_max_c"]) == want["temp_max"]
        assert float(got["precipitation_mm"]) == want["precipitation"]


def test_rerunning_a_date_leaves_one_copy(report):
    assert report["again"]["state"] == "success"
    assert report["again"]["rows"] == report["first"]["rows"]
    other = report["other_day"]
    assert len(rows_of(other, OTHER_DAY)) == len(STORES)
    assert rows_of(other, DAY) == rows_of(report["first"], DAY)  # another day left alone


def test_a_flaky_api_is_retried_until_it_answers(report):
    flaky = report["flaky"]
    assert flaky["state"] == "success"
    assert flaky["tasks"]["extract_weather"] == ["success", 3]
    assert flaky["mails"] == report["mails_before"]  # recovered: nobody is alerted


@pytest.mark.parametrize("scenario, failing_task", [("malformed", "extract_weather"),
                                                    ("changed_api", "transform_load")])
def test_bad_data_fails_at_once_and_loads_nothing(report, scenario, failing_task):
    result = report[scenario]
    assert result["state"] == "failed"
    assert result["tasks"][failing_task] == ["failed", 1]  # no retry can fix bad data
    assert result["rows"] == report["flaky"]["rows"]  # the warehouse is unchanged


def test_an_outage_exhausts_the_retries_and_the_alert_is_received(report, endpoints):
    outage = report["outage"]
    assert outage["state"] == "failed"
    assert outage["tasks"]["extract_weather"] == ["failed", 4]
    assert outage["rows"] == report["flaky"]["rows"]
    # one alert per failed run: the two bad-data runs and the outage
    assert outage["mails"] == report["mails_before"] + 3
    messages = sorted(Path(endpoints["smtp"].data["maildir"]).glob("*.eml"))
    last = messages[-1].read_text()
    assert f"Subject: [airflow] store_weather.extract_weather failed for {DAY}" in last
    assert "To: data-team@retail.example" in last


def test_a_renamed_column_fails_at_its_first_try(report):
    """Lesson 04's retry policy against the real PostgreSQL: the error a real query raises
    (psycopg 3's UndefinedColumn) is the one its rule names, so nothing is retried."""
    renamed = report["renamed_column"]
    assert renamed["state"] == "failed"
    assert renamed["tasks"]["extract_sales"] == ["failed", 1]
