"""Local services with real protocols: PostgreSQL, an Open-Meteo-style weather API, an SMTP sink,
S3 with event notifications to SQS, a Prometheus pushgateway and a Prometheus server, the Prefect
API, a Sentry sink for sentry-sdk's error reports.

`start(name)` returns the running service's Endpoint (starting it if needed), `stop(name)`
stops it, `running(name)` does both around a `with` block; `workbook services up|down|status`
is the same from the shell. Each picks a free port on 127.0.0.1 and records its endpoint in
.workbook/services/<name>.json, so notebooks, tests and the shell share one instance.
"""

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from workbook.services import base, metrics, postgres, prefect, s3, sentry
from workbook.services.base import HEADLESS_VARIABLE, STATE_VARIABLE, Endpoint, ServiceError

__all__ = ["HEADLESS_VARIABLE", "STATE_VARIABLE", "Endpoint", "ServiceError", "prepare", "running",
           "start", "status", "stop"]
NAMES = ("postgres", "weather", "smtp", "s3", "pushgateway", "prometheus", "prefect", "sentry")
MAILDIR = "mail"  # the SMTP sink's folder, in its state folder
# The learner's services folder, as the grader's checker sees it (it reads the mail they sent).
LEARNER_SERVICES_VARIABLE = "WORKBOOK_LEARNER_SERVICES_DIR"


def _start_weather() -> Endpoint:
    port = base.free_port()
    proc = base.spawn_module("weather", "workbook.services.weather", port)
    return Endpoint("weather", f"http://127.0.0.1:{port}", port, proc.pid)


def _start_smtp() -> Endpoint:
    port, maildir = base.free_port(), base.STATE_DIR / MAILDIR
    proc = base.spawn_module("smtp", "workbook.services.smtp", port, "--maildir", str(maildir))
    return Endpoint("smtp", f"smtp://127.0.0.1:{port}", port, proc.pid, {"maildir": str(maildir)})


def learner_maildir() -> Path:
    """Where the learner's SMTP sink stored their mail (for the grader's checker)."""
    return Path(os.environ[LEARNER_SERVICES_VARIABLE]) / MAILDIR


def _http_ok(endpoint: Endpoint) -> bool:
    return base.http_ok(f"{endpoint.url}/health")


def _smtp_ok(endpoint: Endpoint) -> bool:
    import smtplib

    try:
        with smtplib.SMTP("127.0.0.1", endpoint.port, timeout=2) as client:
            return client.noop()[0] == 250
    except OSError:
        return False


def _start_prometheus() -> Endpoint:
    """Prometheus scrapes the pushgateway: started first if needed, left running at the stop."""
    return metrics.start_prometheus(start("pushgateway"))


STARTERS = {"postgres": postgres.start, "weather": _start_weather, "smtp": _start_smtp,
            "s3": s3.start, "pushgateway": metrics.start_pushgateway,
            "prometheus": _start_prometheus, "prefect": prefect.start, "sentry": sentry.start}
HEALTH = {"postgres": postgres.healthy, "weather": _http_ok, "smtp": _smtp_ok, "s3": s3.healthy,
          "pushgateway": metrics.healthy, "prometheus": metrics.healthy,
          "prefect": prefect.healthy, "sentry": sentry.healthy}
# Those that stop otherwise than by their process group, and those slower to start than most.
STOPPERS = {"postgres": postgres.stop, "prefect": lambda endpoint: base.stop_tree(endpoint.pid)}
START_TIMEOUTS = {"prefect": prefect.START_TIMEOUT_S}


def prepare() -> None:
    """Make what services started in the grader's sandboxes read but cannot make there (their
    environments are read-only): once, before the sandboxes start."""
    prefect.schema_database()


def _check_name(name: str) -> None:
    if name not in NAMES:
        raise ServiceError(f"unknown service {name!r}; known: {', '.join(NAMES)}")


def status(name: str) -> Endpoint | None:
    """The running service, or None (a stale state file is removed); waits while another
    process is starting or stopping it."""
    _check_name(name)
    with base.exclusive(name):
        return _status(name)


def _status(name: str) -> Endpoint | None:
    endpoint = base.load(name)
    if endpoint and base.alive(endpoint.pid) and HEALTH[name](endpoint):
        return endpoint
    if endpoint:
        _stop(name)
    return None


def start(name: str) -> Endpoint:
    """The running service, started first if needed (health-checked before it is returned)."""
    _check_name(name)
    with base.exclusive(name):
        if endpoint := _status(name):
            return endpoint
        endpoint = STARTERS[name]()
        base.save(endpoint)
        try:
            base.await_health(lambda: HEALTH[name](endpoint),
                              START_TIMEOUTS.get(name, base.START_TIMEOUT_S), name,
                              base.log_file(name), endpoint.pid)
        except ServiceError:
            _stop(name)
            raise
        return endpoint


def stop(name: str) -> bool:
    """Stop the service if it runs; True if something was stopped."""
    _check_name(name)
    with base.exclusive(name):
        return _stop(name)


def _stop(name: str) -> bool:
    endpoint = base.load(name)
    if endpoint is None:
        return False
    STOPPERS.get(name, lambda found: base.stop_group(found.pid))(endpoint)
    base.forget(name)
    return True


@contextmanager
def running(name: str) -> Iterator[Endpoint]:
    """The service for a `with` block; stopped afterwards only if this block started it."""
    already = status(name)
    endpoint = already or start(name)
    try:
        yield endpoint
    finally:
        if already is None:
            stop(name)


def main(action: str, names: list[str]) -> int:
    names = names or list(NAMES)
    try:
        for name in names:
            if action == "up":
                print(f"{name}: {start(name).url}")
            elif action == "down":
                print(f"{name}: {'stopped' if stop(name) else 'was not running'}")
            else:
                endpoint = status(name)
                print(f"{name}: {endpoint.url if endpoint else 'not running'}")
    except ServiceError as err:
        print(f"workbook services: {err}", file=sys.stderr)
        return 1
    return 0
