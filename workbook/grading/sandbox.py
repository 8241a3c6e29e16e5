"""How a learner's code is confined while it is graded (Linux; the grader run as root).

Each grading run happens in fresh namespaces (mount, PID, network, IPC) whose file system is
an allow-list: the system's programs and libraries, the Python the environments are built on,
the workbook package, the environments and the datasets, all read-only and without set-uid;
a size-capped tmpfs for the learner's files (its work folder and /tmp); another for the
checker; a root-only folder for the grader's own files; and a /proc of its own, where no one
sees another user's processes. Nothing else of the machine exists in there: no solutions, no
other submissions, no gradebooks, no other grading run.

Inside it, two kernels under limits (memory, processes, open files, file size, CPU):
- the learner's, as the slot's grader user: it runs the learner's notebook;
- the checker, as the slot's checker user in a network namespace of its own: it runs the
  verdicts, apart from any learner code (see `assemble`).
The notebook client that drives them stays root in the sandbox, with a memory limit of its own.

Slots are taken machine-wide with a lock file, so two grading runs (two classes) never share a
user. When the run ends its PID namespace ends, and with it every process and every file the
learner made. Without root (a learner grading their own work) only limits and time-outs apply,
and each report says so.
"""

import contextlib
import fcntl
import functools
import grp
import os
import pwd
import shutil
import subprocess
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from workbook import paths

LEARNER_USER = "workbook-grader"  # per slot: workbook-grader-0, -1, ...
CHECKER_USER = "workbook-checker"
LOCKS = Path("/run/workbook-grade")
MAX_SLOTS = 64
TOOLS = ("unshare", "ip", "mount", "chroot", "prlimit", "setpriv", "timeout")
# What the sandbox sees of the machine, read-only: system programs, libraries and settings.
SYSTEM = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Inside the sandbox, where things are (the same paths for every grading run).
LEARNER_AREA = Path("/sandbox/learner")
CHECKER_AREA = Path("/sandbox/checker")
GRADER_AREA = Path("/sandbox/grader")

MiB = 1024**2


@dataclass(frozen=True)
class Limits:
    """Defaults shown by `workbook grade --help` and in the README."""

    # One cell of the learner's notebook, or one verdict. An answer that runs a DAG for two days
    # takes half a minute on an idle 2-core machine and minutes on one grading three notebooks
    # at once: a correct answer must never score 0 for being slow, and a loop still stops.
    cell_timeout_s: int = 300
    # A lesson's own setup cells (never the learner's: the grader copies them from the source),
    # at least this long: they may start a service in the sandbox, and a Prefect server's first
    # start takes minutes on a loaded 2-core machine.
    setup_timeout_s: int = 300
    total_timeout_s: int = 900  # one notebook, set-up to scores
    memory_bytes: int = 3 * 1024 * MiB  # address space of a kernel (pyarrow maps ~1 GB)
    processes: int = 256  # per user: a fork bomb stops here
    open_files: int = 512
    file_bytes: int = 512 * MiB  # one file
    disk_bytes: int = 2048 * MiB  # everything the learner writes (work folder and /tmp)
    checker_disk_bytes: int = 1024 * MiB
    client_memory_bytes: int = 2048 * MiB  # the notebook client that receives the outputs
    output_bytes: int = 256 * 1024  # outputs kept per cell (the rest is dropped, and said)

    def prlimit_args(self) -> list[str]:
        return ["prlimit", f"--as={self.memory_bytes}", f"--nproc={self.processes}",
                f"--nofile={self.open_files}", f"--fsize={self.file_bytes}",
                f"--cpu={self.total_timeout_s}", "--core=0", "--"]


@dataclass(frozen=True)
class Identity:
    uid: int
    gid: int
    groups: tuple[int, ...] = ()


@dataclass
class Sandbox:
    """What this machine allows; `warnings` go into every report graded without it."""

    isolated: bool
    learner: Identity | None = None
    checker: Identity | None = None
    warnings: list[str] = field(default_factory=list)


def _ensure_user(name: str, groups: tuple[str, ...] = ()) -> pwd.struct_passwd:
    """A system user with its own group (created on first use), in `groups` too."""
    with _locked(LOCKS / "users.lock"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            subprocess.run(["useradd", "--system", "--no-create-home", "--shell",
                            "/usr/sbin/nologin", "--user-group", name], check=True,
                           capture_output=True)
            entry = pwd.getpwnam(name)
        for group in groups:
            if name not in grp.getgrnam(group).gr_mem:
                subprocess.run(["usermod", "--append", "--groups", group, name], check=True,
                               capture_output=True)
    return entry


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def identities(slot: int) -> tuple[Identity, Identity]:
    """The learner and checker users of a slot: the checker is in the learner's group, so it
    reads what the learner's code wrote (files it left group-readable) and nothing else."""
    learner = _ensure_user(f"{LEARNER_USER}-{slot}")
    checker = _ensure_user(f"{CHECKER_USER}-{slot}", (f"{LEARNER_USER}-{slot}",))
    return (Identity(learner.pw_uid, learner.pw_gid),
            Identity(checker.pw_uid, checker.pw_gid, (learner.pw_gid,)))


def _hold(number: int):
    """The open, locked lock file of slot `number`, or None when another run holds it."""
    LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
    handle = open(LOCKS / f"slot-{number}.lock", "a")  # noqa: SIM115 (held while graded)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return None
    return handle


@contextlib.contextmanager
def slot() -> Iterator[int]:
    """A slot no other grading run on this machine holds until the block ends."""
    for number in range(MAX_SLOTS):
        if (handle := _hold(number)) is None:
            continue
        with handle:
            yield number
        return
    raise RuntimeError(f"all {MAX_SLOTS} grading slots of this machine are in use")


def _slot_users_running() -> dict[int, set[str]]:
    """The slots whose users run a process now, with those users."""
    names = subprocess.run(["ps", "-eo", "user:32="], capture_output=True, text=True,
                           check=True).stdout.split()
    running: dict[int, set[str]] = {}
    for name in names:
        base, _, number = name.rpartition("-")
        if base in (LEARNER_USER, CHECKER_USER) and number.isdigit():
            running.setdefault(int(number), set()).add(name)
    return running


@contextlib.contextmanager
def unheld(numbers: Iterable[int]) -> Iterator[set[int]]:
    """Those of the slots `numbers` that no grading run holds, kept from every run until the
    block ends: what is found of them then is what finished runs left behind."""
    with contextlib.ExitStack() as stack:
        free = set()
        for number in set(numbers):
            if (handle := _hold(number)) is not None:
                free.add(number)
                stack.enter_context(handle)
        yield free


def strays() -> list[str]:
    """The slot users that still run a process although no grading run holds their slot:
    what a finished run left behind. A held slot's processes belong to the run holding it
    (another class, or another test, graded at the same time)."""
    with unheld(_slot_users_running()) as free:
        running = _slot_users_running()
        return sorted(name for number in free for name in running.get(number, ()))


def unavailable() -> str | None:
    """Why this machine cannot sandbox (None when it can)."""
    if os.geteuid() != 0:
        return ("not run as root: the learner's code could use the network and read files "
                "this user can read, and the checks run as the same user (limits and "
                "time-outs still apply); grade as root for the sandbox")
    if missing := [t for t in TOOLS if not shutil.which(t)]:
        return f"sandbox tools missing ({', '.join(missing)}): network and files not isolated"
    check = subprocess.run(["unshare", "--net", "--mount", "--pid", "--ipc", "--fork", "true"],
                           capture_output=True, text=True)
    if check.returncode != 0:
        return f"namespaces unavailable ({check.stderr.strip()}): network and files not isolated"
    return None


def probe(number: int | None) -> Sandbox:
    """The sandbox of a slot (`number`), or why there is none."""
    if why := unavailable():
        return Sandbox(False, warnings=[why])
    learner, checker = identities(number)
    return Sandbox(True, learner, checker)


def drop_to(who: Identity | None) -> list[str]:
    """The command prefix that becomes `who` (no set-uid gains afterwards)."""
    if who is None:
        return []
    groups = ",".join(map(str, who.groups))
    return ["setpriv", f"--reuid={who.uid}", f"--regid={who.gid}",
            f"--groups={groups}" if groups else "--clear-groups", "--no-new-privs", "--"]


def learner_kernel_argv(python: str, box: Sandbox, limits: Limits) -> list[str]:
    return [*limits.prlimit_args(), *drop_to(box.learner), python, "-m", "ipykernel_launcher",
            "-f", "{connection_file}"]


def checker_kernel_argv(python: str, box: Sandbox, limits: Limits) -> list[str]:
    """The checker: limits, a network namespace of its own (its services are out of the
    learner's reach), then its user."""
    kernel = [python, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    if not box.isolated:
        return [*limits.prlimit_args(), *kernel]
    return [*limits.prlimit_args(), "unshare", "--net", "--", "sh", "-c",
            'ip link set lo up && exec "$@"', "checker", *drop_to(box.checker), *kernel]


@functools.cache
def prefixes(python: str) -> tuple[Path, ...]:
    """Where an interpreter's files are: its sys.prefix and sys.base_prefix (a uv venv and the
    Python it is built on; a conda environment, which is its own base)."""
    code = "import sys; print(sys.prefix); print(sys.base_prefix)"
    found = subprocess.run([python, "-c", code], capture_output=True, text=True, check=True)
    return tuple(Path(line) for line in found.stdout.splitlines())


def visible_paths(pythons: list[str]) -> list[Path]:
    """What the sandbox shows read-only besides the system: the environments of the
    interpreters the run uses (the notebook client's and the kernels'), wherever they are (uv's
    .venvs/ or conda's envs/), the workbook package and the datasets. An interpreter whose
    prefix holds the repository is refused: showing it would show solutions/."""
    interpreters = [path for python in pythons for path in prefixes(python)]
    for path in interpreters:
        if paths.ROOT.resolve().is_relative_to(path.resolve()):
            raise ValueError(f"cannot sandbox {path}: an environment there would show the "
                             f"whole repository, solutions included")
    shown = [*interpreters, paths.ROOT / "workbook", paths.VENVS, paths.DATASETS]
    return list(dict.fromkeys(p.resolve() for p in shown if p.exists()))


def _in_root(path: str | Path) -> str:
    """`path` inside the new root, quoted for sh ($R is the root's folder)."""
    if "'" in str(path):
        raise ValueError(f"cannot sandbox a path with a quote: {path}")
    return f"\"$R\"'{path}'"


def _read_only(path: str) -> list[str]:
    return [f"mkdir -p {_in_root(path)}", f"mount --rbind '{path}' {_in_root(path)}",
            f"mount -o remount,bind,ro,nosuid,nodev {_in_root(path)}"]


def root_script(limits: Limits, shown: list[Path]) -> str:
    """The shell steps (run as root in the new namespaces) that build the sandbox's root in
    $R and start the command in it. The sandbox's own mounts come first, the read-only views
    of the machine after, so that a repository under /tmp stays visible above the new /tmp."""
    steps = [
        "set -e", "ip link set lo up",
        "mount -t tmpfs -o size=8m,mode=0755 wb-root \"$R\"",
        "mkdir -p " + " ".join(_in_root(p) for p in ("/dev", "/proc", "/tmp", "/var",
                                                      LEARNER_AREA, CHECKER_AREA, GRADER_AREA)),
        "mount -t tmpfs -o size=1m,mode=0755 wb-dev \"$R/dev\"",
        "for n in null zero full random urandom; do touch \"$R/dev/$n\"; "
        "mount --bind \"/dev/$n\" \"$R/dev/$n\"; done",
        "ln -s /proc/self/fd \"$R/dev/fd\"",
        "mkdir \"$R/dev/shm\" && mount -t tmpfs -o size=256m,mode=1777,nosuid,nodev wb-shm "
        "\"$R/dev/shm\"",
        "mount -t proc -o nosuid,nodev,noexec,hidepid=2 proc \"$R/proc\"",
        f"mount -t tmpfs -o size={limits.disk_bytes},mode=0755,nosuid,nodev wb-learner "
        f"\"$R{LEARNER_AREA}\"",
        f"mount -t tmpfs -o size={limits.checker_disk_bytes},mode=0755,nosuid,nodev wb-checker "
        f"\"$R{CHECKER_AREA}\"",
        f"mkdir -m 1777 \"$R{LEARNER_AREA}/tmp\" && mount --bind \"$R{LEARNER_AREA}/tmp\" "
        "\"$R/tmp\"",
        f"mount --bind \"$PRIVATE\" \"$R{GRADER_AREA}\"",
    ]
    for path in [*map(Path, SYSTEM), *shown]:
        if path.is_symlink():
            steps.append(f"ln -s '{path.readlink()}' {_in_root(path)}")
        elif path.is_dir():
            steps += _read_only(str(path))
    steps += ["[ -e \"$R/var/tmp\" ] || ln -s /tmp \"$R/var/tmp\"", "cd /",
              'exec chroot "$R" "$@"']
    return "\n".join(steps)


def wrap(command: list[str], box: Sandbox, limits: Limits, root: Path, private: Path,
         pythons: list[str]) -> list[str]:
    """`command` (the notebook client) in the sandbox, under the total time-out and the
    client's memory limit; `root` is an empty folder for the sandbox's root, `private` the
    grader's own files (seen inside at GRADER_AREA), `pythons` every interpreter it runs."""
    timeout = ["timeout", "-k", "10", str(limits.total_timeout_s)]
    # A soft limit only: the kernels it starts get limits of their own, which a hard limit here
    # would cap (and raising a hard limit needs CAP_SYS_RESOURCE, which root may not have).
    client = ["prlimit", f"--as={limits.client_memory_bytes}:", "--"]
    if not box.isolated:
        return [*timeout, *client, *command]
    return [*timeout, "unshare", "--net", "--mount", "--pid", "--ipc", "--uts", "--fork",
            "--kill-child", "--", "env", f"R={root}", f"PRIVATE={private}", "sh", "-c",
            root_script(limits, visible_paths(pythons)), "sandbox", *client, *command]
