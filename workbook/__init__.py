"""Tooling for the Orchestration Workbook.

Modules are small and import their third-party dependencies lazily, so that the CLI's
`setup` and `doctor` commands run with nothing but the standard library.
"""

__version__ = "0.1.0"
