"""The reference report path alone (extract, transform, CSV report), as one timed process.

No SQLite load: this is the figure held to the 3 s / 1 GB targets. The lesson's full script,
load included, is timed separately.
"""

from benchmarks import day_args
from workbook import datasets, sales


def main(argv=None):
    args = day_args.parser(__doc__.splitlines()[0]).parse_args(argv)
    df, _ = sales.read_sales(args.data_dir / datasets.sales_filename(args.date))
    summary = sales.category_summary(sales.clean_sales(df))
    sales.write_report(summary, args.report_dir, args.date)


if __name__ == "__main__":
    main()
