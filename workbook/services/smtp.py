"""A local SMTP sink: every message it receives is stored as a .eml file the notebooks read.

Run as `python -m workbook.services.smtp --port PORT --maildir DIR` (aiosmtpd, base env).
"""

import argparse
import itertools
import signal
import threading
from pathlib import Path

from aiosmtpd.controller import Controller

from workbook.files import write_atomic


class SaveToFolder:
    """aiosmtpd handler: each message becomes NNNN.eml, written atomically."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.counter = itertools.count(len(list(folder.glob("*.eml"))) + 1)

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's name)
        write_atomic(self.folder / f"{next(self.counter):04d}.eml",
                     envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


def serve(port: int, maildir: Path) -> None:
    maildir.mkdir(parents=True, exist_ok=True)
    controller = Controller(SaveToFolder(maildir), hostname="127.0.0.1", port=port)
    controller.start()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()
    controller.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--maildir", type=Path, required=True)
    args = parser.parse_args()
    serve(args.port, args.maildir)
