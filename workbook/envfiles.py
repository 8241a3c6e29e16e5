"""Conda environment files rendered from the uv locks: `python -m workbook envfiles [--check]`.

Each `environments/<env>/requirements.txt` (a `uv pip compile --universal` lock) is the only
source of versions. Its `environment.yml` is that lock in conda's format, for CPython 3.11 on
Linux, so a conda user gets exactly the pins `make setup` installs. The top-level
`environment.yml` is the base environment's file.
"""

from pathlib import Path

from workbook import generated, paths

PYTHON = "3.11"
CHANNELS = ["conda-forge"]
# The marker environment the files are rendered for: conda-forge's python=3.11 on Linux.
# A patch release >= 3.11.5, as conda-forge and the python:3.11 images ship, so markers on
# `python_full_version` choose what those interpreters would (e.g. soupsieve's split at 3.11.5).
TARGET = {
    "implementation_name": "cpython",
    "implementation_version": "3.11.7",
    "os_name": "posix",
    "platform_machine": "x86_64",
    "platform_python_implementation": "CPython",
    "platform_release": "",
    "platform_system": "Linux",
    "platform_version": "",
    "python_full_version": "3.11.7",
    "python_version": PYTHON,
    "sys_platform": "linux",
}
HEADER = """\
# Generated from environments/{env}/requirements.txt by `python -m workbook envfiles`:
# do not edit by hand. Change environments/{env}/requirements.in, re-lock it, then regenerate.
# Usage: conda env create -f <this file>, then from the repository root:
#   pip install --no-deps -e .
"""


def lock_path(env: str) -> Path:
    """The lock file of an environment."""
    return paths.ENVIRONMENTS / env / "requirements.txt"


def lock_lines(text: str) -> list[str]:
    """Requirement lines of a lock: continuations joined, comments and pip options dropped."""
    text = text.replace("\\\n", " ")
    lines = (line.split(" #", 1)[0].strip() for line in text.splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def applies(marker: object | None) -> bool:
    """True when a requirement's marker (a packaging Marker, or None) holds for TARGET."""
    return marker is None or marker.evaluate(TARGET)


def pins(text: str) -> list[str]:
    """The `name==version` pins of a lock's text that apply to CPython 3.11 on Linux."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    found: dict[str, str] = {}
    for line in lock_lines(text):
        req = Requirement(line)
        specs = list(req.specifier)
        if len(specs) != 1 or specs[0].operator != "==":
            raise ValueError(f"not an exact pin: {line!r}")
        if not applies(req.marker):
            continue
        key = canonicalize_name(req.name)
        if key in found:
            raise ValueError(f"{req.name} is pinned twice for Python {PYTHON} on Linux")
        extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
        found[key] = f"{req.name}{extras}=={specs[0].version}"
    return list(found.values())


def render(env: str) -> str:
    """The environment.yml text for `env`, from its lock."""
    body = [f"name: {paths.KERNEL_PREFIX}{env}", "channels:"]
    body += [f"  - {channel}" for channel in CHANNELS]
    body += ["dependencies:", f"  - python={PYTHON}", "  - pip", "  - pip:"]
    body += [f"      - {pin}" for pin in pins(lock_path(env).read_text())]
    return HEADER.format(env=env) + "\n".join(body) + "\n"


def outputs() -> dict[Path, str]:
    """Every generated file and its expected content (the top-level one is base's)."""
    files = {paths.ENVIRONMENTS / env / "environment.yml": render(env) for env in paths.env_names()}
    files[paths.ROOT / "environment.yml"] = render(paths.BASE_ENV)
    return files


def main(check: bool = False) -> int:
    """Write the environment files; with check, write nothing and return 1 if any is stale."""
    return generated.sync(outputs(), "python -m workbook envfiles", check)
