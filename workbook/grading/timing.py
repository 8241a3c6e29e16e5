"""Where one grading's time goes: spans and busy totals the grader records as it works.

Always on, because it costs a few clock reads: each result carries its timings (in its JSON
report), and `make bench` reads them to show where grading spends its time. Clock readings are
wall-clock (`time.time()`), because the spans come from two processes: the grader and the
notebook client it starts in the sandbox. Nothing here is asserted on; it is only reported.
"""

import math
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field


@dataclass
class Timings:
    """`spans`: name -> [start, end] of one step (steps may overlap: the two kernels run side
    by side); `busy`: name -> seconds spent in work done a piece at a time (cells of a kind)."""

    spans: dict[str, list[float]] = field(default_factory=dict)
    busy: dict[str, float] = field(default_factory=dict)

    def span(self, name: str) -> AbstractContextManager[None]:
        """Times the block as the step `name`."""
        return _clocked(lambda start, end: self.add_span(name, start, end))

    def busy_in(self, name: str) -> AbstractContextManager[None]:
        """Adds the block's time to the work `name`."""
        return _clocked(lambda start, end: self.add_busy(name, end - start))

    def add_span(self, name: str, start: float, end: float) -> None:
        self.spans[name] = [start, end]

    def add_busy(self, name: str, seconds: float) -> None:
        self.busy[name] = self.busy.get(name, 0.0) + seconds

    def as_dict(self) -> dict:
        return {"spans": dict(self.spans), "busy": dict(self.busy)}

    def merge(self, recorded: object) -> None:
        """Add what the client recorded (its status file); anything malformed is ignored,
        timings are never worth failing a grade over."""
        if not isinstance(recorded, dict):
            return
        for name, span in (recorded.get("spans") or {}).items():
            if (isinstance(span, list) and len(span) == 2
                    and all(isinstance(t, int | float) and math.isfinite(t) for t in span)):
                self.spans[str(name)] = [float(span[0]), float(span[1])]
        for name, seconds in (recorded.get("busy") or {}).items():
            if isinstance(seconds, int | float) and math.isfinite(seconds):
                self.busy[str(name)] = float(seconds)

    def relative_to(self, origin: float) -> "Timings":
        """Spans as seconds since `origin` (the start of the grading), sorted by start; all
        rounded to the millisecond, which is finer than anything they are read for."""
        spans = sorted(self.spans.items(), key=lambda item: item[1])
        return Timings({name: [round(start - origin, 3), round(end - origin, 3)]
                        for name, (start, end) in spans},
                       {name: round(seconds, 3) for name, seconds in self.busy.items()})


@contextmanager
def _clocked(record: Callable[[float, float], None]) -> Iterator[None]:
    """Runs the block, then `record(start, end)` in wall-clock seconds, even if it raised."""
    start = time.time()
    try:
        yield
    finally:
        record(start, time.time())
