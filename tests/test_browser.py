"""A real browser runs a lesson notebook in JupyterLab, started exactly as `make lab` starts it.

This is the learner's first step, and it fails in ways papermill and nbval cannot see: the
level's kernel not offered in the UI, a popup in the way, the server not starting as root.
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import kernel_probe
import pytest
from jupyter_client import BlockingKernelClient
from playwright.sync_api import Page, Route, expect, sync_playwright

from workbook import lab, paths
from workbook.processes import descendants, running
from workbook.services.base import free_port
from workbook.waiting import wait_for

NOTEBOOK = "solutions/01_beginner/01_extract_transform.ipynb"  # relative to the repository root
KERNEL = "workbook-beginner"
KERNEL_DISPLAY_NAME = "Workbook (beginner)"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's; `.ci/run` installs it (no `playwright install`)
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
]
ARTIFACTS = paths.ROOT / "test-artifacts"
SCREENSHOT = ARTIFACTS / "jupyterlab-beginner.png"
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"  # the notebook on screen, not a hidden tab
START_TIMEOUT_S = 90
KERNEL_TIMEOUT_S = 60
RUN_TIMEOUT_S = 300
# JupyterLab 4.6 renders an error exactly like stderr (data-mime-type
# "application/vnd.jupyter.stderr", no error class), so an error is told apart by IPython's
# traceback text: "Traceback (most recent call last)", or "Cell In[n], line m" for SyntaxError.
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|^\s*Cell In\[\d+\], line \d+", re.M)


@dataclass
class Lab:
    proc: subprocess.Popen
    url: str
    token: str
    log: Path

    def api(self, method: str, path: str, body: dict | None = None) -> Any:
        """Call the server's REST API with the token; parsed JSON, or None for an empty reply."""
        request = urllib.request.Request(
            self.url + path, method=method, headers={"Authorization": f"token {self.token}"},
            data=None if body is None else json.dumps(body).encode())
        with urllib.request.urlopen(request, timeout=10) as response:
            body = response.read()
        return json.loads(body) if body else None

    def ready(self) -> bool:
        try:
            return "started" in self.api("GET", "/api/status")
        except OSError:  # not listening yet
            return False

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


def stop(server: Lab) -> None:
    """Shut the kernels down through the API, then stop the server's whole process group."""
    proc = server.proc
    spawned = descendants(proc.pid)
    if proc.poll() is None:
        for session in server.api("GET", "/api/sessions"):
            server.api("DELETE", f"/api/sessions/{session['id']}")
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    gone = wait_for(lambda: not any(running(p) for p in spawned | {proc.pid}), 15)
    left = sorted(p for p in spawned if running(p))
    assert gone, f"JupyterLab left processes behind: {left}"


@pytest.fixture
def lab_server() -> Iterator[Lab]:
    """JupyterLab started with `make lab`'s command line, on a free port with a random token."""
    ARTIFACTS.mkdir(exist_ok=True)
    lab.write_settings_overrides()
    lab.hide_instructor_tools()
    port, token = free_port(), secrets.token_urlsafe(24)
    # jupyter_server 2 takes the token from the identity provider (ServerApp.token is deprecated).
    command = lab.lab_command(port, (f"--IdentityProvider.token={token}",))
    log = ARTIFACTS / "jupyterlab.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(command, cwd=paths.ROOT, env=paths.jupyter_environ(),
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True)
    server = Lab(proc, f"http://127.0.0.1:{port}", token, log)
    try:
        up = wait_for(lambda: proc.poll() is not None or server.ready(), START_TIMEOUT_S)
        assert up and proc.poll() is None, f"JupyterLab did not start:\n{server.log_tail()}"
        yield server
    finally:
        stop(server)


@pytest.fixture
def notebook() -> Iterator[Path]:
    """The notebook under test; the checkpoint folder JupyterLab makes on opening goes after."""
    path = paths.ROOT / NOTEBOOK
    checkpoints = path.parent / ".ipynb_checkpoints"
    made_here = not checkpoints.exists()
    yield path
    if made_here:
        shutil.rmtree(checkpoints, ignore_errors=True)


def refuse_saves(route: Route) -> None:
    """Never let the page save, rename or delete: the run must not rewrite the solution.

    POST stays allowed: opening a notebook creates a checkpoint, and the load fails without it.
    """
    if route.request.method in ("PUT", "PATCH", "DELETE"):
        route.abort()
    else:
        route.continue_()


def run_command(page: Page, label: str) -> None:
    """Run a JupyterLab command by its palette label (more reliable than the Run menu)."""
    page.keyboard.press("Control+Shift+C")
    search = page.locator(".lm-CommandPalette-input")
    expect(search).to_be_focused()
    search.fill(label)
    active = page.locator(".lm-CommandPalette-item.lm-mod-active .lm-CommandPalette-itemLabel")
    expect(active).to_have_text(label)
    page.keyboard.press("Enter")


def kernel_connected(server: Lab) -> bool:
    """The notebook's kernel is up, idle and has the page's websocket attached."""
    sessions = [s for s in server.api("GET", "/api/sessions") if s["path"] == NOTEBOOK]
    return any(s["kernel"]["execution_state"] == "idle" and s["kernel"]["connections"] > 0
               for s in sessions)


# Per code cell, in notebook order: its prompt ("[3]:") and the text of its stderr outputs.
READ_CELLS = """cells => cells.map(cell => ({
    prompt: cell.querySelector('.jp-InputPrompt').textContent.trim(),
    stderr: [...cell.querySelectorAll(
        '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
        .map(out => out.textContent),
}))"""
# The run is over when the kernel is idle again and no cell is queued or running ("[*]:").
RUN_FINISHED = """panel => {
    const prompts = [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
        .map(p => p.textContent.trim());
    const idle = panel.querySelector('.jp-Notebook-ExecutionIndicator')
        ?.getAttribute('data-status') === 'idle';
    return idle && prompts.some(p => p !== '[ ]:') && !prompts.includes('[*]:');
}"""


def code_cells(notebook: Path) -> list[dict]:
    """The notebook's code cells as saved, in the order JupyterLab shows them."""
    cells = json.loads(notebook.read_text())["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


@pytest.mark.browser
def test_lab_runs_the_orientation_notebook(lab_server: Lab, notebook: Path) -> None:
    """Open, check the kernel, clear, run all: every cell runs, none shows a traceback. nbgrader's
    instructor pages (installed for `workbook export nbgrader`) are not served."""
    assert CHROMIUM.exists(), f"{CHROMIUM} is missing: `apt-get install chromium` (.ci/run does)"
    for route in ("/formgrader", "/assignments", "/courses"):
        with pytest.raises(urllib.error.HTTPError) as refused:
            lab_server.api("GET", route)
        assert refused.value.code == 404, route
    original = notebook.read_bytes()
    expected = code_cells(notebook)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.route("**/api/contents/**", refuse_saves)
            page.goto(f"{lab_server.url}/lab/tree/{NOTEBOOK}?reset&token={lab_server.token}")
            panel = page.locator(PANEL)
            expect(panel.locator(".jp-Toolbar-kernelName")).to_have_text(
                KERNEL_DISPLAY_NAME, timeout=KERNEL_TIMEOUT_S * 1000)
            assert wait_for(lambda: kernel_connected(lab_server), KERNEL_TIMEOUT_S), \
                f"kernel {KERNEL} did not connect:\n{lab_server.log_tail()}"

            # The committed solution carries outputs: clear them so only this run's count.
            run_command(page, "Clear Outputs of All Cells")
            expect(panel.locator(".jp-CodeCell .jp-InputPrompt")).to_have_text(
                ["[ ]:"] * len(expected))
            run_command(page, "Run All Cells")
            page.wait_for_function(RUN_FINISHED, arg=panel.element_handle(),
                                   timeout=RUN_TIMEOUT_S * 1000, polling=250)
            # Run All leaves the view at the end: show the top (kernel, first counts) instead.
            panel.locator(".jp-WindowedPanel-outer").evaluate("outer => outer.scrollTo(0, 0)")
            page.screenshot(path=SCREENSHOT)
            cells = panel.locator(".jp-CodeCell").evaluate_all(READ_CELLS)
        finally:
            browser.close()

    sessions = lab_server.api("GET", "/api/sessions")
    assert [s["kernel"]["name"] for s in sessions if s["path"] == NOTEBOOK] == [KERNEL]
    assert len(cells) == len(expected), "JupyterLab shows another number of code cells"
    failed = {i: text for i, cell in enumerate(cells) for text in cell["stderr"]
              if TRACEBACK.search(text)
              and "raises-exception" not in expected[i].get("metadata", {}).get("tags", [])}
    assert not failed, f"cells raised (index: traceback): {failed}"
    # An empty code cell is not sent to the kernel, so it keeps "[ ]:".
    unrun = [i for i, (cell, saved) in enumerate(zip(cells, expected, strict=True))
             if "".join(saved["source"]).strip() and not re.fullmatch(r"\[\d+\]:", cell["prompt"])]
    assert not unrun, f"code cells {unrun} did not run (see {SCREENSHOT})"
    assert notebook.read_bytes() == original, f"{NOTEBOOK} was modified by the browser run"


@pytest.mark.browser
def test_the_launcher_offers_the_course_kernels_only(lab_server: Lab) -> None:
    """No stray "Python 3 (ipykernel)" (the base environment, where no lesson runs): the
    server lists the course's kernels only, and the launcher shows one card per kernel."""
    specs = lab_server.api("GET", "/api/kernelspecs")
    assert sorted(specs["kernelspecs"]) == sorted(lab.kernels())
    assert specs["default"] == KERNEL
    names = sorted(spec["spec"]["display_name"] for spec in specs["kernelspecs"].values())
    assert KERNEL_DISPLAY_NAME in names
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(f"{lab_server.url}/lab?reset&token={lab_server.token}")
            cards = page.locator(".jp-LauncherCard[data-category='Notebook']")
            expect(cards).to_have_count(len(names), timeout=START_TIMEOUT_S * 1000)
            shown = sorted(cards.evaluate_all("cards => cards.map(card => card.title)"))
        finally:
            browser.close()
    assert shown == names


@pytest.mark.slow
def test_lab_starts_kernels_over_ipc(lab_server: Lab) -> None:
    """A kernel started as the launcher starts one talks over IPC: its sockets beside its
    connection file in the project's runtime folder, no TCP port for Jupyter's channels, no
    "Kernel is running over TCP without encryption" in `make lab`'s terminal."""
    kernel = lab_server.api("POST", "/api/kernels", {"name": KERNEL})
    runtime = Path(paths.jupyter_environ()["JUPYTER_RUNTIME_DIR"])
    connection_file = runtime / f"kernel-{kernel['id']}.json"
    client = BlockingKernelClient(connection_file=str(connection_file))
    try:
        client.load_connection_file()
        client.start_channels(hb=False)  # no heartbeat: a kernel still starting reads as dead
        client.wait_for_ready(timeout=KERNEL_TIMEOUT_S)  # it answers: its sockets are bound
        info = json.loads(connection_file.read_text())
        assert (info["transport"], Path(info["ip"]).parent) == ("ipc", runtime)
        printed: list[str] = []
        client.execute_interactive(kernel_probe.TRANSPORT_AND_PORTS, timeout=KERNEL_TIMEOUT_S,
                                   output_hook=lambda msg: printed.append(
                                       msg["content"].get("text", "")))
        assert "".join(printed) == kernel_probe.EXPECTED
        assert "without encryption" not in lab_server.log_tail()
    finally:
        client.stop_channels()
        lab_server.api("DELETE", f"/api/kernels/{kernel['id']}")
