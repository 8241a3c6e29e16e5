"""What every local service shares: a free port, a state file with its endpoint, a health
check with a deadline, and a clean stop of its whole process group."""

import fcntl
import json
import os
import random
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from workbook import paths
from workbook.files import write_atomic
from workbook.waiting import wait_for

# Overridable so a grading run keeps its own services (its own state, in its own namespaces).
STATE_VARIABLE = "WORKBOOK_SERVICES_DIR"
STATE_DIR = Path(os.environ.get(STATE_VARIABLE) or paths.STATE / "services")
START_TIMEOUT_S = 60
# Set where nobody looks at a service's web pages (a grading run): servers skip their UI.
HEADLESS_VARIABLE = "WORKBOOK_HEADLESS"


def headless() -> bool:
    return os.environ.get(HEADLESS_VARIABLE) == "1"


class ServiceError(RuntimeError):
    """A service cannot start or answer; the message says what to do."""


@dataclass
class Endpoint:
    """A running service as the state file records it."""

    name: str
    url: str
    port: int
    pid: int
    data: dict = field(default_factory=dict)  # service-specific: data folder, mail folder...


# Servers listen below the ephemeral range. A port from it (a bind to port 0) is free only
# until the next outgoing connection or Jupyter kernel takes it, and CI saw one taken between
# free_port() and the server's bind.
SERVER_PORTS_FROM = 10000
PORT_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
MACOS_EPHEMERAL_FROM = 49152  # IANA's dynamic range, which macOS uses
PORT_PICKS = 200


def server_ports() -> range:
    """The ports a server of ours may take: from SERVER_PORTS_FROM to the ephemeral range."""
    try:
        ephemeral_from = int(PORT_RANGE_FILE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        ephemeral_from = MACOS_EPHEMERAL_FROM
    return range(SERVER_PORTS_FROM, ephemeral_from)


def bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    """A port nothing listens on, outside the range the system hands to connections."""
    ports = server_ports()
    picks = random.SystemRandom().sample(ports, min(PORT_PICKS, len(ports)))
    for port in picks:
        if bindable(port):
            return port
    raise ServiceError(f"no free port among {len(picks)} tried in {ports.start}-{ports.stop - 1}"
                       ": stop some servers (python -m workbook services down)")


def port_in_use(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port`."""
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def state_file(name: str) -> Path:
    return STATE_DIR / f"{name}.json"


def save(endpoint: Endpoint) -> None:
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    write_atomic(state_file(endpoint.name), json.dumps(asdict(endpoint), indent=1).encode())


def load(name: str) -> Endpoint | None:
    path = state_file(name)
    return Endpoint(**json.loads(path.read_text())) if path.exists() else None


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Held while a service is checked, started or stopped: a second process (another notebook,
    the shell) waits for a slow start (Prefect's takes up to a minute here) instead of taking
    the server that is starting for a dead one and stopping it."""
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    with open(STATE_DIR / f"{name}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def forget(name: str) -> None:
    state_file(name).unlink(missing_ok=True)


def alive(pid: int) -> bool:
    """Whether `pid` runs (a child of ours that exited is reaped here, not left a zombie)."""
    try:
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    except ChildProcessError:
        pass  # not our child: started by another process (the CLI, or pg_ctl's daemon)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by another user (the postgres server)
    return True


def log_file(name: str) -> Path:
    return STATE_DIR / f"{name}.log"


def state_folder(name: str, fresh: bool = False) -> Path:
    """A service's own folder under the state folder (emptied first when `fresh`)."""
    folder = STATE_DIR / name
    if fresh:
        shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def spawn_module(name: str, module: str, port: int, *args: str) -> subprocess.Popen:
    """A service written in Python, run by the base environment's interpreter (which has its
    packages, whichever kernel asks for the service), logging to its log file."""
    cmd = [str(paths.base_python()), "-m", module, "--port", str(port), *args]
    return spawn(cmd, log_file(name))


def spawn(cmd: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start a service process in its own session (so stopping its group stops it all), with
    `env` as its whole environment (default: this process's)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, env=env)


def stop_group(pid: int, timeout: float = 10) -> None:
    """SIGTERM the process group, SIGKILL what is left after `timeout`."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5)):
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            return
        if wait_for(lambda: not alive(pid), wait, 0.1):
            return


def stop_tree(pid: int) -> None:
    """Stop `pid` with its group and every descendant, whatever session they moved to (a server
    that starts workers of its own); a ServiceError names any that survived."""
    from workbook import processes

    left = processes.stop_tree(pid)
    alive(pid)  # reaps it when it is our child
    if left:
        raise ServiceError(f"processes {left} of service process {pid} survived SIGKILL")


def http_ok(url: str, contains: str = "") -> bool:
    """Whether `url` answers 200 (a health endpoint), with `contains` in its body."""
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status == 200 and contains in response.read().decode(errors="replace")
    except OSError:
        return False


def await_health(check, timeout: float, what: str, log: Path, pid: int | None = None) -> None:
    """Wait for `check`; give up at once when the process `pid` has exited (its log says why)."""
    healthy = False

    def settled() -> bool:
        nonlocal healthy
        healthy = check()
        return healthy or (pid is not None and not alive(pid))

    if not wait_for(settled, timeout, 0.2):
        raise ServiceError(f"{what} did not become healthy within {timeout:.0f} s; log:\n"
                           f"{log_tail(log)}")
    if not healthy:
        raise ServiceError(f"{what} exited while starting; log:\n{log_tail(log)}")


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-1500:] if log.exists() else ""


class JsonHandler(BaseHTTPRequestHandler):
    """What the HTTP services written in Python share: JSON answers, no access log."""

    def send(self, status: int, body: bytes | dict, headers: dict | None = None) -> None:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass
