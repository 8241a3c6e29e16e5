"""Measured performance of the workbook: `python -m benchmarks` writes REPORT.md."""
