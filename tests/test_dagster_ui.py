"""`make dagster-ui` (`workbook dagster-ui`) as a learner uses it, on a scratch workspace whose
code location holds two assets: the UI loads it; an asset materialized outside the UI, in the
project's DAGSTER_HOME as the notebooks materialize, shows there (in the API and in Debian's
chromium), and so does a partition that failed, then was re-run (its failed run and the re-run,
the partition materialized); nothing it starts listens beyond 127.0.0.1; and Ctrl-C stops every
process it started, which a SIGTERM to `dagster dev` alone would not."""

import signal
import subprocess
import textwrap

import pytest
import ui_command_run
from playwright.sync_api import expect, sync_playwright
from test_browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from workbook import dagster_home, dagster_ui, paths, processes
from workbook.waiting import wait_for

pytestmark = pytest.mark.slow
LOG = ARTIFACTS / "dagster-ui.log"
SCREENSHOT = ARTIFACTS / "dagster-ui-asset.png"
ASSET = "store_footfall"
PARTITIONED, FAILING, DOWN = "store_counts", "south", "south-is-down"  # DOWN: a flag file
DEFINITIONS = f'''
    """A code location with two assets, as the lessons' definitions.py grows from."""
    from pathlib import Path

    import dagster as dg


    @dg.asset(group_name="probe", description="Footfall per store (a test's asset).")
    def {ASSET}() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={{"dagster/row_count": 2}})


    @dg.asset(group_name="probe", description="Counts per store, one partition each; the "
              "{FAILING} store's fails while the file {DOWN} exists (a test's asset).",
              partitions_def=dg.StaticPartitionsDefinition(["north", "{FAILING}"]))
    def {PARTITIONED}(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        if context.partition_key == "{FAILING}" and Path("{DOWN}").exists():
            raise RuntimeError("the {FAILING} store's feed is down")
        return dg.MaterializeResult(metadata={{"dagster/row_count": 1}})


    defs = dg.Definitions(assets=[{ASSET}, {PARTITIONED}])
'''
MATERIALIZE = ("import dagster as dg, definitions as d; "
               f"assert dg.materialize([d.{ASSET}], instance=dg.DagsterInstance.get()).success")
# Each partition once; the failing one fails (its flag file is there), then the flag goes and
# that partition alone is run again.
FAIL_THEN_RERUN = (
    "import pathlib, dagster as dg, definitions as d\n"
    "instance = dg.DagsterInstance.get()\n"
    f"pathlib.Path({DOWN!r}).touch()\n"
    f"ran = {{key: dg.materialize([d.{PARTITIONED}], partition_key=key, instance=instance,\n"
    "                             raise_on_error=False).success for key in ('north', "
    f"{FAILING!r})}}\n"
    f"assert ran == {{'north': True, {FAILING!r}: False}}, ran\n"
    f"pathlib.Path({DOWN!r}).unlink()\n"
    f"assert dg.materialize([d.{PARTITIONED}], partition_key={FAILING!r}, "
    "instance=instance).success\n")
PARTITIONS_SCREENSHOT = ARTIFACTS / "dagster-ui-partitions.png"
RUNS_SCREENSHOT = ARTIFACTS / "dagster-ui-runs.png"
LATEST = ('{assetNodes {assetKey {path} assetMaterializations(limit: 1) {runId '
          'metadataEntries {label ... on IntMetadataEntry {intValue}}}}}')


@pytest.fixture(scope="module")
def running_ui(tmp_path_factory):
    """The command on a scratch workspace; yields (url, its process)."""
    workspace = tmp_path_factory.mktemp("dagster-ui")
    defs = dagster_ui.defs_folder(workspace)
    defs.mkdir()
    (defs / dagster_ui.DEFINITIONS).write_text(textwrap.dedent(DEFINITIONS))
    with ui_command_run.running("dagster-ui", workspace, LOG, dagster_ui.healthy,
                                dagster_ui.START_TIMEOUT_S) as (url, proc):
        yield url, proc, defs


def test_the_code_location_loads(running_ui):
    url, _, _ = running_ui
    assert dagster_ui.locations(url) == {dagster_ui.DEFINITIONS: "LOADED"}
    # The command prints its URL once its own health poll (each second) sees what ours saw.
    assert wait_for(lambda: "Dagster UI on" in LOG.read_text(), 30), LOG.read_text()


def test_a_materialization_made_outside_the_ui_shows_in_it(running_ui):
    """The notebooks materialize in the kernel, in the project's DAGSTER_HOME: the UI reads the
    same instance, so their runs are there without launching anything from the UI."""
    url, _, defs = running_ui
    subprocess.run([str(paths.env_python(dagster_home.ENV)), "-c", MATERIALIZE], cwd=defs,
                   env={**dagster_home.environ(), "PATH": "/usr/bin:/bin"}, check=True,
                   timeout=180)
    node = next(n for n in dagster_ui.graphql(url, LATEST)["assetNodes"]
                if n["assetKey"]["path"] == [ASSET])
    latest, = node["assetMaterializations"]
    assert {"label": "dagster/row_count", "intValue": 2} in latest["metadataEntries"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/assets/{ASSET}")
        # An asset never materialized says so here instead; this one shows its row count.
        expect(page.get_by_text("Latest materialization").first).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Row count").first).to_be_visible()
        expect(page.get_by_text("Never materialized")).to_have_count(0)
        page.screenshot(path=SCREENSHOT)
        browser.close()


def test_a_partition_that_failed_then_was_re_run_shows_both_runs_and_its_health(running_ui):
    """The UI keeps a partition's history: its failed run stays in the run list beside the
    re-run that succeeded, and the asset's partitions are both materialized now."""
    url, _, defs = running_ui
    subprocess.run([str(paths.env_python(dagster_home.ENV)), "-c", FAIL_THEN_RERUN], cwd=defs,
                   env={**dagster_home.environ(), "PATH": "/usr/bin:/bin"}, check=True,
                   timeout=300)
    runs = dagster_ui.partition_runs(url, FAILING)
    assert sorted(run["status"] for run in runs) == ["FAILURE", "SUCCESS"], runs
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/assets/{PARTITIONED}?view=partitions")
        # The partitions view counts them by status: both materialized, none failed now.
        expect(page.get_by_text("Materialized (2)")).to_be_visible(timeout=60_000)
        expect(page.get_by_text("Failed (0)")).to_be_visible()
        page.screenshot(path=PARTITIONS_SCREENSHOT)
        # The run list keeps the failed run of that partition beside its re-run.
        page.goto(f"{url}/runs")
        expect(page.get_by_text(f"partition: {FAILING}")).to_have_count(2, timeout=60_000)
        expect(page.get_by_text("Failure")).to_have_count(1)
        page.screenshot(path=RUNS_SCREENSHOT)
        browser.close()


def test_nothing_it_starts_listens_beyond_loopback(running_ui):
    _, proc, _ = running_ui
    ours = processes.listening({proc.pid, *processes.descendants(proc.pid)})
    assert ours, "the webserver should listen"
    assert all(address.startswith("127.0.0.1:") for address in ours), ours


def test_ctrl_c_stops_every_process_it_started(running_ui):
    _, proc, _ = running_ui
    tree = processes.descendants(proc.pid)
    assert len(tree) >= 3  # dagster dev, its webserver and its daemon (and the code server)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 0
    assert not [p for p in tree if processes.running(p)]
    assert "Dagster stopped, nothing left" in LOG.read_text()
