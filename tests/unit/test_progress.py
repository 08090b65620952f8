"""Progress lines from rocks built at once (threads of one process) stay whole."""

from __future__ import annotations

import io
import re
import threading
import time

from rockbuild.progress import Progress

LINE = re.compile(r"^\[ *\d+\.\ds\] rock-\d › part › step \d+$")


class YieldingStream(io.StringIO):
    """A terminal or pipe that another thread may write to in the middle of a write."""

    def write(self, text: str) -> int:
        for character in text:
            super().write(character)
            time.sleep(0)
        return len(text)


def test_lines_from_rocks_built_at_once_are_never_mixed() -> None:
    stream = YieldingStream()

    def build(rock: str) -> None:
        progress = Progress(rock, stream=stream)
        for step in range(40):
            progress.say("part", f"step {step}")

    threads = [threading.Thread(target=build, args=(f"rock-{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 160
    assert [line for line in lines if not LINE.match(line)] == []
