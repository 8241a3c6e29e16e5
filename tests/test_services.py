"""The local services over their real protocols: PostgreSQL (psql), the weather API (HTTP),
the SMTP sink (smtplib); their state files, health checks and clean stops."""

import csv
import email
import io
import json
import smtplib
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from importlib import resources

import pytest
import requests
from oracles import independent_totals

from workbook import paths, services, weather_sales
from workbook.retail import STORES
from workbook.services import base, postgres
from workbook.services import weather as weather_service
from workbook.waiting import wait_for

SEATTLE = next(s for s in STORES if s.city == "Seattle")
DENVER = next(s for s in STORES if s.city == "Denver")


@pytest.fixture(scope="module", autouse=True)
def private_state(tmp_path_factory):
    """Services started here record their state in a scratch folder, not the learner's."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(base, "STATE_DIR", tmp_path_factory.mktemp("services"))
        yield
        for name in services.NAMES:
            services.stop(name)


@pytest.fixture(scope="module")
def pg():
    with services.running("postgres") as endpoint:
        yield endpoint


@pytest.fixture(scope="module")
def weather():
    with services.running("weather") as endpoint:
        yield endpoint


def query(endpoint, sql: str) -> list[list[str]]:
    out = postgres.psql(endpoint.port, postgres.DATABASE, sql)
    return [line.split("|") for line in out.strip().splitlines()]


def test_postgres_has_the_stores(pg):
    assert pg.url.startswith("postgresql://postgres@127.0.0.1:")
    rows = query(pg, "SELECT store_id, city FROM stores ORDER BY store_id")
    assert rows == [[str(s.store_id), s.city] for s in STORES]


def test_postgres_daily_sales_match_the_beginner_exports(pg):
    day = "2015-06-03"
    expected = independent_totals(paths.SALES_SAMPLE / f"sales_{day}.csv", by_store=True)
    rows = query(pg, "SELECT s.name, d.category, d.net_revenue FROM daily_sales d "
                     f"JOIN stores s USING (store_id) WHERE sale_date = '{day}'")
    got = {(name, category): float(revenue) for name, category, revenue in rows}
    assert got.keys() == expected.keys()
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=0.011), key


def test_postgres_refuses_bad_rows(pg):
    with pytest.raises(services.ServiceError, match="violates foreign key"):
        postgres.psql(pg.port, postgres.DATABASE, "INSERT INTO daily_sales VALUES "
                      "('2015-06-03', 99, 'Toys', 1, 1, 0, 1.00);")


def fetch(endpoint, **params) -> tuple[int, bytes, dict]:
    query_string = "&".join(f"{k}={v}" for k, v in params.items())
    try:
        with urllib.request.urlopen(f"{endpoint.url}/v1/archive?{query_string}",
                                    timeout=10) as response:
            return response.status, response.read(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read(), dict(err.headers)


def daily(store, start="2015-06-01", end="2015-06-14"):
    return {"latitude": store.latitude, "longitude": store.longitude, "start_date": start,
            "end_date": end, "daily": "temperature_2m_max,temperature_2m_min,precipitation_sum"}


def noaa_rows():
    text = (resources.files("vega_datasets") / "_data" / "seattle-weather.csv").read_text()
    return {row["date"].replace("/", "-"): row for row in csv.DictReader(io.StringIO(text))}


def test_weather_serves_real_seattle_observations(weather):
    status, body, _ = fetch(weather, **daily(SEATTLE))
    data = json.loads(body)
    assert status == 200 and data["daily_units"]["temperature_2m_max"] == "°C"
    noaa = noaa_rows()
    assert data["daily"]["temperature_2m_max"] == [float(noaa[d]["temp_max"])
                                                   for d in data["daily"]["time"]]
    assert data["daily"]["precipitation_sum"] == [float(noaa[d]["precipitation"])
                                                  for d in data["daily"]["time"]]
    assert "NOAA" in data["workbook_source"]


def test_the_weather_server_reads_its_data_without_pandas():
    """The server answers from a CSV it reads with the csv module: importing vega_datasets
    (which imports pandas) made a fresh server's first answer take seconds, past a 10 s read
    timeout on a loaded machine (two CI runs lost a lesson to it)."""
    probe = ("import sys\nfrom workbook.services import weather\nweather.seattle()\n"
             "print(sorted(m for m in ('pandas', 'numpy', 'vega_datasets') if m in sys.modules))")
    ran = subprocess.run([str(paths.base_python()), "-c", probe], capture_output=True,
                         text=True, cwd=paths.ROOT, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"


def test_weather_elsewhere_is_labelled_synthetic_and_repeatable(weather):
    first, second = (json.loads(fetch(weather, **daily(DENVER))[1]) for _ in range(2))
    assert first == second and first["workbook_source"].startswith("synthetic")
    maxima, minima = first["daily"]["temperature_2m_max"], first["daily"]["temperature_2m_min"]
    assert all(low < high for low, high in zip(minima, maxima, strict=True))


def test_weather_rejects_bad_requests_like_open_meteo(weather):
    status, body, _ = fetch(weather, **{**daily(SEATTLE), "daily": "sunshine_hours"})
    assert status == 400 and json.loads(body)["error"] is True
    assert "sunshine_hours" in json.loads(body)["reason"]


def control(endpoint, **faults) -> None:
    weather_service.inject_faults(endpoint.url, **faults)


def test_weather_fault_injection(weather):
    control(weather, fail_first=2, status=503)
    assert [fetch(weather, **daily(SEATTLE))[0] for _ in range(3)] == [503, 503, 200]
    control(weather, fail_first=1, status=429)
    status, _, headers = fetch(weather, **daily(SEATTLE))
    assert status == 429 and headers["Retry-After"] == "1"
    control(weather, malformed=True)
    status, body, _ = fetch(weather, **daily(SEATTLE))
    with pytest.raises(json.JSONDecodeError):
        json.loads(body)
    control(weather, drop_variable="precipitation_sum")
    assert "precipitation_sum" not in json.loads(fetch(weather, **daily(SEATTLE))[1])["daily"]
    control(weather)
    assert fetch(weather, **daily(SEATTLE))[0] == 200


def test_weather_faults_scoped_to_one_city(weather):
    control(weather, malformed=True, only_city="Denver")
    assert json.loads(fetch(weather, **daily(SEATTLE))[1])["daily"]["time"]
    with pytest.raises(json.JSONDecodeError):
        json.loads(fetch(weather, **daily(DENVER))[1])
    control(weather)
    assert json.loads(fetch(weather, **daily(DENVER))[1])["daily"]["time"]


def requests_served(endpoint) -> int:
    with urllib.request.urlopen(f"{endpoint.url}/_control/stats", timeout=10) as response:
        return json.loads(response.read())["requests"]


def seattle_weather(endpoint, session=None) -> dict:
    return weather_sales.fetch_weather(endpoint.url + weather_service.ARCHIVE_PATH,
                                       SEATTLE.latitude, SEATTLE.longitude, "2015-06-03", session)


def test_the_checks_oracle_asks_again_when_a_read_times_out(weather, monkeypatch):
    """A server too slow for the read timeout (a loaded machine): the checks' own call asks again
    and gets the answer; a learner's plain call fails, as the lessons teach."""
    monkeypatch.setattr(weather_sales, "TIMEOUT_S", (3.05, 1.0))
    control(weather, latency_ms=4000)
    with pytest.raises(requests.ReadTimeout):
        seattle_weather(weather)
    before, answers = requests_served(weather), []
    asking = threading.Thread(target=lambda: answers.append(
        seattle_weather(weather, weather_sales.oracle_session())))
    asking.start()
    assert wait_for(lambda: requests_served(weather) > before, 10, 0.05)
    control(weather)  # the first try still times out; the next one is answered at once
    asking.join(30)
    assert answers and answers[0]["daily"]["time"] == ["2015-06-03"]
    assert requests_served(weather) - before >= 2


@pytest.mark.parametrize("status", [503, 429])
def test_the_checks_oracle_never_retries_an_error_status(weather, status):
    """Error statuses are what the lessons inject on purpose: one call, one answer, even a 429
    that says Retry-After."""
    control(weather, fail_first=1, status=status)
    before = requests_served(weather)
    with pytest.raises(requests.HTTPError, match=str(status)):
        seattle_weather(weather, weather_sales.oracle_session())
    assert requests_served(weather) == before + 1
    control(weather)


def test_smtp_sink_stores_each_message(tmp_path):
    with services.running("smtp") as sink:
        message = email.message.EmailMessage()
        message["From"], message["To"] = "airflow@northwind.test", "oncall@northwind.test"
        message["Subject"] = "DAG retail_weather failed"
        message.set_content("task extract_weather failed after 3 tries")
        with smtplib.SMTP("127.0.0.1", sink.port, timeout=10) as client:
            client.send_message(message)
        maildir = paths.Path(sink.data["maildir"])
        assert wait_for(lambda: list(maildir.glob("*.eml")), 10)
        received = email.message_from_bytes(next(maildir.glob("*.eml")).read_bytes())
        assert received["Subject"] == "DAG retail_weather failed"
        pid = sink.pid
    assert not base.alive(pid) and services.status("smtp") is None


def test_a_server_port_is_free_and_below_the_ephemeral_range():
    ephemeral_from = int(base.PORT_RANGE_FILE.read_text().split()[0])
    for _ in range(50):
        port = base.free_port()
        assert base.SERVER_PORTS_FROM <= port < ephemeral_from and base.bindable(port)


def test_a_port_something_listens_on_is_never_handed_out(monkeypatch):
    with socket.create_server(("127.0.0.1", base.free_port())) as taken:
        listened = taken.getsockname()[1]
        other = next(p for p in range(listened + 1, 65536) if base.bindable(p))
        monkeypatch.setattr(base, "server_ports", lambda: [listened, other])
        assert {base.free_port() for _ in range(20)} == {other}
        monkeypatch.setattr(base, "server_ports", lambda: range(listened, listened + 1))
        with pytest.raises(base.ServiceError, match=f"no free port .* {listened}-{listened}"):
            base.free_port()


def test_without_linuxs_port_range_the_servers_stay_below_the_dynamic_ports(monkeypatch,
                                                                              tmp_path):
    monkeypatch.setattr(base, "PORT_RANGE_FILE", tmp_path / "absent")
    assert base.server_ports() == range(base.SERVER_PORTS_FROM, 49152)

def test_stopping_leaves_nothing_running():
    endpoint = services.start("weather")
    assert services.status("weather") == endpoint
    assert services.stop("weather") and not base.alive(endpoint.pid)
    assert not base.state_file("weather").exists() and services.stop("weather") is False


def test_stale_state_is_cleaned_up():
    base.save(base.Endpoint("weather", "http://127.0.0.1:9", 9, 999_999))
    assert services.status("weather") is None
    assert not base.state_file("weather").exists()


def test_a_service_still_starting_is_waited_for_not_stopped(monkeypatch):
    """Another process asking while a slow service (Prefect: up to a minute) starts gets it
    once it is healthy, instead of taking it for dead and stopping it under its starter."""
    ready = threading.Event()
    healthy = services.HEALTH["weather"]
    monkeypatch.setitem(services.HEALTH, "weather", lambda e: ready.is_set() and healthy(e))
    got = {}
    starter = threading.Thread(target=lambda: got.update(started=services.start("weather")))
    asker = threading.Thread(target=lambda: got.update(asked=services.status("weather")))
    starter.start()
    try:
        assert wait_for(lambda: base.load("weather") is not None, 30)  # spawned, not healthy
        asker.start()
        asker.join(2)  # time for a wrong answer: "not running", and the starter's server stopped
        ready.set()
        starter.join(60)
        asker.join(60)
        assert got.get("started") and got.get("asked") == got["started"], got
        assert base.alive(got["started"].pid)
    finally:
        ready.set()
        services.stop("weather")


def test_missing_postgres_binaries_name_the_ways_to_get_them(monkeypatch):
    monkeypatch.setattr(postgres.shutil, "which", lambda name: None)
    monkeypatch.setattr(postgres.Path, "glob", lambda self, pattern: iter(()))
    with pytest.raises(services.ServiceError) as err:
        postgres.binary("initdb")
    for way in ("apt-get install postgresql", "brew install", "docker-compose", "postgres_url"):
        assert way in str(err.value)


def test_cli_up_status_down(tmp_path):
    command = [str(paths.base_python()), "-m", "workbook", "services"]
    up = subprocess.run([*command, "up", "weather"], capture_output=True, text=True,
                        cwd=paths.ROOT)
    try:
        assert up.returncode == 0 and "weather: http://127.0.0.1:" in up.stdout
        status = subprocess.run([*command, "status", "weather"], capture_output=True, text=True)
        assert status.stdout == up.stdout
    finally:
        down = subprocess.run([*command, "down", "weather"], capture_output=True, text=True)
    assert down.stdout.strip() == "weather: stopped"
    unknown = subprocess.run([*command, "up", "redis"], capture_output=True, text=True)
    assert unknown.returncode == 1 and "unknown service 'redis'" in unknown.stderr
