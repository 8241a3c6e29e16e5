"""The advanced level's shared pipeline: sensor files on S3 into a Delta table, exactly once.

Plain functions, no orchestrator: the level's first notebook writes and tests them, and the
Prefect and Dagster tracks wrap the same ones. One module per job:

    keys        which files to process: new keys since a watermark, keys in an S3 event
    validate    is a file good: its manifest (Pydantic), its rows (pandera), its bytes
    table       the Delta table of readings: one commit per batch, each file's key and ETag
                recorded in that commit (the exactly-once mechanism), compaction and vacuum
    quarantine  a bad file moved aside with its errors report, in an order that loses nothing
    ingest      a batch: validate each file, one commit for the good ones, quarantine the bad
    deadletter  one record per failed partition of later work (a store's report), cleared
                when it succeeds: the list of what to re-run
    metrics     what a run records for Prometheus (pushed per run, or served), and the
                alert on freshness beside it (alerts.yml)

`Lake` names where things are (bucket, endpoint); everything else takes plain arguments.
Needs the prefect environment's packages (deltalake, pandera, pydantic, boto3).
"""

from dataclasses import dataclass
from functools import cached_property

from workbook.services.s3 import BUCKET, INCOMING, QUARANTINE, REGION, TABLES, environment


class LakeError(RuntimeError):
    """The lake cannot be used (S3 unreachable, no such bucket): a message for the user."""


@dataclass(frozen=True)
class Lake:
    """Where the lake is: a bucket on an S3 endpoint (None = real AWS). The readings table and
    the quarantine live in the same bucket, under tables/ and quarantine/."""

    bucket: str = BUCKET
    endpoint_url: str | None = None
    region: str = REGION
    incoming: str = INCOMING
    quarantine: str = QUARANTINE

    @property
    def storage_options(self) -> dict[str, str]:
        """What delta-rs needs to reach the endpoint (its `storage_options`)."""
        return environment(self.endpoint_url, self.region)

    def table_uri(self, name: str = "readings") -> str:
        return f"s3://{self.bucket}/{TABLES}{name}"

    def check(self) -> None:
        """Raise LakeError, saying which, when S3 does not answer or the bucket is not there:
        before a run lists or writes anything."""
        from botocore.exceptions import ClientError, EndpointConnectionError

        where = self.endpoint_url or "AWS"
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except EndpointConnectionError as err:
            raise LakeError(f"cannot reach S3 at {where}: {err}") from err
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
                raise LakeError(f"bucket {self.bucket!r} does not exist at {where}") from err
            raise LakeError(f"S3 at {where} refused bucket {self.bucket!r}: {err}") from err

    @cached_property
    def s3(self):
        """A boto3 S3 client for the endpoint (made once per Lake)."""
        from workbook.services.s3 import clients

        return clients(self.endpoint_url, self.region)[0]

    @cached_property
    def sqs(self):
        """A boto3 SQS client for the endpoint, for the bucket's event queue (made once per
        Lake)."""
        from workbook.services.s3 import clients

        return clients(self.endpoint_url, self.region)[1]
