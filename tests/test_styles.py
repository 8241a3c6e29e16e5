"""The capstone's runs (workbook.styles.compare) when a learner's file goes wrong: a run that
never ends is stopped whole and said to be stuck, and a script that fails says where."""

import pytest

from workbook import processes
from workbook.styles import compare

STUCK = ("import os, subprocess, sys, time\n\n\ndef main(argv):\n"
         "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'],\n"
         "                             start_new_session=True)\n"
         "    print('CHILD', child.pid, 'RUNNER', os.getpid(), flush=True)\n"
         "    while True:\n        time.sleep(1)\n")


@pytest.fixture
def capstone(tmp_path):
    return compare.setup("2015-06-03", 40, 5, str(tmp_path / "workspace"))


def test_a_run_that_never_ends_is_stopped_whole_and_said_to_be_stuck(capstone):
    script = capstone.folder("cron") / "stuck.py"
    script.write_text(STUCK)
    ran = compare.run(capstone, "cron", script, timeout=20)
    problems = compare.source_problems(ran, compare.expected_reports(capstone))
    assert problems == ["the cron + script run failed: it did not finish in 20 s and was stopped: "
                        "a loop that never ends, or a wait with no time-out?"]
    said = (capstone.out("cron") / "run.log").read_text().split()
    assert said[0] == "CHILD", said
    assert not any(processes.running(int(said[i])) for i in (1, 3))


def test_a_script_that_fails_says_which_error(capstone):
    script = capstone.folder("cron") / "broken.py"
    script.write_text("def main(argv):\n    raise ValueError('no such column: store_id')\n")
    ran = compare.run(capstone, "cron", script)
    problems = compare.source_problems(ran, compare.expected_reports(capstone))
    assert len(problems) == 1 and "no such column: store_id" in problems[0], problems


def test_a_stuck_run_is_stopped_before_the_grader_stops_its_cell():
    """Else the grader's cell limit ends the check first, and its feedback says only that the
    cell ran out of time."""
    from workbook.grading.sandbox import Limits

    assert Limits().cell_timeout_s > compare.RUN_TIMEOUT_S
