"""The project runs on itself what it teaches: every orchestrator file the solutions write
passes the integrity suite (`workbook.integrity`), one test per file, in the orchestrator's own
environment; and the suite fails the DAGs it should."""

import pytest

from workbook import airflow_home, course, dagfiles, paths
from workbook import integrity as integrity_suite

pytestmark = pytest.mark.slow
# The dags folder of a learner who finished the level: a later version of a file replaces the
# earlier one (lesson 06's incident DAG ends fixed).
AIRFLOW_FILES = dagfiles.dag_files(course.lesson_keys("02_intermediate"))


def integrity(folder, home) -> dict[str, list[str]]:
    return integrity_suite.report("airflow", folder, home, paths.venv_python(airflow_home.ENV))


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> dict[str, list[str]]:
    root = tmp_path_factory.mktemp("integrity")
    dagfiles.write(AIRFLOW_FILES, root / "dags")
    return integrity(root / "dags", root / "home")


@pytest.mark.parametrize("name", sorted(AIRFLOW_FILES))
def test_every_dag_file_of_the_solutions_passes(report, name):
    assert report[name] == []


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
