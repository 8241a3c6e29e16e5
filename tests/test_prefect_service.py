"""The `prefect` service, for real: one Prefect server on 127.0.0.1 that a kernel's flows and the
`prefect` CLI share (neither starts a temporary server of its own), Prefect's state inside the
project, and nothing left running once it stops."""

import http.server
import json
import os
import shutil
import sqlite3
import subprocess
import threading
import time
import urllib.error
import urllib.request
import uuid

import pytest

from workbook import paths, prefect_home, processes, services
from workbook.services import base
from workbook.services import prefect as prefect_service
from workbook.waiting import wait_for

PYTHON = str(paths.env_python(prefect_home.ENV))
TEMPORARY = "temporary server"  # what Prefect logs when it starts one for a process
# A notebook's first cell, then a flow: run by the prefect environment's interpreter.
FLOW = """
import json, sys
from workbook import prefect_home
prefect_home.activate()
from prefect import flow
from prefect.settings import get_current_settings

@flow(name=sys.argv[1])
def probe():
    return 42

assert probe() == 42
settings = get_current_settings()
print(json.dumps({"api": settings.api.url, "home": str(settings.home),
                  "analytics": settings.server.analytics_enabled,
                  "timeout": settings.server.ephemeral.startup_timeout_seconds}))
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The service and a stand-in home folder: HOME points there while it runs, so anything
    Prefect would write to ~/.prefect shows up."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        started = time.monotonic()
        with services.running("prefect") as endpoint:
            print(f"prefect server healthy after {time.monotonic() - started:.1f} s")
            yield endpoint, home


def api(endpoint, route: str, body: dict):
    request = urllib.request.Request(f"{endpoint.url}/{route}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300,
                            cwd=paths.ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert TEMPORARY not in result.stdout + result.stderr
    return result


@pytest.mark.slow
def test_it_answers_on_loopback_only(server):
    endpoint, _ = server
    assert endpoint.url == f"http://127.0.0.1:{endpoint.port}/api"
    assert prefect_service.healthy(endpoint)
    ours = processes.listening({endpoint.pid, *processes.descendants(endpoint.pid)})
    assert ours, "the server should listen"
    assert all(address.startswith("127.0.0.1:") for address in ours), ours


@pytest.mark.slow
def test_a_kernels_flow_run_is_recorded_on_the_server(server):
    """In a kernel's environment (Jupyter's variables, then `activate()` as a notebook's first
    cell), a flow runs against the service, with the project's settings as Prefect reads them."""
    endpoint, home = server
    name = f"probe-{uuid.uuid4().hex[:8]}"
    result = run([PYTHON, "-c", FLOW, name], {**paths.jupyter_environ(), "HOME": str(home)})
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "api": endpoint.url, "home": endpoint.data["home"], "analytics": False,
        "timeout": prefect_home.STARTUP_TIMEOUT_S}
    runs = api(endpoint, "flow_runs/filter", {"flows": {"name": {"any_": [name]}}})
    assert [run["state_type"] for run in runs] == ["COMPLETED"]


@pytest.mark.slow
def test_the_cli_uses_the_server_instead_of_a_temporary_one(server, tmp_path):
    """With the exported environment the CLI lists a flow only the server knows: its own
    PREFECT_HOME is empty, so a temporary server would have nothing to list (and say so)."""
    endpoint, home = server
    name = f"cli-{uuid.uuid4().hex[:8]}"
    api(endpoint, "flows/", {"name": name})
    env = {**os.environ, **prefect_service.client_environ(endpoint), "HOME": str(home),
           "PREFECT_HOME": str(tmp_path)}
    started = time.monotonic()
    result = run([str(prefect_home.prefect_cli()), "flow", "ls", "--output", "json"], env)
    print(f"prefect flow ls took {time.monotonic() - started:.1f} s")
    assert name in [flow["name"] for flow in json.loads(result.stdout)]


@pytest.mark.slow
def test_prefect_state_stays_inside_the_project(server):
    endpoint, home = server
    assert (base.STATE_DIR / "prefect" / "prefect.db").is_file()
    assert endpoint.data["home"] == str(base.STATE_DIR / "prefect")
    assert not (home / ".prefect").exists(), sorted((home / ".prefect").rglob("*"))


def revision(database) -> str:
    with sqlite3.connect(database) as db:
        return db.execute("SELECT version_num FROM alembic_version").fetchone()[0]


@pytest.mark.slow
def test_a_new_server_starts_from_the_migrated_schema_database(server):
    """The schema database is made once, in the environment's folder, at the revision the
    running server's own database has."""
    schema = prefect_service.schema_database()
    assert schema is not None and schema.parent == prefect_home.prefect_cli().parent.parent
    assert revision(schema) == revision(base.STATE_DIR / "prefect" / "prefect.db")


@pytest.mark.slow
def test_start_copies_the_schema_database_into_a_new_home(monkeypatch, tmp_path):
    """A server started in an empty home runs on a copy of the schema database: a table put in
    the schema beforehand is in the server's database. Headless (as in a grading run), it
    serves the API and no UI."""

    def state_folder(name: str):
        (tmp_path / name).mkdir(exist_ok=True)
        return tmp_path / name

    marked = tmp_path / "schema.db"
    shutil.copyfile(prefect_service.schema_database(), marked)
    db = sqlite3.connect(marked)
    db.execute("CREATE TABLE workbook_marker (x)")
    db.commit()
    db.close()  # the schema database is in WAL mode: closing writes the table into the file
    monkeypatch.setattr(prefect_service, "schema_database", lambda: marked)
    monkeypatch.setattr(base, "state_folder", state_folder)
    monkeypatch.setenv(base.HEADLESS_VARIABLE, "1")
    endpoint = prefect_service.start()
    try:
        assert wait_for(lambda: prefect_service.healthy(endpoint), prefect_service.START_TIMEOUT_S)
        with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as db:
            tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
        assert {"workbook_marker", "flow_run"} <= tables
        with pytest.raises(urllib.error.HTTPError) as no_ui:
            urllib.request.urlopen(f"{endpoint.data['ui']}/", timeout=10)
        assert no_ui.value.code == 404
    finally:
        base.stop_tree(endpoint.pid)


@pytest.mark.slow
def test_stop_leaves_no_process_behind(server):
    endpoint, _ = server
    tree = {endpoint.pid, *processes.descendants(endpoint.pid)}
    assert services.stop("prefect")
    assert not [pid for pid in tree if processes.running(pid)]
    assert not base.port_in_use(endpoint.port) and services.status("prefect") is None


@pytest.fixture
def answering_api():
    """An HTTP server that answers 401 to everything, as Prefect Cloud does without a key."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            self.send_response(401)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/accounts/a/workspaces/w"
    server.shutdown()


def test_a_given_api_url_is_used_instead_of_the_service(monkeypatch, answering_api):
    monkeypatch.setattr(services, "start", lambda name: pytest.fail(f"started {name}"))
    monkeypatch.setattr(os, "environ", {})  # this process's own stays as it was
    prefect_home.activate(answering_api)
    assert os.environ["PREFECT_API_URL"] == answering_api
    assert os.environ["PREFECT_HOME"] == str(prefect_home.default_home())


def test_a_given_api_url_that_does_not_answer_is_named(monkeypatch):
    monkeypatch.setattr(services, "start", lambda name: pytest.fail(f"started {name}"))
    monkeypatch.setattr(os, "environ", {})
    closed = f"http://127.0.0.1:{base.free_port()}/api"
    with pytest.raises(prefect_home.Unreachable,
                       match=f"the Prefect API at {closed} does not answer .*api_url = None"):
        prefect_home.activate(closed)
    assert "PREFECT_API_URL" not in os.environ


def test_without_the_prefect_environment_it_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setattr(prefect_home, "prefect_cli", lambda: tmp_path / "bin" / "prefect")
    with pytest.raises(services.ServiceError, match="make setup"):
        prefect_service.start()
