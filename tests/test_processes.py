"""Process trees (workbook.processes): a tree whose children left its session is found whole,
measured, and stopped whole; and captured logs yield their errors (workbook.logs)."""

import subprocess
import sys
import traceback
from pathlib import Path

import pytest

from workbook import logs, processes
from workbook.waiting import wait_for

# A parent that starts a child in a session of its own (as airflow standalone and Jupyter do),
# prints the child's pid, and sleeps.
TREE = ("import subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],"
        " start_new_session=True)\n"
        "print(child.pid, flush=True)\ntime.sleep(300)")


def test_a_tree_that_left_its_session_is_found_measured_and_stopped_whole():
    parent = subprocess.Popen([sys.executable, "-c", TREE], stdout=subprocess.PIPE, text=True,
                              start_new_session=True)
    child = int(parent.stdout.readline())
    try:
        assert child in processes.descendants(parent.pid)
        assert processes.tree_pss(parent.pid) > processes.tree_pss(child) > 0
        assert processes.stop_tree(parent.pid) == []
        parent.wait(timeout=10)
        assert wait_for(lambda: not processes.running(child), 10)
        assert not processes.running(parent.pid)
    finally:
        for pid in (parent.pid, child):
            subprocess.run(["kill", "-9", str(pid)], capture_output=True)


def test_a_zombie_is_not_running():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    stat = Path(f"/proc/{proc.pid}/stat")
    assert wait_for(lambda: stat.read_text().rsplit(")", 1)[1].split()[0] == "Z", 10)
    assert not processes.running(proc.pid)
    proc.wait()


def test_the_errors_of_a_captured_log_are_its_tracebacks_last_lines():
    with logs.captured() as log:
        print("a task starts")
        try:
            raise ConnectionError("127.0.0.1:50123 refused")
        except ConnectionError:
            traceback.print_exc(file=sys.stdout)
        print("and ends")
    assert "a task starts" in log.getvalue()
    assert logs.errors(log.getvalue()) == ["ConnectionError: 127.0.0.1:<port> refused"]


def test_a_measured_run_past_its_timeout_is_stopped_whole(tmp_path):
    """The run's tree (here a child that left its session) is gone when TimeoutExpired is
    raised, and the log keeps what it printed."""
    with pytest.raises(subprocess.TimeoutExpired):
        processes.run_measured([sys.executable, "-c", TREE], tmp_path / "run.log", timeout=3)
    child = int((tmp_path / "run.log").read_text().split()[0])
    assert not processes.running(child)


def test_a_measured_run_within_its_timeout_gives_its_exit_code(tmp_path):
    code, seconds, peak = processes.run_measured(
        [sys.executable, "-c", "import sys; print('done'); sys.exit(3)"], tmp_path / "run.log",
        timeout=60)
    assert (code, (tmp_path / "run.log").read_text()) == (3, "done\n")
    assert 0 < seconds < 60 and peak > 1_000_000
