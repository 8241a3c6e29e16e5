"""`make lab`'s Jupyter configuration: nbgrader, installed in the base environment for the
instructors' export, shows the learner none of its panels (its lab extension is off in the
project's configuration; its server extensions on the lab's command line, which
tests/test_browser.py starts)."""

import subprocess

from workbook import lab, paths


def test_nbgraders_lab_extension_is_off():
    lab.hide_instructor_tools()
    listed = subprocess.run([str(paths.base_python()), "-m", "jupyter", "labextension", "list"],
                            capture_output=True, text=True, env=paths.jupyter_environ(),
                            timeout=120)
    said = listed.stdout + listed.stderr
    shown = [line for line in said.splitlines() if f"{lab.NBGRADER_LAB_EXTENSION} v" in line]
    assert shown and all("disabled" in line for line in shown), said
