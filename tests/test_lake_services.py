"""The advanced level's services over their real protocols: S3 with event notifications to SQS
(boto3), the pushgateway and Prometheus (their HTTP APIs); loopback only, nothing left running."""

import http.server
import json
import subprocess
import threading
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from workbook import processes, services
from workbook.services import base, metrics
from workbook.services import s3 as s3_service
from workbook.waiting import wait_for

# Prometheus applies a target list a few seconds after it changes (its discovery manager
# batches updates every 5 s), then scrapes every second.
SCRAPE_DEADLINE_S = 30


@pytest.fixture(scope="module")
def lake():
    with services.running("s3") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def aws(lake):
    return s3_service.clients(lake.url, lake.data["region"])


@pytest.fixture(scope="module")
def prometheus():
    with services.running("prometheus") as endpoint:
        yield endpoint


def drain(sqs, queue_url: str, until: str, timeout: float = 10) -> list[str]:
    """The raw object keys of the queue's messages (deleted once read), until the message for
    the raw key `until` has come (the positive control) or `timeout` passes."""
    keys: list[str] = []

    def arrived() -> bool:
        for message in sqs.receive_message(QueueUrl=queue_url,
                                           MaxNumberOfMessages=10).get("Messages", []):
            keys.extend(record["s3"]["object"]["key"]
                        for record in json.loads(message["Body"])["Records"])
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return until in keys

    wait_for(arrived, timeout)
    return keys


def test_s3_starts_with_the_lake_bucket_and_its_queue(lake, aws):
    s3, sqs = aws
    assert s3.head_bucket(Bucket=lake.data["bucket"])["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert sqs.get_queue_url(QueueName=s3_service.QUEUE)["QueueUrl"] == lake.data["queue_url"]
    assert lake.data["environment"]["AWS_ENDPOINT_URL"] == lake.url
    assert lake.data["environment"]["AWS_ALLOW_HTTP"] == "true"


def test_a_kernel_with_the_endpoints_variables_alone_reaches_it(lake, monkeypatch):
    """What a kernel's boto3 (and s3fs, which uses it) does with nothing but the variables."""
    import boto3

    for variable, value in lake.data["environment"].items():
        monkeypatch.setenv(variable, value)
    names = [b["Name"] for b in boto3.client("s3").list_buckets()["Buckets"]]
    assert names == [s3_service.BUCKET]


def test_an_upload_under_incoming_notifies_the_queue_with_its_key_url_encoded(lake, aws):
    s3, sqs = aws
    key = f"{s3_service.INCOMING}store=Seattle Ballard/fridge-01/2015-06-03T10:15.csv"
    s3.put_object(Bucket=lake.data["bucket"], Key=key, Body=b"ts,celsius\n")
    raw = urllib.parse.quote_plus(key)  # as AWS encodes: %2F, %3D, + for a space
    assert drain(sqs, lake.data["queue_url"], until=raw) == [raw]
    assert urllib.parse.unquote_plus(raw) == key and "%3D" in raw and "+" in raw


def test_an_upload_outside_incoming_notifies_nothing(lake, aws):
    s3, sqs = aws
    outside, control = f"{s3_service.TABLES}readings/part-0.parquet", "incoming/control.csv"
    for key in (outside, control):  # the control comes second: once it is here, so is the other
        s3.put_object(Bucket=lake.data["bucket"], Key=key, Body=b"x")
    raw_control = urllib.parse.quote_plus(control)
    assert drain(sqs, lake.data["queue_url"], until=raw_control) == [raw_control]


def promql(prometheus, query: str) -> dict[str, float]:
    return metrics.values(prometheus.url, query)


def test_a_pushed_metric_is_queried_back_from_prometheus(prometheus):
    pushgateway = services.status("pushgateway")
    body = b"# TYPE lake_files_seen_total counter\nlake_files_seen_total 3\n"
    request = urllib.request.Request(f"{pushgateway.url}/metrics/job/sensor_ingest", data=body,
                                     method="PUT")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.status == 200
    query = 'lake_files_seen_total{job="sensor_ingest"}'  # the pushed job label, kept
    assert wait_for(lambda: list(promql(prometheus, query).values()) == [3.0],
                    SCRAPE_DEADLINE_S), promql(prometheus, "up")


class Exporter(http.server.BaseHTTPRequestHandler):
    """What a pipeline's prometheus-client exporter answers, reduced to one metric."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = b"lake_rows_written_total 42\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def serve_exporter(port: int) -> http.server.HTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def scraped(prometheus, port: int) -> bool:
    query = f'lake_rows_written_total{{job="pipeline", instance="127.0.0.1:{port}"}}'
    return list(promql(prometheus, query).values()) == [42.0]


def test_prometheus_scrapes_the_pipeline_port_then_the_targets_it_is_given(prometheus):
    first, second = prometheus.data["pipeline_port"], base.free_port()
    servers = [serve_exporter(first), serve_exporter(second)]
    try:
        assert wait_for(lambda: scraped(prometheus, first), SCRAPE_DEADLINE_S)
        metrics.scrape(prometheus, [f"127.0.0.1:{second}"])
        assert wait_for(lambda: scraped(prometheus, second), SCRAPE_DEADLINE_S)
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


def test_the_generated_config_passes_promtool(prometheus):
    config = Path(prometheus.data["folder"]) / "prometheus.yml"
    check = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_missing_prometheus_names_the_ways_to_get_it(monkeypatch):
    monkeypatch.setattr(metrics.shutil, "which", lambda name: None)
    with pytest.raises(services.ServiceError) as err:
        metrics.binary("prometheus-pushgateway")
    for way in ("apt-get install prometheus prometheus-pushgateway", "prometheus.io/download",
                "docker-compose"):
        assert way in str(err.value)


def service_trees(names) -> set[int]:
    pids = {services.status(name).pid for name in names}
    return pids | {child for pid in pids for child in processes.descendants(pid)}


NAMES = ("s3", "pushgateway", "prometheus")


def test_every_listener_is_on_loopback(lake, prometheus):
    for name in NAMES:
        addresses = processes.listening(service_trees([name]))
        assert addresses and all(a.startswith("127.0.0.1:") for a in addresses), (name, addresses)


def test_stopping_leaves_no_process(lake, prometheus):
    tree = service_trees(NAMES)
    for name in NAMES:
        assert services.stop(name)
    assert wait_for(lambda: not any(processes.running(pid) for pid in tree), 10)
    assert all(services.status(name) is None for name in NAMES)
