"""A local weather API in Open-Meteo's historical format (`/v1/archive`), for the store cities.

Seattle 2012-2015 comes from NOAA's daily observations as the `vega-datasets` package ships
them; every other city or date gets a deterministic synthetic series, labelled as such in the
response (`workbook_source`). Faults can be injected for the reliability lessons: fail the next
N calls with a status (503, 429), add latency, answer with malformed JSON, or leave a daily
variable out (an API that changed); for every city, or for one.

Run as `python -m workbook.services.weather --port PORT`; control with POST /_control/faults.
"""

import argparse
import csv
import datetime as dt
import importlib.util
import io
import json
import math
import threading
import time
import zlib
from functools import cache
from http.server import ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from workbook.retail import STORES
from workbook.services.base import JsonHandler

VARIABLES = {  # Open-Meteo daily variable -> (unit, column of the NOAA table, scale)
    "temperature_2m_max": ("°C", "temp_max", 1.0),
    "temperature_2m_min": ("°C", "temp_min", 1.0),
    "precipitation_sum": ("mm", "precipitation", 1.0),
    "wind_speed_10m_max": ("km/h", "wind", 3.6),  # NOAA's table is in m/s
}
ARCHIVE_PATH = "/v1/archive"
NEAR_DEGREES = 0.5  # a request this close to a store city is answered for that city
REAL = "NOAA daily observations (vega-datasets)"
SYNTHETIC = "synthetic deterministic series (no real data shipped for this city/date)"


@cache
def seattle() -> dict[dt.date, dict[str, float]]:
    """NOAA's Seattle table as vega-datasets ships it, found without importing the package:
    its __init__ imports pandas, seconds that the first request of a fresh server waited on a
    loaded machine, past a client's 10 s read timeout. `serve` loads it before it listens."""
    package = importlib.util.find_spec("vega_datasets").submodule_search_locations[0]
    text = (Path(package) / "_data" / "seattle-weather.csv").read_text()
    return {dt.datetime.strptime(row["date"], "%Y/%m/%d").date(): {
        k: float(row[k]) for k in ("temp_max", "temp_min", "precipitation", "wind")}
        for row in csv.DictReader(io.StringIO(text))}


def synthetic(city: str, day: dt.date) -> dict[str, float]:
    """A plausible, repeatable day: seasonal temperature by latitude, pseudo-random rain."""
    lat = next(s.latitude for s in STORES if s.city == city)
    noise = zlib.crc32(f"{city}:{day}".encode()) / 2**32
    season = math.cos(2 * math.pi * (day.timetuple().tm_yday - 200) / 365)
    t_max = round(27 - (lat - 37) * 0.8 + 10 * season + 4 * (noise - 0.5), 1)
    return {"temp_max": t_max, "temp_min": round(t_max - 8 - 3 * noise, 1),
            "precipitation": round(max(0.0, 12 * noise - 6), 1), "wind": round(2 + 4 * noise, 1)}


def city_at(latitude: float, longitude: float) -> str | None:
    for store in STORES:
        if abs(store.latitude - latitude) <= NEAR_DEGREES and \
                abs(store.longitude - longitude) <= NEAR_DEGREES:
            return store.city
    return None


def requested_city(query: dict[str, list[str]]) -> str | None:
    try:
        return city_at(float(query["latitude"][0]), float(query["longitude"][0]))
    except (KeyError, ValueError):
        return None


class BadRequest(ValueError):
    pass


def archive(query: dict[str, list[str]]) -> dict:
    """The JSON body Open-Meteo's archive API returns for this query."""
    try:
        lat, lon = float(query["latitude"][0]), float(query["longitude"][0])
        start = dt.date.fromisoformat(query["start_date"][0])
        end = dt.date.fromisoformat(query["end_date"][0])
        daily = query["daily"][0].split(",")
    except (KeyError, ValueError) as err:
        raise BadRequest(f"Parameter missing or invalid: {err}") from None
    unknown = [v for v in daily if v not in VARIABLES]
    if unknown:
        raise BadRequest("Cannot initialize WeatherVariable from invalid String value "
                         f"{unknown[0]}")
    if end < start:
        raise BadRequest("Parameter 'start_date' is out of allowed range from start to end")
    city = city_at(lat, lon)
    if city is None:
        raise BadRequest("this local replay server knows only the store cities: "
                         + ", ".join(sorted({s.city for s in STORES})))
    days = [start + dt.timedelta(days=i) for i in range((end - start).days + 1)]
    real = seattle() if city == "Seattle" else {}
    rows = [real.get(day) or synthetic(city, day) for day in days]
    return {
        "latitude": lat, "longitude": lon, "generationtime_ms": 0.1, "utc_offset_seconds": 0,
        "timezone": "GMT", "timezone_abbreviation": "GMT", "elevation": 50.0,
        "daily_units": {"time": "iso8601", **{v: VARIABLES[v][0] for v in daily}},
        "daily": {"time": [d.isoformat() for d in days],
                  **{v: [round(r[VARIABLES[v][1]] * VARIABLES[v][2], 1) for r in rows]
                     for v in daily}},
        "workbook_source": REAL if all(day in real for day in days) else SYNTHETIC,
    }


class Faults:
    """Injected failures, shared by the server's threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.configure()
        self.requests = 0

    def configure(self, fail_first=0, status=503, latency_ms=0, malformed=False,
                  drop_variable="", only_city="") -> None:
        with self.lock:
            self.fail_next, self.status = int(fail_first), int(status)
            self.latency_ms, self.malformed = int(latency_ms), bool(malformed)
            self.drop_variable, self.only_city = str(drop_variable), str(only_city)

    def next_call(self, city: str | None) -> tuple[int | None, bool, int, str]:
        """(status to fail with or None, answer malformed?, latency, variable to leave out)
        for one API call about `city` (faults scoped to another city do not apply)."""
        with self.lock:
            self.requests += 1
            if self.only_city and city != self.only_city:
                return None, False, 0, ""
            fail = self.status if self.fail_next > 0 else None
            self.fail_next = max(0, self.fail_next - 1)
            return fail, self.malformed, self.latency_ms, self.drop_variable


class Handler(JsonHandler):
    faults: Faults

    def do_GET(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        if url.path == "/health":
            return self.send(200, b'{"ok": true}')
        if url.path == "/_control/stats":
            return self.send(200, json.dumps({"requests": self.faults.requests}).encode())
        if url.path != ARCHIVE_PATH:
            return self.send(404, b'{"error": true, "reason": "Not Found"}')
        query = parse_qs(url.query)
        fail, malformed, latency_ms, drop_variable = self.faults.next_call(requested_city(query))
        time.sleep(latency_ms / 1000)  # injected latency: the lesson's point is to wait
        if fail:
            retry = {"Retry-After": "1"} if fail == 429 else {}
            return self.send(fail, json.dumps({"error": True, "reason": "injected fault"})
                             .encode(), retry)
        try:
            answer = archive(query)
            answer["daily"].pop(drop_variable, None)  # a changed API: a variable went missing
            body = json.dumps(answer).encode()
        except BadRequest as err:
            return self.send(400, json.dumps({"error": True, "reason": str(err)}).encode())
        self.send(200, body[: len(body) // 2] if malformed else body)

    def do_POST(self):  # noqa: N802
        if urlparse(self.path).path != "/_control/faults":
            return self.send(404, b'{"error": true}')
        length = int(self.headers.get("Content-Length", 0))
        self.faults.configure(**json.loads(self.rfile.read(length) or b"{}"))
        self.send(200, b'{"ok": true}')


def inject_faults(url: str, fail_first: int = 0, status: int = 503, latency_ms: int = 0,
                  malformed: bool = False, drop_variable: str = "", only_city: str = "") -> None:
    """Configure the faults of the server at `url` (its root or its /v1/archive URL), for
    every city or `only_city`; no arguments clear them."""
    import urllib.request

    root = url.removesuffix("/").removesuffix(ARCHIVE_PATH)
    body = json.dumps({"fail_first": fail_first, "status": status, "latency_ms": latency_ms,
                       "malformed": malformed, "drop_variable": drop_variable,
                       "only_city": only_city}).encode()
    request = urllib.request.Request(f"{root}/_control/faults", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        response.read()


def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve until stopped; on this machine only, unless `host` says otherwise (the compose
    file's weather service listens on its container's interfaces)."""
    Handler.faults = Faults()
    seattle()  # read before the server listens, so that its health check waits for it
    ThreadingHTTPServer((host, port), Handler).serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    serve(args.port, args.host)
