"""The Airflow UI, served on 127.0.0.1 from a lesson's AIRFLOW_HOME, lists the DAG learners
build in lesson 03 and shows its successful run: Debian's chromium driven by Playwright.

The run is made the way the lessons make it (`dag.test()`), so only Airflow's API server (which
serves the UI) is needed, not the scheduler."""

import json
import os
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from workbook import airflow_home, lesson_files, paths, services
from workbook.services.base import free_port, http_ok, stop_group
from workbook.waiting import wait_for

pytestmark = pytest.mark.slow
DAY = "2015-06-08"
START_TIMEOUT_S = 180
SCREENSHOT = ARTIFACTS / "airflow-ui-store-weather.png"
DRIVER = Path(__file__).parent / "airflow_driver.py"

@pytest.fixture(scope="module")
def airflow_ui(tmp_path_factory):
    """A successful run of store_weather recorded in a fresh AIRFLOW_HOME, and the API server
    on a free loopback port; yields (url, run id)."""
    for name in ("postgres", "weather", "smtp"):
        services.start(name)
    workspace = tmp_path_factory.mktemp("airflow-ui")
    lesson_files.write(lesson_files.files(["02_intermediate/03_the_dag"]), workspace / "dags")
    done = subprocess.run([str(paths.env_python(airflow_home.ENV)), str(DRIVER), "run",
                           str(workspace), DAY], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    run = json.loads(done.stdout.strip().splitlines()[-1])
    assert run["state"] == "success"
    port = free_port()
    env = {**os.environ, **airflow_home.environ(workspace / "dags"),
           "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True"}
    ARTIFACTS.mkdir(exist_ok=True)
    log = ARTIFACTS / "airflow-api-server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([airflow_home.airflow_cli(), "api-server", "--host", "127.0.0.1",
                                 "--port", str(port)], env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        up = wait_for(lambda: http_ok(f"{url}/api/v2/monitor/health"), START_TIMEOUT_S, 1)
        assert up, log.read_text()[-3000:]
        yield url, run["run_id"]
    finally:
        stop_group(proc.pid)


def test_the_ui_lists_the_dag_and_shows_its_successful_run(airflow_ui):
    url, run_id = airflow_ui
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/dags", timeout=60_000)
            expect(page.get_by_role("link", name="store_weather")).to_be_visible(timeout=60_000)
            page.goto(f"{url}/dags/store_weather/runs/{run_id}", timeout=60_000)
            expect(page.get_by_text(run_id).first).to_be_visible(timeout=60_000)
            # the run's state badge, and one per task instance (extract_sales, extract_weather,
            # transform_load)
            expect(page.get_by_text("Success", exact=True)).to_have_count(4, timeout=30_000)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
        finally:
            browser.close()
