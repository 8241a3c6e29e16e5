"""The intermediate level's reference pipeline: a day's sales per store from PostgreSQL, the
weather of each store's city from an Open-Meteo-style API, joined and loaded into DuckDB.

Plain functions, so the DAGs stay thin wiring, the check cells have an oracle, and the
benchmark can time the same steps without an orchestrator. Every step validates its input
and raises a `SourceError` naming what is wrong before anything is written.
"""

import contextlib
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

WEATHER_VARIABLES = ("temperature_2m_max", "temperature_2m_min", "precipitation_sum")
TIMEOUT_S = (3.05, 10)  # (connect, read): a hung API fails the try instead of hanging the task

# One row per store and day; net revenue as float so the result travels as plain JSON (XCom).
SALES_SQL = """
SELECT d.sale_date::text AS sale_date, s.store_id, s.name AS store, s.city,
       s.latitude, s.longitude,
       SUM(d.units_sold)::int AS units_sold, SUM(d.net_revenue)::float8 AS net_revenue
FROM daily_sales d JOIN stores s USING (store_id)
WHERE d.sale_date = %(day)s
GROUP BY d.sale_date, s.store_id, s.name, s.city, s.latitude, s.longitude
ORDER BY s.store_id
"""
SALES_COLUMNS = ("sale_date", "store_id", "store", "city", "latitude", "longitude",
                 "units_sold", "net_revenue")

WAREHOUSE_TABLE = "store_weather_daily"
WAREHOUSE_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {WAREHOUSE_TABLE} (
    sale_date     DATE NOT NULL,
    store_id      INTEGER NOT NULL,
    store         VARCHAR NOT NULL,
    city          VARCHAR NOT NULL,
    units_sold    INTEGER NOT NULL,
    net_revenue   DECIMAL(12, 2) NOT NULL,
    temp_max_c    DOUBLE NOT NULL,
    temp_min_c    DOUBLE NOT NULL,
    precipitation_mm DOUBLE NOT NULL,
    PRIMARY KEY (sale_date, store_id)
)"""
WAREHOUSE_COLUMNS = ("sale_date", "store_id", "store", "city", "units_sold", "net_revenue",
                     "temp_max_c", "temp_min_c", "precipitation_mm")

# Stores whose day could not be processed, kept for a later replay (lesson 05).
DEAD_LETTER_TABLE = "dead_letters"
DEAD_LETTER_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {DEAD_LETTER_TABLE} (
    sale_date DATE NOT NULL,
    store_id  INTEGER NOT NULL,
    error     VARCHAR NOT NULL,
    PRIMARY KEY (sale_date, store_id)
)"""


class SourceError(ValueError):
    """A source answered with something the pipeline cannot use; the message says what."""


def extract_sales(postgres_url: str, day: str) -> list[tuple]:
    """The day's sales rows straight from PostgreSQL (psycopg), as the SQL operator gets them."""
    import psycopg

    with psycopg.connect(postgres_url) as con:
        return con.execute(SALES_SQL, {"day": day}).fetchall()


def sales_frame(rows: Iterable, columns: Iterable[str] = SALES_COLUMNS) -> pd.DataFrame:
    """The sales extract (rows as the SQL operator returns them) as a checked DataFrame."""
    frame = pd.DataFrame([list(r) for r in rows], columns=list(columns))
    missing = [c for c in SALES_COLUMNS if c not in frame.columns]
    if missing:
        raise SourceError(f"the sales extract lacks column(s) {missing}: did the source table "
                          "change?")
    if frame.empty:
        raise SourceError("the sales extract is empty: no sales recorded for this day")
    return frame


def weather_params(latitude: float, longitude: float, day: str) -> dict[str, str]:
    """Query parameters of Open-Meteo's archive API for one place and day."""
    return {"latitude": str(latitude), "longitude": str(longitude), "start_date": day,
            "end_date": day, "daily": ",".join(WEATHER_VARIABLES), "timezone": "GMT"}


def oracle_session():
    """A session for the checks' own calls (the values a learner's rows are compared with): it
    retries a connection or a read that timed out, three times, so that a machine too loaded to
    answer within TIMEOUT_S never costs a learner a point. Error statuses are not retried (the
    lessons inject them on purpose). A learner's code gets no such help: its retries are the
    lessons'."""
    import requests
    from requests.adapters import HTTPAdapter
    from urllib3.util.retry import Retry

    retry = Retry(total=3, connect=3, read=3, status=0, other=0, backoff_factor=0.5,
                  allowed_methods=["GET"], respect_retry_after_header=False)
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def fetch_weather(url: str, latitude: float, longitude: float, day: str, session=None) -> dict:
    """One day's weather JSON for a place; HTTP errors raise (so the task is retried)."""
    import requests

    response = (session or requests).get(url, params=weather_params(latitude, longitude, day),
                                         timeout=TIMEOUT_S)
    response.raise_for_status()
    try:
        return response.json()
    except ValueError as err:  # requests' JSONDecodeError
        raise SourceError(f"the weather API answered with malformed JSON ({err})") from None


def parse_weather(payload: dict, city: str) -> pd.DataFrame:
    """The API's `daily` block as one row per day, checked for the variables we asked for."""
    daily = payload.get("daily") if isinstance(payload, dict) else None
    if not isinstance(daily, dict) or "time" not in daily:
        raise SourceError(f"weather for {city}: the answer has no 'daily' block with 'time'")
    missing = [v for v in WEATHER_VARIABLES if v not in daily]
    if missing:
        raise SourceError(f"weather for {city}: the answer lacks {missing}")
    frame = pd.DataFrame({"sale_date": daily["time"],
                          "temp_max_c": daily["temperature_2m_max"],
                          "temp_min_c": daily["temperature_2m_min"],
                          "precipitation_mm": daily["precipitation_sum"]})
    if frame.isna().any().any():
        raise SourceError(f"weather for {city}: the answer has missing values")
    frame.insert(0, "city", city)
    return frame


def join(sales: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
    """Each store's day with its city's weather; a store without weather is an error, not a
    silently dropped row."""
    joined = sales.merge(weather, on=["city", "sale_date"], how="left", validate="many_to_one")
    lacking = sorted(joined.loc[joined["temp_max_c"].isna(), "city"].unique())
    if lacking:
        raise SourceError(f"no weather for {lacking}")
    joined["sale_date"] = pd.to_datetime(joined["sale_date"]).dt.date
    joined["net_revenue"] = joined["net_revenue"].round(2)
    return joined[list(WAREHOUSE_COLUMNS)]


def load(warehouse: Path, day: str, frame: pd.DataFrame) -> int:
    """Replace `day`'s rows in the warehouse in one transaction: re-running a day leaves one
    copy, and a failure leaves the previous rows untouched. Returns the rows loaded."""
    if set(frame["sale_date"].astype(str)) != {day}:
        raise SourceError(f"the rows to load are not all for {day}")
    with _transaction(warehouse) as con:
        con.execute(f"DELETE FROM {WAREHOUSE_TABLE} WHERE sale_date = ?", [day])
        _insert(con, frame)
    return len(frame)


@contextlib.contextmanager
def _transaction(warehouse: Path, schemas: tuple[str, ...] = (WAREHOUSE_SCHEMA,)):
    """A connection to the warehouse (`schemas` created) inside one transaction: committed when
    the block ends, rolled back if it raises."""
    import duckdb

    Path(warehouse).parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect(str(warehouse)) as con:
        for schema in schemas:
            con.execute(schema)
        con.execute("BEGIN TRANSACTION")
        try:
            yield con
            con.execute("COMMIT")
        except Exception:
            con.execute("ROLLBACK")
            raise


def _insert(con, frame: pd.DataFrame) -> None:
    con.register("incoming", frame)
    con.execute(f"INSERT INTO {WAREHOUSE_TABLE} SELECT {', '.join(WAREHOUSE_COLUMNS)} "
                "FROM incoming")


def store_records(rows: Iterable) -> list[dict]:
    """The sales extract as one JSON-friendly dict per store (the input of a mapped task)."""
    return sales_frame(rows).to_dict(orient="records")


def enrich_store(store: dict, weather_url: str, day: str, session=None) -> dict:
    """One store's warehouse row (dates as text, so it travels as an XCom)."""
    sales = pd.DataFrame([store])
    row = transform(sales, fetch_all(weather_url, sales, day, session)).iloc[0].to_dict()
    return row | {"sale_date": str(row["sale_date"])}


def load_stores(warehouse: Path, day: str, rows: list[dict], failures: list[dict]) -> int:
    """Replace the day's rows of the stores in `rows`, and record `failures` ({store_id,
    error}) as dead letters, in one transaction; a store that loads clears its dead letter.
    Returns the rows loaded."""
    frame = pd.DataFrame(rows, columns=list(WAREHOUSE_COLUMNS))
    frame["sale_date"] = pd.to_datetime(frame["sale_date"]).dt.date
    if rows and set(frame["sale_date"].astype(str)) != {day}:
        raise SourceError(f"the rows to load are not all for {day}")
    stores = [int(r["store_id"]) for r in [*rows, *failures]]
    with _transaction(warehouse, (WAREHOUSE_SCHEMA, DEAD_LETTER_SCHEMA)) as con:
        for table in (WAREHOUSE_TABLE, DEAD_LETTER_TABLE):
            con.execute(f"DELETE FROM {table} WHERE sale_date = ? AND list_contains(?, "
                        "store_id)", [day, stores])
        _insert(con, frame)
        for failure in failures:
            con.execute(f"INSERT INTO {DEAD_LETTER_TABLE} VALUES (?, ?, ?)",
                        [day, int(failure["store_id"]), str(failure["error"])])
    return len(frame)


def read_dead_letters(warehouse: Path, day: str | None = None) -> pd.DataFrame:
    """The dead-letter table (or one day of it); empty if there is none yet."""
    return _read(warehouse, DEAD_LETTER_TABLE, ["sale_date", "store_id", "error"], day)


def read_warehouse(warehouse: Path, day: str | None = None) -> pd.DataFrame:
    """The warehouse table (or one day of it), read-only; empty if nothing was loaded yet."""
    return _read(warehouse, WAREHOUSE_TABLE, list(WAREHOUSE_COLUMNS), day)


def _read(warehouse: Path, table: str, columns: list[str], day: str | None) -> pd.DataFrame:
    import duckdb

    if not Path(warehouse).exists():
        return pd.DataFrame(columns=columns)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                           [table]).fetchone()[0]:
            return pd.DataFrame(columns=columns)
        where = "WHERE sale_date = ?" if day else ""
        frame = con.execute(f"SELECT * FROM {table} {where} ORDER BY sale_date, store_id",
                            [day] if day else []).df()
    frame["sale_date"] = frame["sale_date"].dt.date  # as `join` makes them, so frames compare
    return frame


def places(sales: pd.DataFrame) -> pd.DataFrame:
    """One row per city (two Seattle stores share one weather request)."""
    return sales[["city", "latitude", "longitude"]].drop_duplicates("city")


def fetch_all(url: str, sales: pd.DataFrame, day: str, session=None) -> list[dict]:
    """The weather JSON of every city in the sales extract, each tagged with its city."""
    return [fetch_weather(url, p.latitude, p.longitude, day, session) | {"city": p.city}
            for p in places(sales).itertuples()]


def transform(sales: pd.DataFrame, payloads: list[dict]) -> pd.DataFrame:
    """The sales joined with the parsed weather payloads (as `fetch_all` returns them)."""
    weather = pd.concat([parse_weather(p, p.get("city", "?")) for p in payloads])
    return join(sales, weather)


def run_day(sales_rows: Iterable, weather_url: str, warehouse: Path, day: str,
            session=None) -> int:
    """The whole pipeline for one day without an orchestrator (the benchmark's baseline)."""
    sales = sales_frame(sales_rows)
    return load(warehouse, day, transform(sales, fetch_all(weather_url, sales, day, session)))
