#!/usr/bin/env python3
"""Entry point: see `build.py --help`. The work is done by the rockbuild package."""

import os
import sys
from pathlib import Path

PROJECT_PYTHON = Path(__file__).resolve().parent / ".venv" / "bin" / "python"


def main() -> int:
    try:
        from rockbuild.cli import main as cli_main
    except ModuleNotFoundError as missing:
        # `./build.py` runs the system python; the project's packages live in its venv.
        if PROJECT_PYTHON.exists() and Path(sys.prefix).resolve() != PROJECT_PYTHON.parent.parent.resolve():
            os.execv(PROJECT_PYTHON, [str(PROJECT_PYTHON), __file__, *sys.argv[1:]])
        sys.exit(f"build.py: {missing.name} is not installed here: run `make venv`, then `./build.py` again")
    return int(cli_main() or 0)


if __name__ == "__main__":
    sys.exit(main())
