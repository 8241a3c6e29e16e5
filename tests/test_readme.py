"""What the README, the orientation notebook and `make help` tell a newcomer is true."""

import os
import re
import shlex
import subprocess
import sys
from collections import Counter

import nbformat
import pytest

from workbook import paths, retail, services

ORIENTATION = paths.SOLUTIONS / "01_beginner" / "00_orientation.ipynb"
NUMBERS = {1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
# How the orientation names each service `workbook services up` starts: the next level's, and
# those it promises to later levels.
SERVICE_WORDS = {"postgres": "PostgreSQL", "weather": "a weather API", "smtp": "an SMTP sink"}
LATER_WORDS = {"s3": "S3 server", "prometheus": "Prometheus", "pushgateway": "pushgateway",
               "prefect": "a Prefect server", "sentry": "Sentry sink"}


def flat(text: str) -> str:
    return " ".join(text.split())


def markdown(path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    return flat(" ".join(c.source for c in cells if c.cell_type == "markdown"))


def stores_phrase() -> str:
    """'six stores (two in Seattle, one each in Portland, ... and Chicago)', from the stores."""
    per_city = Counter(store.city for store in retail.STORES)
    several = [f"{NUMBERS[n]} in {city}" for city, n in per_city.items() if n > 1]
    single = [city for city, n in per_city.items() if n == 1]
    parts = several + ([f"one each in {', '.join(single[:-1])} and {single[-1]}"]
                       if len(single) > 1 else [f"one in {c}" for c in single])
    return f"{NUMBERS[len(retail.STORES)]} stores ({', '.join(parts)})"


@pytest.mark.parametrize("where", ["README.md", "00_orientation"])
def test_the_story_counts_the_stores_it_names(where):
    text = (flat((paths.ROOT / "README.md").read_text()) if where == "README.md"
            else markdown(ORIENTATION))
    assert stores_phrase() in text, f"{where} should say: {stores_phrase()}"


def test_the_orientation_promises_only_services_that_exist():
    """The services it says `workbook services up` starts are the ones workbook.services
    declares; the advanced level's services are promised to later levels only."""
    text = markdown(ORIENTATION)
    for sentence in re.split(r"(?<=[.;])\s", text):
        if any(word in sentence for word in LATER_WORDS.values()):
            assert "later levels" in sentence, sentence
    for word in LATER_WORDS.values():
        assert word in text, f"the orientation should promise later levels {word}"
    started = re.search(r"starts local services \(([^)]*)\),? which `workbook services up`",
                        text)
    assert started, "the orientation should name the services `workbook services up` starts"
    named = sorted(part.strip().removeprefix("and ") for part in started[1].split(","))
    assert set(SERVICE_WORDS) | set(LATER_WORDS) == set(services.NAMES)
    assert named == sorted(SERVICE_WORDS.values())


def test_make_help_lists_every_target_in_one_aligned_column():
    out = subprocess.run(["make", "--no-print-directory", "help"], cwd=paths.ROOT,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    documented = re.findall(r"^([a-z-]+):.*## ", (paths.ROOT / "Makefile").read_text(), re.M)
    rows = [re.match(r"  make (\S+)( +)(\S.*)$", line) for line in out]
    assert all(rows), out
    assert [row[1] for row in rows] == documented
    starts = {row.start(3) for row in rows}
    assert len(starts) == 1, f"descriptions start in columns {sorted(starts)}:\n" + "\n".join(out)
    assert min(len(row[2]) for row in rows) >= 2  # the longest name is not glued to its text


@pytest.mark.slow
def test_the_readme_make_run_example_runs(tmp_path):
    """The README's `make run` example runs to the end (its notebook has no open exercise)."""
    example = re.search(r'^make run NB=(\S+) PARAMS="([^"]*)"$',
                        (paths.ROOT / "README.md").read_text(), re.M)
    assert example, "the README has a `make run NB=... PARAMS=\"...\"` example"
    env = {**os.environ, "WORKBOOK_WORKSPACE": str(tmp_path / "workspace")}
    result = subprocess.run(
        [sys.executable, "-m", "workbook", "run", example[1], *shlex.split(example[2]),
         "--output", str(tmp_path / "out.ipynb")],
        cwd=paths.ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
