"""Conda environment files rendered from the uv locks: `python -m workbook envfiles [--check]`.

Each `environments/<env>/requirements.txt` (a `uv pip compile --universal` lock) is the only
source of versions. Its `environment.yml` is that lock in conda's format for CPython 3.11, so a
conda user gets exactly the pins `make setup` installs, on any platform conda serves:

- a pin the lock needs everywhere is written bare; a pin it needs on some platforms only (macOS's
  `appnope`, Windows' `colorama`) keeps its PEP 508 marker (`appnope==1.0.0 ; sys_platform ==
  'darwin'`). `conda env create` hands the pip list to pip as a requirements file, and pip
  installs such a pin only where its marker holds. Conda's own selectors (`# [osx]`) would not
  do: only conda-build reads them, `conda env create` ignores them (conda issue 8089), so a
  selector-marked pin would be installed everywhere;
- a pin the lock never needs on CPython 3.11 (PyPy-only, other Pythons) is left out;
- a direct requirement carries its comment from `requirements.in` (where it is used).

The top-level `environment.yml` is the base environment's file.
"""

from pathlib import Path

from workbook import generated, paths
from workbook.envs import PYTHON_VERSION

CHANNELS = ["conda-forge"]
# The marker environment of conda-forge's python=3.11: a patch release >= 3.11.5, as conda-forge
# and the python:3.11 images ship, so markers on `python_full_version` choose what those
# interpreters would (e.g. soupsieve's split at 3.11.5).
CPYTHON = {
    "implementation_name": "cpython",
    "implementation_version": f"{PYTHON_VERSION}.7",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_version": "",
    "python_full_version": f"{PYTHON_VERSION}.7",
    "python_version": PYTHON_VERSION,
}
# The platforms conda serves (its subdirs), as markers see them.
PLATFORMS = {
    subdir: {**CPYTHON, "sys_platform": sys_platform, "platform_system": system,
             "os_name": os_name, "platform_machine": machine}
    for subdir, (sys_platform, system, os_name, machine) in {
        "linux-64": ("linux", "Linux", "posix", "x86_64"),
        "linux-aarch64": ("linux", "Linux", "posix", "aarch64"),
        "osx-64": ("darwin", "Darwin", "posix", "x86_64"),
        "osx-arm64": ("darwin", "Darwin", "posix", "arm64"),
        "win-64": ("win32", "Windows", "nt", "AMD64"),
    }.items()
}
# Linux x86_64: what the Docker images and CI run (tests compare their pins with it).
TARGET = PLATFORMS["linux-64"]
HEADER = """\
# Generated from environments/{env}/requirements.txt by `python -m workbook envfiles`:
# do not edit by hand. Change environments/{env}/requirements.in, re-lock it, then regenerate.
# Usage: conda env create -f <this file>, then from the repository root:
#   pip install --no-deps -e .
# Pins with `; <marker>` are platform-only: pip installs them only where the marker holds.
"""


def lock_path(env: str) -> Path:
    """The lock file of an environment."""
    return paths.ENVIRONMENTS / env / "requirements.txt"


def lock_lines(text: str) -> list[str]:
    """Requirement lines of a lock: continuations joined, comments and pip options dropped."""
    text = text.replace("\\\n", " ")
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def applies(marker: object | None, target: dict[str, str] = TARGET) -> bool:
    """True when a requirement's marker (a packaging Marker, or None) holds for `target`."""
    return marker is None or marker.evaluate(target)


def requirements(text: str) -> list:
    """The lock's requirements (packaging Requirements), each an exact `==` pin."""
    from packaging.requirements import Requirement

    found = []
    for line in lock_lines(text):
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise ValueError(f"not an exact pin: {line!r}")
        found.append(req)
    return found


def pin(req) -> str:
    """`name[extras]==version`, without the marker."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}=={next(iter(req.specifier)).version}"


def pins(text: str, target: dict[str, str] = TARGET) -> list[str]:
    """The `name==version` pins of a lock's text that apply to `target` (default: CPython 3.11
    on Linux x86_64); a name pinned twice there is an error."""
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    for req in requirements(text):
        if not applies(req.marker, target):
            continue
        key = canonicalize_name(req.name)
        if key in found:
            where = f"{target['sys_platform']} {target['platform_machine']}"
            raise ValueError(f"{req.name} is pinned twice for Python {PYTHON_VERSION} on {where}")
        found[key] = pin(req)
    return list(found.values())


def conda_pins(text: str) -> list[str]:
    """The pip list of a conda file: every pin the lock needs on some conda platform, bare where
    it needs it on all of them, else with its marker for pip to evaluate."""
    for target in PLATFORMS.values():
        pins(text, target)  # each platform gets each name once
    listed = []
    for req in requirements(text):
        where = [name for name, target in PLATFORMS.items() if applies(req.marker, target)]
        if len(where) == len(PLATFORMS):
            listed.append(pin(req))
        elif where:
            listed.append(f"{pin(req)} ; {req.marker}")
    return listed


def comments(env: str) -> dict[str, str]:
    """{normalized name: comment} of the direct requirements in `requirements.in`."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found = {}
    for line in (paths.ENVIRONMENTS / env / "requirements.in").read_text().splitlines():
        spec, _, comment = line.partition("#")
        if spec.strip() and comment.strip():
            found[canonicalize_name(Requirement(spec).name)] = comment.strip()
    return found


def render(env: str) -> str:
    """The environment.yml text for `env`, from its lock and its requirements' comments."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    notes = comments(env)
    body = [f"name: {paths.KERNEL_PREFIX}{env}", "channels:"]
    body += [f"  - {channel}" for channel in CHANNELS]
    body += ["dependencies:", f"  - python={PYTHON_VERSION}", "  - pip", "  - pip:"]
    for entry in conda_pins(lock_path(env).read_text()):
        note = notes.get(canonicalize_name(Requirement(entry).name))
        body.append(f"      - {entry}  # {note}" if note else f"      - {entry}")
    return HEADER.format(env=env) + "\n".join(body) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its expected content (the top-level one is base's)."""
    files = {paths.ENVIRONMENTS / env / "environment.yml": render(env) for env in paths.env_names()}
    files[paths.ROOT / "environment.yml"] = render(paths.BASE_ENV)
    return files


def main(check: bool = False) -> int:
    """Write the environment files; with check, write nothing and return 1 if any is stale."""
    return generated.sync(outputs(), "python -m workbook envfiles", check)
