"""The machine's own packages the course needs (Debian names), and installing the missing ones.

`make test` runs `workbook system --install` first: as root, or with sudo that asks no password,
it installs what is missing and says what it installs; otherwise it stops before any test runs
with one message naming the packages and the command. `make doctor` reports the same list.
Standard library only: it runs before any environment exists.
"""

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


class PackagesError(RuntimeError):
    """What is missing cannot be installed here; the message says what to run."""


@dataclass(frozen=True)
class Need:
    package: str  # the Debian package
    present: Callable[[], bool]
    why: str


def _which(*names: str) -> Callable[[], bool]:
    return lambda: all(shutil.which(n) for n in names)


def _postgres() -> bool:
    return all(shutil.which(b) or list(Path("/usr/lib/postgresql").glob(f"*/bin/{b}"))
               for b in ("initdb", "pg_ctl", "postgres"))


FONT_FOLDERS = (Path("/usr/share/fonts"), Path("/System/Library/Fonts"), Path.home() / ".fonts")


def _emoji_font() -> bool:
    return any(next(folder.rglob("*[Ee]moji*"), None) for folder in FONT_FOLDERS
               if folder.is_dir())


NEEDS = (
    Need("cron", _which("cron", "crontab"), "lesson 01_beginner/04 installs a crontab entry"),
    Need("postgresql", _postgres, "the local PostgreSQL of the Airflow lessons"),
    Need("chromium", lambda: Path("/usr/bin/chromium").exists(),
         "the real-browser checks of JupyterLab and the Airflow UI"),
    Need("fonts-noto-color-emoji", _emoji_font, "a font that shows ✅ and ❌ in the browser"),
    Need("prometheus", _which("prometheus", "promtool"),
         "the metrics service of the advanced level (its alert rule is checked with promtool)"),
    Need("prometheus-pushgateway", _which("prometheus-pushgateway"),
         "where the advanced level's pipeline pushes its metrics"),
)


def missing() -> list[Need]:
    return [need for need in NEEDS if not need.present()]


def privilege() -> list[str] | None:
    """The prefix that installs packages here ([] as root, sudo -n where it asks nothing), or
    None where this user cannot."""
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"],
                                               capture_output=True).returncode == 0:
        return ["sudo", "-n"]
    return None


def install(needs: list[Need]) -> None:
    names = [need.package for need in needs]
    prefix = privilege()
    if prefix is None or not shutil.which("apt-get"):
        raise PackagesError(
            f"missing system packages: {', '.join(names)}. Install them with\n"
            f"    sudo apt-get install {' '.join(names)}\n"
            "(or your system's equivalent), then run the command again.")
    print(f"installing system packages: {', '.join(names)}", flush=True)
    apt = [*prefix, "env", "DEBIAN_FRONTEND=noninteractive", "apt-get"]
    for step in (["update", "-qq"], ["install", "-y", "-qq", "--no-install-recommends", *names]):
        if subprocess.run([*apt, *step]).returncode != 0:
            raise PackagesError(f"apt-get {step[0]} failed; run `sudo apt-get install "
                               f"{' '.join(names)}` by hand")


def main(do_install: bool) -> int:
    needs = missing()
    try:
        if needs and do_install:
            install(needs)
        elif needs:
            for need in needs:
                print(f"missing: {need.package:24} {need.why}")
            return 1
    except PackagesError as err:
        print(f"workbook system: {err}", file=sys.stderr)
        return 1
    if not needs:
        print("system packages: all present")
    return 0
