"""tests/nbval_compare.py agrees with nbval itself, cell by cell: the same notebook is checked by
`pytest --nbval` and by running it with nbclient and comparing here, and each cell gets the same
verdict (matching outputs, changed ones, an output nbval ignores, a path %%writefile names)."""

import re
import subprocess
import sys

import nbformat
import pytest
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell, new_notebook, new_output
from nbval_compare import SANITIZE, difference
from traitlets.config import Config

from workbook import kernel_ipc, paths

KERNEL = paths.kernel_name("beginner")
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5E"
       "rkJggg==")  # a 1x1 PNG


def stdout(text: str):
    return new_output("stream", name="stdout", text=text)


# (source, the committed outputs, tags): each cell's committed outputs as nbval would store them.
CELLS = [
    ('print("same")', [stdout("same\n")], []),
    ('print("this run")', [stdout("committed\n")], []),
    ("1 + 1", [new_output("execute_result", data={"text/plain": "3"}, execution_count=1)], []),
    ('print("ignored")', [stdout("other\n")], ["nbval-ignore-output"]),
    ('import sys\nprint("noise", file=sys.stderr)', [], []),
    ('print("Writing /tmp/a/b.py")', [stdout("Writing /home/x/b.py\n")], []),
    ('print("two")\nprint("lines")', [stdout("two\n"), stdout("lines\n")], []),
    ("from IPython.display import Image, display\nimport base64\n"
     f"display(Image(data=base64.b64decode({PNG!r})))",
     [new_output("display_data", data={"image/png": "AAAA", "text/plain": "<IPython.core."
                                       "display.Image object>"})], []),
]


@pytest.fixture
def notebook(tmp_path):
    nb = new_notebook(metadata={"kernelspec": {"name": KERNEL, "display_name": KERNEL,
                                               "language": "python"}})
    for count, (source, outputs, tags) in enumerate(CELLS, start=1):
        nb.cells.append(new_code_cell(source, outputs=outputs, execution_count=count,
                                      metadata={"tags": tags}))
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    return path


def nbval_verdicts(path, tmp_path) -> list[bool]:
    (tmp_path / "sanitize.cfg").write_text(SANITIZE)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--nbval", "-p", "no:cacheprovider", "-rA", "-q",
         "--nbval-sanitize-with", str(tmp_path / "sanitize.cfg"), str(path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=300)
    found = {int(cell): verdict for verdict, cell in
             re.findall(r"^(PASSED|FAILED) \S*::Cell (\d+)", result.stdout, re.MULTILINE)}
    assert sorted(found) == list(range(len(CELLS))), result.stdout[-3000:]
    return [found[i] == "PASSED" for i in range(len(CELLS))]


def our_verdicts(path) -> list[bool]:
    committed = nbformat.read(path, as_version=4)
    ran = nbformat.read(path, as_version=4)
    paths.JUPYTER_RUNTIME.mkdir(parents=True, exist_ok=True)
    NotebookClient(ran, timeout=120, kernel_name=KERNEL,
                   config=Config(kernel_ipc.run_config(paths.JUPYTER_RUNTIME))).execute()
    pairs = zip(ran.cells, committed.cells, strict=True)
    return [difference(done, cell) is None for done, cell in pairs]


def test_each_cell_gets_nbvals_own_verdict(notebook, tmp_path):
    nbval = nbval_verdicts(notebook, tmp_path)
    assert nbval == [True, False, False, True, False, True, True, True], "nbval changed"
    assert our_verdicts(notebook) == nbval


def test_the_difference_names_the_output_and_both_texts(notebook):
    ran = nbformat.read(notebook, as_version=4).cells[1]
    ran.outputs = [stdout("this run\n")]
    why = difference(ran, nbformat.read(notebook, as_version=4).cells[1])
    assert "stdout" in why and "-committed" in why and "+this run" in why
