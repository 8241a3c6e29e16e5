"""The Prefect API: one `prefect server start` on 127.0.0.1 that every kernel, flow and CLI call
of the project shares through PREFECT_API_URL, instead of the temporary server each Prefect
process would otherwise start for itself. Run by the prefect environment's own CLI, with the
project's Prefect settings (workbook.prefect_home); its database is in PREFECT_HOME."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from workbook import prefect_home
from workbook.services import base
from workbook.services.base import Endpoint, ServiceError

NAME = "prefect"
START_TIMEOUT_S = prefect_home.STARTUP_TIMEOUT_S
SCHEMA_DB = "workbook-prefect-schema.db"  # beside the environment: made again with it
MISSING = ("the prefect environment is missing ({cli} not found): run `make setup`, or with "
           "conda create environments/prefect/environment.yml and register its kernel")


def server_environ(home: Path) -> dict[str, str]:
    """The server's variables: the project's Prefect settings, and no API URL of its own (an
    exported PREFECT_API_URL names a server to talk to, not the one to be)."""
    env = {key: value for key, value in os.environ.items() if key != "PREFECT_API_URL"}
    return {**env, **prefect_home.environ(home)}


def schema_database() -> Path | None:
    """An empty database migrated to the environment's Prefect schema, made once and kept in
    the environment's folder; None where it cannot be made (a read-only environment, as in the
    grader's sandbox). A new server starts from a copy: migrating a new database is 8 of the 20
    s a server takes to start here, paid by every sandboxed run of a Prefect lesson otherwise."""
    cli = prefect_home.prefect_cli()
    path = cli.parent.parent / SCHEMA_DB
    if path.exists():
        return path
    if not cli.exists():
        return None
    try:
        with tempfile.TemporaryDirectory(dir=path.parent) as scratch:
            subprocess.run([str(cli), "server", "database", "upgrade", "-y"], check=True,
                           env=server_environ(Path(scratch)), capture_output=True,
                           timeout=START_TIMEOUT_S)
            (Path(scratch) / "prefect.db").replace(path)  # whole, or not there
    except (OSError, subprocess.SubprocessError):
        return None
    return path


def start() -> Endpoint:
    cli = prefect_home.prefect_cli()
    if not cli.exists():
        raise ServiceError(MISSING.format(cli=cli))
    port, home = base.free_port(), base.state_folder(NAME)
    database = home / "prefect.db"  # where PREFECT_HOME puts it
    root = f"http://127.0.0.1:{port}"
    # The UI asks its server's settings where the API is; `--port` does not change that answer
    # (it stays Prefect's default, port 4200), so the UI would call a server that is not there.
    env = {**server_environ(home), "PREFECT_SERVER_UI_API_URL": f"{root}/api"}
    if not database.exists() and (schema := schema_database()):
        shutil.copyfile(schema, database)
        # Migrated already: checking it again at start-up costs 1.6 of the server's 10 CPU s.
        env["PREFECT_SERVER_DATABASE_MIGRATE_ON_START"] = "false"
    if base.headless():  # serving the UI costs 2 more (its files copied into the home)
        env["PREFECT_SERVER_UI_ENABLED"] = "false"
    proc = base.spawn([str(cli), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                       "--analytics-off"], base.log_file(NAME), env=env)
    return Endpoint(NAME, f"{root}/api", port, proc.pid, {"home": str(home), "ui": root})


def healthy(endpoint: Endpoint) -> bool:
    return base.http_ok(f"{endpoint.url}/health")


def client_environ(endpoint: Endpoint) -> dict[str, str]:
    """What a kernel, a flow or the `prefect` CLI needs to use this server (export it)."""
    return prefect_home.environ(Path(endpoint.data["home"]), endpoint.url)
