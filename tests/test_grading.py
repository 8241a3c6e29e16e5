"""The grader on a class: correct and blank work and the first mistakes on every lesson, partial
work on one lesson per track, hard-coded answers, and a hostile corpus, all in one roster graded
in parallel, so each case also shows that one learner's crash, hang or bomb leaves every other
grade right.

The hostile corpus covers each class of attack with several variants: the submission choosing
its grading (identity), reading or writing outside its sandbox (escape, leak), forging a
verdict (forgery), and exhausting the machine (exhaustion). Each test asserts the property
(nothing ran as root, nothing was read, nothing is left, a forged verdict scores like a blank),
not the trick.
"""

import http.server
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import mistakes
import nbformat
import papermill as pm
import pytest
from mistakes import MISTAKES, HardCoded

from workbook import course, markers, paths
from workbook.grading import grade, samples, sandbox

# The roster takes ten minutes or more on two cores: its fixture gets a longer time-out.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]
LESSONS = course.lesson_keys()
# Partial work (with the forged verdict in it) on the first lesson of each track: the grader
# scores every lesson alike, and what differs between tracks is the kernel the forgery runs in.
# Every lesson's mistakes' batch is partial work too (tests/mistakes.py: answered up to its
# hard-coded answer, unanswered after it), which the grader runs only as far as it is answered.
PARTIAL = [lessons[0].key for lessons in
           (course.lessons(track.folder) for track in course.TRACKS) if lessons]
CHAINED = "01_beginner/01_extract_transform"  # each exercise works on the one before's table
ORIENTATION = "01_beginner/00_orientation"
COUNT_FILES, COUNT_LINES = "count-files-solution", "count-lines-solution"
GOOD = samples.answers(samples.lesson(ORIENTATION)[0])
# Right for the default parameters (the committed sample), wrong for the grader's.
HARD_CODED = {COUNT_FILES: "n_files = 14", COUNT_LINES: "n_lines = 408"}
CANARY = secrets.token_hex(8)  # in the grader's environment and on the host: must not leak


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


def reporting(code: str) -> str:
    """Answer code whose findings come back in the feedback: it raises them as an error."""
    return f"import json\nfindings = {{}}\n{code}\nraise RuntimeError('FINDINGS ' + " \
           f"json.dumps(findings))"


def snoop_code(roster: Path, out: Path, host_file: Path) -> str:
    """Tries to read what no learner may: sources, other work, the grader's files, the host."""
    targets = {"solutions": paths.SOLUTIONS / f"{ORIENTATION}.ipynb",
               "other submission": roster / "correct-00_orientation" / "00_orientation.ipynb",
               "previous gradebook": out / "gradebook.csv", "grader files": "/sandbox/grader",
               "checker": "/sandbox/checker/home", "host file": host_file,
               "init": "/proc/1/environ"}
    return reporting(f"""import os
for name, path in {json.dumps({k: str(v) for k, v in targets.items()})}.items():
    try:
        os.listdir(path) if os.path.isdir(path) else open(path, "rb").read(10)
        findings[name] = "READ"
    except OSError as err:
        findings[name] = type(err).__name__
findings["process owners"] = sorted({{os.stat(f"/proc/{{p}}").st_uid for p in os.listdir("/proc")
                                     if p.isdigit()}})
findings["me"] = os.getuid()
findings["canary in environment"] = any("{CANARY}" in v for v in os.environ.values())""")


def forgery_cases() -> dict[str, str]:
    """Ways to make a check pass without the answer: each with the hard-coded values."""
    nonce_thread = (
        "import threading, time, re\nip = get_ipython()\n"
        "ip.showtraceback = lambda *a, **k: None\nip._showtraceback = lambda *a, **k: None\n"
        "def forge():\n    for _ in range(3000):\n"
        "        for text in list(ip.user_ns.get('In', [])):\n"
        "            for nonce in re.findall(r'[0-9a-f]{32}', text):\n"
        "                print('WORKBOOK-CHECK-PASSED', nonce)\n        time.sleep(0.01)\n"
        "threading.Thread(target=forge, daemon=True).start()\n")
    patch_thread = (
        "import threading, time\nfrom workbook import checks\n"
        "def patch():\n    for _ in range(6000):\n"
        "        checks.expect = checks.expect_equal = lambda *a, **k: None\n"
        "        time.sleep(0.005)\n"
        "threading.Thread(target=patch, daemon=True).start()\n")
    rebind = (
        "import types\nfrom pathlib import Path\nfake = Path('/tmp/fake-data')\n"
        "fake.mkdir(exist_ok=True)\n"
        "for i in range(14):\n"
        "    (fake / f'sales_2015-06-{i + 1:02d}.csv').write_text('h\\n' + 'x\\n' * 408)\n"
        "ctx = types.SimpleNamespace(data_dir=fake, run_date=None,\n"
        "    sales_file=lambda day=None: fake / 'sales_2015-06-01.csv')\n"
        "days, rows_per_day = 14, 400\n")
    tamper_data = (  # the real data folder, made to agree with the hard-coded answer
        "for i in range(20):\n"
        "    (ctx.data_dir / f'sales_extra-{i}.csv').write_text('x')\n"
        "ctx.sales_file().write_text('h\\n' + 'x\\n' * 408)\n")
    fake_evidence = (  # evidence files planted ahead of the export, as links and as values
        "import os, json\nroot = os.path.expanduser('~/.evidence')\n"
        "for n in range(4):\n    os.makedirs(f'{root}/{n}', exist_ok=True)\n"
        "    with open(f'{root}/{n}/index.json', 'w') as f:\n"
        "        json.dump({'n_files': {'kind': 'value', 'value': 10},\n"
        "                   'n_lines': {'kind': 'value', 'value': 305}}, f)\n"
        "os.chmod(root, 0o500)\n")
    patch_export = (
        "import json, os\nfrom workbook.grading import evidence\n"
        "def fake(namespace, folder, names):\n    os.makedirs(folder, exist_ok=True)\n"
        "    with open(os.path.join(folder, 'index.json'), 'w') as f:\n"
        "        json.dump({n: {'kind': 'value', 'value': 'forged'} for n in names}, f)\n"
        "evidence.export = fake\n")
    return {"forge-nonce": nonce_thread, "forge-patch-thread": patch_thread,
            "forge-rebind-context": rebind, "forge-tamper-data": tamper_data,
            "forge-plant-evidence": fake_evidence, "forge-patch-export": patch_export}


def exhaustion_cases(host_file: Path) -> dict[str, str]:
    bounded_fork_bomb = (
        "import os, time\npids = []\nfor _ in range(2000):  # bounded: far above the limit\n"
        "    try:\n        pid = os.fork()\n    except OSError:\n        break\n"
        "    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n    pids.append(pid)\n"
        "assert len(pids) < 2000, 'no process limit'\nn_files = len(pids)")
    fill_disk = (  # far more than the learner's tmpfs holds, in files under the size limit
        "import itertools, os\nblock = b'x' * 2**20\n"
        "for n in itertools.count():\n"
        f"    with open(f'/tmp/{host_file.name}-{{n}}', 'wb') as f:\n"
        "        for _ in range(400):\n            f.write(block)\n")
    daemon = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time\\nwhile True: time.sleep(1)'],\n"
        "                 start_new_session=True)\n"
        "import os, signal\n"
        "for pid in (1, os.getppid()):\n    try:\n        os.kill(pid, signal.SIGKILL)\n"
        "    except OSError:\n        pass\n"
        "os.killpg(os.getpgrp(), 0)\nn_files = 10")
    return {
        "memory-bomb": "hog = [bytearray(10**8) for _ in range(200)]",
        "fork-bomb": bounded_fork_bomb,
        "output-flood": "for i in range(1_000_000):  # 300 MB, line by line\n"
                        "    print(i, 'x' * 300)",
        "output-burst": "print('x' * 300_000_000)  # one write: larger than a message may be",
        "fill-disk": fill_disk,
        "daemon-and-kill": daemon,
        "os-exit": "import os\nos._exit(0)",
    }


def hostile_cases(port: int, roster: Path, out: Path,
                  host_file: Path) -> dict[str, dict[str, str]]:
    """Learner -> replaced answer cells of the orientation notebook."""
    cases = {
        "network": {COUNT_FILES: "import urllib.request\n"
                                 f"urllib.request.urlopen('http://127.0.0.1:{port}/', timeout=5)\n"
                                 + GOOD[COUNT_FILES], COUNT_LINES: GOOD[COUNT_LINES]},
        "patch-helper": {COUNT_FILES: "checks.expect = checks.expect_equal = lambda *a, **k: None"
                                      "\nn_files = 14", COUNT_LINES: "n_lines = 408"},
        "patch-library": {COUNT_FILES: "sales.count_data_lines = lambda path: 408\nn_files = 14",
                          COUNT_LINES: "n_lines = 408"},
        "fake-result": {COUNT_FILES: "import json, pathlib\n"
                                     f"fake = pathlib.Path('{out}/fake-result')\n"
                                     "fake.mkdir(parents=True, exist_ok=True)\n"
                                     "(fake / 'x.json').write_text(json.dumps({'score': 99}))",
                        COUNT_LINES: "print('✅ WORKBOOK-CHECK-PASSED 0')\nn_lines = 408"},
        "snoop": {COUNT_FILES: snoop_code(roster, out, host_file), COUNT_LINES: GOOD[COUNT_LINES]},
        "html-injection": {COUNT_FILES: "raise RuntimeError('<script>alert(1)</script> | *x* "
                                        "[a](javascript:alert(2))')",
                           COUNT_LINES: GOOD[COUNT_LINES]},
        "hard-coded": HARD_CODED,
    }
    cases |= {name: {COUNT_FILES: code + HARD_CODED[COUNT_FILES],
                     COUNT_LINES: HARD_CODED[COUNT_LINES]}
              for name, code in forgery_cases().items()}
    cases |= {name: {COUNT_FILES: code, COUNT_LINES: GOOD[COUNT_LINES]}
              for name, code in exhaustion_cases(host_file).items()}
    return cases


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


def evil_source(marker: Path) -> Path:
    """A notebook outside the course that would leave `marker` if anything ran it (as the
    source of a grading, or as a lesson's prerequisite)."""
    folder = Path(tempfile.mkdtemp(prefix="wb-evil-"))
    folder.chmod(0o755)
    nb = samples.blank(ORIENTATION)
    nb.metadata["workbook"] = {"notebook": ORIENTATION, "requires": [str(folder / "evil")]}
    nb.cells.insert(1, nbformat.v4.new_code_cell(f"open('{marker}', 'w').write('ran')",
                                                 id="evil"))
    nbformat.write(nb, folder / "evil.ipynb")
    return folder / "evil"


def identity_cases(evil: Path) -> dict[str, object]:
    """Learner -> the metadata key their submission claims (answers hard-coded)."""
    public = paths.NOTEBOOKS / ORIENTATION
    return {"key-traversal": f"../../../../../../..{evil}",
            "key-public-copy": "../" + str(public.relative_to(paths.ROOT)),
            "key-absolute": str(evil), "key-not-a-string": {"path": "../x"},
            "key-checkpoints": f"{ORIENTATION}/../.ipynb_checkpoints/00_orientation"}


# A hostile answer each partial submission holds: the check helpers patched in
# the learner's kernel so that every check "passes", and a pass printed. Verdicts run in the
# checker's kernel, so the exercise scores what a missing answer scores.
FORGED = ("from workbook import checks\n"
          "checks.expect = checks.expect_equal = lambda *a, **k: None\n"
          "print('✅ All checks passed')\n")


def partial_and_forged(key: str):
    """The first exercise answered, the second's answer cell replaced by FORGED."""
    solution, _ = samples.lesson(key)
    exercises = {}
    for cell in solution.cells:
        if markers.role(cell) == "solution":
            exercises.setdefault(markers.exercise(cell), cell.id)
    nb = samples.partial(key)
    forged = list(exercises.values())[1]
    next(cell for cell in nb.cells if cell.id == forged).source = FORGED
    return nb


def build_roster(roster: Path, out: Path, port: int, host_file: Path, evil: Path) -> None:
    for key in LESSONS:
        name = Path(key).name
        samples.write(samples.correct(key), roster / f"correct-{name}", key)
        samples.write(samples.blank(key), roster / f"blank-{name}", key)
    for key in PARTIAL:
        samples.write(partial_and_forged(key), roster / f"partial-{Path(key).name}", key)
    for learner, (key, nb) in mistakes.submissions().items():
        samples.write(nb, roster / learner, key)
    samples.write(samples.all_but_first(CHAINED), roster / "skipped-first", CHAINED)
    for learner, cells in hostile_cases(port, roster, out, host_file).items():
        samples.write(samples.submission(samples.blank(ORIENTATION), cells), roster / learner,
                      ORIENTATION)
    for learner, key in identity_cases(evil).items():
        nb = samples.submission(samples.blank(ORIENTATION), HARD_CODED)
        nb.metadata["workbook"] = {"notebook": key}
        samples.write(nb, roster / learner, ORIENTATION)
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
    samples.write(samples.correct(ORIENTATION), roster / "<i>odd name..", ORIENTATION)


@pytest.fixture(scope="session")
def graded(host_server):
    """Grade the whole roster once, through the CLI; learner -> its JSON results.

    The roster and grades are world-readable (0755), as in a shared course folder, so what
    keeps the learner's code out of them is the sandbox, not the folder's permissions. A
    gradebook from an earlier run is there too, and a file in the host's /tmp."""
    base = Path(tempfile.mkdtemp(prefix="workbook-roster-"))
    base.chmod(0o755)
    roster, out = base / "submissions", base / "grades"
    out.mkdir()
    (out / "gradebook.csv").write_text(f"learner,score\nsomeone,{CANARY}\n")
    host_file = Path(tempfile.gettempdir()) / f"wb-host-{CANARY}"
    host_file.write_text(CANARY)
    host_file.chmod(0o644)
    marker = Path(tempfile.gettempdir()) / f"wb-evil-ran-{CANARY}"
    evil = evil_source(marker)
    before = set(Path(tempfile.gettempdir()).glob(f"{grade.PRIVATE_PREFIX}*"))
    build_roster(roster, out, host_server.server_address[1], host_file, evil)
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "grade", str(roster), "--out", str(out),
         "--workers", "3"],  # the default time limits, as an instructor grades
        capture_output=True, text=True, cwd=paths.ROOT, timeout=3600,
        env={**os.environ, "WORKBOOK_TEST_CANARY": CANARY})
    results = {}
    for path in out.glob("*/*.json"):
        data = json.loads(path.read_text())
        results.setdefault(data["learner"], {})[data["notebook"] or path.stem] = data
    leftovers = grade.leftover_folders() - before  # (a running grade's, in another CI slot, not)
    yield {"results": results, "out": out, "stdout": result.stdout, "stderr": result.stderr,
           "returncode": result.returncode, "marker": marker, "host_file": host_file,
           "leftovers": leftovers}
    shutil.rmtree(base)
    shutil.rmtree(evil.parent)
    host_file.unlink()


def one(graded, learner: str, key: str = ORIENTATION) -> dict:
    return graded["results"][learner][key]


def by_exercise(result: dict) -> dict[str, dict]:
    return {e["exercise"]: e for e in result["exercises"]}


def findings(result: dict) -> dict:
    """What a reporting answer raised (see `reporting`)."""
    feedback = by_exercise(result)["count-files"]["feedback"]
    match = re.search(r"FINDINGS (\{.*?\})(\. Then|$)", feedback)
    assert match, feedback
    return json.loads(match.group(1))


# --- the class: correct and blank on every lesson, partial on each track's first ---------


@pytest.mark.parametrize("key", LESSONS)
def test_correct_submission_gets_full_marks(graded, key):
    result = one(graded, f"correct-{Path(key).name}", key)
    assert result["max_score"] == sum(samples.points(key).values())
    lost = {e["exercise"]: e["feedback"] for e in result["exercises"] if e["status"] != "passed"}
    assert result["score"] == result["max_score"], (lost, result["errors"])


@pytest.mark.parametrize("key", LESSONS)
def test_blank_submission_gets_zero_not_attempted(graded, key):
    result = one(graded, f"blank-{Path(key).name}", key)
    assert result["score"] == 0 and result["graded"]
    assert result["max_score"] == sum(samples.points(key).values())
    assert {e["status"] for e in result["exercises"]} == {"not attempted"}
    assert "no exercise is answered: the notebook was not run" in result["notes"]


@pytest.mark.parametrize("key", PARTIAL)
def test_partial_submission_gets_the_first_exercise_and_a_forgery_nothing(graded, key):
    """The first exercise answered: it scores (maybe only part of its points, when one of its
    checks is a run that needs the later exercises too). The second is a forgery (FORGED): it
    scores 0, and the rest are not attempted."""
    result = one(graded, f"partial-{Path(key).name}", key)
    first, forged, *others = samples.points(key)
    scored = by_exercise(result)
    assert scored[first]["status"] in ("passed", "partial"), result["exercises"]
    assert scored[first]["points"] >= samples.first_check_points(key, first)
    assert scored[forged]["status"] in ("failed", "not graded"), scored[forged]
    assert scored[forged]["points"] == 0
    assert result["score"] == scored[first]["points"]
    assert {scored[e]["status"] for e in others} <= {"not attempted"}


@pytest.mark.parametrize("mistake", [m for m in MISTAKES if mistakes.graded(m.learner)],
                         ids=lambda m: m.name)
def test_a_plausible_mistake_fails_its_exercise_with_a_hint_naming_it(graded, mistake):
    """Each lesson's first batch of mistakes; the others: tests/test_lessons.py."""
    result = one(graded, mistake.learner, mistake.lesson)
    scored = by_exercise(result)[mistake.exercise()]
    assert scored["status"] in ("failed", "partial"), result["exercises"]
    assert mistake.hint in scored["feedback"], scored["feedback"]


def test_every_advanced_lesson_is_graded_with_a_hard_coded_answer():
    """Each advanced lesson's roster holds an answer with its own run's values written in
    (`HardCoded`): the test above shows it fails with its hint under the grader's parameters,
    tests/test_lessons.py that it passes with the lesson's own (or that its check catches it
    anyway). The orientation lesson's hard-coded learners stand for the levels before."""
    graded = {m.lesson for m in MISTAKES if isinstance(m, HardCoded) and mistakes.graded(m.learner)}
    missing = set(course.lesson_keys("03_advanced")) - graded
    assert not missing, f"no hard-coded answer graded for {sorted(missing)}"


def test_exercises_that_need_an_unanswered_one_are_not_graded_and_say_which(graded):
    """Every later exercise of lesson 01 works on the first one's table: with the first left
    blank, each is reported as waiting on it, not as the NameError it ran into."""
    result = one(graded, "skipped-first", CHAINED)
    first, *later = result["exercises"]
    assert first["status"] == "not attempted"
    for exercise in later:
        assert exercise["status"] == "not graded", exercise
        assert f"needs {first['exercise']}, which is not answered yet" in exercise["feedback"]
        assert "NameError" not in exercise["feedback"]


def test_hard_coded_answers_pass_visible_checks_by_default(tmp_path):
    """Why the grader changes the parameters: with the lesson's own, hard-coded numbers pass."""
    nb = samples.submission(samples.blank(ORIENTATION), HARD_CODED)
    path = samples.write(nb, tmp_path, ORIENTATION)
    pm.execute_notebook(str(path), str(tmp_path / "out.ipynb"), cwd=str(tmp_path),
                        parameters={"workspace": str(tmp_path / "ws")}, progress_bar=False)
    ran = nbformat.read(tmp_path / "out.ipynb", as_version=4)
    passed = {markers.exercise(c) for c in ran.cells if markers.role(c) == "check"
              and any("✅" in o.get("text", "") for o in c.get("outputs", []))}
    assert passed == set(samples.points(ORIENTATION)), passed


def test_hard_coded_answers_fail_when_graded(graded):
    result = one(graded, "hard-coded")
    assert result["score"] == 0
    assert "n_files is 14, expected 10" in by_exercise(result)["count-files"]["feedback"]
    assert "n_lines is 408, expected" in by_exercise(result)["count-lines"]["feedback"]


# --- identity: the submission never chooses what it is graded against ----------------------


@pytest.mark.parametrize("learner", ["key-traversal", "key-public-copy", "key-absolute",
                                     "key-not-a-string", "key-checkpoints"])
def test_a_submission_cannot_choose_its_source(graded, learner):
    """Whatever its metadata claims, it is graded against the declared lesson of its name,
    with the hidden tests and grading parameters (so hard-coded answers score nothing), and
    nothing outside the course ever runs."""
    result = one(graded, learner)
    assert result["graded"] and result["score"] == 0, result
    assert result["parameters"]["run_date"] == "2015-06-06"
    assert any("no lesson of this course" in note for note in result["notes"])
    assert not graded["marker"].exists(), "a notebook outside the course was run"


def test_unknown_and_invalid_notebooks_are_reported_not_crashed(graded):
    broken = graded["results"]["broken"]["00_orientation"]
    assert "is not a valid notebook" in broken["errors"][0] and not broken["graded"]
    stranger = graded["results"]["stranger"]["unknown"]
    assert "answers no lesson of this course" in stranger["errors"][0]


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


# --- forgery: a verdict is decided where the learner's code cannot reach -------------------


@pytest.mark.parametrize("learner", [*forgery_cases(), "patch-helper", "patch-library",
                                     "fake-result"])
def test_forged_verdicts_score_like_a_blank(graded, learner):
    result = one(graded, learner)
    assert result["graded"] and result["score"] == 0, result["exercises"]


def test_fake_result_files_never_reach_the_grades(graded):
    assert not (graded["out"] / "fake-result" / "x.json").exists()


# --- escape and leak: the sandbox sees nothing private -------------------------------------


def test_the_sandbox_sees_nothing_private(graded):
    found = findings(one(graded, "snoop"))
    for target in ("solutions", "other submission", "previous gradebook", "grader files",
                   "checker", "host file", "init"):
        assert found[target] != "READ", (target, found)
    assert found["process owners"] == [found["me"]], found  # its own processes only
    assert found["me"] != 0 and not found["canary in environment"], found
    assert CANARY not in json.dumps(graded["results"]["snoop"])


def test_network_to_the_host_is_unreachable(graded, host_server):
    result = one(graded, "network")
    assert by_exercise(result)["count-files"]["status"] == "failed"
    assert "URLError" in by_exercise(result)["count-files"]["feedback"]
    assert host_server.hits == 0


def test_feedback_escapes_learner_text(graded):
    folder = graded["out"] / "html-injection"
    page, summary = (folder / f"{ORIENTATION.replace('/', '__')}.html").read_text(), \
        (folder / f"{ORIENTATION.replace('/', '__')}.md").read_text()
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "<script>" not in summary and not re.search(r"(?<!\\)\]\(", summary)


def test_file_names_made_from_learner_names_are_safe(graded):
    names = [p.name for p in graded["out"].iterdir()]
    odd = [n for n in names if n.startswith("i_odd")]
    assert len(odd) == 1 and re.fullmatch(r"[A-Za-z0-9_-]+", odd[0]), names
    assert one(graded, "<i>odd name..")["score"] == 2
    assert "&lt;i&gt;odd" in (graded["out"] / "gradebook.html").read_text()


# --- exhaustion: every resource is bounded, and nothing is left ---------------------------


def passes_only_count_lines(result: dict) -> bool:
    statuses = {k: v["status"] for k, v in by_exercise(result).items()}
    return statuses == {"count-files": "failed", "count-lines": "passed"}


@pytest.mark.parametrize(("learner", "says"), [("memory-bomb", "MemoryError"), ("fork-bomb", "")])
def test_a_bounded_attack_fails_its_exercise_and_the_rest_is_graded(graded, learner, says):
    result = one(graded, learner)
    assert passes_only_count_lines(result), result["exercises"]
    feedback = by_exercise(result)["count-files"]["feedback"]
    assert says in feedback and "no process limit" not in feedback


def test_disk_use_is_bounded(graded):
    """The learner's files and /tmp share one capped tmpfs: the writer runs out of room (its
    own later checks with it), the machine does not, and nothing is left (see below)."""
    result = one(graded, "fill-disk")
    assert result["graded"] and result["score"] == 0
    assert "No space left on device" in by_exercise(result)["count-files"]["feedback"]


@pytest.mark.parametrize("learner", ["output-flood", "output-burst"])
def test_an_output_flood_is_capped(graded, learner):
    result = one(graded, learner)
    assert result["graded"] and by_exercise(result)["count-lines"]["status"] == "passed"
    assert len(json.dumps(result)) < 10_000
    if learner == "output-flood":  # what was kept is said (a burst is refused whole)
        assert result["notes"] == [
            "the output of cell count-files-solution was cut at 262,144 bytes"]


def test_daemons_and_kills_are_contained(graded):
    result = one(graded, "daemon-and-kill")
    assert result["graded"] and by_exercise(result)["count-lines"]["status"] == "passed"


def test_os_exit_is_reported_and_contained(graded):
    result = one(graded, "os-exit")
    assert result["score"] == 0 and result["graded"]
    assert any("kernel died" in e for e in result["errors"])


def test_nothing_is_left_behind(graded):
    assert not sandbox.strays()  # (a slot held by a run in another CI slot is that run's)
    assert not graded["leftovers"], graded["leftovers"]
    assert not list(Path(tempfile.gettempdir()).glob(f"{graded['host_file'].name}-*"))
    assert not Path("/tmp/fake-data").exists()


# --- the class as a whole ----------------------------------------------------------------


def test_every_learner_has_a_row_and_the_exit_code_names_the_ungraded(graded):
    assert graded["returncode"] == 1, graded["stderr"][-2000:]
    ungraded = {f"{learner}/{key}": result["errors"]
                for learner, by_key in graded["results"].items()
                for key, result in by_key.items() if not result["graded"]}
    assert "could not be graded: broken, stranger" in graded["stderr"], ungraded
    csv_text = (graded["out"] / "gradebook.csv").read_text()
    assert len(csv_text.splitlines()) == len(graded["results"]) + 1
    assert CANARY not in csv_text  # the earlier gradebook was replaced
    page = (graded["out"] / "gradebook.html").read_text()
    assert 'href="hard-coded/01_beginner__00_orientation.html"' in page
    feedback = (graded["out"] / "hard-coded" / "01_beginner__00_orientation.html").read_text()
    assert "n_files is 14, expected 10" in feedback


def test_junit_counts_failures(graded):
    xml = (graded["out"] / "hard-coded" / "01_beginner__00_orientation.xml").read_text()
    assert 'tests="2" failures="2"' in xml


def test_missing_path_is_a_grader_error(tmp_path):
    result = subprocess.run([sys.executable, "-m", "workbook", "grade", str(tmp_path / "nope")],
                            capture_output=True, text=True, cwd=paths.ROOT)
    assert result.returncode == 2 and "does not exist" in result.stderr


# --- two classes graded at once on one machine --------------------------------------------


def presence_probe(canary: str) -> str:
    """Leaves a file, stays a while (so the other class is graded meanwhile), then looks for
    the other class's file everywhere it can see."""
    return reporting(f"""import glob, os, time
open(os.path.expanduser("~/wb-canary-{canary}"), "w").write("{canary}")
time.sleep(12)
seen = glob.glob("/sandbox/**/wb-canary-*", recursive=True) + glob.glob("/tmp/**/wb-canary-*",
                                                                        recursive=True)
findings["others"] = [p for p in seen if "{canary}" not in p]
findings["uid"] = os.getuid()""")


def test_two_classes_graded_at_once_share_nothing(tmp_path):
    """Two classes graded side by side, with an instructor's shorter cell limit: each sees none
    of the other's files, runs as its own user, and stops a loop at that limit while the rest
    of the notebook is graded (with the default limit, a loop holds a worker for 300 s)."""
    runs = {}
    for name in ("class-a", "class-b"):
        roster = tmp_path / name / "submissions"
        probe = {COUNT_FILES: presence_probe(f"{name}-{CANARY}"), COUNT_LINES: GOOD[COUNT_LINES]}
        samples.write(samples.submission(samples.blank(ORIENTATION), probe), roster / "probe",
                      ORIENTATION)
        samples.write(samples.correct(ORIENTATION), roster / "correct", ORIENTATION)
        if name == "class-a":
            loop = {COUNT_FILES: "while True:\n    pass", COUNT_LINES: GOOD[COUNT_LINES]}
            samples.write(samples.submission(samples.blank(ORIENTATION), loop), roster / "loop",
                          ORIENTATION)
        runs[name] = subprocess.Popen(
            [sys.executable, "-m", "workbook", "grade", str(roster), "--out",
             str(tmp_path / name / "grades"), "--workers", "2", "--cell-timeout", "60"],
            cwd=paths.ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    uids = set()
    for name, run in runs.items():
        output, _ = run.communicate(timeout=600)
        assert run.returncode == 0, output[-2000:]
        grades = tmp_path / name / "grades"
        correct = json.loads((grades / "correct" / "01_beginner__00_orientation.json").read_text())
        assert correct["score"] == correct["max_score"] > 0
        if name == "class-a":
            looped = json.loads((grades / "loop" / "01_beginner__00_orientation.json")
                                .read_text())
            assert passes_only_count_lines(looped), looped["exercises"]
            assert "stopped after 60 s" in by_exercise(looped)["count-files"]["feedback"]
        found = findings(json.loads((grades / "probe" / "01_beginner__00_orientation.json")
                                    .read_text()))
        assert found["others"] == [], found
        uids.add(found["uid"])
    assert len(uids) == 2, "the two classes were graded as the same user"
