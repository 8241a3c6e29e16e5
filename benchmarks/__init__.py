"""Measured performance of the workbook: `python -m benchmarks` writes REPORT.md."""

import os
from pathlib import Path

# The local services the bench starts keep their state apart from the learner's; set before
# workbook.services is imported, and inherited by every notebook kernel the bench runs.
os.environ.setdefault("WORKBOOK_SERVICES_DIR", str(Path(__file__).parent / "data" / "services"))
