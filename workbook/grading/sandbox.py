"""How a learner's code is confined while it is graded (Linux; the grader run as root).

- its own network namespace with only loopback up: it reaches nothing on the host or beyond;
- its own mount namespace, where solutions/, the roster and the grade folder are hidden;
- its own PID namespace: when grading ends, everything the learner started dies with it;
- the kernel runs as an unprivileged user, under prlimit limits on memory, processes, open
  files, file size and CPU time; the notebook client and the results stay root-only.

Without root (a learner grading their own work on a laptop) only the limits and time-outs
apply, and the report says so.
"""

import os
import pwd
import shutil
import stat
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

GRADER_USER = "workbook-grader"  # one system user per parallel slot: workbook-grader-0, -1, ...


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 3 * 1024**3  # address space of the kernel (pyarrow needs ~1 GB virtual)
    processes: int = 256  # per grader user: a fork bomb stops here
    open_files: int = 512
    file_bytes: int = 512 * 1024**2
    cell_timeout_s: int = 120
    total_timeout_s: int = 600

    def prlimit_args(self) -> list[str]:
        return [
            "prlimit", f"--as={self.memory_bytes}", f"--nproc={self.processes}",
            f"--nofile={self.open_files}", f"--fsize={self.file_bytes}",
            f"--cpu={self.total_timeout_s}", "--core=0", "--",
        ]


@dataclass
class Sandbox:
    """What this machine allows; `warnings` go into every report graded without them."""

    isolated: bool
    uid: int | None = None
    gid: int | None = None
    warnings: list[str] = field(default_factory=list)


def grader_user(slot: int) -> tuple[int, int]:
    """The unprivileged user of a parallel slot, created on first use (as root)."""
    name = f"{GRADER_USER}-{slot}"
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        "--user-group", name], check=True, capture_output=True)
        entry = pwd.getpwnam(name)
    return entry.pw_uid, entry.pw_gid


def probe(slot: int = 0) -> Sandbox:
    if os.geteuid() != 0:
        return Sandbox(False, warnings=[
            "not run as root: the learner's code could use the network and read files this "
            "user can read (limits and time-outs still apply); grade as root for the sandbox"])
    missing = [t for t in ("unshare", "ip", "mount", "prlimit", "setpriv", "timeout")
               if not shutil.which(t)]
    if missing:
        return Sandbox(False, warnings=[f"sandbox tools missing ({', '.join(missing)}): "
                                        "network and files not isolated"])
    check = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "true"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        return Sandbox(False, warnings=[f"namespaces unavailable ({check.stderr.strip()}): "
                                        "network and files not isolated"])
    uid, gid = grader_user(slot)
    return Sandbox(True, uid, gid)


def kernel_argv(python: str, sandbox: Sandbox, limits: Limits) -> list[str]:
    """The grading kernel's command: limits first (as root), then drop to the grader user."""
    drop = ([] if sandbox.uid is None else
            ["setpriv", f"--reuid={sandbox.uid}", f"--regid={sandbox.gid}", "--clear-groups",
             "--"])
    return [*limits.prlimit_args(), *drop, python, "-m", "ipykernel_launcher", "-f",
            "{connection_file}"]


def blocking_ancestor(path: Path) -> Path | None:
    """The highest folder on `path` that other users cannot enter (e.g. /root, mode 0700)."""
    for folder in [*reversed(path.parents), path]:
        if not folder.stat().st_mode & stat.S_IXOTH:
            return folder
    return None


def expose_script(exposed: list[Path], stage: Path) -> list[str]:
    """Shell steps that make `exposed` folders reachable for the grader user: each is bound
    aside, a fresh tmpfs replaces the folder that blocked it (hiding the rest of it, e.g. the
    rest of root's home), and the folder is bound back at its own path."""
    steps, groups = [], {}
    for path in exposed:
        if (blocker := blocking_ancestor(path)) is not None:
            groups.setdefault(blocker, []).append(path)
    for number, (blocker, inside) in enumerate(sorted(groups.items())):
        for index, path in enumerate(inside):
            aside = stage / f"{number}-{index}"
            aside.mkdir(parents=True)
            steps.append(f"mount --bind '{path}' '{aside}'")
        steps.append(f"mount -t tmpfs -o size=1m,mode=0755 wb-expose '{blocker}'")
        for index, path in enumerate(inside):
            steps += [f"mkdir -p '{path}'", f"mount --bind '{stage}/{number}-{index}' '{path}'"]
    return steps


def wrap(command: list[str], sandbox: Sandbox, limits: Limits, hidden: list[Path],
         exposed: list[Path], stage: Path) -> list[str]:
    """`command` inside the namespaces: loopback up, `exposed` reachable, `hidden` covered."""
    timeout = ["timeout", "-k", "10", str(limits.total_timeout_s)]
    if not sandbox.isolated:
        return [*timeout, *command]
    steps = ["ip link set lo up", *expose_script(exposed, stage)]
    steps += [f"mount -t tmpfs -o size=64k,mode=000 wb-hidden '{p}'" for p in hidden
              if p.is_dir()]
    script = " && ".join([*steps, 'exec "$@"'])
    return [*timeout, "unshare", "--net", "--mount", "--pid", "--fork", "--kill-child",
            "--", "sh", "-c", script, "sandbox", *command]
