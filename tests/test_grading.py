"""The grader on a class: correct, blank and partial work on every lesson, hard-coded answers,
and a hostile corpus, all in one roster graded in parallel, so each case also shows that one
learner's crash, hang or bomb leaves every other grade right."""

import http.server
import json
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from workbook import paths
from workbook.grading import samples

pytestmark = pytest.mark.slow
LESSONS = samples.lesson_keys()
ORIENTATION = "01_beginner/00_orientation"
COUNT_FILES, COUNT_LINES = "count-files-solution", "count-lines-solution"
GOOD = samples.answers(samples.lesson(ORIENTATION)[0])
# Right for the default parameters (the committed sample), wrong for the grader's.
HARD_CODED = {COUNT_FILES: "n_files = 14", COUNT_LINES: "n_lines = 408"}


class CountingServer(http.server.HTTPServer):
    """A server on the host's loopback that the sandboxed code must not reach."""

    hits = 0


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.server.hits += 1
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="session")
def host_server():
    server = CountingServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()


def hostile_cases(port: int, roster: Path, out: Path) -> dict[str, dict[str, str] | None]:
    """Learner -> replaced answer cells of the orientation notebook (None: cells tampered)."""
    bounded_fork_bomb = (
        "import os, time\npids = []\nfor _ in range(2000):  # bounded: far above the limit\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    pids.append(pid)\n"
        "assert len(pids) < 2000, 'no process limit'\nn_files = len(pids)")
    return {
        "loop": {COUNT_FILES: "while True:\n    pass", COUNT_LINES: GOOD[COUNT_LINES]},
        "memory-bomb": {COUNT_FILES: "hog = [bytearray(10**8) for _ in range(200)]",
                        COUNT_LINES: GOOD[COUNT_LINES]},
        "fork-bomb": {COUNT_FILES: bounded_fork_bomb, COUNT_LINES: GOOD[COUNT_LINES]},
        "network": {COUNT_FILES: "import urllib.request\n"
                                 f"urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=5)\n"
                                 + GOOD[COUNT_FILES], COUNT_LINES: GOOD[COUNT_LINES]},
        "os-exit": {COUNT_FILES: "import os\nos._exit(0)", COUNT_LINES: GOOD[COUNT_LINES]},
        "patch-helper": {COUNT_FILES: "checks.expect = checks.expect_equal = lambda *a, **k: None"
                                      "\nn_files = 14", COUNT_LINES: "n_lines = 408"},
        "patch-library": {COUNT_FILES: "sales.count_data_lines = lambda path: 408\nn_files = 14",
                          COUNT_LINES: "n_lines = 408"},
        "fake-result": {COUNT_FILES: "import json, pathlib\n"
                                     f"fake = pathlib.Path('{out}/fake-result')\n"
                                     "fake.mkdir(parents=True, exist_ok=True)\n"
                                     "(fake / 'x.json').write_text(json.dumps({'score': 99}))",
                        COUNT_LINES: "print('WORKBOOK-CHECK-PASSED 0')\nn_lines = 408"},
        "read-solutions": {COUNT_FILES: f"print(open('{paths.SOLUTIONS}/{ORIENTATION}.ipynb')"
                                        ".read()[:100])\n" + GOOD[COUNT_FILES],
                           COUNT_LINES: GOOD[COUNT_LINES]},
        "read-other": {COUNT_FILES: f"print(open('{roster}/correct-00_orientation/"
                                    f"00_orientation.ipynb').read()[:100])\n" + GOOD[COUNT_FILES],
                       COUNT_LINES: GOOD[COUNT_LINES]},
        "hard-coded": HARD_CODED,
    }


def tampered_checks(kind: str):
    """Hard-coded answers, and the check cells deleted, edited or duplicated."""
    nb = samples.submission(samples.blank(ORIENTATION), HARD_CODED)
    checks = [c for c in nb.cells if c.get("metadata", {}).get("workbook", {}).get("role")
              == "check"]
    for cell in checks:
        if kind == "deleted":
            nb.cells.remove(cell)
        elif kind == "edited":
            cell.source = "print('✅ all good')"
        else:  # duplicated as JupyterLab does (a new id, the same metadata), then edited
            copy = nbformat.from_dict(dict(cell))
            copy.id, copy.source = f"copy-{cell.id}", "print('✅ all good')"
            nb.cells.insert(nb.cells.index(cell), copy)
    return nb


def build_roster(roster: Path, out: Path, port: int) -> None:
    for key in LESSONS:
        name = Path(key).name
        for kind in ("correct", "blank", "partial"):
            samples.write(getattr(samples, kind)(key), roster / f"{kind}-{name}", key)
    for learner, cells in hostile_cases(port, roster, out).items():
        samples.write(samples.submission(samples.blank(ORIENTATION), cells), roster / learner,
                      ORIENTATION)
    for kind in ("deleted", "edited", "duplicated"):
        samples.write(tampered_checks(kind), roster / f"{kind}-checks", ORIENTATION)
    worked_in_copy = samples.blank(ORIENTATION)
    for cell in list(worked_in_copy.cells):
        if cell.id in GOOD:  # a duplicate of the answer cell, answered; the original left as is
            copy = nbformat.from_dict(dict(cell))
            copy.id, copy.source = f"copy-{cell.id}", GOOD[cell.id]
            worked_in_copy.cells.insert(worked_in_copy.cells.index(cell) + 1, copy)
    samples.write(worked_in_copy, roster / "answered-in-copy", ORIENTATION)
    correct_but_deleted = samples.correct(ORIENTATION)
    correct_but_deleted.cells = [c for c in correct_but_deleted.cells
                                 if c.get("metadata", {}).get("workbook", {}).get("role")
                                 != "check"]
    samples.write(correct_but_deleted, roster / "deleted-checks-correct", ORIENTATION)
    (roster / "broken").mkdir()
    (roster / "broken" / "00_orientation.ipynb").write_text("{ this is not json")
    samples.write(nbformat.v4.new_notebook(), roster / "stranger", "01_beginner/unknown")


@pytest.fixture(scope="session")
def graded(host_server):
    """Grade the whole roster once, through the CLI; learner -> its JSON results.

    The roster and grades are world-readable (0755), as in a shared course folder, so what
    keeps the learner's code out of them is the sandbox, not the folder's permissions."""
    base = Path(tempfile.mkdtemp(prefix="workbook-roster-"))
    base.chmod(0o755)
    roster, out = base / "submissions", base / "grades"
    build_roster(roster, out, host_server.server_address[1])
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "grade", str(roster), "--out", str(out),
         "--workers", "2", "--cell-timeout", "60", "--total-timeout", "400"],
        capture_output=True, text=True, cwd=paths.ROOT, timeout=1800)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    results = {}
    for path in out.glob("*/*.json"):
        data = json.loads(path.read_text())
        results.setdefault(data["learner"], {})[data["notebook"] or path.stem] = data
    yield {"results": results, "out": out, "stdout": result.stdout}
    shutil.rmtree(base)


def one(graded, learner: str, key: str = ORIENTATION) -> dict:
    return graded["results"][learner][key]


def by_exercise(result: dict) -> dict[str, dict]:
    return {e["exercise"]: e for e in result["exercises"]}


@pytest.mark.parametrize("key", LESSONS)
def test_correct_submission_gets_full_marks(graded, key):
    result = one(graded, f"correct-{Path(key).name}", key)
    assert result["max_score"] == sum(samples.points(key).values())
    assert result["score"] == result["max_score"], result["exercises"]


@pytest.mark.parametrize("key", LESSONS)
def test_blank_submission_gets_zero_not_attempted(graded, key):
    result = one(graded, f"blank-{Path(key).name}", key)
    assert result["score"] == 0
    assert {e["status"] for e in result["exercises"]} == {"not attempted"}


@pytest.mark.parametrize("key", LESSONS)
def test_partial_submission_gets_the_first_exercise(graded, key):
    """Only the first exercise answered: it scores, nothing else does. It may keep only part of
    its points when one of its checks is a run that needs the later exercises too (lesson
    02_intermediate/04 checks its retry policy alone, then in the DAG's run)."""
    result = one(graded, f"partial-{Path(key).name}", key)
    first, *others = samples.points(key)
    scored = by_exercise(result)
    assert scored[first]["status"] in ("passed", "partial"), result["exercises"]
    assert scored[first]["points"] >= samples.first_check_points(key, first)
    assert result["score"] == scored[first]["points"]
    assert {scored[e]["status"] for e in others} <= {"not attempted"}


def test_hard_coded_answers_pass_visible_checks_by_default(tmp_path):
    nb = samples.submission(samples.blank(ORIENTATION), HARD_CODED)
    path = samples.write(nb, tmp_path, ORIENTATION)
    pm.execute_notebook(str(path), str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
                        parameters={"workspace": str(tmp_path / "ws")}, progress_bar=False)


def test_hard_coded_answers_fail_when_graded(graded):
    result = one(graded, "hard-coded")
    assert result["score"] == 0
    assert "n_files is 14, expected 10" in by_exercise(result)["count-files"]["feedback"]
    assert "n_lines is 408, expected" in by_exercise(result)["count-lines"]["feedback"]


def passes_only_count_lines(result: dict) -> bool:
    statuses = {k: v["status"] for k, v in by_exercise(result).items()}
    return statuses == {"count-files": "failed", "count-lines": "passed"}


def test_infinite_loop_is_interrupted_and_the_rest_graded(graded):
    result = one(graded, "loop")
    assert passes_only_count_lines(result), result["exercises"]
    assert "KeyboardInterrupt" in by_exercise(result)["count-files"]["feedback"]


def test_memory_bomb_hits_the_limit(graded):
    result = one(graded, "memory-bomb")
    assert passes_only_count_lines(result), result["exercises"]
    assert "MemoryError" in by_exercise(result)["count-files"]["feedback"]


def test_fork_bomb_is_bounded_by_the_process_limit(graded):
    result = one(graded, "fork-bomb")
    assert passes_only_count_lines(result), result["exercises"]
    # The answer asserts it was stopped below its own bound: the sandbox's limit stopped it.
    assert "no process limit" not in by_exercise(result)["count-files"]["feedback"]


def test_network_to_the_host_is_unreachable(graded, host_server):
    result = one(graded, "network")
    assert by_exercise(result)["count-files"]["status"] == "failed"
    assert "URLError" in by_exercise(result)["count-files"]["feedback"]
    assert host_server.hits == 0


def test_os_exit_is_reported_and_contained(graded):
    result = one(graded, "os-exit")
    assert result["score"] == 0
    assert any("kernel died" in e for e in result["errors"])


@pytest.mark.parametrize("learner", ["patch-helper", "patch-library"])
def test_monkeypatching_does_not_fool_the_checks(graded, learner):
    result = one(graded, learner)
    assert result["score"] == 0, result["exercises"]


def test_fake_results_are_ignored(graded):
    result = one(graded, "fake-result")
    assert result["score"] == 0
    assert not (graded["out"] / "fake-result" / "x.json").exists()
    assert "PermissionError" in by_exercise(result)["count-files"]["feedback"]


@pytest.mark.parametrize("learner", ["read-solutions", "read-other"])
def test_solutions_and_other_submissions_are_unreadable(graded, learner):
    result = one(graded, learner)
    assert passes_only_count_lines(result), result["exercises"]
    assert "PermissionError" in by_exercise(result)["count-files"]["feedback"]


@pytest.mark.parametrize("kind", ["deleted", "edited", "duplicated"])
def test_tampered_check_cells_are_restored(graded, kind):
    result = one(graded, f"{kind}-checks")
    assert result["score"] == 0
    word = {"deleted": "deleted", "edited": "edited", "duplicated": "copy of check cell"}[kind]
    assert any(word in note for note in result["notes"]), result["notes"]


def test_answers_written_in_a_copied_cell_are_graded(graded):
    result = one(graded, "answered-in-copy")
    assert result["score"] == result["max_score"] > 0, result["exercises"]
    assert any("taken from a copy" in note for note in result["notes"])


def test_deleted_checks_still_grade_correct_work(graded):
    result = one(graded, "deleted-checks-correct")
    assert result["score"] == result["max_score"] > 0


def test_invalid_and_unknown_notebooks_are_reported_not_crashed(graded):
    broken = graded["results"]["broken"]["00_orientation"]
    assert "is not a valid notebook" in broken["errors"][0]
    stranger = graded["results"]["stranger"]["unknown"]
    assert "belongs to no known notebook" in stranger["errors"][0]


def test_gradebook_lists_every_learner(graded):
    csv_text = (graded["out"] / "gradebook.csv").read_text()
    learners = {line.split(",")[0] for line in csv_text.splitlines()[1:]}
    assert learners == set(graded["results"])
    page = (graded["out"] / "gradebook.html").read_text()
    assert 'href="hard-coded/01_beginner__00_orientation.html"' in page
    feedback = (graded["out"] / "hard-coded" / "01_beginner__00_orientation.html").read_text()
    assert "n_files is 14, expected 10" in feedback


def test_junit_counts_failures(graded):
    xml = (graded["out"] / "hard-coded" / "01_beginner__00_orientation.xml").read_text()
    assert 'tests="2" failures="2"' in xml


def test_nothing_is_left_running(graded):
    ps = subprocess.run(["ps", "-eo", "user:32="], capture_output=True, text=True).stdout
    assert not [u for u in ps.split() if u.startswith("workbook-grader")]


def test_missing_path_is_a_grader_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbook", "grade", str(tmp_path / "nope")],
                            capture_output=True, text=True, cwd=paths.ROOT)
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_without_root_the_grade_still_runs_and_says_what_is_missing(tmp_path, monkeypatch):
    """A learner grading their own work on a laptop: limits only, and a warning in the report."""
    from workbook.grading import grade, sandbox

    monkeypatch.setattr(grade.sandbox, "probe", lambda slot: sandbox.Sandbox(
        False, warnings=["not run as root: the learner's code could use the network"]))
    path = samples.write(samples.correct(ORIENTATION), tmp_path / "me", ORIENTATION)
    job = grade.Job(paths.SOLUTIONS, (), sandbox.Limits(cell_timeout_s=60, total_timeout_s=300))
    result = grade.grade(path, "me", job)
    assert result.score == result.max_score > 0, result.exercises
    assert result.warnings == ["not run as root: the learner's code could use the network"]


def test_probe_without_root_warns(monkeypatch):
    from workbook.grading import sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    box = sandbox.probe()
    assert not box.isolated and "not run as root" in box.warnings[0]
