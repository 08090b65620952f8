"""Upkeep: jobs that change the rocks' inputs (re-pinning their dependencies), run by a maintainer."""
