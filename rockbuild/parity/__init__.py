"""Parity with real rockcraft: the same rockcraft.yaml packed by both builders, compared.

`rockfile.py` reads a `.rock` into what is compared, `compare.py` lists the differences, and
`allowlist.yaml` names the differences that are expected, each with its reason
(docs/local-builder.md explains them). `build.py parity` and tests/image/test_parity.py run it.
"""
