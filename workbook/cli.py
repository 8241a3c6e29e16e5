"""`python -m workbook COMMAND`: the workbook's command line (the Makefile calls it).

Subcommand modules are imported only when used: `setup` and `doctor` must work before any
third-party package is installed.
"""

import argparse
import sys

from workbook import runner  # standard library only, as `setup` and `doctor` need


def _setup(args: argparse.Namespace) -> int:
    from workbook import envs

    try:
        envs.setup(args.env or None)
    except envs.SetupError as err:
        print(f"setup failed: {err}", file=sys.stderr)
        return 1
    return 0


def _system(args: argparse.Namespace) -> int:
    from workbook import system

    return system.main(args.install)


def _doctor(args: argparse.Namespace) -> int:
    from workbook import doctor

    return doctor.main()


def _build(args: argparse.Namespace) -> int:
    from workbook import build

    return build.main(check=args.check, out=args.out)


def _export(args: argparse.Namespace) -> int:
    from workbook import nbgrader_course

    return nbgrader_course.main(args.course_dir)


def _envfiles(args: argparse.Namespace) -> int:
    from workbook import envfiles

    return envfiles.main(check=args.check)


def _seedsql(args: argparse.Namespace) -> int:
    from workbook import seedsql

    return seedsql.main(check=args.check)


def _promconfig(args: argparse.Namespace) -> int:
    from workbook.services import metrics

    return metrics.main(check=args.check)


def _run(args: argparse.Namespace) -> int:
    return runner.main(args.notebook, args.params, args.output, args.timeout)


def _grade(args: argparse.Namespace) -> int:
    from workbook.grading import roster

    return roster.main(args.path, args.out, args.source, args.workers, args.cell_timeout,
                       args.total_timeout)


def _checkpoint(args: argparse.Namespace) -> int:
    from workbook import checkpoint

    return checkpoint.main(args.notebook, args.workspace)


def _services(args: argparse.Namespace) -> int:
    from workbook import services

    return services.main(args.action, args.names)


def _airflow_ui(args: argparse.Namespace) -> int:
    from workbook import airflow_ui

    return airflow_ui.main(args.workspace, args.port)


def _dagster_ui(args: argparse.Namespace) -> int:
    from workbook import dagster_ui

    return dagster_ui.main(args.workspace, args.port)


def _lab(args: argparse.Namespace) -> int:
    from workbook import lab

    return lab.main(args.ip)


def _datasets(args: argparse.Namespace) -> int:
    if args.kind == "sensors":
        from workbook import sensors

        return sensors.main(args)
    from workbook import datasets

    return datasets.main(args)


def _pytest(args: argparse.Namespace) -> int:
    """pytest in a level's environment: tests of code that needs that environment's packages
    (tests/lake needs deltalake and pandera, which only the prefect environment has). The
    interpreter is found as the kernels find theirs (paths.env_python), so the conda route
    works too. --confcutdir keeps the base session's conftest (base-only imports) out; the
    base env's pytest-timeout setting is unknown there, hence the warning filter."""
    import subprocess

    from workbook import paths

    command = [str(paths.env_python(args.env)), "-m", "pytest", "--confcutdir", args.path,
               "-W", "ignore::pytest.PytestConfigWarning", args.path, *args.pytest_args]
    return subprocess.call(command, cwd=paths.ROOT)


def _grading_limits():
    """The grader's default limits, read without importing its third-party dependencies."""
    from workbook.grading.sandbox import Limits

    return Limits()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="workbook", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("setup", help="create/update the environments and register kernels")
    p.add_argument("env", nargs="*", help="environments to set up (default: all)")
    p.set_defaults(func=_setup)

    p = sub.add_parser("system", help="the system packages the course needs (Debian names)")
    p.add_argument("--install", action="store_true",
                   help="install what is missing (as root or with password-less sudo)")
    p.set_defaults(func=_system)

    p = sub.add_parser("doctor", help="check this machine; one line per check, with the fix")
    p.set_defaults(func=_doctor)

    p = sub.add_parser("build", help="write notebooks/ (student) from solutions/")
    p.add_argument("--check", action="store_true", help="fail if notebooks/ is out of date")
    p.add_argument("--out", help="write the student notebooks here instead of notebooks/")
    p.set_defaults(func=_build)

    p = sub.add_parser("export", help="the course for another grader: "
                                      "`export nbgrader COURSE_DIR` (an nbgrader course)")
    p.add_argument("format", choices=["nbgrader"])
    p.add_argument("course_dir", help="the nbgrader course folder to write (made if missing)")
    p.set_defaults(func=_export)

    p = sub.add_parser("envfiles", help="write the conda environment files from the locks")
    p.add_argument("--check", action="store_true", help="fail if a file is out of date")
    p.set_defaults(func=_envfiles)

    p = sub.add_parser("seedsql", help="write the compose PostgreSQL's seed (the embedded one's)")
    p.add_argument("--check", action="store_true", help="fail if the file is out of date")
    p.set_defaults(func=_seedsql)

    p = sub.add_parser("promconfig", help="write the compose Prometheus's config (the local one's)")
    p.add_argument("--check", action="store_true", help="fail if the file is out of date")
    p.set_defaults(func=_promconfig)

    p = sub.add_parser("run", help="execute a notebook with papermill in its own kernel")
    p.add_argument("notebook", help="path to a .ipynb (solutions/ or notebooks/ or your own)")
    p.add_argument("params", nargs="*", metavar="KEY=VALUE", help="parameters (YAML values)")
    p.add_argument("--output", help="where to write the executed notebook (default: runs/...)")
    p.add_argument("--timeout", type=int, default=runner.CELL_TIMEOUT_S,
                   help=f"seconds per cell (default {runner.CELL_TIMEOUT_S})")
    p.set_defaults(func=_run)

    limits = _grading_limits()
    p = sub.add_parser(
        "grade", help="grade a submitted notebook or a folder of submissions",
        description="Grade notebooks in a sandbox. Exit code: 0 every submission graded, 1 some "
                    "could not be graded (each says why; the gradebook is written), 2 the "
                    "grader could not run.")
    p.add_argument("path", help="a notebook, or a roster folder <learner>/<notebook>.ipynb")
    p.add_argument("--out", default="grades", help="results folder (default: grades/)")
    p.add_argument("--source", help="source notebooks (default: solutions/, else notebooks/)")
    p.add_argument("--workers", type=int, help="parallel gradings (default: the CPU count)")
    p.add_argument("--cell-timeout", type=int, default=limits.cell_timeout_s,
                   help="seconds per cell, and per verdict (default: %(default)s)")
    p.add_argument("--total-timeout", type=int, default=limits.total_timeout_s,
                   help="seconds per notebook (default: %(default)s)")
    p.set_defaults(func=_grade)

    p = sub.add_parser("checkpoint", help="prepare the workspace a lesson expects")
    p.add_argument("notebook", help="the lesson you want to start (notebooks/...ipynb)")
    p.add_argument("--workspace", help="default: workspace/<level>")
    p.set_defaults(func=_checkpoint)

    p = sub.add_parser("services", help="start, stop or list the local services")
    p.add_argument("action", choices=["up", "down", "status"])
    p.add_argument("names", nargs="*", help="postgres, weather, smtp (default: all)")
    p.set_defaults(func=_services)

    p = sub.add_parser("lab", help="start JupyterLab on 127.0.0.1 with the notebooks")
    p.add_argument("--ip", default="127.0.0.1",
                   help="the address to listen on (0.0.0.0 only inside a container)")
    p.set_defaults(func=_lab)

    p = sub.add_parser("airflow-ui", help="Airflow's UI and scheduler for the intermediate "
                       "workspace, on 127.0.0.1; Ctrl-C stops all of it")
    p.add_argument("--workspace", help="default: workspace/02_intermediate")
    p.add_argument("--port", type=int, default=8080, help="default: %(default)s")
    p.set_defaults(func=_airflow_ui)

    p = sub.add_parser("dagster-ui", help="Dagster's UI and daemon (dagster dev) for the "
                       "advanced Dagster workspace, on 127.0.0.1; Ctrl-C stops all of it")
    p.add_argument("--workspace", help="default: workspace/03_advanced/dagster")
    p.add_argument("--port", type=int, default=3000, help="default: %(default)s")
    p.set_defaults(func=_dagster_ui)

    p = sub.add_parser("pytest", help="run a test folder in a level's environment: "
                       "workbook pytest prefect tests/lake [pytest args]")
    p.add_argument("env", help="the environment, e.g. prefect")
    p.add_argument("path", help="the test folder, e.g. tests/lake")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER, help="passed on to pytest")
    p.set_defaults(func=_pytest)

    p = sub.add_parser("datasets", help="generate the course's datasets")
    kinds = p.add_subparsers(dest="kind", required=True)
    s = kinds.add_parser("sales", help="daily sales exports sales_YYYY-MM-DD.csv")
    s.add_argument("--start", default="2015-06-01", help="first day (YYYY-MM-DD)")
    s.add_argument("--days", type=int, default=14, help="number of days")
    s.add_argument("--rows-per-day", type=int, default=400, help="order lines per day")
    s.add_argument("--seed", type=int, default=2015, help="random seed")
    s.add_argument("--out", default="workspace/data/sales", help="output folder")
    s.add_argument("--clean", action="store_true", help="no injected mess (for benchmarks)")
    s = kinds.add_parser(
        "sensors", help="the store sensors' 15-minute files, manifests and answer key",
        description="Files as the store devices upload them (incoming/store=<id>/device=<id>/"
        "<YYYY-MM-DD>/<HHMM>.csv|.jsonl, each with a .manifest.json), faults and incidents "
        "included, and _answer_key.json. Times are UTC. The defaults write the committed "
        "sample (datasets/sample/sensors).")
    s.add_argument("--start", default="2015-06-01T12:00",
                   help="first window, UTC, on a 15-minute boundary (default: %(default)s)")
    span = s.add_mutually_exclusive_group()
    span.add_argument("--hours", type=int, default=6, help="hours to cover (default: %(default)s)")
    span.add_argument("--days", type=int, help="days to cover, instead of --hours")
    s.add_argument("--stores", type=int, default=2, help="the first N of the 6 stores "
                   "(default: %(default)s)")
    s.add_argument("--fridges", type=int, default=2,
                   help="fridges per store (default: %(default)s)")
    s.add_argument("--freezers", type=int, default=1,
                   help="freezers per store (default: %(default)s); each store also has one "
                   "footfall counter and one power meter")
    s.add_argument("--seed", type=int, default=2041, help="random seed (default: %(default)s)")
    s.add_argument("--out", default="workspace/data/sensors", help="output folder "
                   "(default: %(default)s)")
    p.set_defaults(func=_datasets)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)
