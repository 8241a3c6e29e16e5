"""The command line every daily-report variant takes (`daily_commands` builds one for all)."""

import argparse
import datetime as dt
from pathlib import Path


def parser(description: str) -> argparse.ArgumentParser:
    """The day, where its export is, where the report goes."""
    found = argparse.ArgumentParser(description=description)
    found.add_argument("--date", type=dt.date.fromisoformat, required=True)
    found.add_argument("--data-dir", type=Path, required=True)
    found.add_argument("--report-dir", type=Path, required=True)
    return found
