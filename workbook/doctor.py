"""`make doctor`: one line per check of this machine, with the fix for each failure."""

import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from workbook import envs, paths

MIN_FREE_GB = 5
# Ports the later levels' UIs default to; a busy one is only a warning (services pick free ports).
UI_PORTS = {8888: "JupyterLab", 8080: "Airflow UI", 4200: "Prefect UI", 3000: "Dagster UI"}
PG_BINARIES = ("initdb", "pg_ctl", "postgres")


class Check:
    def __init__(self, ok: bool, detail: str, fix: str = "", warn_only: bool = False):
        self.ok, self.detail, self.fix, self.warn_only = ok, detail, fix, warn_only


def python_version() -> Check:
    ok = sys.version_info[:2] >= (3, 11)
    return Check(ok, f"Python {sys.version.split()[0]}",
                 "install Python 3.11+ (python.org, pyenv or your package manager)")


def uv_available() -> Check:
    found = envs.find_uv()
    return Check(bool(found), f"uv: {' '.join(found) if found else 'missing'}",
                 "run `make setup` (installs uv from PyPI) or `python3 -m pip install --user uv`")


def disk_space() -> Check:
    free_gb = shutil.disk_usage(paths.ROOT).free / 1e9
    return Check(free_gb >= MIN_FREE_GB, f"free disk {free_gb:.1f} GB (need {MIN_FREE_GB} GB)",
                 "free some disk space: the environments take about 3 GB")


def env_importable(env: str) -> Check:
    python = paths.venv_python(env)
    if not python.exists():
        return Check(False, f"environment {env}: not created", "run `make setup`")
    if not envs.is_current(env):
        return Check(False, f"environment {env}: older than its lock", "run `make setup`")
    probe = subprocess.run([str(python), "-c", "import workbook"], capture_output=True, text=True)
    return Check(probe.returncode == 0, f"environment {env}: imports workbook",
                 f"run `rm -rf .venvs/{env} && make setup` ({probe.stderr.strip()[-200:]})")


def kernel_registered(env: str) -> Check:
    ok = envs.kernel_is_registered(env)
    return Check(ok, f"kernel {paths.kernel_name(env)} registered for this checkout",
                 "run `make setup` (kernel.json holds an absolute path: re-register after "
                 "moving the folder)")


def port_free(port: int, what: str) -> Check:
    with socket.socket() as sock:
        busy = sock.connect_ex(("127.0.0.1", port)) == 0
    return Check(not busy, f"port {port} ({what}) free on 127.0.0.1",
                 f"something listens on {port}; the workbook picks another port, or stop it",
                 warn_only=True)


def postgres_binaries() -> Check:
    found = [b for b in PG_BINARIES if shutil.which(b) or list(
        Path("/usr/lib/postgresql").glob(f"*/bin/{b}"))]
    ok = len(found) == len(PG_BINARIES)
    return Check(ok, "PostgreSQL server binaries (intermediate level)",
                 "apt-get install postgresql / brew install postgresql@15, or use the "
                 "docker-compose file, or pass a postgres URL as a parameter", warn_only=True)


def all_checks() -> list[Callable[[], Check]]:
    checks = [python_version, uv_available, disk_space]
    for env in paths.env_names():
        checks.append(lambda env=env: env_importable(env))
    for env in paths.level_envs():
        checks.append(lambda env=env: kernel_registered(env))
    checks += [lambda p=p, w=w: port_free(p, w) for p, w in UI_PORTS.items()]
    checks.append(postgres_binaries)
    return checks


def main() -> int:
    failures = 0
    for check in all_checks():
        result = check()
        status = "ok  " if result.ok else ("warn" if result.warn_only else "FAIL")
        line = f"[{status}] {result.detail}"
        if not result.ok:
            line += f"\n       fix: {result.fix}"
            failures += not result.warn_only
        print(line)
    print(f"\n{'all checks passed' if not failures else f'{failures} check(s) failed'}")
    return 1 if failures else 0
