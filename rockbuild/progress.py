"""Progress lines for long jobs: which rock, which part, which step, and the elapsed time."""

from __future__ import annotations

import sys
import time
from typing import TextIO


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
        print(f"[{self.elapsed():7.1f}s] {where}", file=self.stream, flush=True)
