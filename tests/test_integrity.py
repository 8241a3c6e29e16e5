"""The project runs on itself what it teaches: every orchestrator file the solutions write
passes the integrity suite (`workbook.integrity`), one test per file, in the orchestrator's own
environment; and the suite fails the DAGs it should."""

import os
import subprocess

import pytest

from workbook import course, dagster_home, lesson_files, paths
from workbook import integrity as integrity_suite

pytestmark = pytest.mark.slow
# Each orchestrated track's folder as a learner who finished it has it, per orchestrator (the
# capstone writes for three): a later version of a file replaces the earlier one (lesson 06's
# incident DAG ends fixed).
FILES = {(track.folder, declared.name): lesson_files.files(course.lesson_keys(track.folder),
                                                           declared.name)
         for track in course.TRACKS for declared in track.orchestrators}
# An orchestrated track whose lessons write no file yet (Prefect's, declared before its
# lessons) has one case, which skips and says so: nothing of it was judged, nothing passed.
CASES = [(*key, name) for key, files in FILES.items() for name in sorted(files) or [None]]
AIRFLOW = course.track("02_intermediate")  # the track the suite's negative cases use
PREFECT = course.track("03_advanced/prefect")
DAGSTER = course.track("03_advanced/dagster")


def integrity(folder, home, track: course.Track = AIRFLOW,
              orchestrator: str | None = None) -> dict[str, list[str]]:
    """The suite of `orchestrator` (the track's first by default) over `folder`, in that
    orchestrator's environment."""
    declared = next(o for o in track.orchestrators if orchestrator in (None, o.name))
    return integrity_suite.report(declared.name, folder, home, paths.env_python(declared.env))


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict:
    found = {}
    for (track, orchestrator), files in FILES.items():
        if not files:
            continue
        root = tmp_path_factory.mktemp("integrity")
        lesson_files.write(files, root / "files")
        found[track, orchestrator] = integrity(root / "files", root / "home",
                                               course.track(track), orchestrator)
    return found


@pytest.mark.parametrize(("track", "orchestrator", "name"), CASES,
                         ids=[f"{t}/{o}/{n}" for t, o, n in CASES])
def test_every_orchestrator_file_of_the_solutions_passes(request, track, orchestrator, name):
    if name is None:
        folders = next(o.folders for o in course.track(track).orchestrators
                       if o.name == orchestrator)
        assert not course.track(track).lessons, (
            f"{track} has lessons but they write no file for {orchestrator}: do their "
            f"%%writefile cells name one of {sorted(folders)}?")
        pytest.skip(f"{track} has no lessons yet: no orchestrator file of it to judge")
    assert request.getfixturevalue("reports")[track, orchestrator][name] == []


def test_the_dagster_code_location_passes_its_own_smoke_test(tmp_path):
    """As a deployment's CI runs it: pytest on the code location's test_definitions.py (lesson
    06 writes it), in the dagster environment, with no variable of the lessons set."""
    files = FILES[DAGSTER.folder, "dagster"]
    assert "test_definitions.py" in files
    lesson_files.write(files, tmp_path / "defs")
    env = {key: value for key, value in os.environ.items() if not key.startswith("LAKE_")}
    home = dagster_home.prepare(tmp_path / "home")
    done = subprocess.run([paths.env_python(DAGSTER.env), "-m", "pytest", "-q", "-p",
                           "no:cacheprovider", "test_definitions.py"], cwd=tmp_path / "defs",
                          env={**env, **dagster_home.environ(home)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:]
    assert "1 passed" in done.stdout


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


FLOW = '''"""{module_doc}"""
from prefect import flow, task


@task({task_args})
def extract():
    return 1


@flow({flow_args})
def {name}():
    {flow_doc}
    {body}


{tail}
'''
# Deployments the suite reads for tags, and one whose entrypoint names no flow.
PREFECT_YAML = """\
deployments:
  - name: sensors-yaml
    entrypoint: yaml_tagged.py:yaml_tagged
    tags: [sensors]
  - name: ghost
    entrypoint: good.py:ghost
"""
HELPERS = '''"""Tasks that flows of this folder share."""
from prefect import task


@task(tags=["sensors"], retries=2)
def load():
    return 1
'''
USES_HELPERS = '''"""A flow whose task lives in a sibling module."""
from helpers import load
from prefect import flow


@flow
def uses_helpers():
    """Load through the shared task."""
    return load.submit().result()
'''


def test_the_prefect_suite_fails_what_it_should(tmp_path):
    import time

    good = {"module_doc": "Sensor flows.", "task_args": 'tags=["sensors"]',
            "flow_args": "retries=2", "flow_doc": '"""Load the sensors."""',
            "body": "return extract()", "tail": ""}
    ran = 'open(__file__ + ".ran", "w").close()\n    return extract()'  # proof of a run
    cases = {
        "good": {}, "undocumented": {"flow_doc": ""}, "untagged": {"task_args": ""},
        "deployment_tagged": {"task_args": "", "tail": 'if __name__ == "__main__":\n'
                              '    deployment_tagged.serve(name="sensors", tags=["sensors"])'},
        "yaml_tagged": {"task_args": ""},
        "no_retries": {"flow_args": ""},
        "task_retries": {"flow_args": "", "task_args": 'tags=["sensors"], retries=3'},
        "silent_zero": {"flow_args": "retries=0"},
        "commented_zero": {"flow_args": "\n    retries=0,  # the next 15-minute run reloads it\n"},
        "stated_zero": {"flow_args": "retries=0",
                        "flow_doc": '"""Load the sensors. No retries: the next run reloads."""'},
        "raises": {"tail": 'raise RuntimeError("broken on purpose")'},
        "exits": {"tail": "raise SystemExit(3)"},  # no Exception: the suite still reports
        "runs_at_import": {"body": ran, "tail": "runs_at_import()"},
        # A run the file's text does not show: the missing API URL still stops it.
        "hidden_run": {"body": ran, "tail": 'globals()["hidden_run"]()'},
    }
    flows = tmp_path / "flows"
    flows.mkdir()
    for name, change in cases.items():
        (flows / f"{name}.py").write_text(FLOW.format(name=name, **{**good, **change}))
    (flows / "prefect.yaml").write_text(PREFECT_YAML)
    # another project file of the folder (`prefect deploy --prefect-file`): judged too
    (flows / "prefect.docker.yaml").write_text(
        "deployments:\n  - name: in-docker\n    entrypoint: gone.py:good\n")
    (flows / "helpers.py").write_text(HELPERS)
    (flows / "uses_helpers.py").write_text(USES_HELPERS)
    started = time.perf_counter()
    found = integrity(flows, tmp_path / "home", PREFECT)
    print(f"prefect integrity suite over {len(found)} files: "
          f"{time.perf_counter() - started:.1f} s")
    no_api = "does not import: ValueError: No Prefect API URL provided."
    line = (flows / "runs_at_import.py").read_text().splitlines().index("runs_at_import()") + 1
    assert found == {
        "good.py": [], "helpers.py": [], "uses_helpers.py": [],
        "undocumented.py": ["undocumented has no docstring or description"],
        "untagged.py": ["untagged has no tags (on a deployment of it, or on every task it calls)"],
        "deployment_tagged.py": [], "yaml_tagged.py": [],
        "no_retries.py": ["no_retries sets no retries, nor do its tasks extract"],
        "task_retries.py": [],
        "silent_zero.py": ["silent_zero has retries=0 and no comment or documentation says why"],
        "commented_zero.py": [], "stated_zero.py": [],
        "raises.py": ["does not import: RuntimeError: broken on purpose"],
        "exits.py": ["does not import: it exits (SystemExit: 3)"],
        "runs_at_import.py": [
            f"calls runs_at_import() at import time (line {line}): put it "
            'under `if __name__ == "__main__":`', no_api + " Please set PREFECT_API_URL to the "
            "address of a running Prefect server."],
        "hidden_run.py": [no_api + " Please set PREFECT_API_URL to the address of a running "
                          "Prefect server."],
        "prefect.yaml": ["deployment ghost: entrypoint 'good.py:ghost' names no flow in this "
                         "folder"],
        "prefect.docker.yaml": ["deployment in-docker: entrypoint 'gone.py:good' names no flow "
                                "in this folder"],
    }
    assert not list(flows.glob("*.ran")), "a flow ran while the suite imported its file"


ASSET = '''"""{module_doc}"""
import dagster as dg


@dg.asset({asset_args})
def {name}():
    {doc}
    open(__file__ + ".ran", "w").close()  # proof of a run
    return 1


{tail}
'''
SENSOR = '''"""Sensors."""
import dagster as dg


@dg.sensor(target="*"{interval})
def {name}(context):
    return dg.SkipReason("nothing new")
'''
RETRY = "retry_policy=dg.RetryPolicy(max_retries=2)"
DEFINITIONS = '''"""The code location: an asset that needs a resource nobody provides."""
import dagster as dg
from needs_lake import needs_lake

defs = dg.Definitions(assets=[needs_lake])
'''


def test_the_dagster_suite_fails_what_it_should(tmp_path):
    good = {"module_doc": "Sensor assets.", "asset_args": f'group_name="lake", {RETRY}',
            "doc": '"""Readings of the hour."""', "tail": ""}
    hourly = "partitions_def=dg.HourlyPartitionsDefinition(start_date='2015-06-01-00:00'{})"
    cases = {
        "good": {}, "undocumented": {"doc": "pass"}, "ungrouped": {"asset_args": RETRY},
        "kinds": {"asset_args": f'kinds={{"s3"}}, {RETRY}'},
        "no_retries": {"asset_args": 'group_name="lake"'},
        "silent_zero": {"asset_args": 'group_name="lake", '
                        "retry_policy=dg.RetryPolicy(max_retries=0)"},
        "stated_zero": {"asset_args": 'group_name="lake", '
                        "retry_policy=dg.RetryPolicy(max_retries=0)",
                        "doc": '"""Readings. No retries: the next sensor tick reloads."""'},
        "unbounded": {"asset_args": f'group_name="lake", {RETRY}, ' + hourly.format("")},
        "bounded": {"asset_args": f'group_name="lake", {RETRY}, '
                    + hourly.format(", end_date='2015-06-02-00:00'")},
        "raises": {"tail": 'raise RuntimeError("broken on purpose")'},
        "materializes": {"tail": "dg.materialize([materializes])"},
        "needs_lake": {"asset_args": f'group_name="lake", {RETRY}, '
                       'required_resource_keys={"lake"}'},
    }
    defs = tmp_path / "defs"
    defs.mkdir()
    for name, change in cases.items():
        (defs / f"{name}.py").write_text(ASSET.format(name=name, **{**good, **change}))
    for name, interval in (("paced", ", minimum_interval_seconds=5"), ("unpaced", "")):
        (defs / f"{name}.py").write_text(SENSOR.format(name=name, interval=interval))
    (defs / "definitions.py").write_text(DEFINITIONS)
    found = integrity(defs, tmp_path / "home", DAGSTER)
    line = (defs / "materializes.py").read_text().splitlines().index(
        "dg.materialize([materializes])") + 1
    definitions = found.pop("definitions.py")
    assert found == {
        "good.py": [], "kinds.py": [], "stated_zero.py": [], "bounded.py": [], "paced.py": [],
        "needs_lake.py": [],
        "undocumented.py": ["asset undocumented has no description (a docstring or "
                            "description=)"],
        "ungrouped.py": ["asset ungrouped has no group_name, tags or kinds to sort it by"],
        "no_retries.py": ["no_retries sets no retry_policy"],
        "silent_zero.py": ["silent_zero has max_retries=0 and its documentation does not say "
                           "why"],
        "unbounded.py": ["asset unbounded has time partitions with no end_date: they grow by "
                         "one every period, and automation looks at the latest one only"],
        "raises.py": ["does not import: RuntimeError: broken on purpose"],
        "materializes.py": [f"calls dg.materialize() at import time (line {line}): put it "
                            'under `if __name__ == "__main__":`'],
        "unpaced.py": ["sensor unpaced sets no minimum_interval_seconds"],
    }
    assert len(definitions) == 1 and "dagster definitions validate failed" in definitions[0]
    assert "lake" in definitions[0], definitions
    assert not list(defs.glob("*.ran")), "an asset ran while the suite imported its file"
