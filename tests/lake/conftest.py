"""Fixtures of the lake pipeline's tests: the real S3 service (moto's server in its own
process), a fresh bucket per test holding the committed sample's files, uploaded in the order
they arrive, and the answer key as the oracle. Runs in each orchestrator's environment
(`python -m workbook pytest prefect tests/lake`, then `dagster` on test_dagster_*): the
pipeline's own tests run once, in the prefect one (both lock the same pipeline libraries,
tests/test_environments.py), and each orchestrator's tests (test_prefect_*, test_dagster_*) in
its own. The base session skips this folder."""

import importlib.util
import os
import shutil
import sys
import uuid
from pathlib import Path

import pytest

SERVICES_DIR = Path(os.environ.setdefault(
    "WORKBOOK_SERVICES_DIR", str(Path(os.environ.get("TMPDIR", "/tmp")) /
                                 f"workbook-test-services-{os.getpid()}")))

from workbook import paths, services  # noqa: E402
from workbook.lake import Lake  # noqa: E402
from workbook.sensors import AnswerKey, read_answer_key  # noqa: E402

SAMPLE = paths.ROOT / "datasets" / "sample" / "sensors"
ORCHESTRATORS = ("prefect", "dagster")
collect_ignore_glob = [f"test_{name}_*.py" for name in ORCHESTRATORS
                       if importlib.util.find_spec(name) is None]


@pytest.fixture(scope="session", autouse=True)
def stop_every_service():
    """Every service this session started is stopped when it ends, not before: the modules
    share one Prefect server, since Prefect reads its API's URL once per process (a server
    stopped by one module and started again on another port would be out of reach)."""
    yield
    for name in services.NAMES:
        services.stop(name)
    shutil.rmtree(SERVICES_DIR, ignore_errors=True)


@pytest.fixture(scope="session")
def s3_endpoint():
    """The s3 service, running for the whole session."""
    return services.start("s3")


@pytest.fixture(scope="session")
def prefect_api(s3_endpoint):
    """The session's Prefect server, this process's Prefect API (set before prefect is
    imported: it reads the URL once per process). Its last run logs are sent while the server
    is still there."""
    import logging

    from workbook.services import prefect as prefect_service

    endpoint = services.start(prefect_service.NAME)
    os.environ.update(prefect_service.client_environ(endpoint))
    yield endpoint
    if "prefect" in sys.modules:
        from prefect.logging.handlers import APILogHandler

        for logger in [logging.getLogger(), *logging.Logger.manager.loggerDict.values()]:
            for handler in getattr(logger, "handlers", []):
                if isinstance(handler, APILogHandler):
                    handler.flush()


@pytest.fixture(scope="session")
def answer_key() -> AnswerKey:
    return read_answer_key(SAMPLE)


@pytest.fixture
def lake(s3_endpoint) -> Lake:
    """A new, empty bucket on the service: a test's files, table and quarantine are its own."""
    found = Lake(f"lake-{uuid.uuid4().hex[:12]}", s3_endpoint.url)
    found.s3.create_bucket(Bucket=found.bucket)
    return found


def upload(lake: Lake, files) -> list[str]:
    """Put each file, then its manifest (as a device does), in arrival order; the data keys."""
    for f in sorted(files, key=lambda f: (f.arrives_at, f.key)):
        lake.s3.put_object(Bucket=lake.bucket, Key=f.key, Body=(SAMPLE / f.key).read_bytes())
        lake.s3.put_object(Bucket=lake.bucket, Key=f.manifest_key,
                           Body=(SAMPLE / f.manifest_key).read_bytes())
    return [f.key for f in files]


@pytest.fixture
def uploaded(lake, answer_key) -> Lake:
    """The fresh bucket with every sample file in incoming/."""
    upload(lake, answer_key.files)
    return lake
