"""Autograding: match a submission to its source by cell id, run it sandboxed, score it.

Modules: `identify` (which source notebook), `assemble` (the notebook to run), `sandbox` (how
the learner's code is confined), `execute` (runs inside the sandbox), `score` (from what the
kernel produced), `report` (JSON, Markdown, JUnit, gradebook), `roster` (a class in parallel).
"""
