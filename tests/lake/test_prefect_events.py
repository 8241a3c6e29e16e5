"""The event-driven path of the Prefect track (workbook.prefect_events), end to end on the real
services: moto's S3 + SQS with the bucket's notifications, a Prefect server, the reference flow
served with its deployment trigger and the reference watcher, each a background process in its
own session. Nothing is mocked and nothing sleeps: every wait is on a condition with a deadline.

- An upload alone starts an event-driven run: the test puts a file with boto3 and does nothing
  else; its rows must reach the table.
- Each file lands once whichever path saw it first: a file whose messages were lost is found by
  the sweep, then announced late (the event path finds it committed); files announced while the
  sweep ingests them too are in the table once.

Run: `python -m workbook pytest prefect tests/lake/test_prefect_events.py`.
"""

import uuid

import pytest
from conftest import SAMPLE, upload

from workbook import processes
from workbook.lake import Lake, ingest, table
from workbook.lake_lesson import event
from workbook.services import s3 as s3_service

pytestmark = pytest.mark.slow
WAIT_S = 150  # an event to committed rows, on a loaded 2-core machine


@pytest.fixture(scope="module")
def event_path(s3_endpoint, prefect_api, tmp_path_factory):
    """A new bucket with its queue and notifications, and the reference path running on it:
    yields (lake, queue_url, served, watcher); stops both processes and proves they are gone,
    and that the reference deployment's trigger no longer fires on the bucket."""
    from prefect import get_client

    from workbook import prefect_events

    lake = Lake(f"events-{uuid.uuid4().hex[:10]}", s3_endpoint.url)
    queue_url = s3_service.provision(lake.s3, s3_service.clients(s3_endpoint.url)[1],
                                     lake.bucket, f"{lake.bucket}-q")
    served, watcher = prefect_events.start_reference(lake, queue_url,
                                                     tmp_path_factory.mktemp("events"))
    yield lake, queue_url, served, watcher
    pids = [served.pid, watcher.pid]
    assert prefect_events.stop_reference(served, watcher) == []
    assert not [pid for pid in pids if processes.running(pid)]
    assert prefect_events.deployment(prefect_events.REFERENCE_DEPLOYMENT) is None
    with get_client(sync_client=True) as client:
        assert not [a.name for a in client.read_automations()
                    if prefect_events.triggered_by(a, lake.bucket)]


def good_files(answer_key, start: int, count: int):
    return [f for f in answer_key.files if f.disposition == "accept"][start:start + count]


def test_an_upload_alone_starts_an_event_driven_run(event_path, answer_key):
    from workbook import prefect_events

    lake, _, served, watcher = event_path
    files = good_files(answer_key, 0, 2)
    keys = upload(lake, files)  # boto3 puts, nothing else: no flow called, no event emitted
    rows = prefect_events.wait_committed(lake, keys, WAIT_S, served, watcher)
    assert {k: rows[k] for k in keys} == {f.key: f.valid_rows for f in files}
    runs = prefect_events.wait_runs_final(prefect_events.REFERENCE_DEPLOYMENT, served.started,
                                          keys, WAIT_S, served, watcher)
    assert sorted(r["parameters"]["key"] for r in runs) == sorted(keys)
    assert {r["state"] for r in runs} == {"COMPLETED"}


def test_each_file_once_whichever_path_saw_it_first(event_path, answer_key):
    from workbook import prefect_events

    lake, queue_url, served, watcher = event_path
    lost, *raced = good_files(answer_key, 2, 3)
    sqs = s3_service.clients(lake.endpoint_url)[1]

    # A file whose notifications never reach the watcher: it is put with the bucket's
    # notifications switched off (as a message lost in transit), so only the sweep sees it.
    config = lake.s3.get_bucket_notification_configuration(Bucket=lake.bucket)
    config.pop("ResponseMetadata", None)
    lake.s3.put_bucket_notification_configuration(Bucket=lake.bucket,
                                                  NotificationConfiguration={})
    upload(lake, [lost])
    lake.s3.put_bucket_notification_configuration(Bucket=lake.bucket,
                                                  NotificationConfiguration=config)

    # Two files announced to the watcher while a sweep ingests them too, at the same time.
    raced_keys = upload(lake, raced)
    swept = ingest.ingest(prefect_events.pending_keys(lake, None)[0], lake)  # the sweep
    assert lost.key in swept.ingested
    prefect_events.wait_runs_final(prefect_events.REFERENCE_DEPLOYMENT, served.started,
                                   raced_keys, WAIT_S, served, watcher)

    # The lost file's notification turns up late, after the sweep committed it.
    sqs.send_message(QueueUrl=queue_url,
                     MessageBody=event(("ObjectCreated:Put", lost.manifest_key)))
    late = prefect_events.wait_runs_final(prefect_events.REFERENCE_DEPLOYMENT, served.started,
                                          [lost.key], WAIT_S, served, watcher)
    assert [r["state"] for r in late] == ["COMPLETED"]

    rows = prefect_events.committed_keys(lake)
    files = [lost, *raced]
    assert {f.key: rows.get(f.key) for f in files} == {f.key: f.valid_rows for f in files}
    snapshot = table.open_table(lake.table_uri(), lake.storage_options)
    frame = snapshot.to_pandas(columns=["source_key", "timestamp"])
    ours = frame[frame["source_key"].isin([f.key for f in files])]
    assert not ours.duplicated().any()
    assert prefect_events.pending_keys(lake, None)[0] == []
    assert (SAMPLE / lost.key).read_bytes() == lake.s3.get_object(
        Bucket=lake.bucket, Key=lost.key)["Body"].read()


def test_runs_a_trigger_queued_while_nobody_served_are_forgotten(event_path):
    """A run its trigger queued for a bucket's file, not yet started (here: scheduled an hour
    ahead), is deleted for that bucket and for no other; finished runs stay."""
    import datetime as dt

    from prefect import get_client
    from prefect.states import Scheduled

    from workbook import prefect_events

    lake = event_path[0]
    deployment = prefect_events.deployment(prefect_events.REFERENCE_DEPLOYMENT)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with get_client(sync_client=True) as client:
        waiting = client.create_flow_run_from_deployment(
            deployment.id, parameters={"key": "incoming/queued-earlier.csv"},
            state=Scheduled(scheduled_time=later))
        finished = [r.id for r in client.read_flow_runs() if r.state.is_final()]
        assert prefect_events.forget_waiting_runs(f"{lake.bucket}-other") == 0
        assert client.read_flow_run(waiting.id)
        assert prefect_events.forget_waiting_runs(lake.bucket) == 1
        left = {r.id for r in client.read_flow_runs()}
    assert waiting.id not in left and set(finished) <= left and finished


def test_a_process_started_beside_running_ones_forgets_no_run(event_path, tmp_path):
    """A second watcher started while the path runs (the lesson's "going further") keeps the
    runs the first one's events queued and the served flow has not started yet."""
    import datetime as dt

    from prefect import get_client
    from prefect.states import Scheduled

    from workbook import prefect_events

    lake = event_path[0]
    deployment = prefect_events.deployment(prefect_events.REFERENCE_DEPLOYMENT)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with get_client(sync_client=True) as client:
        waiting = client.create_flow_run_from_deployment(
            deployment.id, parameters={"key": "incoming/queued-just-now.csv"},
            state=Scheduled(scheduled_time=later))
        beside = prefect_events.start("beside", ["-c", "import time; time.sleep(60)"], lake,
                                      logs=tmp_path)
        try:
            assert client.read_flow_run(waiting.id).state.is_scheduled()
        finally:
            assert beside.stop() == []
            client.delete_flow_run(waiting.id)
