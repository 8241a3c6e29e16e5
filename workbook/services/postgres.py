"""A throwaway PostgreSQL cluster from the machine's own server binaries, seeded with the
retailer's source tables: its stores, and daily sales per store and category aggregated from
the same generated exports the beginner level reads (so both levels tell one story).

As root, initdb refuses to run, so the cluster belongs to the `postgres` system user.
"""

import datetime as dt
import io
import os
import pwd
import shutil
import subprocess
import tempfile
from pathlib import Path

from workbook import paths
from workbook.retail import STORES
from workbook.services.base import Endpoint, ServiceError, free_port

DATABASE = "retail"
MISSING = ("PostgreSQL server binaries (initdb, pg_ctl) not found. Get them with "
           "`sudo apt-get install postgresql` (Debian/Ubuntu) or `brew install postgresql@15` "
           "(macOS); or start the `postgres` service of environments/airflow/docker-compose.yaml; "
           "or pass the URL of any PostgreSQL as the notebook's `postgres_url` parameter.")

SCHEMA = """
CREATE TABLE stores (
    store_id  INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    city      TEXT NOT NULL,
    latitude  DOUBLE PRECISION NOT NULL,
    longitude DOUBLE PRECISION NOT NULL
);
CREATE TABLE daily_sales (
    sale_date      DATE NOT NULL,
    store_id       INTEGER NOT NULL REFERENCES stores,
    category       TEXT NOT NULL,
    orders         INTEGER NOT NULL,
    units_sold     INTEGER NOT NULL,
    units_returned INTEGER NOT NULL,
    net_revenue    NUMERIC(12, 2) NOT NULL,
    PRIMARY KEY (sale_date, store_id, category)
);
"""


def binary(name: str) -> str:
    """A PostgreSQL program: on PATH, else in Debian's versioned folder (newest version)."""
    if found := shutil.which(name):
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
                        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0)
    if not candidates:
        raise ServiceError(MISSING)
    return str(candidates[-1])


def as_owner(cmd: list[str]) -> list[str]:
    """Run as the `postgres` user when we are root (initdb refuses root)."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def make_cluster() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="workbook-postgres-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    run(as_owner([binary("initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--no-sync", "--no-instructions"]), "initdb")
    return folder


def run(cmd: list[str], what: str, stdin: str | None = None) -> str:
    result = subprocess.run(cmd, input=stdin, capture_output=True, text=True)
    if result.returncode != 0:
        raise ServiceError(f"{what} failed: {result.stderr.strip()[-1000:]}")
    return result.stdout


def psql(port: int, database: str, sql: str) -> str:
    return run([binary("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "-d",
                database, "-v", "ON_ERROR_STOP=1", "-q", "-A", "-t"], "psql", stdin=sql)


def daily_sales_csv() -> str:
    """Daily sales per store and category from the beginner level's exports."""
    from workbook import datasets, sales  # pandas: imported only when seeding

    store_ids = {s.name: s.store_id for s in STORES}
    sample = datasets.SAMPLE  # the committed exports: the days the lessons' run_date may take
    folder = datasets.sales_dir(sample["seed"], sample["rows_per_day"], paths.STATE,
                                start=sample["start"], days=sample["days"])
    out = io.StringIO()
    for file in sorted(folder.glob("sales_*.csv")):
        day = dt.date.fromisoformat(file.stem.removeprefix("sales_"))
        clean = sales.clean_sales(sales.read_sales(file)[0])
        for store, part in clean.groupby("store"):
            summary = sales.category_summary(part)
            for category, row in zip(summary.index, summary.itertuples(index=False),
                                     strict=True):
                out.write(f"{day},{store_ids[store]},{category},{row.orders},{row.units_sold},"
                          f"{row.units_returned},{row.net_revenue:.2f}\n")
    return out.getvalue()


def seed_sql() -> str:
    """The retailer's tables and rows as one psql script (COPY data inline, as pg_dump writes
    it), run in an existing, empty database. The embedded cluster runs it here; the compose
    file's PostgreSQL runs the same text from environments/airflow/retail-seed.sql
    (`python -m workbook seedsql` writes it), so both hold the same tables."""
    stores = "".join(f"{s.store_id},{s.name},{s.city},{s.latitude},{s.longitude}\n"
                     for s in STORES)
    return (SCHEMA + "COPY stores FROM STDIN (FORMAT csv);\n" + stores + "\\.\n"
            + "COPY daily_sales FROM STDIN (FORMAT csv);\n" + daily_sales_csv() + "\\.\n")


def seed(port: int) -> None:
    psql(port, "postgres", f"CREATE DATABASE {DATABASE};")
    psql(port, DATABASE, seed_sql())


def start() -> Endpoint:
    folder = make_cluster()
    data, port = folder / "data", free_port()
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1 -c fsync=off"
    run(as_owner([binary("pg_ctl"), "-D", str(data), "-l", str(folder / "server.log"), "-w",
                  "-t", "60", "-o", options, "start"]), "pg_ctl start")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    endpoint = Endpoint("postgres", f"postgresql://postgres@127.0.0.1:{port}/{DATABASE}", port,
                        pid, {"folder": str(folder)})
    try:
        seed(port)
    except ServiceError:
        stop(endpoint)
        raise
    return endpoint


def healthy(endpoint: Endpoint) -> bool:
    try:
        return psql(endpoint.port, DATABASE, "SELECT 1;").strip() == "1"
    except ServiceError:
        return False


def stop(endpoint: Endpoint) -> None:
    folder = Path(endpoint.data["folder"])
    if (folder / "data" / "postmaster.pid").exists():
        subprocess.run(as_owner([binary("pg_ctl"), "-D", str(folder / "data"), "-m", "fast",
                                 "-w", "stop"]), capture_output=True)
    shutil.rmtree(folder, ignore_errors=True)
