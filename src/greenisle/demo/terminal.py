"""Terminal output of the demo commands: a one-line progress bar and the logins box. No dependency."""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Callable, Sequence


class ProgressBar:
    """``[#####-----]  50.0 % label`` on one line, redrawn with ``\\r``.

    Redraws are throttled: the loader reports thousands of steps, and drawing each would cost more
    than the work it reports.
    """

    def __init__(
        self,
        write: Callable[[str], object],
        flush: Callable[[], object],
        *,
        width: int = 30,
        min_interval: float = 0.05,
    ) -> None:
        self.write = write
        self.flush = flush
        self.width = width
        self.min_interval = min_interval
        self._last_draw = 0.0
        self._last_width = 0

    def __call__(self, fraction: float, label: str) -> None:
        fraction = min(max(fraction, 0.0), 1.0)
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_draw < self.min_interval:
            return
        self._last_draw = now
        filled = round(self.width * fraction)
        text = f"[{'#' * filled}{'-' * (self.width - filled)}] {fraction * 100:5.1f} % {label}"
        # Pad over a longer previous label so that no tail of it stays on the line.
        pad = max(0, self._last_width - display_width(text))
        self.write("\r" + text + " " * pad)
        self.flush()
        self._last_width = display_width(text)

    def finish(self) -> None:
        self.write("\n")
        self.flush()


def display_width(text: str) -> int:
    """Terminal columns: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int) -> str:
    return text + " " * (width - display_width(text))


def boxed(lines: Sequence[str]) -> str:
    """Draw a box around the lines, aligned for CJK text."""
    inner = max(display_width(line) for line in lines)
    top = "┌" + "─" * (inner + 2) + "┐"
    bottom = "└" + "─" * (inner + 2) + "┘"
    body = [("├" + "─" * (inner + 2) + "┤") if line == "-" else f"│ {_pad(line, inner)} │" for line in lines]
    return "\n".join([top, *body, bottom])


def logins_box(logins: Sequence[tuple[str, str, str, str]], *, password: str, url: str | None = None) -> str:
    """The demo's logins (role, username, organisation, note), one block each, in a box."""
    lines = ["绿岛 greenisle 南通演示 / Nantong demo"]
    if url:
        lines += [f"打开 open:  {url}"]
    lines += [f"密码 password (all logins): {password}", "-"]
    for role, username, organization, note in logins:
        lines.append(f"{username:<11} {role}")
        lines.append(f"{'':<11} {organization}")
        if note:
            lines.append(f"{'':<11} {note}")
    return boxed(lines)
