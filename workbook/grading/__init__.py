"""Autograding: match a submission to its source by cell id, run it sandboxed, score it.

Modules: `identify` (which source notebook), `assemble` (the notebook to run), `sandbox` (how
the learner's code is confined), `execute` (runs inside the sandbox), `score` (from what the
kernel produced), `report` (JSON, Markdown, JUnit, gradebook), `roster` (a class in parallel).
"""

import sys

# jsonschema, which nbformat imports, compiles some thirty parsers for the `iri` format as it
# imports when `rfc3987-syntax` is installed (jsonschema issue 1428): half a second or more in
# each grading process (the grader, and its client in the sandbox), for a format no notebook
# schema uses. Marked absent before anything imports nbformat, jsonschema leaves out that one
# format checker. The kernels that import the grader's helpers (`evidence`, `checker`) get the
# same, which changes nothing they do.
sys.modules.setdefault("rfc3987_syntax", None)
