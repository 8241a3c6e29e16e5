"""Lesson 04 of the Prefect track (features and artifacts): lineage from ingestion to the ML
feature job. What the lesson's flows publish (the tables and reports of their artifacts, built
from workbook.lake.ingest's Report and workbook.lake_features' scores), how the notebook reads
them back through the Prefect API, the night's files that make a second date, and the
background process that serves the feature flow with a trigger.

The pipeline itself is not here: the flows call workbook.lake (ingestion) and
workbook.lake_features (features, model, features table) and only add Prefect around them.
"""

import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from workbook import lake_lesson, lesson
from workbook.lake_lesson import LakeLesson

INGEST_FLOW, FEATURES_FLOW, PIPELINE_FLOW = "ingest-sensors", "build-features", "lineage-pipeline"
DEPLOYMENT = "on-ingestion"  # the served deployment of the feature flow
# The artifacts' keys: a key makes each run's artifact a new version of the same artifact.
INGEST_FILES, INGEST_REPORT = "ingest-files", "ingest-report"
FEATURES_PER_STORE, FEATURES_REPORT = "features-per-store", "features-report"
NIGHT_HOURS = 2  # the night's files: two hours from midnight after the lesson's window
DATE = re.compile(r"/(\d{4}-\d{2}-\d{2})/")  # incoming/store=1/device=.../2015-06-01/1200.csv
TOP = 5  # anomalies in a features report


# ---------------------------------------------------------------- the night's files

def night(lesson_: LakeLesson, hours: int = NIGHT_HOURS) -> LakeLesson:
    """The same devices' files from the midnight after the lesson's window, for `hours` hours:
    the lesson's data on a second date (a partition the first batch did not touch)."""
    end = dt.datetime.fromisoformat(lesson_.answer_key.settings["end"].replace("Z", "+00:00"))
    midnight = (end - dt.timedelta(microseconds=1)).date() + dt.timedelta(days=1)
    root = Path(os.environ.get(lesson.DATA_ROOT_VARIABLE) or lesson_.ctx.workspace)
    folder, key = lake_lesson.generate(root, f"{midnight}T00:00", hours,
                                       int(lesson_.answer_key.settings["seed"]))
    return dataclasses.replace(lesson_, data_dir=folder, answer_key=key)


def upload(lesson_: LakeLesson, files) -> list[str]:
    """Put each file and then its manifest, a few files at a time (lake_lesson.upload puts
    them one by one; order does not matter here, the flows list the bucket)."""
    from concurrent.futures import ThreadPoolExecutor

    def put(f) -> str:
        for key in (f.key, f.manifest_key):
            lesson_.lake.s3.put_object(Bucket=lesson_.lake.bucket, Key=key,
                                       Body=lesson_.read(key))
        return f.key

    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(put, files))


def restart(lesson_: LakeLesson, files) -> list[str]:
    """`lake_lesson.restart` with this module's upload (a few files at a time): where a check
    that measures an ingestion run starts, every time it runs. A try
    before it committed its files, and a file committed once is skipped ever after (its key
    and ETag are in the table), so without this a learner's second try would ingest nothing."""
    return lake_lesson.restart(lesson_, files, put=upload)


def restart_ingested(lesson_: LakeLesson, files) -> None:
    """`restart`, then `files` ingested by workbook.lake (not a flow of the learner's): the
    readings table as exercise 1 leaves it, with nothing of a later date."""
    from workbook.lake import ingest

    ingest.ingest(restart(lesson_, files), lesson_.lake)


def by_hour(lesson_: LakeLesson) -> list[list]:
    """A lesson's files grouped by the hour of their window, in time order."""
    hours: dict[str, list] = {}
    for f in lesson_.files():
        hours.setdefault(f.window_start[:13], []).append(f)
    return [hours[hour] for hour in sorted(hours)]


def features(lake):
    """The features table (lake_features.write_features' output), in time order."""
    from workbook import lake_features as lf

    return lf.read_features(lake.table_uri("features"), lake.storage_options)


def fingerprint(lake) -> dict[str, dict]:
    """Per date of the features table: its minutes and the sum of their scores (a date
    recomputed by another model, or from other readings, changes it)."""
    from workbook.lake import table as readings_table

    if readings_table.open_table(lake.table_uri("features"), lake.storage_options) is None:
        return {}
    found = features(lake)
    return {str(date): {"minutes": len(rows), "score_sum": round(float(rows["score"].sum()), 6)}
            for date, rows in found.groupby("date", sort=True)}


def dates_of(keys) -> list[str]:
    """The dates (readings-table partitions) of files, read from their keys."""
    return sorted({found.group(1) for key in keys if (found := DATE.search(key))})


# ---------------------------------------------------------------- what the flows publish

def files_table(report) -> list[dict]:
    """One row per file an ingestion run was given (an ingest.Report): where it went."""
    rows = [{"key": k, "disposition": "ingested", "reason": ""} for k in report.ingested]
    rows += [{"key": k, "disposition": "quarantined", "reason": r}
             for k, r in report.quarantined.items()]
    rows += [{"key": k, "disposition": "skipped", "reason": r}
             for k, r in report.skipped.items()]
    for row in rows:
        row["date"] = dates_of([row["key"]])[0] if dates_of([row["key"]]) else ""
    return sorted(rows, key=lambda row: row["key"])


def ingest_summary(report) -> dict:
    """What the ingestion flow returns: the dates its commit touched, and counts."""
    return {"dates": dates_of(report.ingested), "version": report.version,
            "ingested": len(report.ingested), "quarantined": len(report.quarantined),
            "skipped": len(report.skipped), "rows": report.rows}


def per_store(scored) -> list[dict]:
    """The features table artifact: per store, the cabinets, minutes scored, 15-minute
    windows flagged and the highest window score (lake_features.flag's output)."""
    from workbook import lake_features as lf

    windows = lf.window_scores(scored)
    stores = scored.drop_duplicates("device_id").set_index("device_id")["store_id"]
    windows["store_id"] = windows["device_id"].map(stores)
    rows = []
    for store, minutes in scored.groupby("store_id", sort=True):
        flagged = minutes.loc[minutes["flagged"], ["device_id", "window_start"]]
        best = windows.loc[windows["store_id"] == store, "score"]
        rows.append({"store_id": int(store), "cabinets": int(minutes["device_id"].nunique()),
                     "minutes": len(minutes), "flagged_windows": len(flagged.drop_duplicates()),
                     "max_score": round(float(best.max()), 3) if len(best) else None})
    return rows


def top_anomalies(scored, n: int = TOP):
    """The `n` highest-scoring 15-minute windows (device, window, score), highest first."""
    from workbook import lake_features as lf

    return lf.top_windows(scored, n)


def features_markdown(dates: list[str], scored, threshold: float) -> str:
    """The feature flow's run report: what it read, how many windows it flagged, the top
    anomalies."""
    top = top_anomalies(scored)
    flagged = scored.loc[scored["flagged"], ["device_id", "window_start"]].drop_duplicates()
    lines = [f"# Features for {', '.join(dates)}", "",
             f"- minutes scored: **{len(scored)}** from {scored['device_id'].nunique()} "
             f"cabinets",
             f"- windows flagged: **{len(flagged)}** (score above {threshold:.3f})", "",
             "| device | window (UTC) | score |", "| --- | --- | --- |"]
    lines += [f"| {row.device_id} | {row.window_start:%Y-%m-%d %H:%M} | {row.score:.3f} |"
              for row in top.itertuples()]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- runs, artifacts and events

def outcome(state) -> tuple[object, str | None]:
    """A flow run's final state (`flow(..., return_state=True)`) as evidence: (its result,
    None) when it completed, else (None, "ErrorType: message"). An unanswered exercise's
    NotImplementedError is raised again: the notebook stops at it, as at any exercise."""
    # _sync=True: in a notebook an event loop runs, and `result` would give a coroutine
    if state.is_completed():
        return state.result(_sync=True), None
    try:
        state.result(_sync=True)
    except NotImplementedError:
        raise
    except Exception as error:  # the error is the evidence
        text = " ".join(line.strip() for line in str(error).splitlines()[:3])
        return None, f"{type(error).__name__}: {text[:400]}"
    return None, f"the run ended {state.type.value}: {state.message}"


def flow_run_id(state) -> str:
    return str(state.state_details.flow_run_id)


def artifacts(key: str, flow_run_id=None) -> list:
    """The versions of the artifact `key` (newest first), of one flow run if given, read
    through the Prefect API."""
    from prefect import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
    )
    from prefect.client.schemas.sorting import ArtifactSort

    where = ArtifactFilter(key=ArtifactFilterKey(any_=[key]))
    if flow_run_id is not None:
        where.flow_run_id = ArtifactFilterFlowRunId(any_=[flow_run_id])
    with get_client(sync_client=True) as client:
        return client.read_artifacts(artifact_filter=where, sort=ArtifactSort.CREATED_DESC)


def table(artifact):
    """A table artifact's rows as a DataFrame (the API keeps its data as JSON text)."""
    import pandas as pd

    data = json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data
    return pd.DataFrame(data)


def dates_of_run(flow_run_id) -> list[str]:
    """The dates an ingestion run committed, read from its `ingest-files` artifact: how a
    feature run started by a trigger knows what its upstream run touched."""
    flow_run_id = str(flow_run_id).removeprefix("prefect.flow-run.")
    found = artifacts(INGEST_FILES, flow_run_id)
    if not found:
        raise LookupError(f"flow run {flow_run_id} published no {INGEST_FILES!r} artifact")
    files = table(found[0])
    return sorted(set(files.loc[files["disposition"] == "ingested", "date"]))


# ---------------------------------------------------------------- events and triggers

def flow_run_events(flow_run_ids) -> list[dict]:
    """The state events (`prefect.flow-run.*`) the server recorded for some flow runs, as
    plain dicts: event name, resource and related resources."""
    from prefect import get_client
    from prefect.events.filters import EventFilter, EventNameFilter, EventResourceFilter

    ids = [f"prefect.flow-run.{i}" for i in flow_run_ids]
    where = EventFilter(event=EventNameFilter(prefix=["prefect.flow-run."]),
                        resource=EventResourceFilter(id=ids))
    with get_client(sync_client=True) as client:
        page = client.read_events(filter=where, limit=50)
    return [event.model_dump(mode="json", include={"event", "resource", "related", "id",
                                                   "occurred"})
            for event in page.events]


STATES = ("Pending", "Running", "Completed", "Failed")


def state_events(flow_run_id, timeout: float = 60) -> dict[str, dict]:
    """The event each state of this flow run sends, by name ("ingest-sensors Completed"...):
    the run's own events as the server recorded them, and for a state it did not reach, its
    recorded event with that state's name (same resource, same related flow)."""
    from workbook.waiting import wait_for

    found: list[dict] = []

    def recorded() -> bool:
        found[:] = flow_run_events([flow_run_id])
        return any(e["event"] in ("prefect.flow-run.Completed", "prefect.flow-run.Failed")
                   for e in found)

    wait_for(recorded, timeout, interval=0.5)
    if not found:
        raise LookupError(f"the server recorded no event of flow run {flow_run_id}")
    template = next(e for e in found if e["event"] != "prefect.flow-run.heartbeat")
    flow_name = next((r.get("prefect.resource.name") for r in template["related"]
                      if r.get("prefect.resource.role") == "flow"), "?")
    events = {}
    for state in STATES:
        name = f"prefect.flow-run.{state}"
        real = next((e for e in found if e["event"] == name), None)
        events[f"{flow_name} {state}"] = real or {**template, "event": name}
    return events


def fires(trigger, events: list[dict]) -> list[bool]:
    """Whether the automation a deployment trigger makes would act on each event, decided by
    the server's own matching (prefect.server.events EventTrigger.covers)."""
    from prefect.server.events.schemas.automations import EventTrigger
    from prefect.server.events.schemas.events import ReceivedEvent

    plain = trigger.trigger_type(**trigger.model_dump())  # as `serve` registers it
    served = EventTrigger.model_validate(plain.model_dump(mode="json", exclude={"id"}))
    out = []
    for event in events:
        received = ReceivedEvent.model_validate({**event, "received": event["occurred"]})
        out.append(served.covers(received))
    return out


def serve(script: Path, log: Path, *args: str) -> subprocess.Popen:
    """Run `python script args...` (a flow module whose __main__ serves a deployment) in a
    session of its own, with this kernel's Prefect settings; its output goes to `log`."""
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, str(script), *args], cwd=script.parent,
                                stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "PREFECT_RUNNER_POLL_FREQUENCY": "2"},
                                start_new_session=True)


def stop(proc: subprocess.Popen, runs_timeout_s: float = 60) -> None:
    """Stop a served process and everything it started, once the flow runs it started have
    exited: a runner told to stop cancels the runs still in its hands, and one whose state is
    already Completed, its process not yet gone, would be marked Cancelled."""
    from workbook import processes
    from workbook.services import base
    from workbook.waiting import wait_for

    wait_for(lambda: not [pid for pid in processes.descendants(proc.pid)
                          if processes.running(pid)], runs_timeout_s, interval=0.2)
    base.stop_group(proc.pid)
    proc.wait(timeout=30)


def deployment_ready(flow_name: str = FEATURES_FLOW, name: str = DEPLOYMENT) -> bool:
    """Whether the served deployment is registered and not paused (a stopped `serve` pauses
    its deployments; a new one resumes them)."""
    from prefect import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            return not client.read_deployment_by_name(f"{flow_name}/{name}").paused
        except ObjectNotFound:
            return False


def triggered_runs(upstream) -> list:
    """The runs of the served deployment whose `upstream` parameter names this flow run."""
    from prefect import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            deployment_filter=DeploymentFilter(name=DeploymentFilterName(any_=[DEPLOYMENT])))
    wanted = f"prefect.flow-run.{upstream}"
    return [run for run in runs if run.parameters.get("upstream") in (wanted, str(upstream))]
