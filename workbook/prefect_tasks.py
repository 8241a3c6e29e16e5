"""Helpers of the Prefect track's first lesson (03_advanced/prefect/01_flows_and_tasks): the
lake seen through a prefect-aws S3Bucket block, a proxy that makes S3 fail the way it really
does now and then (503 SlowDown), and what a check reads back from the Prefect API about a flow
run's task runs. The pipeline itself is workbook.lake's; the flows are the learner's.
"""

import datetime as dt
import os
import shutil
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from workbook import http_relay, lesson
from workbook.lake import Lake
from workbook.services.s3 import REGION, environment

BLOCK, FLAKY = "sensor-lake-01", "sensor-lake-01-flaky"  # the lesson's S3Bucket blocks
# The flaky block's boto3 client: two tries per request (boto3's own quick retry), where its
# default gives S3's 503s up to five, spread over seconds; the proxy refuses a read twice, so
# boto3 gives up and Prefect's task retry is what gets the file.
TWO_TRIES = {"retries": {"mode": "standard", "total_max_attempts": 2}}
ONE_TRY = {"retries": {"total_max_attempts": 1}}  # the check's probes: S3's answer as it is
RESULTS_VARIABLE = "PREFECT_LOCAL_STORAGE_PATH"

SLOW_DOWN = (b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
             b"<Message>Please reduce your request rate.</Message></Error>")


def credentials_for(endpoint_url: str | None, region: str = REGION) -> dict:
    """The AwsCredentials fields for an S3 endpoint (the local server's test keys; on AWS, none:
    boto3 finds the learner's own)."""
    variables = environment(endpoint_url, region)
    if endpoint_url is None:
        return {"region_name": region}
    return {"aws_access_key_id": variables["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": variables["AWS_SECRET_ACCESS_KEY"], "region_name": region}


def fresh_results(workspace: Path, name: str) -> Path | None:
    """Where this lesson's task results (and so its cache) are kept: a folder of its own,
    emptied, so that a re-run of the notebook starts with no cache, as it starts with an empty
    bucket. Must run before `import prefect` (Prefect reads its settings then)."""
    if lesson.checking():
        return None
    folder = Path(workspace) / "results" / name
    forget_results(folder)
    os.environ[RESULTS_VARIABLE] = str(folder)
    return folder


def forget_results(folder: Path) -> None:
    """Delete the task results kept in `folder` (fresh_results's), and so every cached one:
    Prefect looks a cache key up in the result storage, so a task run after this runs again."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)


def bucket_block(bucket_name: str, endpoint_url: str | None, config: dict | None = None):
    """An S3Bucket block (not saved) for a bucket on an endpoint (None: AWS), its client made
    with botocore's `config` (None: boto3's defaults)."""
    from prefect_aws import AwsCredentials, S3Bucket
    from prefect_aws.client_parameters import AwsClientParameters

    credentials = AwsCredentials(**credentials_for(endpoint_url), aws_client_parameters=(
        AwsClientParameters(endpoint_url=endpoint_url, config=config)))
    return S3Bucket(bucket_name=bucket_name, credentials=credentials)


def etags(lake: Lake, keys: list[str]) -> dict[str, str]:
    """{key: ETag} of the data files `keys`, in their order, from one listing of incoming/."""
    pages = lake.s3.get_paginator("list_objects_v2").paginate(Bucket=lake.bucket,
                                                               Prefix=lake.incoming)
    found = {item["Key"]: item["ETag"].strip('"') for page in pages
             for item in page.get("Contents", [])}
    return {key: found[key] for key in keys if key in found}


def commit(lake: Lake, good: list, bad: list) -> dict:
    """The end of an ingestion: the bad files (validate.Checked) to quarantine/, the good ones
    into the table in one commit (workbook.lake.ingest does both); what was done."""
    from workbook.lake import ingest, quarantine

    report = ingest.Report()
    for checked in bad:
        quarantine.quarantine(lake.s3, lake.bucket, checked.key, ingest.errors_report(checked),
                              lake.incoming, lake.quarantine)
    if good:
        ingest.write_batch(lake, good, report)
    return {"ingested": len(report.ingested), "quarantined": len(bad), "rows": report.rows,
            "already_in_table": len(report.skipped)}


def lake_of(bucket) -> Lake:
    """The pipeline's Lake for an S3Bucket block, its S3 client the block's own (so the block's
    endpoint and client settings are what the pipeline uses)."""
    params = bucket.credentials.aws_client_parameters
    lake = Lake(bucket.bucket_name, params.endpoint_url,
                bucket.credentials.region_name or REGION)
    lake.__dict__["s3"] = bucket.credentials.get_s3_client()  # Lake.s3 is a cached_property
    return lake


class FlakyS3:
    """A pass-through proxy in front of the S3 server that answers 503 SlowDown, as S3 does
    under load, to the first `failures` GETs of each of `keys`. Nothing else is changed: every
    other request reaches the real server. `failed` lists the keys it refused (once per
    refusal), `served` counts what it passed."""

    def __init__(self, target_url: str, keys: list[str] = (), failures: int = 2):
        host_port = target_url.split("://", 1)[1].split("/", 1)[0]
        self.target = host_port.rsplit(":", 1)
        self.keys, self.failures = set(keys), failures
        self.failed: list[str] = []
        self.served = 0
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def relay(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                if proxy.refuse(self.command, self.path.split("?")[0]):
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(SLOW_DOWN)))
                    self.end_headers()
                    self.wfile.write(SLOW_DOWN)
                    return
                http_relay.forward(self, proxy.target[0], int(proxy.target[1]), body)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = relay

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                pass  # a client that hung up

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def refuse(self, method: str, path: str) -> bool:
        key = urllib.parse.unquote(path).lstrip("/").split("/", 1)[-1]  # /bucket/key
        with self.lock:
            if method == "GET" and key in self.keys and self.failed.count(key) < self.failures:
                self.failed.append(key)
                return True
            self.served += 1
            return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---------------------------------------------------------------- real failures, for a check

def _client(endpoint_url: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint_url, **credentials_for(endpoint_url),
                        config=Config(connect_timeout=2, read_timeout=5, **ONE_TRY))


def slow_down_error(lake: Lake) -> Exception:
    """The ClientError boto3 raises when S3 answers 503 SlowDown (through FlakyS3)."""
    key = "incoming/slow-down-probe.csv"
    lake.s3.put_object(Bucket=lake.bucket, Key=key, Body=b"probe\n")
    try:
        with FlakyS3(lake.endpoint_url, [key], failures=1) as proxy:
            _client(proxy.url).get_object(Bucket=lake.bucket, Key=key)
    except Exception as err:  # noqa: BLE001 (the error is the point)
        return err
    finally:
        lake.s3.delete_object(Bucket=lake.bucket, Key=key)
    raise RuntimeError("the proxy did not refuse the read")


def connection_error() -> Exception:
    """What boto3 raises when nothing listens at the endpoint (EndpointConnectionError)."""
    from workbook.services import base

    try:
        _client(f"http://127.0.0.1:{base.free_port()}").list_buckets()
    except Exception as err:  # noqa: BLE001
        return err
    raise RuntimeError("something answered on a free port")


def no_such_bucket_error(lake: Lake) -> Exception:
    try:
        lake.s3.list_objects_v2(Bucket=f"{lake.bucket}-missing")
    except Exception as err:  # noqa: BLE001
        return err
    raise RuntimeError("the bucket exists")


def failed_state(error: BaseException):
    """The Failed state Prefect's engine makes of a task run that raised `error` (what a
    retry_condition_fn is given), made from any thread, a notebook's included."""
    from prefect.states import exception_to_failed_state
    from prefect.utilities.asyncutils import run_coro_as_sync

    return run_coro_as_sync(exception_to_failed_state(error))


def retry_decision(retry_condition_fn, error: BaseException) -> bool | str:
    """What `retry_condition_fn` decides after a try that raised `error`: called as Prefect's
    task engine calls it, with the Failed state, in a thread with no event loop (in a notebook's
    own thread, Prefect's `state.result()` would return a coroutine instead of raising). Its
    answer, or what went wrong ("raised ...", "returned <not a bool>")."""
    from concurrent.futures import ThreadPoolExecutor

    state = failed_state(error)
    with ThreadPoolExecutor(1) as pool:
        try:
            answer = pool.submit(retry_condition_fn, None, None, state).result(timeout=60)
        except Exception as err:  # noqa: BLE001 (the learner's function failed: say how)
            return f"raised {type(err).__name__}: {str(err)[:160]}"
    return answer if isinstance(answer, bool) else f"returned {answer!r}, not True or False"


def outcome(state) -> str:
    """'returned', or 'raised <error>: <message>', for a flow run's final state."""
    try:
        state.result(_sync=True)
    except Exception as err:  # noqa: BLE001 (the error is the evidence)
        return f"raised {type(err).__name__}: {str(err)[:300]}"
    return "returned"


FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}


def task_runs(flow_run_id, expected: int | None = None, timeout: float = 60) -> list[dict]:
    """The task runs of a finished flow run as the Prefect server recorded them: name, task,
    state, number of tries, start and end (oldest first). The server takes the task runs'
    states from their events a moment after the flow returns: this waits until every run (and
    `expected` runs, when given) has a final state."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    from workbook.waiting import wait_for

    found: list = []

    def settled() -> bool:
        with get_client(sync_client=True) as client:
            found[:] = client.read_task_runs(flow_run_filter=FlowRunFilter(
                id=FlowRunFilterId(any_=[flow_run_id])))
        return (expected is None or len(found) >= expected) and all(
            r.state is not None and r.state.type.value in FINAL for r in found)

    wait_for(settled, timeout)
    runs = [{"name": r.name, "state": r.state.name if r.state else None, "tries": r.run_count,
             "start": r.start_time, "end": r.end_time} for r in found]
    latest = dt.datetime.max.replace(tzinfo=dt.UTC)
    return sorted(runs, key=lambda r: (r["start"] or latest, r["name"]))


def most_at_once(runs: list[dict]) -> int:
    """The largest number of the runs that were running at the same moment."""
    edges = sorted([(r["start"], 1) for r in runs if r["start"] and r["end"]] +
                   [(r["end"], -1) for r in runs if r["start"] and r["end"]],
                   key=lambda e: (e[0], e[1]))
    peak = now = 0
    for _, step in edges:
        now += step
        peak = max(peak, now)
    return peak
