"""`workbook run`: execute a notebook with papermill in its own kernel, with parameters."""

import datetime as dt
import sys
from pathlib import Path

from workbook import paths


class RunError(RuntimeError):
    """The run could not start (bad path, unknown parameter) or a cell failed."""


def parse_params(pairs: list[str], known: dict) -> dict:
    """KEY=VALUE pairs with YAML values (`seed=7`, `data_dir=null`); unknown keys are an error."""
    import yaml

    params = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RunError(f"parameter {pair!r} is not KEY=VALUE")
        if key not in known:
            raise RunError(f"unknown parameter {key!r}; this notebook takes: {', '.join(known)}")
        parsed = yaml.safe_load(value)
        # Dates stay text (YAML would make a date object, which notebooks cannot receive).
        params[key] = value if isinstance(parsed, dt.date) else parsed
    return params


CELL_TIMEOUT_S = 600  # a lesson's slowest cell (an Airflow run) takes about a minute here


def default_output(notebook: Path) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return paths.RUNS / f"{notebook.stem}-{stamp}.ipynb"


def run_notebook(notebook: Path, params: dict, output: Path,
                 timeout: int = CELL_TIMEOUT_S) -> Path:
    """Execute `notebook` in the kernel its metadata names; raises RunError on a failed cell."""
    import papermill as pm

    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        pm.execute_notebook(
            str(notebook), str(output), parameters=params, cwd=str(notebook.parent),
            execution_timeout=timeout, progress_bar=False, log_output=False,
        )
    except pm.PapermillExecutionError as err:
        raise RunError(
            f"cell {err.cell_index} (execution count {err.exec_count}) failed: "
            f"{err.ename}: {err.evalue}\nthe executed notebook is {output}"
        ) from err
    return output


def main(notebook: str, pairs: list[str], output: str | None, timeout: int) -> int:
    import papermill as pm

    paths.apply_jupyter_environ()
    path = Path(notebook)
    if not path.is_file() or path.suffix != ".ipynb":
        print(f"workbook run: {notebook} is not a notebook file", file=sys.stderr)
        return 2
    try:
        known = pm.inspect_notebook(str(path))
        params = parse_params(pairs, known)
        out = run_notebook(path, params, Path(output) if output else default_output(path),
                           timeout)
    except RunError as err:
        print(f"workbook run: {err}", file=sys.stderr)
        return 1
    print(f"ran {notebook} -> {out}")
    return 0
