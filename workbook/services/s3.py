"""The data lake's S3, with event notifications to SQS: moto's server in a process of its own.

Run as `python -m workbook.services.s3 --port PORT` (moto[server] and boto3, base env). It must
not run inside a kernel: in the same process as delta-rs, moto's server deadlocks it.

The layout the advanced level uses, named here only:

    s3://lake/incoming/     where the stores' sensors upload their files; only uploads here
                            notify the queue (s3:ObjectCreated:* with a prefix filter)
    s3://lake/tables/       the Delta tables (readings, features)
    s3://lake/quarantine/   bad files, each with its errors report
    SQS queue lake-events   one S3 event message per upload under incoming/; its object keys
                            are URL-encoded as AWS encodes them (`incoming%2Fstore%3DSeattle+
                            Ballard%2Fx.csv`): decode with urllib.parse.unquote_plus

On AWS the bucket's name must be globally unique (a lesson parameter then), and the queue needs
an access policy letting s3.amazonaws.com send to it; moto checks neither.
"""

import argparse
import logging
import threading

from workbook.services import base
from workbook.services.base import Endpoint

BUCKET = "lake"
INCOMING, TABLES, QUARANTINE = "incoming/", "tables/", "quarantine/"
REPORTS, DEAD_LETTERS = "reports/", "deadletter/"  # per-partition outputs, and their failures
QUEUE = "lake-events"
REGION = "us-east-1"  # needs no LocationConstraint when a bucket is created
NOTIFICATION_ID = "incoming-to-queue"  # the health check looks for it on the bucket
MOTO_ACCOUNT = "123456789012"  # moto's default account, part of its queue URLs


def environment(endpoint_url: str | None, region: str = REGION) -> dict[str, str]:
    """The AWS_* variables a kernel's boto3, s3fs and delta-rs need (also delta-rs's
    storage_options). `endpoint_url=None` means real AWS: credentials then come from the
    learner's own AWS configuration. Only the local endpoint is tested here (no cloud account)."""
    if endpoint_url is None:
        return {"AWS_REGION": region, "AWS_DEFAULT_REGION": region}
    return {"AWS_ENDPOINT_URL": endpoint_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",  # moto: any
            "AWS_ALLOW_HTTP": "true",  # delta-rs (object_store) refuses plain http otherwise
            "AWS_EC2_METADATA_DISABLED": "true"}  # no instance-metadata lookups on a laptop


def clients(endpoint_url: str | None, region: str = REGION):
    """boto3's S3 and SQS clients for the endpoint (as `environment` describes it)."""
    import boto3

    variables = environment(endpoint_url, region)
    kwargs = {"region_name": region, "endpoint_url": endpoint_url}
    if endpoint_url is not None:
        from botocore.config import Config

        # A local server that is down refuses at once: say so after a few quick tries, not
        # after botocore's default minute-long connect time-outs.
        kwargs |= {"aws_access_key_id": variables["AWS_ACCESS_KEY_ID"],
                   "aws_secret_access_key": variables["AWS_SECRET_ACCESS_KEY"],
                   "config": Config(connect_timeout=5, retries={"max_attempts": 3,
                                                                "mode": "standard"})}
    return boto3.client("s3", **kwargs), boto3.client("sqs", **kwargs)


def provision(s3, sqs, bucket: str = BUCKET, queue: str = QUEUE) -> str:
    """Create the bucket and the queue, send the bucket's uploads under incoming/ to the queue,
    and return the queue's URL. S3 sends an s3:TestEvent when notifications are set; it is
    removed, so the queue starts empty and its first message is the first upload."""
    s3.create_bucket(Bucket=bucket)
    queue_url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url,
                                   AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = {"Key": {"FilterRules": [{"Name": "prefix", "Value": INCOMING}]}}
    s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
        "QueueConfigurations": [{"Id": NOTIFICATION_ID, "QueueArn": arn,
                                 "Events": ["s3:ObjectCreated:*"], "Filter": rule}]})
    sqs.purge_queue(QueueUrl=queue_url)
    return queue_url


def lighten_requests() -> None:
    """Per-request costs of moto's server that a lesson's thousands of requests add up to
    (profiled with py-spy: more than half its CPU): its dispatcher lists moto's package folder
    (some 200 entries, a stat each) to find every request's service, under a lock; werkzeug
    logs every request line, to a log file nobody reads; and SQS's receive asks, for each
    message it returns, the queue's retention period through the queue's every attribute,
    three counts of its messages among them (each receive then walks the whole queue again and
    again). The listing is taken once, werkzeug logs only errors, and the retention period is
    read alone."""
    from moto import backends
    from moto.core.utils import unix_time
    from moto.sqs.models import SQSBackend

    def retained(backend, queue_name: str, message) -> bool:
        period = int(backend.get_queue(queue_name).message_retention_period)
        return period + message.sent_timestamp / 1000 > unix_time()

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    SQSBackend.is_message_valid_based_on_retention_period = retained


def serve(port: int) -> None:
    """moto's server on 127.0.0.1 (a thread of this process), provisioned, until SIGTERM."""
    from moto.server import ThreadedMotoServer

    lighten_requests()
    ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
    provision(*clients(f"http://127.0.0.1:{port}"))
    threading.Event().wait()


def start() -> Endpoint:
    port = base.free_port()
    url = f"http://127.0.0.1:{port}"
    proc = base.spawn_module("s3", "workbook.services.s3", port)
    return Endpoint("s3", url, port, proc.pid, {
        "region": REGION, "bucket": BUCKET, "queue_url": f"{url}/{MOTO_ACCOUNT}/{QUEUE}",
        "prefixes": {"incoming": INCOMING, "tables": TABLES, "quarantine": QUARANTINE},
        "environment": environment(url)})


def healthy(endpoint: Endpoint) -> bool:
    """Whether the bucket's notifications are set: the last step of provisioning (plain HTTP,
    so any kernel can ask, with or without boto3)."""
    return base.http_ok(f"{endpoint.url}/{BUCKET}?notification", NOTIFICATION_ID)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    serve(parser.parse_args().port)
