"""The lesson-03 script (as the solution builds it) on good and bad input, from the outside."""

import datetime as dt
import hashlib
import sqlite3
import subprocess

import pytest

from workbook import datasets, paths, sales

DAY = "2015-06-03"
pytestmark = pytest.mark.slow


def fingerprint(*places):
    """Hashes of every file under the given places: 'nothing changed' means equal fingerprints."""
    files = sorted(f for place in places if place.exists()
                   for f in ([place] if place.is_file() else place.rglob("*")) if f.is_file())
    return {str(f): hashlib.sha256(f.read_bytes()).hexdigest() for f in files}


class Job:
    """One configured run of sales_report.py in a private workspace."""

    def __init__(self, workspace):
        self.script = workspace / "sales_report.py"
        self.db = workspace / "t.db"
        self.reports = workspace / "reports-t"
        self.log = workspace / "t.log"

    def run(self, data_dir, *extra):
        cmd = [str(paths.env_python("beginner")), str(self.script), "--date", DAY,
               "--data-dir", str(data_dir), "--db", str(self.db),
               "--report-dir", str(self.reports), "--log-file", str(self.log), *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120)

    def last_log_line(self):
        return self.log.read_text().splitlines()[-1]


@pytest.fixture
def job(solved_copy):
    job = Job(solved_copy)
    assert job.run(paths.SALES_SAMPLE).returncode == 0  # a good day is loaded first
    return job


def test_good_run_loads_the_day_and_writes_the_report(job):
    assert "report written" in job.last_log_line()
    expected = sales.category_summary(sales.clean_sales(sales.read_sales(
        paths.SALES_SAMPLE / datasets.sales_filename(dt.date.fromisoformat(DAY)))[0]))
    report = (job.reports / f"sales_report_{DAY}.csv").read_text().splitlines()
    assert report[0] == "category,orders,units_sold,units_returned,net_revenue"
    assert [line.split(",")[0] for line in report[1:]] == list(expected.index)


def write_bytes(folder, data: bytes | None):
    folder.mkdir(parents=True, exist_ok=True)
    if data is not None:
        (folder / f"sales_{DAY}.csv").write_bytes(data)
    return folder


HEADER = ",".join(datasets.COLUMNS).encode()
GOOD_LINE = b"20150603-0000001,2015-06-03 08:00:00,Chicago Loop,Yoga Mat,Sports,1,25.00,0.00,card"
BAD_INPUTS = {
    "missing": (None, "file not found"),
    "empty": (b"", "file is empty"),
    "whitespace": (b"\n \n", "file is empty"),
    "header-only": (HEADER + b"\n", "no data lines"),
    "other-columns": (b"id,amount\n1,2.50\n", "unexpected columns"),
    "json": (b'{"orders": []}\n', "unexpected columns"),
    "binary": (bytes(range(256)) * 4, "not UTF-8"),
    "latin-1": (HEADER + b"\n" + GOOD_LINE.replace(b"Yoga", b"Yoga \xe9") + b"\n", "not UTF-8"),
}


@pytest.mark.parametrize("case", BAD_INPUTS, ids=str)
def test_bad_input_fails_cleanly_and_changes_nothing(job, case, tmp_path):
    data, words = BAD_INPUTS[case]
    before = fingerprint(job.db, job.reports)
    result = job.run(write_bytes(tmp_path / case, data))
    assert result.returncode == 1, result.stderr
    line = job.last_log_line()
    assert " ERROR " in line and "bad input" in line and words in line, line
    [said] = result.stderr.splitlines()  # one line for whoever reads stderr (cron's mail)
    assert said.startswith("sales_report: bad input: ") and words in said, said
    assert fingerprint(job.db, job.reports) == before


def sample_lines():
    return (paths.SALES_SAMPLE / f"sales_{DAY}.csv").read_bytes().splitlines()


def test_a_few_malformed_lines_are_skipped_counted_and_logged(job, tmp_path):
    lines = sample_lines()
    broken = [lines[0], *lines[1:], lines[5][:25], lines[6] + b",extra"]
    _, already_bad = sales.read_sales(paths.SALES_SAMPLE / f"sales_{DAY}.csv")
    result = job.run(write_bytes(tmp_path / "few", b"\n".join(broken) + b"\n"))
    assert result.returncode == 0, job.log.read_text()
    log = job.log.read_text()
    assert f"skipped {already_bad + 2} malformed line(s)" in log


def test_too_many_malformed_lines_fail_and_change_nothing(job, tmp_path):
    lines = sample_lines()
    noisy = [lines[0]] + [line[:20] if i % 25 == 0 else line for i, line in enumerate(lines[1:])]
    before = fingerprint(job.db, job.reports)
    result = job.run(write_bytes(tmp_path / "noisy", b"\n".join(noisy) + b"\n"))
    assert result.returncode == 1
    assert "malformed" in job.last_log_line() and "limit 1%" in job.last_log_line()
    assert fingerprint(job.db, job.reports) == before


@pytest.mark.parametrize("date", ["not-a-date", "2015-13-45", "03/06/2015"])
def test_a_bad_date_is_wrong_usage_naming_the_format(job, date):
    result = job.run(paths.SALES_SAMPLE, "--date", date)
    assert result.returncode == 2
    assert f"argument --date: {date!r} is not a date in YYYY-MM-DD format" in result.stderr


def test_a_database_in_a_missing_folder_is_created_when_the_input_is_good(job, tmp_path):
    db = tmp_path / "new" / "deeper" / "sales.db"
    bad = job.run(write_bytes(tmp_path / "empty", b""), "--db", str(db))
    assert bad.returncode == 1 and not db.parent.exists()  # bad input: nothing written
    result = job.run(paths.SALES_SAMPLE, "--db", str(db))
    assert result.returncode == 0, result.stderr + job.log.read_text()[-2000:]
    assert result.stderr == ""
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM sales").fetchone()[0] > 0
    conn.close()


def test_an_unexpected_failure_is_one_line_on_stderr_and_the_traceback_in_the_log(job):
    """A database path that is a folder: sqlite3 fails; exit 3, the details in the log."""
    result = job.run(paths.SALES_SAMPLE, "--db", str(job.reports))
    assert result.returncode == 3
    [said] = result.stderr.splitlines()
    assert said.startswith("sales_report: unexpected failure (OperationalError: "), said
    assert "Traceback (most recent call last)" in job.log.read_text()


def test_rerunning_a_day_keeps_one_copy(job):
    assert job.run(paths.SALES_SAMPLE).returncode == 0
    conn = sqlite3.connect(job.db)
    try:
        rows = conn.execute("SELECT COUNT(*), COUNT(DISTINCT order_id) FROM sales").fetchone()
    finally:
        conn.close()
    assert rows[0] == rows[1] > 0


def test_the_script_runs_with_an_empty_environment(job):
    """Cron gives almost no environment: absolute paths must be enough."""
    cmd = ["env", "-i", str(paths.env_python("beginner")), str(job.script), "--date", DAY,
           "--data-dir", str(paths.SALES_SAMPLE), "--db", str(job.db), "--report-dir",
           str(job.reports), "--log-file", str(job.log)]
    assert subprocess.run(cmd, cwd="/", timeout=120).returncode == 0
