"""The grader's parts on their own, with the hostile inputs each part is there to stop: which
lesson a submission answers, what crosses from the learner's kernel, what the checker refuses
to run, how feedback is escaped, and a class that goes on when one grading fails."""

import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from workbook import airflow_lesson, course, markers, paths
from workbook.checks import CheckFailed
from workbook.grading import (
    evidence,
    grade,
    identify,
    names,
    report,
    roster,
    samples,
    score,
    timing,
)

ORIENTATION = "01_beginner/00_orientation"


# --- identity: a lesson of the declaration, never a path ---------------------------------


def submission(key) -> nbformat.NotebookNode:
    nb = samples.blank(ORIENTATION)
    nb.metadata["workbook"] = {"notebook": key}
    return nb


@pytest.mark.parametrize("key", [
    "../notebooks/01_beginner/00_orientation", "/etc/passwd", "01_beginner/../../x",
    "01_beginner/00_orientation/..", ["a"], {"b": 1}, 7, None, "",
    "01_beginner/.ipynb_checkpoints/00_orientation"])
def test_any_key_but_a_declared_one_falls_back_to_the_file_name(key):
    lesson, notes = identify.lesson_for(submission(key), Path("/x/00_orientation.ipynb"))
    assert lesson.key == ORIENTATION
    assert (key is None) == (not notes)


@pytest.mark.parametrize("name", ["*", "0*_orientation", "[0]0_orientation", "..", "unknown"])
def test_a_file_name_is_compared_never_globbed(name):
    with pytest.raises(identify.SubmissionError, match="answers no lesson of this course"):
        identify.lesson_for(submission("../x"), Path(f"/x/{name}.ipynb"))


def test_the_source_is_the_declared_lessons_file_in_the_trusted_folder(tmp_path):
    lesson = course.find(ORIENTATION)
    assert identify.source_path(lesson, paths.SOLUTIONS) == paths.SOLUTIONS / f"{ORIENTATION}.ipynb"
    with pytest.raises(identify.SubmissionError, match="missing"):
        identify.source_path(lesson, tmp_path)


# --- what crosses from the learner's kernel ----------------------------------------------


def roundtrip(values: dict, folder: Path, wanted=None) -> dict:
    evidence.export(values, str(folder), wanted or list(values))
    loaded: dict = {}
    evidence.load(loaded, str(folder), wanted or list(values))
    return loaded


def test_values_and_tables_cross_as_data(tmp_path):
    outcome = airflow_lesson.Outcome("success", {"t": ("success", 2)})
    frame = pd.DataFrame({"n": pd.array([1, None], dtype="Int64")}, index=["a", "b"])
    values = {"n": 3, "pair": (1, "x"), "nested": {"k": [frame, {2}]}, "frame": frame,
              "when": pd.Timestamp("2015-06-03").date(), "outcome": outcome,
              "path": Path("/p")}
    loaded = roundtrip(values, tmp_path)
    assert loaded["pair"] == (1, "x") and loaded["when"].isoformat() == "2015-06-03"
    pd.testing.assert_frame_equal(loaded["frame"], frame)
    pd.testing.assert_frame_equal(loaded["nested"]["k"][0], frame)
    assert loaded["outcome"] == outcome and loaded["outcome"].tries("t") == 2
    assert loaded["path"] == Path("/p")


def test_the_checker_keeps_its_own_values_and_refreshes_the_learners(tmp_path):
    mine = {"days": 10}
    for count, folder in enumerate((tmp_path / "1", tmp_path / "2")):
        evidence.export({"days": 14, "mails_before": count}, str(folder), ["days", "mails_before"])
        evidence.load(mine, str(folder), ["days", "mails_before"])
        assert (mine["days"], mine["mails_before"]) == (10, count)


def test_what_is_not_data_fails_the_check_that_uses_it(tmp_path):
    loaded = roundtrip({"f": lambda: 1, "conn": object()}, tmp_path, ["f", "conn", "never"])
    for name in ("f", "conn"):
        with pytest.raises(CheckFailed, match=f"`{name}` is a"):
            loaded[name]()
    with pytest.raises(CheckFailed, match="never defined"):
        _ = loaded["never"] == 3


def test_a_class_outside_the_workbook_is_never_imported(tmp_path):
    index = {"x": {"kind": "value", "value": {"__type__": "dataclass", "class": "os.system",
                                               "fields": {"a": 1}}}}
    (tmp_path / "index.json").write_text(json.dumps(index))
    loaded: dict = {}
    evidence.load(loaded, str(tmp_path), ["x"])
    assert vars(loaded["x"]) == {"a": 1}


@pytest.mark.parametrize("attack", ["link-index", "link-folder", "huge", "not-json", "list"])
def test_planted_evidence_is_refused(tmp_path, attack):
    folder = tmp_path / "evidence"
    secret = tmp_path / "secret.json"
    secret.write_text(json.dumps({"x": {"kind": "value", "value": "secret"}}))
    folder.mkdir()
    if attack == "link-index":
        (folder / "index.json").symlink_to(secret)
    elif attack == "link-folder":
        folder.rmdir()
        folder.symlink_to(tmp_path)
    elif attack == "huge":
        with open(folder / "index.json", "wb") as f:
            f.truncate(evidence.MAX_JSON_BYTES + 1)
    else:
        (folder / "index.json").write_text("[1]" if attack == "list" else "{nope")
    loaded: dict = {}
    with pytest.raises((OSError, ValueError)):
        evidence.load(loaded, str(folder), ["x"])
    assert "x" not in loaded


# --- the checker runs none of the learner's code -----------------------------------------


def test_the_checker_refuses_the_learners_modules_and_programs(tmp_path):
    learner = tmp_path / "learner"
    learner.mkdir()
    (learner / "json_helper.py").write_text("print('learner code ran')")
    (learner / "run.py").write_text("print('learner code ran')")
    code = f"""
import subprocess, sys
sys.path.insert(0, {str(learner)!r})
from workbook.grading import checker
checker.guard({str(learner)!r})
sys.path.insert(0, {str(learner)!r})  # put back, as a setup cell might
script = {str(learner / 'run.py')!r}
for attempt in ("import json_helper", "subprocess.run([sys.executable, script])",
                "__import__('os').system('sh ' + script)"):
    try:
        exec(attempt)
        print("RAN", attempt)
    except ImportError as err:
        print("refused:", err)
subprocess.run([sys.executable, "-c", "print('a program of its own runs')"],
               env={{"WHERE": {str(learner)!r}}})
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=tmp_path).stdout
    assert "learner code ran" not in out and "RAN" not in out, out
    assert out.count("refused") == 3 and "a program of its own runs" in out


# --- names: what a verdict reads from the learner ----------------------------------------


def test_a_verdict_takes_only_what_the_checker_lacks():
    verdict = ("expected = sales.read(path)\nfor day in days:\n    got = table[day]\n"
               "checks.expect_equal(n_files, len(expected), 'x')\n%time x = 1")
    assert names.needed(verdict, {"sales", "path", "days", "checks"}) == ["n_files", "table"]


def test_an_answer_leaves_its_top_level_names_not_its_locals():
    answer = ("import pandas as pd\nraw, (a, b) = 1, (2, 3)\ndef clean(df):\n    out = df\n"
              "    return out\nfor day in [1]:\n    rows = [r for r in range(day)]\n")
    assert names.bound(answer) == {"pd", "raw", "a", "b", "clean", "day", "rows"}


def scored(status: str) -> score.ExerciseResult:
    return score.ExerciseResult("x", 0, 1, status, "")


PROVIDERS = SimpleNamespace(providers={"raw": ["read-day"], "clean": ["clean-text"]})
UNDEFINED_RAW = "your answer cell failed: NameError: name 'raw' is not defined. Then: ..."


@pytest.mark.parametrize("earlier, says", [
    ("not attempted", "needs read-day, which is not answered yet (`raw` comes from it)"),
    ("failed", "needs read-day, which failed"), ("passed", None)])
def test_a_failure_on_an_earlier_exercises_name_is_not_graded(earlier, says):
    done = {"read-day": scored(earlier)}
    got = score.earlier_failure(PROVIDERS, "clean-text", UNDEFINED_RAW, done)
    assert got is None if says is None else says in got
    assert score.earlier_failure(PROVIDERS, "clean-text", "AssertionError: 3 != 4", done) is None


def test_an_exercise_after_one_not_graded_is_sent_to_the_root():
    done = {"read-day": scored("not attempted")}
    first = score.earlier_failure(PROVIDERS, "clean-text", UNDEFINED_RAW, done)
    done["clean-text"] = score.ExerciseResult("clean-text", 0, 1, "not graded", first)
    later = score.earlier_failure(PROVIDERS, "dedupe", "`clean` was never defined in your "
                                  "notebook", done)
    assert later == first and "Fix read-day first" in later


def test_verdict_markers(tmp_path):
    def cell(source, role="check"):
        return nbformat.from_dict({"id": "c", "cell_type": "code", "source": source,
                                   "metadata": {"workbook": {"role": role}}, "outputs": []})

    source = "### BEGIN HIDDEN TESTS\nx = f(1)\n### END HIDDEN TESTS\n### VERDICT\nassert x"
    assert markers.split_check(source, "c") == (
        "### BEGIN HIDDEN TESTS\nx = f(1)\n### END HIDDEN TESTS", "assert x")
    assert markers.strip_cell(cell(source), "c") == "assert x"  # nothing left above it
    assert markers.split_check("assert x", "c") == ("", "assert x")
    for bad, role, message in [("### VERDICT\n### VERDICT", "check", "more than one"),
                               ("x\n### VERDICT", "solution", "belongs in a check cell"),
                               ("### BEGIN HIDDEN TESTS\n### VERDICT\n### END HIDDEN TESTS",
                                "check", "inside a hidden-tests block"),
                               ("# ## VERDICT", "check", "malformed marker")]:
        with pytest.raises(markers.MarkerError, match=message):
            markers.strip_cell(cell(bad, role), "c")


# --- reports -----------------------------------------------------------------------------


def result(**changes) -> grade.GradeResult:
    base = grade.GradeResult(learner="a", submission="s.ipynb", notebook=ORIENTATION,
                             graded=True, score=1, max_score=2, exercises=[
                                 {"exercise": "e", "points": 1, "max_points": 2,
                                  "status": "failed", "feedback": "x"}])
    for key, value in changes.items():
        setattr(base, key, value)
    return base


@pytest.mark.parametrize("text", ["<script>alert(1)</script>", "<img src=x onerror=alert(1)>",
                                  "[click](javascript:alert(1))", "a | b\n# heading",
                                  "![x](http://evil/)", "`code` *bold* _it_"])
def test_feedback_escapes_learner_text_in_every_format(text):
    r = result(learner=text, notes=[text])
    r.exercises[0]["feedback"] = text
    page, summary = report.feedback_html(r), report.markdown(r)
    assert "<script" not in page and "<img" not in page
    assert "<script" not in summary and "<img" not in summary
    assert not re.search(r"(?<!\\)\]\(", summary)  # no link or image survives
    assert "\n# heading" not in summary and "`code`" not in summary
    gradebook = report.gradebook_html(report.gradebook_rows([r])[1], [r])
    assert "<script" not in gradebook and "<img" not in gradebook


def test_markdown_and_html_say_the_same_things():
    r = result(parameters={"run_date": "2015-06-05"}, duration_s=3.25, notes=["a note"])
    page, summary = report.feedback_html(r), report.markdown(r)
    for said in ("Score: 1 / 2", "run\\_date=2015-06-05", "3.2 s", "a note", "❌ failed"):
        assert said in summary
        assert said.replace("\\", "") in page


def test_the_gradebook_page_names_each_lesson_once_over_its_exercises():
    mine = [result(notebook=n, exercises=[{"exercise": e, "points": 1, "max_points": 1,
                                          "status": "passed", "feedback": "passed"}
                                         for e in ("first", "second")])
            for n in ("01_beginner/01_extract_transform", "01_beginner/02_load")]
    page = report.gradebook_html(report.gradebook_rows(mine)[1], mine)
    assert page.count("01_beginner/02_load</th>") == 1 and page.count(">second</th>") == 2
    assert "colspan='2'>01_beginner/01_extract_transform" in page


@pytest.mark.parametrize("name", ["..", ".", "a/../b", "", "<b>", "x" * 300, "=cmd()"])
def test_file_names_from_learner_names_are_safe(name, tmp_path):
    path = report.write_result(result(learner=name), tmp_path)
    assert path.resolve().is_relative_to(tmp_path.resolve())
    assert all(part not in (".", "..") for part in path.relative_to(tmp_path).parts)


def test_a_gradebook_cell_is_never_a_formula(tmp_path):
    report.write_gradebook([result(learner="=HYPERLINK(\"http://x\")")], tmp_path)
    with open(tmp_path / "gradebook.csv", newline="") as f:
        assert list(csv.reader(f))[1][0] == "'=HYPERLINK(\"http://x\")"


# --- a class goes on whatever one grading does -------------------------------------------


def test_a_failure_of_the_grader_is_one_learners_row(tmp_path, monkeypatch):
    for learner in ("ok", "unlucky"):
        samples.write(samples.blank(ORIENTATION), tmp_path / "roster" / learner, ORIENTATION)

    def run_and_score(result, source_nb, submission, job):
        if result.learner == "unlucky":
            raise RuntimeError("the sandbox broke")
        result.graded = True

    monkeypatch.setattr(grade, "run_and_score", run_and_score)
    code = roster.main(str(tmp_path / "roster"), str(tmp_path / "out"), None, 2, 30, 60)
    assert code == roster.EXIT_SOME_UNGRADED
    rows = (tmp_path / "out" / "gradebook.csv").read_text().splitlines()
    assert len(rows) == 3 and "the grader failed on this submission: RuntimeError" in rows[2]


def test_one_notebook_is_graded_beside_a_class_without_replacing_its_gradebook(tmp_path,
                                                                              capsys):
    out = tmp_path / "grades"
    out.mkdir()
    (out / "gradebook.csv").write_text("learner,score\nclass,7\n")
    mine = samples.write(samples.blank(ORIENTATION), tmp_path / "alice", ORIENTATION)
    assert roster.main(str(mine), str(out), None, 1, 30, 60) == roster.EXIT_ALL_GRADED
    assert (out / "gradebook.csv").read_text() == "learner,score\nclass,7\n"
    page = out / "alice" / f"{ORIENTATION.replace('/', '__')}.html"
    assert page.exists() and f"feedback in {page}" in capsys.readouterr().out


def test_a_notebook_of_the_course_is_graded_as_mine():
    assert roster.learner_of_file(paths.NOTEBOOKS / f"{ORIENTATION}.ipynb") == "me"
    assert roster.learner_of_file(Path("/tmp/bob/02_load.ipynb")) == "bob"


@pytest.mark.slow
def test_a_failing_prerequisite_is_reported_for_that_learner(tmp_path, monkeypatch):
    broken = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("1 / 0", id="x")])
    broken.metadata["kernelspec"] = {"name": "wb-learner", "language": "python",
                                     "display_name": "x"}
    monkeypatch.setattr(grade, "prerequisites", lambda source_nb: [("earlier", broken)])
    path = samples.write(samples.correct(ORIENTATION), tmp_path / "me", ORIENTATION)
    job = grade.Job(paths.SOLUTIONS, grade.sandbox.Limits(cell_timeout_s=60,
                                                          total_timeout_s=300))
    r = grade.grade(path, "me", job)
    assert not r.graded and "prerequisite earlier failed" in r.errors[0], r.errors
    assert "ZeroDivisionError" in r.errors[0]


@pytest.mark.slow
def test_without_root_the_grade_still_runs_and_says_what_is_missing(tmp_path, monkeypatch):
    """A learner grading their own work on a laptop: limits only, and a warning in the report."""
    from workbook.grading import sandbox

    warning = "not run as root: the learner's code could use the network"
    monkeypatch.setattr(sandbox, "unavailable", lambda: warning)
    path = samples.write(samples.correct(ORIENTATION), tmp_path / "me", ORIENTATION)
    job = grade.Job(paths.SOLUTIONS, sandbox.Limits(cell_timeout_s=60, total_timeout_s=300))
    r = grade.grade(path, "me", job)
    assert r.score == r.max_score > 0, (r.exercises, r.errors)
    assert r.warnings == [warning]
    recorded = json.loads(json.dumps(r.as_dict()))["timings"]  # as its JSON report has it
    assert {"assemble", "enter the sandbox, start the client", "learner kernel start",
            "checker kernel start", "checker setup cells", "learner notebook",
            "score"} <= set(recorded["spans"]), recorded
    assert all(0 <= start <= end <= r.duration_s + 0.01
               for start, end in recorded["spans"].values()), recorded
    assert {"learner cells", "verdicts"} <= set(recorded["busy"]), recorded


def test_probe_without_root_warns(monkeypatch):
    from workbook.grading import sandbox

    monkeypatch.setattr(sandbox.os, "geteuid", lambda: 1000)
    box = sandbox.probe(None)
    assert not box.isolated and "not run as root" in box.warnings[0]


def test_slots_are_held_machine_wide(tmp_path, monkeypatch):
    """Two grading runs on one machine never share a slot (and so never a user)."""
    from workbook.grading import sandbox

    monkeypatch.setattr(sandbox, "LOCKS", tmp_path)
    held = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from pathlib import Path; from workbook.grading import sandbox\n"
        f"sandbox.LOCKS = Path({str(tmp_path)!r})\n"
        "with sandbox.slot() as n:\n    print(n, flush=True)\n    time.sleep(30)")],
        stdout=subprocess.PIPE, text=True, cwd=paths.ROOT)
    try:
        other = int(held.stdout.readline())
        with sandbox.slot() as mine:
            assert mine != other
    finally:
        held.kill()
        held.wait()


@pytest.mark.skipif(os.geteuid() != 0, reason="the slots' users are made by root")
def test_a_stray_is_a_slot_users_process_in_a_slot_no_run_holds(tmp_path, monkeypatch):
    """What a run left behind is told apart from what a run still going (another class, or
    another CI slot's test) is doing with its own slot."""
    from workbook.grading import sandbox

    monkeypatch.setattr(sandbox, "LOCKS", tmp_path)
    number = sandbox.MAX_SLOTS - 1  # a slot no real run takes on this machine
    learner, _ = sandbox.identities(number)
    left = subprocess.Popen(["sleep", "60"], user=learner.uid, group=learner.gid)
    try:
        assert f"{sandbox.LEARNER_USER}-{number}" in sandbox.strays()  # (Popen returns after exec)
        held = sandbox._hold(number)
        with held:
            assert f"{sandbox.LEARNER_USER}-{number}" not in sandbox.strays()
    finally:
        left.kill()
        left.wait()
    assert f"{sandbox.LEARNER_USER}-{number}" not in sandbox.strays()

def test_a_leftover_folder_is_a_private_folder_no_running_run_can_own(tmp_path, monkeypatch):
    """A run's private folder, while its slot is held, is that run's; once no run holds the
    slot, it is what a finished run left. A folder without a slot (unsandboxed) always counts."""
    from workbook.grading import grade, sandbox

    monkeypatch.setattr(sandbox, "LOCKS", tmp_path / "locks")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    number = sandbox.MAX_SLOTS - 1
    with grade.private_folder(number) as running:
        with sandbox._hold(number):
            assert not grade.leftover_folders()
        assert grade.leftover_folders() == {running}  # (as if its run had ended without it)
        with grade.private_folder(None) as bare:
            assert grade.leftover_folders() == {running, bare}
    assert not grade.leftover_folders() and not running.exists()


# --- timings: recorded always, never trusted blindly, never asserted on ----------------------


def test_timings_take_only_well_formed_spans_from_the_client():
    timings = timing.Timings()
    timings.add_span("sandbox", 100.0, 110.0)
    timings.merge({"spans": {"client": [101, 109.5], "bad": [1, "x"], "nan": [float("nan"), 1],
                             "short": [1]}, "busy": {"verdicts": 0.5, "worse": "1"}})
    timings.merge(["not", "a", "mapping"])
    assert set(timings.spans) == {"sandbox", "client"} and timings.busy == {"verdicts": 0.5}


def test_timings_are_relative_to_the_start_and_sorted():
    timings = timing.Timings()
    timings.add_span("later", 105.25, 106.5)
    timings.add_span("first", 100.0, 101.0004)
    relative = timings.relative_to(100.0)
    assert list(relative.spans) == ["first", "later"]
    assert relative.spans == {"first": [0.0, 1.0], "later": [5.25, 6.5]}


def test_mistake_batches_hold_one_mistake_per_exercise_and_no_exercise_it_builds_on():
    """The lake lesson's last exercise calls the three before it: its mistake is graded alone;
    the four others are independent, so their mistakes share submissions."""
    import mistakes

    needs = mistakes.depends_on(mistakes.LAKE)
    assert needs["ingest-batch"] == {"validate-file", "exactly-once", "quarantine"}
    assert needs["event-keys"] == set()
    batches: dict[str, list] = {}
    for mistake in mistakes.MISTAKES:
        batches.setdefault(mistake.learner, []).append(mistake.exercise())
    for learner, exercises in batches.items():
        lesson = next(m.lesson for m in mistakes.MISTAKES if m.learner == learner)
        assert len(set(exercises)) == len(exercises), (learner, exercises)
        for exercise in exercises:
            assert not mistakes.depends_on(lesson).get(exercise, set()) & set(exercises)
    alone = next(m for m in mistakes.MISTAKES if m.exercise() == "ingest-batch")
    assert batches[alone.learner] == ["ingest-batch"]


def test_a_graded_batch_is_partial_work_that_ends_at_its_hard_coded_answer():
    """The roster's batch of a lesson ends at its hard-coded answer (its first mistake where it
    has none): the exercises after it are left as the student's stubs, so the graded run stops
    there, and the mistakes after it are tried in tests/test_lessons.py instead."""
    import mistakes

    for learner, (key, nb) in mistakes.submissions().items():
        made = mistakes.batches()[learner]
        order = mistakes.exercises(key)
        last = max(order.index(m.exercise()) for m in made)
        first = next((m for m in mistakes.MISTAKES if m.lesson == key
                      and isinstance(m, mistakes.HardCoded)), None) or made[0]
        assert order[last] == first.exercise(), (learner, [m.name for m in made])
        _, student = samples.lesson(key)
        stubs = {c.id: c.source for c in student.cells if markers.role(c) == "solution"}
        for cell in nb.cells:
            if markers.role(cell) == "solution":
                after = order.index(markers.exercise(cell)) > last
                assert (cell.source == stubs[cell.id]) == after, (learner, cell.id)


def test_only_the_lessons_own_setup_cells_get_the_setup_time_limit():
    """A learner who marks an answer cell (or a cell of their own) as setup gets nothing for it:
    the learner's notebook is rebuilt from the source, and only its setup cells keep a role."""
    from workbook.grading import assemble, execute, samples

    source, _ = samples.lesson("01_beginner/00_orientation")
    submission = samples.correct("01_beginner/00_orientation")
    answer = next(c for c in submission.cells if markers.role(c) == "solution")
    answer.metadata["workbook"]["role"] = "setup"
    submission.cells.append(nbformat.v4.new_code_cell(
        "while True: pass", metadata={"workbook": {"role": "setup"}}))
    plan = assemble.assemble(source, submission, {}, "/e", "/l")
    timed = [c for c in plan.learner.cells if execute.is_setup(c)]
    assert [c.id for c in timed] == [c.id for c in source.cells if markers.role(c) == "setup"]
    assert timed and "while True" not in "".join(c.source for c in timed)


def test_a_failed_setup_of_either_kernel_is_the_graders_error_not_the_learners():
    """The lesson's set-up cells run before any answer: when one fails (a file the sandbox does
    not show, a service that does not start), the run is not graded and says where, instead of
    giving the learner 0 for each exercise."""
    from workbook.grading import assemble, samples, score

    key = "01_beginner/00_orientation"
    source, _ = samples.lesson(key)
    plan = assemble.assemble(source, samples.correct(key), {}, "/e", "/l")
    setup = next(c.id for c in plan.learner.cells if markers.role(c) == "setup")
    failed = {"status": "error", "ename": "FileNotFoundError", "evalue": "no dagster.yaml"}
    ran = {"status": "ok"}

    def status(learner: dict, checker: dict) -> dict:
        return {"replies": {"learner": learner, "checker": checker}}

    checker_setup = {c.id: ran for c in plan.checker.cells[:plan.checker_setup]}
    assert score.setup_error(plan, status({setup: ran}, checker_setup)) is None
    assert score.setup_error(plan, status({setup: failed}, checker_setup)) == (
        f"the learner's set-up failed in cell {setup}: FileNotFoundError: no dagster.yaml")
    first = plan.checker.cells[0].id
    assert score.setup_error(plan, status({setup: ran}, {**checker_setup, first: failed})) \
        .startswith(f"the checker's set-up failed in cell {first}")


def test_the_learners_notebook_ends_at_the_last_check_of_an_answered_exercise():
    """Nothing after that check can earn a point, so it does not run: on partial work, the rest
    of the lesson (a note says so); on complete work, the closing demonstrations only."""
    from workbook.grading import assemble

    key = "01_beginner/01_extract_transform"
    source, _ = samples.lesson(key)
    first, *later = samples.points(key)

    def ran(submission) -> tuple[list[str], list, assemble.Plan]:
        """The learner's cell ids, the checks whose export runs, and everything checked."""
        plan = assemble.assemble(source, submission, {}, "/e", "/l")
        ids = [cell.id for cell in plan.learner.cells]
        return ids, [c for c in plan.checks if c.export_id in ids], plan

    ids, exported, plan = ran(samples.partial(key))
    assert exported == [c for c in plan.checks if c.exercise == first]
    assert ids[-1] == exported[-1].export_id
    assert plan.notes == [f"the notebook ran up to the checks of {first}: no exercise after "
                          f"it is answered"]
    ids, exported, plan = ran(samples.correct(key))
    assert exported == plan.checks and ids[-1] == exported[-1].export_id
    assert {c.exercise for c in exported} == {first, *later} and not plan.notes
    last_check = max(i for i, c in enumerate(source.cells) if markers.role(c) == "check")
    assert any(c.cell_type == "code" for c in source.cells[last_check + 1:]), \
        "the lesson has no cell after its last check: pick one that does"
