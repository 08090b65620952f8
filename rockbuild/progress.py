"""Progress lines for long jobs: which rock, which part, which step, and the elapsed time."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

# Rocks build in threads of one process: a line is written whole, or two rocks' lines run together
# (print() writes the text and its newline apart).
_LINE = threading.Lock()


def say_line(text: str, stream: TextIO | None = None) -> None:
    """One whole line on stderr (or `stream`), never mixed with another thread's."""
    out = stream or sys.stderr
    with _LINE:
        out.write(text + "\n")
        out.flush()


class Progress:
    """Prints `[  12.3s] rock › stage › detail` lines to stderr, timed from construction."""

    def __init__(self, rock: str, stream: TextIO | None = None) -> None:
        self.rock = rock
        self.started = time.monotonic()
        self.stream = stream or sys.stderr

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, *path: str) -> None:
        where = " › ".join((self.rock, *path))
        say_line(f"[{self.elapsed():7.1f}s] {where}", self.stream)
