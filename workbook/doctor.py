"""`make doctor`: one line per check of this machine, with the fix for each failure.

A failure stops the course (exit 1); a warning limits it (a lesson needs a package, a port is
taken); information is what `make lab` does by itself (environments not built yet).
"""

import shutil
import subprocess
import sys
from collections.abc import Callable

from workbook import envs, paths, system
from workbook.services.base import port_in_use

MIN_FREE_GB = 5
# Ports the later levels' UIs default to; a busy one is only a warning (services pick free ports).
UI_PORTS = {8888: "JupyterLab", 8080: "Airflow UI", 4200: "Prefect UI", 3000: "Dagster UI"}


class Check:
    """One line: ok, or a problem of `level` ("fail", "warn" or "info") with its fix."""

    def __init__(self, ok: bool, detail: str, fix: str = "", level: str = "fail"):
        self.ok, self.detail, self.fix, self.level = ok, detail, fix, level


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
        return Check(False, f"environment {env}: not built yet", "`make lab` builds it",
                     level="info")
    if not envs.is_current(env):
        return Check(False, f"environment {env}: older than its lock", "`make lab` updates it",
                     level="info")
    probe = subprocess.run([str(python), "-c", "import workbook"], capture_output=True, text=True)
    return Check(probe.returncode == 0, f"environment {env}: imports workbook",
                 f"run `rm -rf .venvs/{env} && make setup` ({probe.stderr.strip()[-200:]})")


def kernel_registered(env: str) -> Check:
    if not paths.venv_python(env).exists():
        return Check(False, f"kernel {paths.kernel_name(env)}: its environment is not built yet",
                     "`make lab` registers it", level="info")
    ok = envs.kernel_is_registered(env)
    return Check(ok, f"kernel {paths.kernel_name(env)} registered for this checkout",
                 "run `make setup` (kernel.json holds an absolute path: re-register after "
                 "moving the folder)")


def port_free(port: int, what: str) -> Check:
    busy = port_in_use(port)
    return Check(not busy, f"port {port} ({what}) on 127.0.0.1: {'in use' if busy else 'free'}",
                 f"something listens on {port}; the workbook picks another port, or stop it",
                 level="warn")


def system_package(need: system.Need) -> Check:
    return Check(need.present(), f"{need.package}: {need.why}",
                 f"`make test` installs it (as root or with sudo), or `sudo apt-get install "
                 f"{need.package}`", level="warn")


def all_checks() -> list[Callable[[], Check]]:
    checks = [python_version, uv_available, disk_space]
    for env in paths.env_names():
        checks.append(lambda env=env: env_importable(env))
    for env in paths.level_envs():
        checks.append(lambda env=env: kernel_registered(env))
    checks += [lambda p=p, w=w: port_free(p, w) for p, w in UI_PORTS.items()]
    checks += [lambda need=need: system_package(need) for need in system.NEEDS]
    return checks


def main() -> int:
    failures = 0
    for check in all_checks():
        result = check()
        status = "ok  " if result.ok else {"fail": "FAIL"}.get(result.level, result.level)
        line = f"[{status}] {result.detail}"
        if not result.ok:
            line += f"\n       {'fix' if result.level != 'info' else 'note'}: {result.fix}"
            failures += result.level == "fail"
        print(line)
    print(f"\n{'all checks passed' if not failures else f'{failures} check(s) failed'}")
    return 1 if failures else 0
