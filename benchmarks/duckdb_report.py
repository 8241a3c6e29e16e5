"""The daily report as one DuckDB SQL query: the practical limit the reference report is held to.

The same decisions as `workbook.sales` (skip lines with the wrong number of fields or a timestamp
that does not parse, drop incomplete lines, trim text, title-case the category and take a missing
one from the same product's rows, keep one line per order, net revenue rounded once per category)
so that both reports agree, which the bench checks. Standard library and DuckDB only, so the
process measures DuckDB and nothing else; it runs in the airflow environment, which has DuckDB
for the intermediate level's warehouse.
"""

import duckdb

from benchmarks import day_args

COLUMNS = {"order_id": "VARCHAR", "timestamp": "VARCHAR", "store": "VARCHAR",
           "product": "VARCHAR", "category": "VARCHAR", "quantity": "BIGINT",
           "unit_price": "DOUBLE", "discount": "DOUBLE", "payment_type": "VARCHAR"}

# Categories are single words (workbook.retail), so title case is the first letter up and the
# rest down. Copies of an order are the same line repeated by the export, so any one of them is
# the first. The product's category is its earliest order's, as pandas' groupby().first().
SUMMARY = """
WITH complete AS (
    SELECT order_id, trim(product) AS product, nullif(trim(category), '') AS category,
           quantity, unit_price, discount
    FROM read_csv($path, header = true, auto_detect = false, columns = $columns,
                  nullstr = '', ignore_errors = true)
    WHERE try_strptime("timestamp", '%Y-%m-%d %H:%M:%S') IS NOT NULL AND quantity IS NOT NULL
      AND unit_price IS NOT NULL AND discount IS NOT NULL AND payment_type IS NOT NULL
), titled AS (
    SELECT * REPLACE (upper(category[1]) || lower(category[2:]) AS category) FROM complete
), known AS (
    SELECT product, arg_min(category, order_id) AS known
    FROM titled WHERE category IS NOT NULL GROUP BY product
), orders AS (
    SELECT DISTINCT ON (order_id) coalesce(category, known, 'Unknown') AS category, quantity,
           quantity * unit_price * (1 - discount) AS revenue
    FROM titled LEFT JOIN known USING (product)
)
SELECT category, count(*) AS orders, sum(greatest(quantity, 0)) AS units_sold,
       sum(greatest(-quantity, 0)) AS units_returned, round(sum(revenue), 2) AS net_revenue
FROM orders GROUP BY category ORDER BY net_revenue DESC, orders DESC
"""


def main(argv=None):
    args = day_args.parser(__doc__.splitlines()[0]).parse_args(argv)
    source = args.data_dir / f"sales_{args.date.isoformat()}.csv"
    args.report_dir.mkdir(parents=True, exist_ok=True)
    report = args.report_dir / f"sales_report_{args.date.isoformat()}.csv"
    with duckdb.connect() as con:
        summary = con.sql(SUMMARY, params={"path": str(source), "columns": COLUMNS})
        summary.write_csv(str(report))


if __name__ == "__main__":
    main()
