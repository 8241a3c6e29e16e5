"""Bad input to the pipeline's command line gives a clear error, a non-zero exit, and loses
nothing: a bucket that does not exist, an S3 endpoint nobody answers on, and (with the files
there) a run that still ingests everything afterwards."""

import subprocess
import sys

from oracle import assert_exactly_once, listing

from workbook import paths
from workbook.lake import Lake, LakeError
from workbook.services.base import free_port


def ingest_cli(endpoint: str, bucket: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "workbook.lake.ingest", "--endpoint", endpoint,
                           "--bucket", bucket], cwd=paths.ROOT, capture_output=True, text=True,
                          timeout=120)


def test_a_bucket_that_does_not_exist_is_named(s3_endpoint, uploaded):
    before = listing(uploaded, "")
    done = ingest_cli(s3_endpoint.url, f"{uploaded.bucket}-missing")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip() == (f"error: bucket '{uploaded.bucket}-missing' does not exist "
                                   f"at {s3_endpoint.url}"), done.stderr
    assert "Traceback" not in done.stderr
    assert listing(uploaded, "") == before  # the real bucket: untouched


def test_an_unreachable_s3_is_named_quickly():
    closed = f"http://127.0.0.1:{free_port()}"
    done = ingest_cli(closed, "lake")
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.startswith(f"error: cannot reach S3 at {closed}: "), done.stderr
    assert "Traceback" not in done.stderr


def test_the_library_raises_the_same_error_before_writing(s3_endpoint):
    lake = Lake("no-such-bucket-here", s3_endpoint.url)
    try:
        lake.check()
    except LakeError as err:
        assert str(err) == f"bucket 'no-such-bucket-here' does not exist at {s3_endpoint.url}"
    else:
        raise AssertionError("check() passed on a bucket that does not exist")


def test_after_the_errors_a_good_run_ingests_every_file_once(s3_endpoint, uploaded, answer_key):
    assert ingest_cli(s3_endpoint.url, f"{uploaded.bucket}-missing").returncode == 2
    done = ingest_cli(s3_endpoint.url, uploaded.bucket)
    assert done.returncode == 0, done.stderr
    assert_exactly_once(uploaded, answer_key.files)
