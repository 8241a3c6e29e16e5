"""The Prefect UI that `prefect server start` serves (the project's `prefect` service), offline
(the UI's files ship in the prefect package), in Debian's chromium driven by Playwright: a flow
run that a kernel's flow made is shown with its state, and so are the artifacts it published (a
Markdown report and a table), on the run's page and on the artifact's own page."""

import json
import subprocess
import urllib.request
import uuid

import pytest
from playwright.sync_api import expect, sync_playwright
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from workbook import paths, prefect_home, services
from workbook.services import prefect as prefect_service

pytestmark = [pytest.mark.slow, pytest.mark.browser]
SCREENSHOT = ARTIFACTS / "prefect-ui-flow-run.png"
PAGE_TIMEOUT_MS = 60_000
# A flow as a lesson writes one: it publishes a Markdown report and a table, as the ingestion
# flow does. argv: the flow's name, the report's key, the table's key.
FLOW = """
import sys
from prefect import flow
from prefect.artifacts import create_markdown_artifact, create_table_artifact

@flow(name=sys.argv[1])
def ingestion_report():
    create_markdown_artifact(key=sys.argv[2], description="the run's report",
                             markdown="# Sensor ingestion\\n\\n37 files into the table, "
                                      "3 in quarantine.")
    create_table_artifact(key=sys.argv[3], description="files per store",
                          table=[{"store": 1, "files": 19}, {"store": 2, "files": 18}])

state = ingestion_report(return_state=True)
print(state.state_details.flow_run_id)
"""


@pytest.fixture(scope="module")
def server():
    with services.running(prefect_service.NAME) as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def flow_run(server) -> dict:
    """A flow run made by the prefect environment against the server, as the API records it."""
    name, report, table = (f"{kind}-{uuid.uuid4().hex[:8]}"
                           for kind in ("ui-check", "ingestion-report", "files-per-store"))
    env = {**prefect_service.client_environ(server), "PATH": "/usr/bin:/bin",
           "HOME": str(paths.ROOT)}
    done = subprocess.run([str(paths.env_python(prefect_home.ENV)), "-c", FLOW, name, report,
                           table], capture_output=True, text=True, env=env, timeout=300,
                          cwd=paths.ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    run_id = done.stdout.strip().splitlines()[-1]
    run = api(server, f"flow_runs/{run_id}")
    return {"id": run_id, "name": run["name"], "flow": name, "state": run["state"]["name"],
            "report": report, "table": table}


def api(endpoint, route: str):
    with urllib.request.urlopen(f"{endpoint.url}/{route}", timeout=30) as answer:
        return json.load(answer)


def test_the_server_serves_its_ui_offline(server):
    request = urllib.request.Request(server.data["ui"] + "/",
                                     headers={"Accept": "text/html"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
        assert "<!DOCTYPE html>" in answer.read().decode()[:200]
    # where the UI's code will call the API: this server's, not Prefect's default port
    with urllib.request.urlopen(server.data["ui"] + "/ui-settings", timeout=30) as answer:
        assert json.load(answer)["api_url"] == server.url


def test_the_ui_shows_the_flow_run_and_its_artifacts(server, flow_run):
    assert flow_run["state"] == "Completed", flow_run
    ui = server.data["ui"]
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        try:
            page.goto(f"{ui}/runs/flow-run/{flow_run['id']}", timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_text(flow_run["name"]).first).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_text("Completed").first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text("Artifacts", exact=True).click(timeout=PAGE_TIMEOUT_MS)  # a tab
            for key in (flow_run["report"], flow_run["table"]):
                expect(page.get_by_text(key).first).to_be_visible(timeout=PAGE_TIMEOUT_MS)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            page.get_by_text(flow_run["report"]).first.click()  # the artifact's own page
            expect(page.get_by_role("heading", name="Sensor ingestion")).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_text("37 files into the table").first).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
            page.go_back()
            page.get_by_text("Artifacts", exact=True).click(timeout=PAGE_TIMEOUT_MS)
            page.get_by_text(flow_run["table"]).first.click(timeout=PAGE_TIMEOUT_MS)
            expect(page.get_by_role("cell", name="19", exact=True)).to_be_visible(
                timeout=PAGE_TIMEOUT_MS)
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "prefect-ui-failure.png"), full_page=True)
            raise
        finally:
            browser.close()
