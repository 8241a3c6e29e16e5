"""A smallest TaskFlow DAG: two tasks and an XCom between them (tests/test_airflow_home.py)."""

import pendulum
from airflow.sdk import dag, task


@dag(schedule=None, start_date=pendulum.datetime(2015, 6, 1, tz="UTC"), catchup=False)
def smoke():
    @task
    def numbers():
        return [1, 2, 3]

    @task
    def total(values):
        print("TOTAL", sum(values))

    total(numbers())


smoke_dag = smoke()
