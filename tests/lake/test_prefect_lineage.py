"""Lesson 04 of the Prefect track (features and artifacts) against the real services: the
flows the solution writes, run on the real Prefect server (`prefect server start`) and the real
S3 service, through the explicit dependency (the parent flow) and through the trigger (the
feature flow served in a background process, started by the ingestion run's Completed event).
The features table and the artifacts are checked against the answer key and the readings table,
computed here independently of the flows."""

import datetime as dt
import importlib
import json
import re
import sys

import pytest
from conftest import upload

from workbook import paths
from workbook.sensors import generate_sensors
from workbook.waiting import wait_for

LESSON = paths.SOLUTIONS / "03_advanced" / "prefect" / "04_features_and_artifacts.ipynb"
WRITEFILE = re.compile(r"^%%writefile \{flows\}/(?P<name>\S+)\n")
SPLIT = "2015-06-01T14:00"  # the sample's files before this go in the first batch


@pytest.fixture(scope="module")
def flows(prefect_api, tmp_path_factory):
    """The lesson's flow modules as the solution writes them, imported from a folder."""
    folder = tmp_path_factory.mktemp("flows")  # read as JSON: no nbformat in this environment
    for cell in json.loads(LESSON.read_text())["cells"]:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and (found := WRITEFILE.match(source)):
            (folder / found["name"]).write_text(source[found.end():])
    sys.path.insert(0, str(folder))
    modules = {name: importlib.import_module(name)
               for name in ("lineage_ingest", "lineage_features", "serve_features")}
    yield folder, modules
    sys.path.remove(str(folder))
    for name in modules:
        sys.modules.pop(name, None)


def readings_minutes(lake, date: str) -> dict[str, int]:
    """Per fridge and freezer, the minutes with a temperature in the readings table on `date`
    (what the features table must hold one row each of), read with deltalake directly."""
    from deltalake import DeltaTable

    rows = DeltaTable(lake.table_uri(), storage_options=lake.storage_options).to_pandas(
        columns=["device_id", "kind", "timestamp", "temperature_c", "date"])
    rows = rows[(rows["date"].astype(str) == date) & rows["kind"].isin(["fridge", "freezer"])
                & rows["temperature_c"].notna()]
    minutes = rows.assign(minute=rows["timestamp"].dt.floor("min"))
    return minutes.groupby("device_id")["minute"].nunique().to_dict()


def test_the_flows_leave_features_and_artifacts_that_match(lake, answer_key, flows, tmp_path):
    from workbook import prefect_lineage as lineage

    folder, modules = flows
    first = [f for f in answer_key.files if f.window_start < SPLIT]
    upload(lake, first)

    # The explicit dependency: one parent run, ingestion then features of what it committed.
    state = modules["lineage_features"].lineage_pipeline(lake.bucket, lake.endpoint_url,
                                                         return_state=True)
    result, error = lineage.outcome(state)
    assert error is None
    assert result["ingest"]["dates"] == result["features"]["dates"] == ["2015-06-01"]
    table = lineage.features(lake)
    per_device = table.groupby("device_id").size().to_dict()
    assert per_device == readings_minutes(lake, "2015-06-01")
    assert result["features"]["minutes"] == len(table)

    # Its subflow's artifacts: where each file went, as the answer key says.
    ingest_files = lineage.artifacts(lineage.INGEST_FILES)[0]
    went = lineage.table(ingest_files).set_index("key")["disposition"].to_dict()
    assert went == {f.key: {"accept": "ingested", "quarantine": "quarantined"}[f.disposition]
                    for f in first}
    report = lineage.artifacts(lineage.INGEST_REPORT, ingest_files.flow_run_id)[0].data
    assert f"**{sum(f.valid_rows for f in first)}**" in report
    stores = lineage.table(lineage.artifacts(lineage.FEATURES_PER_STORE)[0])
    assert stores["minutes"].sum() == len(table)
    assert sorted(stores["store_id"]) == sorted(table["store_id"].unique().tolist())


def test_the_ingestion_runs_completion_starts_the_feature_run(lake, answer_key, flows, tmp_path):
    from workbook import prefect_lineage as lineage

    folder, modules = flows
    upload(lake, [f for f in answer_key.files if f.window_start < SPLIT])
    assert lineage.outcome(modules["lineage_features"].lineage_pipeline(
        lake.bucket, lake.endpoint_url, return_state=True))[1] is None
    before = lineage.fingerprint(lake)

    # The trigger: the feature flow served, started by the ingestion run's Completed event.
    night = tmp_path / "night"
    key = generate_sensors(night, dt.datetime(2015, 6, 2), 1, answer_key.settings["seed"])
    served = lineage.serve(folder / "serve_features.py", tmp_path / "serve.log", lake.bucket,
                           lake.endpoint_url)
    try:
        assert wait_for(lineage.deployment_ready, 180, interval=1), (
            tmp_path / "serve.log").read_text()[-2000:]
        for f in key.files:
            for name in (f.key, f.manifest_key):
                lake.s3.put_object(Bucket=lake.bucket, Key=name, Body=(night / name).read_bytes())
        ingestion = modules["lineage_ingest"].ingest_sensors(lake.bucket, lake.endpoint_url,
                                                             return_state=True)
        upstream = lineage.flow_run_id(ingestion)
        assert lineage.outcome(ingestion)[0]["dates"] == ["2015-06-02"]

        def finished() -> bool:
            return any(r.state and r.state.is_final() for r in lineage.triggered_runs(upstream))

        assert wait_for(finished, 300, interval=1), (tmp_path / "serve.log").read_text()[-2000:]
    finally:
        lineage.stop(served)
    runs = lineage.triggered_runs(upstream)
    assert [r.state_name for r in runs] == ["Completed"], [
        (r.state_name, r.state.message, r.state.timestamp, r.created) for r in runs]
    assert runs[0].parameters["upstream"] == f"prefect.flow-run.{upstream}"
    after = lineage.fingerprint(lake)
    assert after["2015-06-01"] == before["2015-06-01"]  # the first date was left alone
    assert after["2015-06-02"]["minutes"] == sum(readings_minutes(lake, "2015-06-02").values())
    triggered = lineage.artifacts(lineage.FEATURES_PER_STORE, runs[0].id)
    assert len(triggered) == 1
    assert lineage.table(triggered[0])["minutes"].sum() == after["2015-06-02"]["minutes"]
    assert "2015-06-02" in lineage.artifacts(lineage.FEATURES_REPORT, runs[0].id)[0].data


def test_the_trigger_fires_on_the_ingestion_runs_completion_only(flows):
    """The solution's trigger, judged by the server's own matching on events shaped as the
    server records them (the check of exercise 3 uses real ones)."""
    from prefect.events import DeploymentEventTrigger

    from workbook import prefect_lineage as lineage

    def event(name: str, flow: str) -> dict:
        return {"event": f"prefect.flow-run.{name}", "id": "00000000-0000-0000-0000-000000000001",
                "occurred": "2015-06-01T12:00:00Z",
                "resource": {"prefect.resource.id": "prefect.flow-run.x"},
                "related": [{"prefect.resource.id": "prefect.flow.y",
                             "prefect.resource.role": "flow", "prefect.resource.name": flow}]}

    events = [event("Completed", "ingest-sensors"), event("Running", "ingest-sensors"),
              event("Failed", "ingest-sensors"), event("Completed", "build-features")]
    trigger = flows[1]["serve_features"].ingestion_completed()
    assert lineage.fires(trigger, events) == [True, False, False, False]
    assert lineage.fires(DeploymentEventTrigger(expect={"prefect.flow-run.*"}), events) == [
        True, True, True, True]
    assert json.loads(json.dumps(trigger.parameters)) == {"upstream": "{{ event.resource.id }}"}
