"""`make airflow-ui` (`workbook airflow-ui`) as a learner uses it, with Debian's chromium
driven by Playwright: a run of lesson 03's DAG triggered from the UI, for a day of the
retailer's data, succeeds (so its tasks find the lesson's variables and connections); nothing
it starts listens beyond 127.0.0.1; and Ctrl-C stops every process it started."""

import json
import signal
import urllib.request
from pathlib import Path

import pytest
import ui_command_run
from playwright.sync_api import expect, sync_playwright
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from workbook import airflow_ui, lesson_files, processes, services
from workbook.waiting import wait_for

pytestmark = pytest.mark.slow
DAY = "2015/06/08"  # in the retailer's data; the UI's date field takes YYYY/MM/DD
SCREENSHOT = ARTIFACTS / "airflow-ui-store-weather.png"
LOG = ARTIFACTS / "airflow-ui.log"
RUN_TIMEOUT_S = 300  # queued, then three tasks, on a loaded two-core machine
WORKSPACE: dict[int, Path] = {}  # the command's pid -> its workspace


@pytest.fixture(scope="module")
def running_ui(tmp_path_factory):
    """The command running on a scratch workspace holding lesson 03's DAG files; yields
    (url, its process)."""
    workspace = tmp_path_factory.mktemp("airflow-ui")
    lesson_files.write(lesson_files.files(["02_intermediate/03_the_dag"]), workspace / "dags")
    with ui_command_run.running("airflow-ui", workspace, LOG, airflow_ui.healthy,
                                airflow_ui.START_TIMEOUT_S) as (url, proc):
        WORKSPACE[proc.pid] = workspace
        yield url, proc


def test_a_run_triggered_from_the_ui_succeeds(running_ui):
    url, proc = running_ui
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{url}/dags/store_weather", timeout=60_000)
            page.locator('button[aria-label="Trigger Dag"]').click(timeout=60_000)
            dialog = page.locator("[role=dialog][data-state=open]")
            dialog.get_by_test_id("datetime-input").click()
            picker = page.locator("[data-scope=popover][data-part=content][data-state=open]")
            picker.get_by_placeholder("YYYY/MM/DD").fill(DAY)
            picker.get_by_placeholder("HH:mm").fill("16:00")  # 09:00 in Los Angeles
            dialog.get_by_text("Logical Date", exact=True).click()  # closes the picker
            with page.expect_response(lambda r: r.request.method == "POST"
                                      and r.url.endswith("/dagRuns")) as posted:
                dialog.get_by_role("button", name="Trigger").click()
            run = posted.value.json()
            assert run["logical_date"].startswith(DAY.replace("/", "-")), run
            assert finished(url, run["dag_run_id"]) == "success", ui_logs(proc)
            page.goto(f"{url}/dags/store_weather/runs/{run['dag_run_id']}", timeout=60_000)
            # the run's state badge, and one per task instance (extract_sales,
            # extract_weather, transform_load)
            expect(page.get_by_text("Success", exact=True)).to_have_count(4, timeout=60_000)
        finally:
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            browser.close()


def finished(url: str, run_id: str) -> str:
    """The run's state once it is over (or as it is after RUN_TIMEOUT_S), from the REST API
    with the token the UI itself gets."""
    with urllib.request.urlopen(f"{url}/auth/token", timeout=10) as answer:
        token = json.load(answer)["access_token"]
    request = urllib.request.Request(f"{url}/api/v2/dags/store_weather/dagRuns/{run_id}",
                                     headers={"Authorization": f"Bearer {token}"})
    state = ""

    def over() -> bool:
        nonlocal state
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                state = json.load(answer)["state"]
        except TimeoutError:  # a busy API server answers late: ask again, until RUN_TIMEOUT_S
            return False
        return state in ("success", "failed")

    wait_for(over, RUN_TIMEOUT_S, 2)
    return state


def ui_logs(proc) -> str:
    """The end of each Airflow part's log, to read when a run did not succeed."""
    folder = Path(WORKSPACE[proc.pid]) / "airflow_home" / "ui-logs"
    return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-1500:]}"
                     for log in sorted(folder.glob("*.log")))


def test_nothing_it_starts_listens_beyond_loopback(running_ui):
    _, proc = running_ui
    tree = {proc.pid, *processes.descendants(proc.pid)}
    ours = processes.listening(tree)
    assert ours, "the API server should listen"
    assert all(address.startswith("127.0.0.1:") for address in ours), ours


def test_ctrl_c_stops_every_process_it_started(running_ui):
    """Every Airflow process; the embedded services it started stay up for the notebooks, as
    `workbook services` leaves them."""
    _, proc = running_ui
    kept = {endpoint.pid for name in services.NAMES if (endpoint := services.status(name))}
    tree = processes.descendants(proc.pid) - kept
    assert len(tree) >= 4  # API server, scheduler, DAG processor, triggerer
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    assert wait_for(lambda: not any(processes.running(p) for p in tree), 10), [
        Path(f"/proc/{p}/cmdline").read_bytes().replace(b"\0", b" ")[:200]
        for p in tree if processes.running(p)]
    assert "Airflow stopped, nothing left" in LOG.read_text()
