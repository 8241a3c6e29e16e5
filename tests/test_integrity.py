"""The project runs on itself what it teaches: every orchestrator file the solutions write
passes the integrity suite (`workbook.integrity`), one test per file, in the orchestrator's own
environment; and the suite fails the DAGs it should."""

import pytest

from workbook import course, lesson_files, paths
from workbook import integrity as integrity_suite

pytestmark = pytest.mark.slow
# Each orchestrated track's folder as a learner who finished it has it: a later version of a
# file replaces the earlier one (lesson 06's incident DAG ends fixed).
FILES = {track.folder: lesson_files.files(course.lesson_keys(track.folder))
         for track in course.TRACKS if track.orchestrator}
CASES = [(track, name) for track, files in FILES.items() for name in sorted(files)]
AIRFLOW = course.track("02_intermediate")  # the track the suite's negative cases use


def integrity(folder, home, track: course.Track = AIRFLOW) -> dict[str, list[str]]:
    return integrity_suite.report(track.orchestrator.name, folder, home,
                                  paths.env_python(track.env))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    found = {}
    for track, files in FILES.items():
        root = tmp_path_factory.mktemp("integrity")
        lesson_files.write(files, root / "files")
        found[track] = integrity(root / "files", root / "home", course.track(track))
    return found


@pytest.mark.parametrize(("track", "name"), CASES, ids=[f"{t}/{n}" for t, n in CASES])
def test_every_orchestrator_file_of_the_solutions_passes(reports, track, name):
    assert reports[track][name] == []


DAG = '''"""{doc}"""
import pendulum
from airflow.sdk import dag, task


@dag({schedule}="0 9 * * *", start_date=pendulum.datetime(2015, 6, 1), catchup=False,
     tags={tags}, default_args={default_args})
def {name}():
    @task
    def step():
        return 1

    step()


{name}()
'''


def test_the_suite_fails_what_it_should(tmp_path):
    good = {"doc": "A DAG.", "schedule": "schedule", "tags": '["x"]',
            "default_args": '{"retries": 2}'}
    cases = {"untagged": {"tags": "[]"}, "no_retries": {"default_args": "{}"},
             "silent_zero": {"default_args": '{"retries": 0}'},
             "stated_zero": {"default_args": '{"retries": 0}', "doc": "No retries: idempotent."},
             "undocumented": {"doc": ""}, "airflow2": {"schedule": "schedule_interval"}}
    for name, change in cases.items():
        (tmp_path / "dags").mkdir(exist_ok=True)
        (tmp_path / "dags" / f"{name}.py").write_text(DAG.format(name=name, **{**good, **change}))
    found = integrity(tmp_path / "dags", tmp_path / "home")
    assert found["untagged.py"] == ["untagged has no tags"]
    assert found["no_retries.py"] == ["no_retries sets no retries in default_args"]
    assert found["silent_zero.py"] == [
        "silent_zero has retries=0 and its documentation does not say why"]
    assert found["stated_zero.py"] == []
    assert found["undocumented.py"] == ["undocumented has no doc_md and its module no docstring"]
    assert found["airflow2.py"][0].startswith("does not import: ")
