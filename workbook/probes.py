"""Evidence about how a learner's function behaves, as a plain value a verdict can judge: what
it did (returned, raised which error) and whether it gave up in time. Used above a check's
`### VERDICT` line, where the learner's code runs."""

import threading
from collections.abc import Callable


def attempt(call: Callable[[], object], deadline_s: float | None = None) -> str:
    """'returned', 'raised <ErrorType>', or 'was still waiting after N s' when `call` has not
    finished within `deadline_s` (it goes on in a daemon thread, which nothing waits for)."""
    outcome: list[str] = []

    def run() -> None:
        try:
            call()
            outcome.append("returned")
        except Exception as error:  # the outcome is the evidence: any error is a value
            outcome.append(f"raised {type(error).__name__}")

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(deadline_s)
    return outcome[0] if outcome else f"was still waiting after {deadline_s:g} s"
