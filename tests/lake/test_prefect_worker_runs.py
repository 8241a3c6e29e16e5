"""Lesson 06's fresh start for a new try of the worker exercise (workbook.prefect_deploy), on the
real Prefect server: the runs still waiting for a worker of that deployment are cancelled (a
new worker would run them beside its own), and no other run is touched."""

import uuid

from workbook import prefect_deploy


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
