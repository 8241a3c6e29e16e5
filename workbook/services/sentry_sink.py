"""A local Sentry sink's server: what sentry-sdk reports (a failed run's exception, with its
stack and tags) is received over Sentry's own protocol and stored as one JSON file per event,
which the notebooks read back, as the SMTP sink stores the alerts.

workbook.services.sentry starts it (its endpoint's URL is the DSN) and reads the events back.
The server accepts

- `POST /api/<project>/envelope/`, what sentry-sdk 2.x sends: an envelope header (one JSON
  line), then items, each an item header (one JSON line with its `type` and, optionally, the
  payload's `length` in bytes; without it the payload ends at the next newline) and a payload.
  `event` items are stored; other items (sessions, client reports, transactions...) are
  accepted and counted in the log, as Sentry accepts what it does not keep;
- `POST /api/<project>/store/`, the legacy endpoint of older SDKs: one JSON event;
- a body compressed with gzip or deflate (zlib or raw), or br when the `brotli` package is
  there (sentry-sdk compresses with br only when it has that package, else with gzip);
- the key in `X-Sentry-Auth: Sentry sentry_key=...` (or `Authorization`), or in a
  `sentry_key` query parameter as browser SDKs send it. Another key gets 401.

A malformed envelope gets 400 with the reason (and a line in the log), and nothing of it is
stored; a body over the limits gets 413. Run as
`python -m workbook.services.sentry_sink --port PORT --events DIR --public-key KEY`.
"""

import argparse
import json
import re
import secrets
import sys
import uuid
import zlib
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from workbook.files import write_atomic
from workbook.services.base import JsonHandler
from workbook.services.sentry import NAME, PROJECT_ID

MAX_BODY = 20 * 2**20  # bytes as sent (Sentry's own limit for a compressed envelope: 20 MB)
MAX_DECODED = 50 * 2**20  # bytes once decompressed (a small body can inflate to gigabytes)
MAX_EVENT = 2**20  # bytes of one event's payload (Sentry's limit: 1 MB)
ROUTE = re.compile(r"/api/(?P<project>[^/]+)/(?P<kind>envelope|store)/?")
HEALTH_BODY = {"ok": True, "service": NAME}  # carries sentry.HEALTH_MARK


class Rejected(ValueError):
    """A request the sink refuses: the HTTP status and the reason it answers with."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status


# --- the protocol -------------------------------------------------------------------------


def sentry_key(headers, query: str) -> str | None:
    """The public key a request authenticates with: X-Sentry-Auth (or Authorization, as Relay
    also reads it) `Sentry sentry_key=..., sentry_version=7, ...`, else `?sentry_key=`."""
    for name in ("X-Sentry-Auth", "Authorization"):
        value = headers.get(name) or ""
        if value.startswith("Sentry "):
            fields = dict(part.strip().partition("=")[::2] for part in value[7:].split(","))
            if fields.get("sentry_key"):
                return fields["sentry_key"]
    return (parse_qs(query).get("sentry_key") or [None])[0]


def decode(body: bytes, encoding: str) -> bytes:
    """The body without its Content-Encoding (lowercase), never more than MAX_DECODED bytes."""
    if encoding == "identity":
        return body
    if encoding == "br":
        try:
            import brotli
        except ImportError:
            raise Rejected(415, "Content-Encoding br needs the brotli package, which this sink's "
                                "environment lacks; send gzip (sentry-sdk does when it lacks "
                                "brotli too)") from None
        try:
            decoded = brotli.decompress(body)  # no streaming limit in brotli's API: bounded
        except brotli.error as err:  # by MAX_BODY, as its ratio is bounded in practice
            raise Rejected(400, f"body is not valid br data: {err}") from None
        return _bounded(decoded)
    modes = {"gzip": [16 + zlib.MAX_WBITS], "x-gzip": [16 + zlib.MAX_WBITS],
             "deflate": [zlib.MAX_WBITS, -zlib.MAX_WBITS]}  # deflate: zlib-wrapped, or raw
    if encoding not in modes:
        raise Rejected(415, f"unsupported Content-Encoding {encoding!r} "
                            "(this sink reads gzip, deflate and br)")
    for wbits in modes[encoding]:
        inflater = zlib.decompressobj(wbits)
        try:
            decoded = inflater.decompress(body, MAX_DECODED + 1)
        except zlib.error as err:
            error = err
            continue
        if not inflater.eof:
            raise Rejected(400, f"{encoding} body is truncated" if len(decoded) <= MAX_DECODED
                           else f"body is over {MAX_DECODED} bytes once decompressed")
        return _bounded(decoded)
    raise Rejected(400, f"body is not valid {encoding} data: {error}")


def _bounded(decoded: bytes) -> bytes:
    if len(decoded) > MAX_DECODED:
        raise Rejected(413, f"body is over {MAX_DECODED} bytes once decompressed")
    return decoded


def _json_object(data: bytes, what: str) -> dict:
    try:
        value = json.loads(data)
    except (UnicodeDecodeError, ValueError) as err:
        raise Rejected(400, f"{what} is not JSON: {err}") from None
    if not isinstance(value, dict):
        raise Rejected(400, f"{what} is not a JSON object")
    return value


def _line(data: bytes, at: int) -> tuple[bytes, int]:
    """The line that starts at `at` (without its newline), and where the next one starts."""
    end = data.find(b"\n", at)
    return (data[at:], len(data)) if end < 0 else (data[at:end], end + 1)


def parse_envelope(body: bytes) -> tuple[dict, list[tuple[dict, bytes]]]:
    """An envelope's header and its items as (item header, payload); Rejected(400) naming
    what is wrong when it is not one."""
    line, at = _line(body, 0)
    header = _json_object(line, "envelope header (the first line)")
    items = []
    while at < len(body):
        line, at = _line(body, at)
        if not line.strip():
            continue  # a blank line between items, or the final newline
        what = f"item {len(items) + 1}"
        item = _json_object(line, f"{what}'s header")
        if not isinstance(item.get("type"), str):
            raise Rejected(400, f"{what}'s header has no type")
        length = item.get("length")
        if length is None:
            payload, at = _line(body, at)
        elif isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise Rejected(400, f"{what}'s length is not a byte count: {length!r}")
        elif at + length > len(body):
            raise Rejected(400, f"{what} ({item['type']}) says {length} bytes, "
                                f"{len(body) - at} follow")
        else:
            payload, at = body[at:at + length], at + length
            at += body[at:at + 1] == b"\n"
        items.append((item, payload))
    return header, items


def event_id(event: dict, fallback: object = None) -> str:
    """The event's id as 32 lowercase hex digits (its file name); a new one if it has none."""
    given = event.get("event_id") or fallback
    if given is None:
        return uuid.uuid4().hex
    try:
        return uuid.UUID(str(given)).hex
    except ValueError:
        raise Rejected(400, f"event_id {str(given)[:60]!r} is not a UUID") from None


def events_of(kind: str, body: bytes) -> tuple[list[tuple[str, dict]], list[str]]:
    """The events (id, event) a request carries, and the types of the items it does not
    keep; nothing is stored when any part is malformed."""
    if kind == "store":
        event = _event_payload(body, "the event")
        return [(event_id(event), event)], []
    header, items = parse_envelope(body)
    kept = [(number, payload) for number, (item, payload) in enumerate(items, 1)
            if item["type"] == "event"]
    # The envelope header's event_id is its event's (the SDK writes it in both places).
    fallback = header.get("event_id") if len(kept) == 1 else None
    events = [(event_id(event, fallback), event) for event in
              (_event_payload(payload, f"item {number} (event)") for number, payload in kept)]
    return events, [item["type"] for item, _ in items if item["type"] != "event"]


def _event_payload(payload: bytes, what: str) -> dict:
    if len(payload) > MAX_EVENT:
        raise Rejected(413, f"{what} is over {MAX_EVENT} bytes")
    return _json_object(payload, what)


# --- the server ---------------------------------------------------------------------------


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


class Handler(JsonHandler):
    folder: Path
    public_key: str

    def do_GET(self):  # noqa: N802 (http.server's name)
        if urlparse(self.path).path == "/health":
            return self.send(200, HEALTH_BODY)
        self.send(404, {"detail": "not found"})

    def do_POST(self):  # noqa: N802
        try:
            self.send(200, self.receive())
        except Rejected as err:
            log(f"{err.status} {self.command} {urlparse(self.path).path[:80]}: {err}")
            self.send(err.status, {"detail": str(err)})

    def receive(self) -> dict:
        # The body is read first, whatever the answer: a server that closes the connection
        # with a body unread resets it, and the client may see that instead of the answer.
        body = self.body()
        url = urlparse(self.path)
        route = ROUTE.fullmatch(url.path)
        if not route:
            raise Rejected(404, f"no route {url.path}: sentry-sdk posts to "
                                f"/api/{PROJECT_ID}/envelope/")
        key = sentry_key(self.headers, url.query)
        if key is None:
            raise Rejected(401, "missing authorization: send X-Sentry-Auth: Sentry "
                                "sentry_key=<the DSN's public key>")
        if not secrets.compare_digest(key.encode(), self.public_key.encode()):
            raise Rejected(401, f"unknown public key {key[:40]!r}: use this sink's DSN "
                                "(`workbook services status sentry`)")
        if route["project"] != PROJECT_ID:
            raise Rejected(404, f"unknown project {route['project'][:20]!r}: this sink's DSN "
                                f"names project {PROJECT_ID}")
        encoding = self.headers.get("Content-Encoding", "").strip().lower() or "identity"
        events, others = events_of(route["kind"], decode(body, encoding))
        for identifier, event in events:
            write_atomic(self.folder / f"{identifier}.json",
                              json.dumps(event, indent=1).encode())
        log(f"200 {route['kind']} ({encoding}, {len(body)} bytes): {len(events)} event(s) stored"
            + (f", not kept: {', '.join(others)}" if others else ""))
        return {"id": events[0][0]} if events else {}

    def body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if self.headers.get("Transfer-Encoding") or length is None:
            raise Rejected(411, "send the body with a Content-Length")
        if not length.isdigit():
            raise Rejected(400, f"Content-Length {length[:20]!r} is not a byte count")
        if int(length) > MAX_BODY:
            raise Rejected(413, f"body of {length} bytes is over the limit of {MAX_BODY}")
        body = self.rfile.read(int(length))
        if len(body) < int(length):
            raise Rejected(400, f"body ended after {len(body)} of {length} bytes")
        return body


def serve(port: int, folder: Path, public_key: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    Handler.folder, Handler.public_key = folder, public_key
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    log(f"sentry sink on 127.0.0.1:{port}, project {PROJECT_ID}, events in {folder}")
    server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--events", type=Path, required=True)
    parser.add_argument("--public-key", required=True)
    args = parser.parse_args()
    serve(args.port, args.events, args.public_key)
