"""nbval's own output comparison (strict, as `pytest --nbval` does it) for a notebook that ran
elsewhere: tests/test_lessons.py runs each lesson once, trying its mistakes on the way, and
checks that run's outputs here rather than running every notebook a second time under nbval.

What is nbval's, called as it is: the per-cell options (metadata tags and comment markers), the
stream coalescing, the sanitizing and the comparison itself. What is restated here: the keys
nbval leaves out of a comparison (set in its collector's constructor, with images left out as
nbval leaves them without nbdime), and a plain diff where nbval asks pytest's hooks for one."""

import difflib
import types
from collections import defaultdict

from nbval import plugin

# The only absolute path an output shows: %%writefile names the file it wrote.
SANITIZE = "[writefile]\nregex: (Over)?[Ww]riting \\S*/\nreplace: Writing <path>/\n"
SKIP_COMPARE = ("metadata", "traceback", "prompt_number", "output_type", "name",
                "execution_count", "application/vnd.jupyter.widget-view+json",
                "image/png", "image/jpeg")


def options(cell) -> defaultdict:
    """nbval's options for a code cell: its tags, then its comment markers, which win."""
    found = defaultdict(bool, plugin.find_metadata_tags(cell.metadata))
    found.update(dict(plugin.find_comment_markers(cell.source)))
    found.setdefault("check", True)
    return found


class _Item:
    """What nbval's IPyNbCell reads from itself to compare and report (no pytest node)."""

    colors = plugin.nocolors
    compare_outputs = plugin.IPyNbCell.compare_outputs
    sanitize = plugin.IPyNbCell.sanitize

    def __init__(self):
        patterns = dict(plugin.get_sanitize_patterns(SANITIZE))
        self.parent = types.SimpleNamespace(skip_compare=SKIP_COMPARE, sanitize_patterns=patterns)
        self.comparison_traceback: list[str] = []

    def format_output_compare(self, key: str, left, right) -> None:
        """nbval's report asks pytest's assertion hooks for its diff; a plain diff here."""
        diff = difflib.unified_diff(str(left).splitlines(), str(right).splitlines(),
                                    "committed", "this run", lineterm="")
        self.comparison_traceback.append(f"mismatch {key!r}:\n" + "\n".join(diff))


def difference(ran, reference) -> str | None:
    """Why the ran cell's outputs differ from the committed cell's under nbval's rules, or None.
    A cell nbval skips or does not check, or whose reference never ran, has none."""
    opts = options(reference)
    if opts["skip"] or not opts["check"] or reference.get("execution_count") is None:
        return None
    item = _Item()
    if item.compare_outputs(plugin.coalesce_streams(_copies(ran.outputs)),
                            plugin.coalesce_streams(_copies(reference.outputs))):
        return None
    return "\n".join(item.comparison_traceback)


def _copies(outputs) -> list:
    """coalesce_streams merges streams in place: the notebooks' own outputs stay as they are."""
    return [type(out)(dict(out)) for out in outputs]
