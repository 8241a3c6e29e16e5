"""The `sentry` sink, for real: sentry-sdk from the prefect environment reports to its DSN over
Sentry's envelope protocol, each event lands as one JSON file, other keys and malformed
envelopes are refused without harm, and nothing is left running once it stops."""

import gzip
import http.client
import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
import zlib
from pathlib import Path
from urllib.parse import urlparse

import pytest

from workbook import paths, processes, services
from workbook.services import base, sentry, sentry_sink

# A failed run as a flow would report it: tags, an exception raised two frames deep, captured,
# flushed. Run by the prefect environment's interpreter; prints the event id it got.
REPORT = """
import json, sys
import sentry_sdk

dsn, options = sys.argv[1], json.loads(sys.argv[2])
sentry_sdk.init(dsn=dsn, release="ingest@1.0", environment="course", **options)
sentry_sdk.set_tag("flow", "ingest_sensors")
sentry_sdk.set_tag("store", "seattle-1")

def validate(key):
    raise ValueError(f"{key}: column temperature_c is missing")

def ingest(key):
    validate(key)

try:
    ingest("incoming/fridge-07.csv")
except ValueError as err:
    event_id = sentry_sdk.capture_exception(err)
sentry_sdk.flush(timeout=20)
print(event_id)
"""


@pytest.fixture(scope="module", autouse=True)
def private_state(tmp_path_factory):
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "STATE_DIR", tmp_path_factory.mktemp("services"))
        yield
        services.stop("sentry")


@pytest.fixture(scope="module")
def sink():
    started = time.monotonic()
    with services.running("sentry") as endpoint:
        print(f"sentry sink healthy after {time.monotonic() - started:.2f} s")
        yield endpoint


def report(dsn: str, **options) -> subprocess.CompletedProcess:
    """REPORT against `dsn`. Without the integrations sentry-sdk enables when it finds their
    library (the prefect environment has dozens: 8 s of imports here) unless a test asks."""
    options = {"auto_enabling_integrations": False, **options}
    result = subprocess.run([str(paths.env_python("prefect")), "-c", REPORT, dsn,
                             json.dumps(options)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def stored(endpoint) -> set[str]:
    return {path.stem for path in Path(endpoint.data["events"]).glob("*.json")}


def log_text() -> str:
    return base.log_file("sentry").read_text()


def post(endpoint, body: bytes, route: str = "envelope", key: str | None = None,
         headers: dict | None = None) -> tuple[int, dict]:
    """A raw request to the sink (authenticated with its own key unless `key` says another)."""
    dsn = urlparse(endpoint.url)
    auth = {"X-Sentry-Auth": f"Sentry sentry_key={key or dsn.username}, sentry_version=7"}
    request = urllib.request.Request(
        f"http://127.0.0.1:{endpoint.port}/api/{sentry.PROJECT_ID}/{route}/", data=body,
        headers={"Content-Type": "application/x-sentry-envelope", **auth, **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def envelope(event: dict, length: bool = True) -> bytes:
    payload = json.dumps(event).encode()
    item = {"type": "event", **({"length": len(payload)} if length else {})}
    return b"\n".join([json.dumps({"event_id": event["event_id"]}).encode(),
                       json.dumps(item).encode(), payload]) + b"\n"


def an_event(message: str = "probe") -> dict:
    return {"event_id": uuid.uuid4().hex, "message": message, "level": "error",
            "platform": "python"}


def test_the_dsn_names_the_sink(sink):
    dsn = urlparse(sink.url)
    assert (dsn.scheme, dsn.hostname, dsn.port, dsn.path) == ("http", "127.0.0.1", sink.port,
                                                              f"/{sentry.PROJECT_ID}")
    assert len(dsn.username) == 32 and sentry.healthy(sink)


def test_sdk_reports_a_failed_run_with_its_stack_and_tags(sink):
    """sentry-sdk as installed and set up by default (gzip, as it has no brotli) through the
    envelope endpoint."""
    event_id = report(sink.url, auto_enabling_integrations=True).stdout.split()[-1]
    assert event_id in stored(sink)
    event = next(e for e in sentry.events(sink) if e["event_id"] == event_id)
    (exception,) = event["exception"]["values"]
    assert exception["type"] == "ValueError"
    assert exception["value"] == "incoming/fridge-07.csv: column temperature_c is missing"
    functions = [frame["function"] for frame in exception["stacktrace"]["frames"]]
    assert functions[-2:] == ["ingest", "validate"], functions
    assert all(frame["lineno"] > 0 for frame in exception["stacktrace"]["frames"])
    assert event["tags"] == {"flow": "ingest_sensors", "store": "seattle-1"}
    assert (event["release"], event["environment"]) == ("ingest@1.0", "course")
    assert "200 envelope (gzip" in log_text()


def test_sdk_uncompressed_and_a_deflated_body_are_read(sink):
    event_id = report(sink.url, _experiments={"transport_compression_level": 0}).stdout.split()[-1]
    assert event_id in stored(sink)
    assert "200 envelope (identity" in log_text()
    for compress in (zlib.compress, lambda data: zlib.compress(data, wbits=-zlib.MAX_WBITS)):
        event = an_event("deflated")
        status, answer = post(sink, compress(envelope(event)),
                              headers={"Content-Encoding": "deflate"})
        assert (status, answer) == (200, {"id": event["event_id"]})
        assert event["event_id"] in stored(sink)


def test_items_without_length_and_other_item_types(sink):
    """An item without `length` ends at its newline; sessions and client reports are accepted
    and not stored as events."""
    event = an_event("no length")
    session = b'{"type":"session"}\n{"sid":"x","status":"exited"}\n'
    report_item = b'{"type":"client_report","length":2}\n{}'
    status, answer = post(sink, envelope(event, length=False) + session + report_item)
    assert (status, answer) == (200, {"id": event["event_id"]})
    assert next(e for e in sentry.events(sink) if e["event_id"] == event["event_id"]) == event
    assert "not kept: session, client_report" in log_text()


def test_the_legacy_store_endpoint(sink):
    event = an_event("legacy")
    status, answer = post(sink, json.dumps(event).encode(), route="store",
                          headers={"Content-Type": "application/json"})
    assert (status, answer) == (200, {"id": event["event_id"]})
    assert event["event_id"] in stored(sink)


def test_another_key_is_refused_and_nothing_is_stored(sink):
    before = stored(sink)
    wrong = sink.url.replace(urlparse(sink.url).username, "0" * 32)
    result = report(wrong, debug=True)
    assert "401" in result.stderr and "unknown public key" in result.stderr
    status, answer = post(sink, envelope(an_event()), key="f" * 32)
    assert status == 401 and "unknown public key 'ffff" in answer["detail"]
    assert "use this sink's DSN" in answer["detail"]
    request = urllib.request.Request(f"http://127.0.0.1:{sink.port}/api/1/envelope/",
                                     data=envelope(an_event()))
    with pytest.raises(urllib.error.HTTPError) as missing:
        urllib.request.urlopen(request, timeout=10)
    assert missing.value.code == 401 and "X-Sentry-Auth" in json.loads(missing.value.read())[
        "detail"]
    assert stored(sink) == before


GOOD = an_event()
MALFORMED = {
    "header not JSON": (b"{not json\n", "envelope header"),
    "item without type": (b'{}\n{"length":2}\n{}\n', "has no type"),
    "length past the end": (b'{}\n{"type":"event","length":500}\n{}\n', "says 500 bytes, 3"),
    "negative length": (b'{}\n{"type":"event","length":-1}\n{}\n', "not a byte count"),
    "event not JSON": (b'{}\n{"type":"event"}\n<html>\n', "item 1 (event) is not JSON"),
    "event a list": (b'{}\n{"type":"event"}\n[1]\n', "not a JSON object"),
    "event_id a path": (b'{}\n{"type":"event"}\n{"event_id":"../../x"}\n', "not a UUID"),
    "not UTF-8": (b'{}\n{"type":"event"}\n\xff\xfe\n', "is not JSON"),
}


@pytest.mark.parametrize("case", MALFORMED)
def test_a_malformed_envelope_gets_400_and_the_next_good_one_is_stored(sink, case):
    body, reason = MALFORMED[case]
    before = stored(sink)
    status, answer = post(sink, body)
    assert status == 400 and reason in answer["detail"], answer
    assert stored(sink) == before and f"400 POST /api/1/envelope/: {answer['detail']}" in \
        log_text()
    event = an_event(case)
    assert post(sink, envelope(event)) == (200, {"id": event["event_id"]})
    assert base.alive(sink.pid)


def test_bodies_over_the_limits_are_refused(sink):
    before = stored(sink)
    # A declared size over the limit: refused before any of it is read.
    connection = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=10)
    connection.putrequest("POST", "/api/1/envelope/")
    connection.putheader("Content-Length", str(sentry_sink.MAX_BODY + 1))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "over the limit" in json.loads(response.read())["detail"]
    connection.close()
    # A small gzip body that inflates past the limit.
    bomb = gzip.compress(b"\n" * (sentry_sink.MAX_DECODED + 1))
    status, answer = post(sink, bomb, headers={"Content-Encoding": "gzip"})
    assert status == 413 and "once decompressed" in answer["detail"]
    status, answer = post(sink, b"\x1f\x8bnot gzip", headers={"Content-Encoding": "gzip"})
    assert status == 400 and "not valid gzip" in answer["detail"]
    status, answer = post(sink, b"{}", headers={"Content-Encoding": "zstd"})
    assert status == 415 and "zstd" in answer["detail"]
    assert stored(sink) == before and base.alive(sink.pid)


def test_unknown_routes_and_projects(sink):
    assert post(sink, envelope(an_event()), route="minidump")[0] == 404
    with urllib.request.urlopen(f"http://127.0.0.1:{sink.port}/health", timeout=5) as response:
        assert json.loads(response.read())["service"] == "sentry"
    wrong_project = sink.url.rsplit("/", 1)[0] + "/2"
    result = report(wrong_project, debug=True)
    assert "404" in result.stderr and "DSN names project 1" in result.stderr


def test_it_listens_on_loopback_only(sink):
    ours = processes.listening({sink.pid, *processes.descendants(sink.pid)})
    assert ours == [f"127.0.0.1:{sink.port}"]


def test_stop_leaves_no_process():
    """Last: it stops the module's sink too, when that one runs (its teardown then finds it
    stopped)."""
    endpoint = services.start("sentry")
    tree = {endpoint.pid, *processes.descendants(endpoint.pid)}
    assert services.stop("sentry")
    assert not any(processes.running(pid) for pid in tree) and not base.alive(endpoint.pid)
    assert services.status("sentry") is None and not base.state_file("sentry").exists()
