"""A real cron daemon runs the beginner's report script, scheduled exactly as the lesson does it.

The entry is built the lesson's way (absolute paths, the environment's own python, a CRON_TZ
line, output appended to a log) with python-crontab, and root's crontab is put back byte for
byte afterwards, so running the suite never leaves a schedule behind on a learner's machine.
"""

import fcntl
import os
import pwd
import shlex
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from crontab import CronTab

from workbook import paths
from workbook.waiting import wait_for

CRON = Path("/usr/sbin/cron")  # Debian's cron; `.ci/run` installs it
CRON_PIDFILE = Path("/run/crond.pid")
RUN_DATE = "2015-06-03"
SUCCESS = "report written"
DEADLINE_S = 150  # an every-minute entry fires within two minute boundaries
# Serialises tests that rewrite root's crontab (two checkouts running the suite at once).
LOCK = Path(tempfile.gettempdir()) / "workbook-crontab.lock"


def cron_pids() -> list[int]:
    """Running cron daemons, found by executable so a renamed process does not fool us."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "exe").readlink() == CRON:
                    pids.append(int(proc.name))
            except OSError:  # gone meanwhile, or a kernel thread
                continue
    return pids


def read_crontab() -> str | None:
    """Root's crontab as `crontab -l` prints it, or None when root has none."""
    result = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    if result.returncode == 0:
        return result.stdout
    if "no crontab" in result.stderr:
        return None
    raise RuntimeError(f"crontab -l failed: {result.stderr.strip()}")


def write_crontab(text: str | None) -> None:
    """Install `text` verbatim as root's crontab; None removes it (what "none" was before)."""
    if text is None:
        if read_crontab() is not None:
            subprocess.run(["crontab", "-r"], check=True)
    else:
        subprocess.run(["crontab", "-"], input=text, text=True, check=True)


def count_success(log: Path) -> int:
    return log.read_text().count(SUCCESS) if log.exists() else 0


def cron_environment() -> dict[str, str]:
    """The few variables cron gives a job: a script must not rely on anything else."""
    home = pwd.getpwuid(os.getuid()).pw_dir
    return {"HOME": home, "LOGNAME": "root", "PATH": "/usr/bin:/bin", "SHELL": "/bin/sh"}


@pytest.fixture
def cron_daemon() -> Iterator[None]:
    """Use the running cron daemon, or start one in the foreground and stop it afterwards."""
    assert CRON.exists(), f"{CRON} is missing: `apt-get install cron` (.ci/run installs it)"
    if cron_pids():
        yield
        return
    proc = subprocess.Popen([str(CRON), "-f"], stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        started = wait_for(lambda: proc.poll() is not None or _pidfile_names(proc.pid), 10, 0.1)
        assert started and proc.poll() is None, f"{CRON} -f exited with {proc.returncode}"
        yield
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)
        assert proc.pid not in cron_pids(), "the cron daemon this test started is still running"


def _pidfile_names(pid: int) -> bool:
    return CRON_PIDFILE.exists() and CRON_PIDFILE.read_text().strip() == str(pid)


@pytest.fixture
def root_crontab() -> Iterator[None]:
    """Save root's crontab (or its absence) and restore it exactly, whatever the test did."""
    with open(LOCK, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        original = read_crontab()
        try:
            yield
        finally:
            write_crontab(original)
            assert read_crontab() == original, "root's crontab was not restored exactly"


def cron_line_command(script: Path, work: Path) -> str:
    """The command the lesson schedules: absolute paths, the env's python, output to a log."""
    python = paths.env_python("beginner")
    args = [
        str(python), str(script), "--date", RUN_DATE, "--data-dir", str(paths.SALES_SAMPLE),
        "--db", str(work / "sales.db"), "--report-dir", str(work / "reports"),
        "--log-file", str(work / "pipeline.log"),
    ]
    command = shlex.join(args) + f" >> {shlex.quote(str(work / 'cron.log'))} 2>&1"
    assert "%" not in command, "cron turns % into newlines: keep it out of the command"
    return command


def add_entry(command: str, tag: str) -> None:
    """Schedule `command` every minute in UTC with python-crontab, as the lesson teaches."""
    cron = CronTab(user=True)
    job = cron.new(command=command, comment=tag)
    job.setall("* * * * *")
    job.env["CRON_TZ"] = "UTC"
    cron.write()


def remove_entry(tag: str) -> None:
    cron = CronTab(user=True)
    cron.remove_all(comment=tag)
    cron.write()


@pytest.mark.slow
def test_cron_runs_the_report_script(
    beginner_script: Path, cron_daemon: None, root_crontab: None, tmp_path: Path
) -> None:
    """cron itself (not a shell) runs the script, proving the entry works unattended."""
    assert paths.env_python("beginner").exists(), "no beginner env: run `make setup`"
    command = cron_line_command(beginner_script, tmp_path)
    log, report = tmp_path / "pipeline.log", tmp_path / "reports" / f"sales_report_{RUN_DATE}.csv"

    # Fail fast (not after minutes) when the command itself is broken: run it once with
    # cron's bare environment, then expect cron to write one more success line.
    subprocess.run(["/bin/sh", "-c", command], env=cron_environment(), timeout=120, check=False)
    before = count_success(log)
    assert before == 1, f"the command fails outside cron too:\n{command}\n{_tail(tmp_path)}"
    report.unlink()

    tag = f"workbook-test-{uuid.uuid4().hex[:12]}"
    add_entry(command, tag)
    assert tag in (read_crontab() or ""), "python-crontab did not install the entry"
    try:
        ran = wait_for(lambda: count_success(log) > before, DEADLINE_S, interval=1.0)
    finally:
        remove_entry(tag)
    assert ran, f"cron did not run the entry within {DEADLINE_S} s:\n{command}\n{_tail(tmp_path)}"
    assert report.exists(), f"cron ran the script but {report.name} is missing"
    assert tag not in (read_crontab() or ""), "python-crontab did not remove the entry"


def _tail(work: Path) -> str:
    """The job's own log and cron's captured output, for a failure message."""
    parts = []
    for name in ("pipeline.log", "cron.log"):
        path = work / name
        text = path.read_text()[-2000:] if path.exists() else "(missing)"
        parts.append(f"--- {name}\n{text}")
    return "\n".join(parts)
