"""Prefect's settings for the advanced level's Prefect track: its home inside the project,
analytics off, a server start-up timeout a 2-core laptop meets, and the project's one Prefect
server (the `prefect` service) as the API of every kernel and CLI call.

Without an API URL each Prefect process starts a temporary server of its own (about 13 s here,
and more than Prefect's default 20 s limit on a loaded machine); with PREFECT_API_URL they all
share one. Prefect reads its settings when first imported, so `activate()` must run before any
`import prefect` in a notebook (the lessons' setup cell calls it first).
"""

import os
import sys
from pathlib import Path

from workbook import lesson, paths

ENV = "prefect"
# Seconds a server may take to answer. Measured here: 20 s warm and 40 s cold with the machine
# loaded (load 6 on 2 cores), over 120 s cold at load 15; Prefect's default (20 s) fails there.
STARTUP_TIMEOUT_S = 240
# Seconds at most that a task run waiting for a concurrency slot sleeps before asking the server
# again (its answer's Retry-After). Prefect's defaults, 10 s for tag limits and 30 s for global
# limits, suit hour-long tasks; with sub-second tasks (the lessons') they leave slots idle for
# most of a run: 40 reads under a tag limit of 3 took 42 s with them, a few seconds with this.
SLOT_WAIT_S = 0.2


def default_home() -> Path:
    """PREFECT_HOME: in the services' state folder, beside the server that writes its database
    there; a test session or a grading run, which keep their own services, keep their own."""
    from workbook.services import base

    return base.STATE_DIR / "prefect"


def environ(home: Path | None = None, api_url: str = "") -> dict[str, str]:
    """The variables Prefect reads at import time; with `api_url`, the server it talks to."""
    variables = {
        "PREFECT_HOME": str(home or default_home()),  # database, profiles, results: not ~/.prefect
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",  # the server's usage report (offline: errors)
        "DO_NOT_TRACK": "1",  # the SDK's own usage events (prefect._internal.analytics)
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": str(STARTUP_TIMEOUT_S),
        # read by the server (and by an ephemeral one): see SLOT_WAIT_S
        "PREFECT_SERVER_TASKS_TAG_CONCURRENCY_SLOT_WAIT_SECONDS": str(SLOT_WAIT_S),
        "PREFECT_SERVER_CONCURRENCY_MAXIMUM_CONCURRENCY_SLOT_WAIT_SECONDS": str(SLOT_WAIT_S),
        # The console shows warnings and errors only: a notebook's output is not a log of every
        # flow and task run's INFO lines. The server (the UI) still gets every level.
        "PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL": "WARNING",
        "PREFECT_LOGGING_COLORS": "false",  # no terminal colour codes in notebook outputs
    }
    if api_url:
        variables["PREFECT_API_URL"] = api_url
    return variables


def prefect_cli() -> Path:
    """The prefect command of this interpreter's environment (inside the prefect kernel), else
    of the prefect environment found by name (see `paths.env_python`)."""
    here = Path(sys.executable).with_name("prefect")
    return here if here.exists() else paths.env_python(ENV).with_name("prefect")


class Unreachable(RuntimeError):
    """Nothing answers at a Prefect API URL a lesson was given."""


def answers(api_url: str, timeout_s: float = 10) -> None:
    """Raise Unreachable, naming the URL, when nothing answers there: a flow would otherwise
    fail later, deep in its first API call. Any HTTP answer will do (Prefect Cloud asks for a
    key before it says it is healthy)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"{api_url.rstrip('/')}/health", timeout=timeout_s).close()
    except urllib.error.HTTPError:
        return
    except (OSError, ValueError) as err:
        reason = getattr(err, "reason", err)
        raise Unreachable(f"the Prefect API at {api_url} does not answer ({reason}): check the "
                          "URL, or leave api_url = None to use the project's own server") from err


def activate(api_url: str | None = None) -> dict[str, str]:
    """Point this process's Prefect at `api_url` (a notebook parameter: Prefect Cloud, another
    server) or, when None, at the project's server, started if needed.

    In the grader's checker, which judges files and data and runs no flow, it does nothing."""
    if lesson.checking():
        return {}
    if api_url:
        answers(api_url)
        variables = environ(api_url=api_url)
    else:
        from workbook import services
        from workbook.services import prefect as prefect_service

        variables = prefect_service.client_environ(services.start(prefect_service.NAME))
    os.environ.update(variables)
    return variables
