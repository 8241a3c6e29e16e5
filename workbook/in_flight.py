"""How many steps were in flight at once, measured from when each ran: a task, a step or a run,
as (start, end) intervals in one clock. Orchestrator-free: the Prefect track's concurrency lesson
measures its task runs with it, the Dagster track's pools lesson its steps.
"""


def peak_in_flight(intervals) -> int:
    """The most (start, end) intervals open at one instant. An interval that ends exactly when
    another starts does not overlap it: at equal times, ends come before starts."""
    events = sorted([(end, -1) for start, end in intervals] +
                    [(start, 1) for start, end in intervals])
    peak = running = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


def over_limit(intervals, limit: int) -> list[float]:
    """Each interval that started while `limit` or more others were open, as how long after the
    latest of those it started (seconds): empty when the limit held. Ends and starts at equal
    times do not overlap, as in peak_in_flight."""
    intervals = sorted(intervals)
    gaps = []
    for i, (start, _) in enumerate(intervals):
        open_starts = [s for s, e in intervals[:i] if e > start]
        if len(open_starts) >= limit:
            gaps.append(start - max(open_starts))
    return gaps


TOUCHING = ("tasks that only touch (one ends at 1.0 when the next starts at 1.0) were never in "
            "flight together: at equal times, count the ends before the starts")
OVERLAPPING = ("count how many are open at one instant, not how many tasks overlap some other "
               "one, nor how many tasks there are")
SWEEP = "+1 at each start, -1 at each end, in time order: the peak is the running total's maximum"


def peak_hint(intervals, got) -> str:
    """Why a peak_in_flight answer `got` may differ from the right one, from the wrong answers
    that give it: touching intervals counted as overlapping, or tasks counted."""
    intervals = list(intervals)
    touching = sorted([(start, 1) for start, end in intervals] +
                      [(end, -1) for start, end in intervals], key=lambda event: event[0])
    running = peak_touching = 0
    for _, step in touching:
        running += step
        peak_touching = max(peak_touching, running)
    overlapping = sum(any(s < end and start < e for j, (s, e) in enumerate(intervals) if j != i)
                      for i, (start, end) in enumerate(intervals))
    if got == peak_touching != peak_in_flight(intervals):
        return TOUCHING
    if got in (overlapping, len(intervals)):
        return OVERLAPPING
    return SWEEP


def in_flight(intervals, origin: float | None = None) -> tuple[list[float], list[int]]:
    """The number in flight as a step function: times (seconds since `origin`, default the
    first start) and the count from each time on."""
    intervals = list(intervals)
    if not intervals:
        return [0.0], [0]
    origin = min(s for s, _ in intervals) if origin is None else origin
    events = sorted([(e, -1) for s, e in intervals] + [(s, 1) for s, e in intervals])
    times, counts, running = [0.0], [0], 0
    for when, step in events:
        running += step
        times.append(when - origin)
        counts.append(running)
    return times, counts


def intervals_of(results: list[dict]) -> list[tuple[float, float]]:
    return [(r["start"], r["end"]) for r in results]


def plot_in_flight(ax, runs: dict[str, list[tuple[float, float]]], limit: int | None,
                   title: str) -> None:
    """Each run's number in flight over time on `ax`, and the limit as a dashed line."""
    for label, intervals in runs.items():
        times, counts = in_flight(intervals)
        ax.step(times, counts, where="post",
                label=f"{label} (peak {peak_in_flight(intervals)})")
    if limit is not None:
        ax.axhline(limit, color="black", linestyle="--", linewidth=1, label=f"limit {limit}")
    ax.set(title=title, xlabel="seconds since the first task started", ylabel="in flight")
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper right", fontsize="small")
