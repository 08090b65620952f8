#!/usr/bin/env python3
"""Entry point: see `build.py --help`. The work is done by the rockbuild package."""

import sys

from rockbuild.cli import main

if __name__ == "__main__":
    sys.exit(main())
