"""Lesson 06's fresh start for a new try of the worker exercise (workbook.prefect_deploy), on the
real Prefect server: the runs still waiting for a worker of that deployment are cancelled (a
new worker would run them beside its own), and no other run is touched; a worker that a kernel
before a restart left running is stopped, and no worker of another server."""

import os
import subprocess
import uuid

from workbook import prefect_deploy, prefect_home, processes


def test_only_the_deployments_waiting_runs_are_cancelled(prefect_api):
    from prefect import get_client
    from prefect.states import Pending, Running, Scheduled

    mine, other = f"try-{uuid.uuid4().hex[:8]}", f"other-{uuid.uuid4().hex[:8]}"
    with get_client(sync_client=True) as client:
        flow_id = client.create_flow_from_name("worker-runs-probe")
        runs = {}
        for deployment in (mine, other):
            deployment_id = client.create_deployment(flow_id, deployment)
            for state in (Scheduled(), Pending(), Running()):
                run = client.create_flow_run_from_deployment(deployment_id, state=state)
                runs[deployment, state.type.value] = run.id

        assert prefect_deploy.cancel_waiting_runs(mine) == 2
        now = {key: client.read_flow_run(run_id).state.type.value
               for key, run_id in runs.items()}
    assert now == {(mine, "SCHEDULED"): "CANCELLED", (mine, "PENDING"): "CANCELLED",
                   (mine, "RUNNING"): "RUNNING", (other, "SCHEDULED"): "SCHEDULED",
                   (other, "PENDING"): "PENDING", (other, "RUNNING"): "RUNNING"}


def test_a_worker_left_by_a_restarted_kernel_is_stopped_and_no_other(prefect_api, tmp_path):
    """The try before a kernel restart started its worker in a session of its own, as the
    lesson does, and the kernel's `worker` variable is gone with it: start_over(None) finds the
    worker by the server it reports to. A worker of another server (another course's, another
    session's) goes on."""
    def worker(api_url: str) -> subprocess.Popen:
        env = {**prefect_deploy.environ(), "PREFECT_API_URL": api_url}
        return subprocess.Popen([str(prefect_home.prefect_cli()), "worker", "start", "--pool",
                                 f"left-{uuid.uuid4().hex[:8]}", "--type", "process"],
                                env=env, cwd=tmp_path,
                                stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                                start_new_session=True)

    left = worker(os.environ["PREFECT_API_URL"])
    other = worker("http://127.0.0.1:9/api")  # no server there: with its --type it lives on
    try:
        assert prefect_deploy.workers_of(os.environ["PREFECT_API_URL"]) == [left.pid]
        prefect_deploy.start_over(None)
        left.wait(5)  # start_over returned once it was gone
        assert processes.running(other.pid), "a worker of another server was stopped"
    finally:
        prefect_deploy.stop_worker(left)
        prefect_deploy.stop_worker(other)
