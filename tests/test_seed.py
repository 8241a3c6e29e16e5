"""The compose file's PostgreSQL is seeded with what the embedded one holds.

environments/airflow/retail-seed.sql is what `python -m workbook seedsql` renders from the
embedded service's own seed script; loaded into a real PostgreSQL the way the postgres image
loads /docker-entrypoint-initdb.d files, it gives the embedded database's tables, columns,
constraints and rows. A tampered copy must not, or the comparison proves nothing.
"""

import re

import pytest

from workbook import seedsql
from workbook.services import postgres

pytestmark = pytest.mark.slow


def snapshot(port: int, database: str) -> dict[str, str]:
    """{table: its columns, constraints, row count and a digest of its rows}, public schema."""
    out = postgres.psql(port, database, """
        SELECT c.relname || '|' || concat_ws(';',
            (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END,
                               ', ' ORDER BY a.attnum)
             FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0
                                   AND NOT a.attisdropped),
            (SELECT string_agg(pg_get_constraintdef(k.oid), ', ' ORDER BY k.conname)
             FROM pg_constraint k WHERE k.conrelid = c.oid))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind = 'r' ORDER BY c.relname;""")
    tables = dict(line.split("|", 1) for line in out.strip().splitlines())
    for table in tables:
        rows = postgres.psql(port, database, f"SELECT count(*) || ' rows ' || "
                             f"md5(string_agg(t::text, '|' ORDER BY t::text)) FROM {table} t;")
        tables[table] += f"; {rows.strip()}"
    return tables


def load_like_the_image(port: int, database: str, script) -> None:
    """As the postgres image's entrypoint runs an initdb .sql file, into a fresh database."""
    postgres.psql(port, "postgres", f"CREATE DATABASE {database};")
    postgres.run([postgres.binary("psql"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres",
                  "-d", database, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-q", "-f",
                  str(script)], "psql -f")


@pytest.fixture(scope="module")
def cluster():
    """An embedded PostgreSQL, seeded as the notebooks' is."""
    endpoint = postgres.start()
    try:
        yield endpoint.port
    finally:
        postgres.stop(endpoint)


@pytest.fixture(scope="module")
def embedded(cluster) -> dict[str, str]:
    return snapshot(cluster, postgres.DATABASE)


def test_the_seed_file_is_rendered_from_the_embedded_seed():
    assert seedsql.main(check=True) == 0, "run `python -m workbook seedsql`"


def test_a_stale_seed_file_fails_the_check(tmp_path, monkeypatch):
    stale = tmp_path / "retail-seed.sql"
    stale.write_text(seedsql.render().replace("Seattle Ballard", "Seattle Fremont"))
    monkeypatch.setattr(seedsql, "PATH", stale)
    assert seedsql.main(check=True) == 1
    assert seedsql.main(check=False) == 0
    assert stale.read_text() == seedsql.render()


def test_the_seed_file_gives_the_embedded_tables(cluster, embedded):
    assert set(embedded) == {"stores", "daily_sales"}
    load_like_the_image(cluster, "compose_seed", seedsql.PATH)
    assert snapshot(cluster, "compose_seed") == embedded


@pytest.mark.parametrize(("old", "new"), [
    ("2015-06-01,6,Sports,20,62,3,2629.51", "2015-06-01,6,Sports,20,62,3,2629.52"),
    ("net_revenue    NUMERIC(12, 2)", "net_revenue    NUMERIC(12, 3)"),
    ("store_id       INTEGER NOT NULL REFERENCES stores", "store_id       INTEGER NOT NULL"),
    ("2015-06-01,6,Sports,20,62,3,2629.51\n", ""),
], ids=["a-value", "a-type", "a-constraint", "a-row"])
def test_a_changed_seed_gives_other_tables(cluster, embedded, tmp_path, old, new):
    text = seedsql.PATH.read_text()
    assert old in text, old
    changed = tmp_path / "changed.sql"
    changed.write_text(text.replace(old, new, 1))
    database = re.sub(r"\W", "_", tmp_path.name)  # one database per case
    load_like_the_image(cluster, database, changed)
    assert snapshot(cluster, database) != embedded
