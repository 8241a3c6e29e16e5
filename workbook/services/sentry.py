"""The Sentry sink as a service: `start()` spawns it (workbook.services.sentry_sink, the server,
whose docstring describes the protocol it speaks), its endpoint's URL is the DSN to give
`sentry_sdk.init(dsn=...)`: `http://<public key>@127.0.0.1:<port>/<project id>`, and `events()`
reads back what it stored: one JSON file per event, named by its event_id.
"""

import json
import secrets
from pathlib import Path

from workbook.services import base
from workbook.services.base import Endpoint

NAME = "sentry"
PROJECT_ID = "1"
HEALTH_MARK = f'"service": "{NAME}"'  # in the health answer: this sink, not another server


def start() -> Endpoint:
    """Spawn the sink with a new public key; its endpoint's URL is the DSN."""
    port, folder, key = base.free_port(), base.state_folder(NAME), secrets.token_hex(16)
    proc = base.spawn_module(NAME, "workbook.services.sentry_sink", port, "--events", str(folder),
                             "--public-key", key)
    dsn = f"http://{key}@127.0.0.1:{port}/{PROJECT_ID}"
    return Endpoint(NAME, dsn, port, proc.pid, {"events": str(folder)})


def healthy(endpoint: Endpoint) -> bool:
    return base.http_ok(f"http://127.0.0.1:{endpoint.port}/health", HEALTH_MARK)


def events(endpoint: Endpoint | str | Path) -> list[dict]:
    """The events the sink stored (an endpoint, or its events folder), oldest first."""
    folder = Path(endpoint.data["events"] if isinstance(endpoint, Endpoint) else endpoint)
    files = sorted(folder.glob("*.json"), key=lambda path: (path.stat().st_mtime_ns, path.name))
    return [json.loads(path.read_text()) for path in files]
